import { Controller } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthController } from '@app/queue';
import { Public } from '@app/tenancy';

/** The process's health and metrics routes (`HealthController`), open without a key and left out of the API docs. */
@ApiExcludeController()
@Public()
@Controller()
export class GatewayHealthController extends HealthController {}

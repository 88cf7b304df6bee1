import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { UsageService } from '@app/billing';
import { Auth, type AuthContext } from '@app/tenancy';
import { toUsageQuery, UsageQueryDto } from './usage.dto';

@ApiTags('Billing')
@ApiBearerAuth('bearer')
@ApiSecurity('x-goog-api-key')
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({ summary: "The calling tenant's usage totals: requests, tokens by kind, images, cost; optionally grouped" })
  summary(@Auth() auth: AuthContext, @Query() q: UsageQueryDto) {
    return this.usage.summary(auth.tenantId, toUsageQuery(q));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One itemized usage record (its id is the X-Request-Id of the request)' })
  record(@Auth() auth: AuthContext, @Param('id') id: string) {
    return this.usage.record(auth.tenantId, id);
  }
}

import { Global, Module } from '@nestjs/common';
import { RequestDrain } from './http/request-drain';
import { MetricsService } from './metrics/metrics.service';

@Global()
@Module({ providers: [MetricsService, RequestDrain], exports: [MetricsService, RequestDrain] })
export class CommonModule {}

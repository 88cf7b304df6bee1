import { DynamicModule, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import {
  AccessLogMiddleware,
  AppConfig,
  CommonModule,
  ConfigModule,
  EnvelopeExceptionFilter,
  JsonBodyMiddleware,
  loggerParams,
  MetricsMiddleware,
  RequestDrainMiddleware,
  RequestIdMiddleware,
} from '@app/common';
import { DatabaseModule } from '@app/database';
import { QueueModule } from '@app/queue';
import { BillingModule, RateLimitModule } from '@app/billing';
import { ProvidersModule } from '@app/providers';
import { RoutingModule } from '@app/routing';
import { AuthGuardModule, TenancyModule } from '@app/tenancy';
import { WorkerModule } from '../../worker/src/worker.module';
import { AdminBillingController } from './admin/admin-billing.controller';
import { AdminController } from './admin/admin.controller';
import { BalanceController } from './billing/balance.controller';
import { ChatModule } from './chat/chat.module';
import { GatewayShutdown } from './gateway-shutdown';
import { GeminiModule } from './gemini/gemini.module';
import { UsageController } from './billing/usage.controller';
import { GatewayHealthController } from './health/health.controller';
import { ImageJobEvents, listensToQueueEvents } from './images/image-job-events';
import { ImagesModule } from './images/images.module';
import { ModelsController } from './models/models.controller';

@Module({})
export class GatewayModule implements NestModule {
  static forRoot(config: AppConfig, logDestination?: DestinationStream): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerParams(config, logDestination)),
        CommonModule,
        DatabaseModule.forRoot(),
        QueueModule.forRoot(),
        ProvidersModule,
        BillingModule,
        RateLimitModule,
        RoutingModule,
        TenancyModule,
        AuthGuardModule,
        ImagesModule,
        ChatModule,
        GeminiModule,
        ...(config.WORKER_IN_PROCESS ? [WorkerModule] : []),
      ],
      controllers: [GatewayHealthController, AdminController, AdminBillingController, BalanceController, UsageController, ModelsController],
      providers: [
        { provide: APP_FILTER, useClass: EnvelopeExceptionFilter },
        GatewayShutdown,
        // Other processes may run the workers: their finished jobs arrive as queue events.
        ...(listensToQueueEvents(config) ? [ImageJobEvents] : []),
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    const everything = { path: '*path', method: RequestMethod.ALL };
    // The access log first, so that a request refused by a later middleware (a bad client request id, a body
    // that does not parse, a request that arrives during shutdown) still gets its line; the shutdown's refusal
    // after the request id and the metrics, so that it carries an id and is counted.
    consumer.apply(AccessLogMiddleware, RequestIdMiddleware, MetricsMiddleware, RequestDrainMiddleware, JsonBodyMiddleware).forRoutes(everything);
  }
}

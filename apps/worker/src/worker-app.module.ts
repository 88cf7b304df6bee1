import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig, CommonModule, ConfigModule, loggerParams } from '@app/common';
import { DatabaseModule } from '@app/database';
import { HealthController, QueueModule } from '@app/queue';
import { BillingModule } from '@app/billing';
import { ProvidersModule } from '@app/providers';
import { RoutingModule } from '@app/routing';
import { StorageModule } from '@app/storage';
import { WorkerModule } from './worker.module';

/** The worker process: the processors, and HTTP only for its health and metrics. */
@Module({})
export class WorkerAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerAppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerParams(config)),
        CommonModule,
        DatabaseModule.forRoot(),
        QueueModule.forRoot(),
        ProvidersModule,
        RoutingModule,
        BillingModule,
        StorageModule,
        WorkerModule,
      ],
      controllers: [HealthController],
    };
  }
}

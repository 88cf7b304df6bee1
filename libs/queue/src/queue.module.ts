import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { IMAGE_JOB_OPTIONS, IMAGE_QUEUE, MAINTENANCE_JOB_OPTIONS, MAINTENANCE_QUEUE } from './queue.constants';
import { queueConnection } from './queue-connection';
import { QueueHealth } from './queue-health';
import { JobCompletionSignal } from './job-completion.signal';

/** Registers every queue (producers). Processors live in apps/worker's WorkerModule. */
@Global()
@Module({})
export class QueueModule {
  static forRoot(): DynamicModule {
    const queues = BullModule.registerQueue(
      { name: MAINTENANCE_QUEUE, defaultJobOptions: MAINTENANCE_JOB_OPTIONS },
      { name: IMAGE_QUEUE, defaultJobOptions: IMAGE_JOB_OPTIONS },
    );
    return {
      module: QueueModule,
      imports: [
        BullModule.forRootAsync({
          inject: [AppConfig, SQL_DATABASE],
          // Awaited here: a promise handed to BullMQ as `connection` is read as empty Redis options, i.e. a
          // Redis on localhost:6379, whatever REDIS_URL or the Postgres backend said.
          useFactory: async (config: AppConfig, db: SqlDatabase) => ({
            connection: (await queueConnection(config, db)) as never,
            prefix: config.QUEUE_PREFIX,
          }),
        }),
        queues,
      ],
      providers: [QueueHealth, JobCompletionSignal],
      exports: [queues, QueueHealth, JobCompletionSignal],
    };
  }
}

import type { WorkerHost } from '@nestjs/bullmq';
import { Module, type Type } from '@nestjs/common';
import type { QueueName } from '@app/queue';
import { ImageGenerationProcessor } from './image-generation.processor';
import { ImageJobReconciler } from './image-job-reconciler';
import { ImageRetentionPurger } from './image-retention-purger';
import { MaintenanceProcessor } from './maintenance.processor';

/** One processor per queue; the type makes a queue without a processor a compile error. */
const PROCESSORS: Record<QueueName, Type<WorkerHost>> = {
  maintenance: MaintenanceProcessor,
  'image-generation': ImageGenerationProcessor,
};

/**
 * The BullMQ processors. apps/worker runs them alone; the gateway imports this module too when
 * WORKER_IN_PROCESS is on, so one `npm start` is a complete system.
 */
@Module({ providers: [...Object.values(PROCESSORS), ImageJobReconciler, ImageRetentionPurger] })
export class WorkerModule {}

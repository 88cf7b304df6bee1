import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { ReservationSweeper } from '@app/billing';
import { MAINTENANCE_QUEUE, RECONCILE_IMAGE_JOBS_JOB, RECONCILE_INTERVAL_MS, SWEEP_INTERVAL_MS, SWEEP_RESERVATIONS_JOB } from '@app/queue';
import { ImageJobReconciler, type ReconcileReport } from './image-job-reconciler';

/**
 * Housekeeping on a schedule shared by every worker: BullMQ's job scheduler makes sure exactly one run of each
 * job per interval however many workers are up. Expired reservations are released; image jobs are reconciled
 * with the queue (`ImageJobReconciler`).
 */
@Processor(MAINTENANCE_QUEUE)
export class MaintenanceProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(MaintenanceProcessor.name);

  constructor(
    private readonly sweeper: ReservationSweeper,
    private readonly imageJobs: ImageJobReconciler,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(SWEEP_RESERVATIONS_JOB, { every: SWEEP_INTERVAL_MS }, { name: SWEEP_RESERVATIONS_JOB });
    await this.queue.upsertJobScheduler(RECONCILE_IMAGE_JOBS_JOB, { every: RECONCILE_INTERVAL_MS }, { name: RECONCILE_IMAGE_JOBS_JOB });
  }

  async process(job: Job): Promise<{ released: number } | ReconcileReport | null> {
    switch (job.name) {
      case SWEEP_RESERVATIONS_JOB:
        return { released: await this.sweeper.releaseExpired() };
      case RECONCILE_IMAGE_JOBS_JOB:
        return this.imageJobs.reconcile();
      default:
        this.logger.warn(`unknown maintenance job ${job.name}`);
        return null;
    }
  }
}

import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { ReservationSweeper } from '@app/billing';
import {
  MAINTENANCE_QUEUE,
  PURGE_EXPIRED_IMAGES_AGAIN_AFTER_MS,
  PURGE_EXPIRED_IMAGES_INTERVAL_MS,
  PURGE_EXPIRED_IMAGES_JOB,
  RECONCILE_IMAGE_JOBS_JOB,
  RECONCILE_INTERVAL_MS,
  SWEEP_INTERVAL_MS,
  SWEEP_RESERVATIONS_JOB,
} from '@app/queue';
import { ImageJobReconciler, type ReconcileReport } from './image-job-reconciler';
import { ImageRetentionPurger, type PurgeReport } from './image-retention-purger';

/**
 * Housekeeping on a schedule shared by every worker: BullMQ's job scheduler makes sure exactly one run of each
 * job per interval however many workers are up. Expired reservations are released; image jobs are reconciled
 * with the queue (`ImageJobReconciler`); stored images past IMAGE_RETENTION_HOURS are deleted
 * (`ImageRetentionPurger`).
 */
@Processor(MAINTENANCE_QUEUE)
export class MaintenanceProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(MaintenanceProcessor.name);

  constructor(
    private readonly sweeper: ReservationSweeper,
    private readonly imageJobs: ImageJobReconciler,
    private readonly purger: ImageRetentionPurger,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(SWEEP_RESERVATIONS_JOB, { every: SWEEP_INTERVAL_MS }, { name: SWEEP_RESERVATIONS_JOB });
    await this.queue.upsertJobScheduler(RECONCILE_IMAGE_JOBS_JOB, { every: RECONCILE_INTERVAL_MS }, { name: RECONCILE_IMAGE_JOBS_JOB });
    await this.queue.upsertJobScheduler(PURGE_EXPIRED_IMAGES_JOB, { every: PURGE_EXPIRED_IMAGES_INTERVAL_MS }, { name: PURGE_EXPIRED_IMAGES_JOB });
  }

  async process(job: Job): Promise<{ released: number } | ReconcileReport | PurgeReport | null> {
    switch (job.name) {
      case SWEEP_RESERVATIONS_JOB:
        return { released: await this.sweeper.releaseExpired() };
      case RECONCILE_IMAGE_JOBS_JOB:
        return this.imageJobs.reconcile();
      case PURGE_EXPIRED_IMAGES_JOB:
        return this.purgeExpiredImages();
      default:
        this.logger.warn(`unknown maintenance job ${job.name}`);
        return null;
    }
  }

  /**
   * One bounded batch; when it was full (and made progress), another run follows shortly instead of waiting for the
   * next interval, so a backlog (retention just turned on, or shortened) is worked off in small steps. Runs that
   * overlap (a follow-up and a scheduled one) are harmless: deleting a file or a row twice deletes it once.
   */
  private async purgeExpiredImages(): Promise<PurgeReport> {
    const report = await this.purger.purge();
    if (report.full && report.deleted > 0) {
      await this.queue.add(PURGE_EXPIRED_IMAGES_JOB, {}, { delay: PURGE_EXPIRED_IMAGES_AGAIN_AFTER_MS });
    }
    return report;
  }
}

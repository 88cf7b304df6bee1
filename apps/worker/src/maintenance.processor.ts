import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { ReservationSweeper } from '@app/billing';
import { MAINTENANCE_QUEUE, SWEEP_INTERVAL_MS, SWEEP_RESERVATIONS_JOB } from '@app/queue';

/**
 * Housekeeping on a schedule shared by every worker: BullMQ's job scheduler makes sure exactly one sweep
 * runs per interval however many workers are up.
 */
@Processor(MAINTENANCE_QUEUE)
export class MaintenanceProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(MaintenanceProcessor.name);

  constructor(
    private readonly sweeper: ReservationSweeper,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(SWEEP_RESERVATIONS_JOB, { every: SWEEP_INTERVAL_MS }, { name: SWEEP_RESERVATIONS_JOB });
  }

  async process(job: Job): Promise<{ released: number }> {
    switch (job.name) {
      case SWEEP_RESERVATIONS_JOB:
        return { released: await this.sweeper.releaseExpired() };
      default:
        this.logger.warn(`unknown maintenance job ${job.name}`);
        return { released: 0 };
    }
  }
}

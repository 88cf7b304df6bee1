import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { ApiError } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { GENERATE_IMAGES_JOB, IMAGE_QUEUE, RECONCILE_IMAGE_JOBS_AFTER_MS, type ImageJobPayload } from '@app/queue';
import { ImageGenerationProcessor } from './image-generation.processor';

/** Unfinished jobs not touched for a while, with whether their reservation still holds the spend. */
const CANDIDATES_SQL = `
  SELECT j.id::text AS id, j.tenant_id::text AS tenant_id, (r.id IS NOT NULL) AS reserved
    FROM image_jobs j LEFT JOIN reservations r ON r.id = j.id::text
   WHERE j.status IN ('queued', 'running') AND j.updated_at < now() - make_interval(secs => $1::int / 1000.0)
   ORDER BY j.updated_at
   LIMIT $2::int`;

/** Marks a job failed that never ran and can no longer run (no reservation is left to bill it against). */
const FAIL_UNRUN_SQL = `
  UPDATE image_jobs SET status = 'failed', error = $2::jsonb, completed_at = now(), updated_at = now()
   WHERE id = $1::uuid AND status IN ('queued', 'running')`;

/**
 * Drops `Idempotency-Key` claims (`pending` rows, see the gateway's ImageGenerationService) whose request died before
 * it was admitted: nothing was queued for them, and a hold one may have taken is released by the sweeper at its expiry.
 */
const DROP_ABANDONED_CLAIMS_SQL = `
  DELETE FROM image_jobs WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1::int / 1000.0) RETURNING 1`;

/** The most jobs one pass looks at; the next pass takes the rest. */
export const RECONCILE_BATCH = 200;

export interface ReconcileReport {
  /** given up by the queue (stalled out) and finished here: failed, or succeeded from an earlier run's settlement */
  finished: number;
  /** missing from the queue (lost with Redis's data) and queued again */
  requeued: number;
  /** missing from the queue with nothing left to bill them against: failed, nothing charged */
  failedUnrun: number;
  /** Idempotency-Key claims whose request died before admitting the job: dropped */
  abandonedClaims: number;
}

/**
 * The `image_jobs` row is the durable record of an accepted job; the queue only schedules runs. Two ways the two
 * part, and what a periodic pass (the maintenance queue's `reconcile-image-jobs`) does about each:
 *
 * - The queue gave the job up without a run finishing its row: it stalled out (killed its worker more than
 *   IMAGE_MAX_STALLED_COUNT times) or its last run died. The row would say `running` for ever and hold the
 *   reservation until the sweeper's deadline; it is finished here: from an earlier run's settlement when one
 *   succeeded, otherwise failed with the reservation released.
 * - The queue lost the job (Redis restarted without persistence, or was flushed): it is queued again under the
 *   same id while its reservation still holds the spend; the processor is idempotent, so a job that had partly
 *   run is neither generated nor billed twice. Without a reservation it can no longer be billed, so it is failed.
 *
 * Only rows untouched for RECONCILE_IMAGE_JOBS_AFTER_MS are looked at, so a job being queued or run is left alone.
 * Rows still `pending` after that (an Idempotency-Key claimed by a request that died before admitting its job) are
 * dropped.
 */
@Injectable()
export class ImageJobReconciler {
  private readonly logger = new Logger(ImageJobReconciler.name);

  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @InjectQueue(IMAGE_QUEUE) private readonly queue: Queue<ImageJobPayload>,
    private readonly processor: ImageGenerationProcessor,
  ) {}

  async reconcile(olderThanMs = RECONCILE_IMAGE_JOBS_AFTER_MS): Promise<ReconcileReport> {
    const report: ReconcileReport = { finished: 0, requeued: 0, failedUnrun: 0, abandonedClaims: 0 };
    report.abandonedClaims = (await this.db.query(DROP_ABANDONED_CLAIMS_SQL, [olderThanMs])).length;
    const rows = await this.db.query<{ id: string; tenant_id: string; reserved: boolean }>(CANDIDATES_SQL, [olderThanMs, RECONCILE_BATCH]);
    for (const row of rows) {
      const state = await this.queue.getJobState(row.id);
      if (state === 'failed') {
        await this.processor.abandon(row.id, abandonedError());
        report.finished++;
      } else if (state === 'unknown') {
        if (row.reserved) {
          await this.queue.add(GENERATE_IMAGES_JOB, { jobId: row.id, tenantId: row.tenant_id }, { jobId: row.id });
          report.requeued++;
        } else {
          const error = lostError();
          await this.db.query(FAIL_UNRUN_SQL, [row.id, JSON.stringify({ status: error.status, type: error.type, code: error.code, message: error.message })]);
          report.failedUnrun++;
        }
      }
      // waiting, delayed, active: the queue still has it; completed: its run finished the row or is finishing it
    }
    if (report.finished + report.requeued + report.failedUnrun + report.abandonedClaims > 0) {
      this.logger.warn(
        `image jobs reconciled with the queue: ${report.finished} given up by the queue and finished, ${report.requeued} lost by the queue and queued again, ${report.failedUnrun} lost and failed, ${report.abandonedClaims} abandoned Idempotency-Key claim(s) dropped`,
      );
    }
    return report;
  }
}

function abandonedError(): ApiError {
  return new ApiError(500, 'server_error', 'The image job could not be completed by the workers and was given up; nothing was charged.', 'job_failed');
}

function lostError(): ApiError {
  return new ApiError(500, 'server_error', 'The image job was lost by the queue before it could run; nothing was charged.', 'job_failed');
}

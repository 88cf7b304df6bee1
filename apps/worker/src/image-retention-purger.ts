import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, MetricsService } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { IMAGE_STORE, type ImageStore } from '@app/storage';

/** The most stored images one run deletes; a full batch is followed by another run soon (PURGE_EXPIRED_IMAGES_AGAIN_AFTER_MS). */
export const PURGE_BATCH = 500;

/** How long an image whose file could not be deleted is passed over before the purge tries it again. */
export const PURGE_RETRY_AFTER_MINUTES = 60;

/**
 * The oldest stored images past the retention, of finished jobs only: a job still queued or running may yet store
 * its images again or finish itself from them (`ImageGenerationProcessor.recoverSettled`). An image whose file the
 * purge failed to delete less than PURGE_RETRY_AFTER_MINUTES ago is passed over: otherwise a batch's worth of
 * undeletable files would be selected first by every run and the purge would never reach the rest.
 */
const CANDIDATES_SQL = `
  SELECT s.id::text AS id, s.storage_key
    FROM stored_images s JOIN image_jobs j ON j.id = s.job_id
   WHERE s.created_at < now() - make_interval(hours => $1::int) AND j.status IN ('succeeded', 'failed')
     AND (s.purge_failed_at IS NULL OR s.purge_failed_at < now() - make_interval(mins => $3::int))
   ORDER BY s.created_at
   LIMIT $2::int`;

const MARK_FAILED_SQL = `UPDATE stored_images SET purge_failed_at = now() WHERE id = ANY($1::uuid[])`;

/**
 * Deletes the rows of images whose files are gone and marks their jobs, so the job answers that its images expired.
 * Counts only what this statement deleted: a row a concurrent run deleted first is not counted twice.
 */
const DELETE_SQL = `
  WITH gone AS (
    DELETE FROM stored_images WHERE id = ANY($1::uuid[]) RETURNING job_id, bytes
  ), marked AS (
    UPDATE image_jobs SET images_expired_at = now(), updated_at = now()
     WHERE id IN (SELECT job_id FROM gone) AND images_expired_at IS NULL
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT COALESCE(sum(bytes), 0) FROM gone)::text AS bytes,
         (SELECT count(*) FROM marked)::int AS jobs`;

export interface PurgeReport {
  /** stored images deleted (file and row) */
  deleted: number;
  /** their size */
  bytes: number;
  /** jobs marked as having their images expired by this run */
  jobs: number;
  /** images whose file could not be deleted: their rows are kept and tried again after PURGE_RETRY_AFTER_MINUTES */
  failed: number;
  /** the run took a whole batch, so more may be due */
  full: boolean;
}

/**
 * Deletes stored images older than IMAGE_RETENTION_HOURS (0: never), in batches of PURGE_BATCH, on the maintenance
 * queue's `purge-expired-images`. The image jobs themselves, their usage records and the ledger stay: a job whose
 * images were deleted still answers with its status and metadata, and says its images expired.
 *
 * The file goes first, then the row. The row is how the purge finds an image, so deleting it first and crashing
 * before the file would leave a file nothing refers to, on disk for ever. The other way round, a crash leaves a row
 * whose file is gone: its signed link answers 410 like a purged one, and the next run finds the row again, the
 * store reports the file already missing, and the row goes. A file that is already missing (deleted by hand, or by
 * a run that crashed) therefore never stops the purge; a file that cannot be deleted (a disk error) keeps its row,
 * marked, and is tried again an hour later.
 */
@Injectable()
export class ImageRetentionPurger {
  private readonly logger = new Logger(ImageRetentionPurger.name);

  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async purge(batch = PURGE_BATCH): Promise<PurgeReport> {
    const report: PurgeReport = { deleted: 0, bytes: 0, jobs: 0, failed: 0, full: false };
    const hours = this.config.IMAGE_RETENTION_HOURS;
    if (hours === 0) return report;
    const rows = await this.db.query<{ id: string; storage_key: string }>(CANDIDATES_SQL, [hours, batch, PURGE_RETRY_AFTER_MINUTES]);
    report.full = rows.length >= batch;

    const filesGone: string[] = [];
    const filesStuck: string[] = [];
    let firstError: unknown;
    for (const row of rows) {
      try {
        // false: nothing was stored under the key any more, which is as good as deleted
        await this.store.delete(row.storage_key);
        filesGone.push(row.id);
      } catch (e) {
        filesStuck.push(row.id);
        firstError ??= e;
      }
    }
    report.failed = filesStuck.length;
    if (filesStuck.length > 0) await this.db.query(MARK_FAILED_SQL, [filesStuck]);
    if (filesGone.length > 0) {
      const [r] = await this.db.query<{ deleted: number; bytes: string; jobs: number }>(DELETE_SQL, [filesGone]);
      report.deleted = Number(r?.deleted ?? 0);
      report.bytes = Number(r?.bytes ?? 0);
      report.jobs = Number(r?.jobs ?? 0);
    }

    this.metrics.imagesPurged.inc(report.deleted);
    this.metrics.imagePurgeFailures.inc(report.failed);
    if (report.deleted > 0) {
      this.logger.log(`deleted ${report.deleted} stored image(s), ${report.bytes} bytes, older than ${hours} h (images of ${report.jobs} job(s) expired)`);
    }
    if (report.failed > 0) {
      const why = firstError instanceof Error ? firstError.message : String(firstError);
      this.logger.warn(`could not delete the files of ${report.failed} stored image(s) past the retention; their rows are kept and tried again in ${PURGE_RETRY_AFTER_MINUTES} min: ${why}`);
    }
    return report;
  }
}

import type { DefaultJobOptions } from 'bullmq';

/** Every queue Switchyard uses. A worker refuses to start when one of them has no processor. */
export const MAINTENANCE_QUEUE = 'maintenance';
/** Image generation for every route that produces images (images API, chat image models, Gemini-native). */
export const IMAGE_QUEUE = 'image-generation';
export const ALL_QUEUES = [MAINTENANCE_QUEUE, IMAGE_QUEUE] as const;
export type QueueName = (typeof ALL_QUEUES)[number];

/** Job names on the maintenance queue. */
export const SWEEP_RESERVATIONS_JOB = 'sweep-reservations';
export const SWEEP_INTERVAL_MS = 30_000;
/** Finishes image jobs the queue gave up on, and queues again the ones it lost (apps/worker `ImageJobReconciler`). */
export const RECONCILE_IMAGE_JOBS_JOB = 'reconcile-image-jobs';
export const RECONCILE_INTERVAL_MS = 30_000;
/**
 * Deletes stored images older than IMAGE_RETENTION_HOURS (apps/worker `ImageRetentionPurger`). Retention is counted
 * in hours, so a run every five minutes keeps an image at most that much past its time.
 */
export const PURGE_EXPIRED_IMAGES_JOB = 'purge-expired-images';
export const PURGE_EXPIRED_IMAGES_INTERVAL_MS = 5 * 60_000;
/** a purge run that filled its batch is followed by another this soon, until a backlog is worked off */
export const PURGE_EXPIRED_IMAGES_AGAIN_AFTER_MS = 1_000;

export const MAINTENANCE_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 1,
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
};

/** The one job name on the image queue. */
export const GENERATE_IMAGES_JOB = 'generate-images';

/**
 * Image jobs. Upstream retries and model fallback happen inside one run of the processor (the routing
 * library's IMAGE_RETRY_POLICY); BullMQ's attempts cover what that cannot: the worker crashing or losing its
 * database mid-job. The processor is idempotent, so a repeated run never bills or stores twice. The
 * `image_jobs` row is the durable record the gateway reads (a failed job's error included), so finished jobs
 * need not stay in the queue.
 *
 * Failed ones are kept for inspection, but bounded: Redis runs with `noeviction`, so failures kept for ever
 * would grow until Redis refuses writes (about 1 KB each). The reconciler needs a failed entry only while the
 * job's row is still `queued` or `running` (the queue gave the job up without a run finishing the row), and
 * looks within RECONCILE_IMAGE_JOBS_AFTER_MS + RECONCILE_INTERVAL_MS; an entry removed before that (10,000 newer
 * failures in between) makes the job look lost, and it is queued again while its hold lasts and runs once more.
 * BullMQ applies the bound when a job fails.
 */
export const IMAGE_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { age: 24 * 60 * 60, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 60 * 60, count: 10_000 },
};

/** Jobs one worker process runs at once; they wait on slow upstreams, not on the CPU. */
export const IMAGE_WORKER_CONCURRENCY = 8;
/**
 * How often a job may be found stalled (its worker died or hung) and be run again before it is failed. A
 * crash mid-job is survivable; a job that kills its worker every time is not retried for ever.
 */
export const IMAGE_MAX_STALLED_COUNT = 2;
/**
 * How long a worker's claim on an image job lasts without renewal (it renews at half this while alive),
 * and how often workers look for jobs whose claim lapsed. A worker killed mid-job has its job picked up
 * again after at most about lock + 2 × interval, instead of BullMQ's default of up to 90 s, while a
 * worker whose event loop stalls for a few seconds still keeps its jobs.
 */
export const IMAGE_LOCK_DURATION_MS = 10_000;
export const IMAGE_STALLED_INTERVAL_MS = 5_000;
/**
 * How long an unfinished job's row must have been left untouched before the reconciler compares it with the
 * queue: well past a lapsed claim being noticed (lock + 2 × interval) and an enqueue's time limit, so a job that
 * is being queued or picked up again is never taken for lost.
 */
export const RECONCILE_IMAGE_JOBS_AFTER_MS = 60_000;

/** The BullMQ payload: everything else lives in the job's `image_jobs` row, whose id is also the BullMQ job id. */
export interface ImageJobPayload {
  jobId: string;
  tenantId: string;
}

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { ApiError, AppConfig } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { BillingService, imageReserveMicros, PriceBook, promptReserveMicros, tokenCost, type Payer, type Reservation } from '@app/billing';
import { imagePromptExtent, type GeminiSafetyRating, type GoogleBlock, type ImageGenerationRequest, type ImageResultPart, type ModelSpec, type NormalizedUsage } from '@app/providers';
import {
  GENERATE_IMAGES_JOB,
  IMAGE_JOB_RECORD_COLUMNS,
  IMAGE_QUEUE,
  imageJobRecordFromRow,
  imageStorageKey,
  isTerminalImageJobStatus,
  JobCompletionSignal,
  toStoredImageJobRequest,
  type ImageJobError,
  type ImageJobPayload,
  type ImageJobRecord,
  type ImageJobRecordRow,
  type ImageJobStatus,
  type ImagesResponseFormat,
  withTimeout,
} from '@app/queue';
import { IMAGE_STORE, readImageObject, type ImageStore } from '@app/storage';
import { IMAGE_RETRY_POLICY } from '@app/routing';
import { listensToQueueEvents } from './image-job-events';

/** How long an `Idempotency-Key` names its job. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60_000;
/**
 * How long a job's hold on the balance lasts while it waits in the queue: its whole retry budget plus 50 minutes.
 * A lost job's hold is released after it. A worker's claim extends the hold to last the run
 * (`IMAGE_RUN_HOLD_MS`); a job claimed after its hold was released is held again, or fails with 402 before any
 * upstream call, so a backlog longer than this never charges money that is not held.
 */
export const IMAGE_RESERVATION_TTL_MS = IMAGE_RETRY_POLICY.totalBudgetMs + 50 * 60_000;
/** How often a waiting request reads its job's row: from the first interval, doubling up to the longest. */
const FIRST_POLL_INTERVAL_MS = 50;
const MAX_POLL_INTERVAL_MS = 1000;
/**
 * How long an `Idempotency-Key` claimed by a request that is being admitted (`pending`: rate limit, reservation) may
 * stay so before other requests with the key take it for abandoned (its process died) and claim it themselves.
 * Admission takes milliseconds; its slowest step, a rate-limit check, gives up after 2 s.
 */
export const PENDING_CLAIM_STALE_MS = 10_000;
/** The longest adding a job to the queue may take before the request is answered 503. */
export const ENQUEUE_TIMEOUT_MS = 3_000;
/** The header naming an image job on every answer about one. */
export const JOB_ID_HEADER = 'X-Switchyard-Job-Id';

/**
 * GPT image models bill output tokens that grow with the image's area (OpenAI: 6,240 tokens for a high
 * quality 1024x1536 image, i.e. just under 0.004 per pixel). The billing library's per-image bound assumes
 * a 1024-class image; large sizes need this one.
 */
const OUTPUT_TOKENS_PER_PIXEL = 0.004;

export interface ImageJobSubmission {
  /** the job's id, which is also its usage record's id: the request id, so X-Request-Id names both */
  jobId?: string;
  /** the id the client gave the request, copied to the job's usage record for correlation */
  clientRequestId?: string;
  payer: Payer;
  /** the route, for the usage record: `/v1/images/generations`, `/v1/chat/completions`, ... */
  endpoint: string;
  /** the model name the tenant sent */
  requestedModel: string;
  /** resolved and capability-checked by the route, primary first */
  chain: readonly ModelSpec[];
  request: ImageGenerationRequest;
  /** how the images route answers; other routes read the bytes and leave it null */
  responseFormat?: ImagesResponseFormat | null;
  /** the tenant's `Idempotency-Key` and a hash of what it was sent with */
  idempotency?: { key: string; requestHash: string };
  /** a floor for the reservation, e.g. a chat route's worst case for the text around the image */
  minReserveMicros?: bigint;
  /**
   * With `idempotency`: the route's admission check (its rate limit), run only by the request that creates the
   * job, just before the reservation; a replay of the job never runs it. Throws the route's refusal.
   */
  admit?: () => Promise<void>;
}

export interface SubmittedImageJob {
  jobId: string;
  /** true when an `Idempotency-Key` named an existing job, which is returned instead of a new one */
  replayed: boolean;
  status: ImageJobStatus;
  createdAt: Date;
}

/** A job as its tenant may see it. */
export type ImageJobView = ImageJobRecord;

/** A job as a wait left it, with the bytes of its images when the worker of this process handed them over. */
export interface WaitedImageJob {
  view: ImageJobView;
  /** the images by index, straight from the worker; absent when they are to be read from the store */
  images?: readonly Buffer[];
}

export interface GeneratedImageBytes {
  /** the `stored_images` id, which signed links name */
  id: string;
  data: Buffer;
  mimeType: string;
  revisedPrompt?: string;
}

/** What a finished job produced, for routes that answer with the images themselves. */
export interface GeneratedImages {
  jobId: string;
  created: number;
  images: GeneratedImageBytes[];
  text?: string;
  /** text and images (by position in `images`) in the model's order, when the job kept it (see `answerParts`) */
  parts?: ImageResultPart[];
  /** Gemini image models: the answer's safety ratings as Google sent them */
  safetyRatings?: GeminiSafetyRating[];
  usage: NormalizedUsage;
  /** public id of the model that served */
  servedModel: string;
  provider: string;
  fallbackLevel: number;
  costMicros: bigint;
  /** upstream attempts across the chain */
  attempts: number;
}

/** One part of a finished job's answer: text, or one of its images, with the signature the model put on it. */
export type AnswerPart = { text: string; thoughtSignature?: string } | { image: GeneratedImageBytes; thoughtSignature?: string };

/**
 * The answer's text and images in the order the model gave them. A job whose result kept no order (written
 * before it was kept, or by a model answering with images only) reads as it always did: its text, then its images.
 */
export function answerParts(result: Pick<GeneratedImages, 'images' | 'text' | 'parts'>): AnswerPart[] {
  if (!result.parts?.length) {
    return [...(result.text ? [{ text: result.text }] : []), ...result.images.map((image) => ({ image }))];
  }
  const out: AnswerPart[] = [];
  const placed = new Set<number>();
  for (const part of result.parts) {
    const signed = part.thoughtSignature ? { thoughtSignature: part.thoughtSignature } : {};
    if ('text' in part) {
      out.push({ text: part.text, ...signed });
      continue;
    }
    const image = result.images[part.image];
    if (!image || placed.has(part.image)) continue;
    placed.add(part.image);
    out.push({ image, ...signed });
  }
  // Every image is answered, also one the order does not name.
  result.images.forEach((image, i) => {
    if (!placed.has(i)) out.push({ image });
  });
  return out;
}

/** A failed job's error, with Google's verdict when its filters blocked the prompt or withheld the image. */
export class ImageJobFailure extends ApiError {
  constructor(error: ApiError, readonly block?: GoogleBlock) {
    super(error.status, error.type, error.message, error.code, error.param, error.headers);
  }
}

/** The 410 of a finished job whose images are no longer stored (deleted after IMAGE_RETENTION_HOURS). */
export function imagesExpiredError(jobId: string): ApiError {
  return ApiError.gone(
    `The images of job ${jobId} are no longer stored: they were deleted after the retention period. GET /v1/images/generations/${jobId} still describes the job.`,
    'images_expired',
    { [JOB_ID_HEADER]: jobId },
  );
}

/** Job and stored-image ids: anything else names nothing, and is not sent to the database as a uuid. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Records a job: `queued` (reserved, about to be queued), or `pending` to claim an `Idempotency-Key` for a new
 * job (no reservation yet, not queued). No row when the key already names a job: the unique index on tenant and
 * key, which also makes a concurrent claim wait for the first to commit. Jobs without a key never conflict.
 */
const INSERT_JOB_SQL = `
  INSERT INTO image_jobs (id, tenant_id, api_key_id, endpoint, status, request, chain, idempotency_key, request_hash, client_request_id, reserved_micros, updated_at)
  VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $11, $5::jsonb, $6::text[], $7, $8, $9, $10::bigint, now())
  ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
  RETURNING created_at`;

const FIND_JOB_SQL = `SELECT ${IMAGE_JOB_RECORD_COLUMNS} FROM image_jobs WHERE id = $1::uuid AND tenant_id = $2::uuid`;

function largestSize(sizes: readonly string[] | undefined): { width: number; height: number } | undefined {
  let best: { width: number; height: number } | undefined;
  for (const s of sizes ?? []) {
    const m = /^(\d+)x(\d+)$/.exec(s);
    if (!m) continue;
    const width = Number(m[1]);
    const height = Number(m[2]);
    if (!best || width * height > best.width * best.height) best = { width, height };
  }
  return best;
}

/**
 * The one path every image generation takes, whichever route asked for it (the images API, chat with an
 * image model, the Gemini-native route): reserve the worst case of the dearest model in the chain, record the
 * job, queue it, and wait for the worker to finish it. Retry, fallback, storage and settlement happen in the
 * worker (`apps/worker/src/image-generation.processor.ts`), so all routes share them.
 *
 * Routes validate, rate-limit, resolve and capability-check first; `generate` then does the rest and throws
 * the `ApiError` the tenant should see (402 before anything is queued, the job's own error, or a 504 naming
 * the job when the wait runs out while the job carries on).
 */
@Injectable()
export class ImageGenerationService {
  private readonly logger = new Logger(ImageGenerationService.name);

  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    private readonly billing: BillingService,
    private readonly prices: PriceBook,
    @InjectQueue(IMAGE_QUEUE) private readonly queue: Queue<ImageJobPayload>,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
    private readonly completion: JobCompletionSignal,
    private readonly config: AppConfig,
  ) {}

  /** submit → wait → the images, for routes that answer synchronously with the bytes */
  async generate(submission: ImageJobSubmission, timeoutMs: number): Promise<GeneratedImages> {
    const job = await this.submit(submission);
    const { view, images } = await this.waitFor(job.jobId, submission.payer.tenantId, timeoutMs, !job.replayed);
    if (view.status === 'failed') throw this.jobError(view);
    if (view.status !== 'succeeded') throw this.timeoutError(view.id, timeoutMs);
    return this.readImages(view, images);
  }

  /** The worst case the job may cost: the dearest model of the chain, for n images of the size and quality asked. */
  async reserveMicros(chain: readonly ModelSpec[], request: ImageGenerationRequest, params: readonly string[] = []): Promise<bigint> {
    const n = request.n ?? 1;
    const { textBytes: promptBytes, images: inputImages } = imagePromptExtent(request);
    let worst = 0n;
    for (const [i, spec] of chain.entries()) {
      const priced = await this.prices.priced(spec);
      if (!priced) {
        throw ApiError.badRequest(`The model ${spec.id} has no list price yet and cannot be used.`, params[i] ?? 'model', 'model_not_priced');
      }
      const model = priced.model;
      let amount = imageReserveMicros(model, n, { size: request.size, quality: request.quality }) + promptReserveMicros(model, promptBytes, inputImages);
      const rates = model.price?.tokens;
      const size = request.size && request.size !== 'auto' ? largestSize([request.size]) : largestSize(model.capabilities.sizes);
      if (rates && size) {
        const byArea = tokenCost(Math.ceil(OUTPUT_TOKENS_PER_PIXEL * size.width * size.height), rates.imageOutput ?? rates.output) * BigInt(n);
        const prompt = promptReserveMicros(model, promptBytes, inputImages);
        if (byArea + prompt > amount) amount = byArea + prompt;
      }
      if (amount > worst) worst = amount;
    }
    return worst;
  }

  /**
   * Reserves, records and queues a job; with an `Idempotency-Key`, see `submitIdempotent`. Throws the route's error
   * (402 before anything is recorded, 503 when the queue cannot take the job: nothing is then charged or held).
   */
  async submit(submission: ImageJobSubmission): Promise<SubmittedImageJob> {
    const amount = await this.amountOf(submission);
    if (submission.idempotency) return this.submitIdempotent(submission, submission.idempotency, amount);
    const jobId = submission.jobId ?? randomUUID();
    const reservation = await this.billing.reserve(jobId, submission.payer, amount, IMAGE_RESERVATION_TTL_MS);
    let createdAt: Date;
    try {
      const [row] = await this.db.query<{ created_at: Date | string }>(INSERT_JOB_SQL, this.jobRow(submission, jobId, amount, 'queued'));
      createdAt = new Date(row.created_at);
    } catch (e) {
      await this.billing.release(reservation);
      throw e;
    }
    await this.enqueueOrFail(jobId, submission.payer.tenantId, reservation);
    return { jobId, replayed: false, status: 'queued', createdAt };
  }

  /**
   * A job named by an `Idempotency-Key`. The key is claimed first, by recording the job as `pending` (the unique
   * index on tenant and key lets one request win); only the request that claimed it is admitted (`admit`: the
   * route's rate limit), reserves the worst case and queues the job. Every other request with the key, at the same
   * time or later, answers with that job (409 for a different body) and neither uses rate-limit quota nor reserves:
   * while the job is `pending` it waits for the outcome, and when the claiming request was refused (429, 402) and let
   * the key go, it claims the key itself and is judged on its own. A `pending` row left by a process that died while
   * admitting it is taken over after PENDING_CLAIM_STALE_MS.
   */
  private async submitIdempotent(
    submission: ImageJobSubmission,
    idempotency: { key: string; requestHash: string },
    amount: bigint,
  ): Promise<SubmittedImageJob> {
    const { payer } = submission;
    const jobId = submission.jobId ?? randomUUID();
    const deadline = Date.now() + 2 * PENDING_CLAIM_STALE_MS;
    let pause = FIRST_POLL_INTERVAL_MS / 5;
    for (;;) {
      const [claimed] = await this.db.query<{ created_at: Date | string }>(INSERT_JOB_SQL, this.jobRow(submission, jobId, amount, 'pending'));
      if (claimed) {
        const job = await this.admitClaimed(submission, jobId, amount, new Date(claimed.created_at));
        if (job) return job;
        continue; // taken over as stale while this request was admitted: the key now names another request's job
      }
      const existing = await this.replay(payer.tenantId, idempotency);
      if (existing !== 'pending' && existing !== null) return existing;
      if (Date.now() > deadline) {
        throw ApiError.conflict('A request with this Idempotency-Key is still being processed. Retry it shortly.', 'idempotency_key_in_use');
      }
      if (existing === 'pending') {
        await sleep(pause);
        pause = Math.min(pause * 2, MAX_POLL_INTERVAL_MS / 10);
      }
      // null: the request that held the key let it go (it was refused, or the key's window ended); claim it again
    }
  }

  /** Admits the job whose key this request claimed: the route's check, the reservation, then `queued` and the queue. Null when the claim was lost. */
  private async admitClaimed(submission: ImageJobSubmission, jobId: string, amount: bigint, createdAt: Date): Promise<SubmittedImageJob | null> {
    let reservation: Reservation;
    try {
      await submission.admit?.();
      reservation = await this.billing.reserve(jobId, submission.payer, amount, IMAGE_RESERVATION_TTL_MS);
    } catch (e) {
      // Refused: the key is let go, so the requests waiting on it are judged on their own.
      await this.db.query(`DELETE FROM image_jobs WHERE id = $1::uuid AND status = 'pending'`, [jobId]).catch(() => undefined);
      throw e;
    }
    const [queued] = await this.db.query(`UPDATE image_jobs SET status = 'queued', updated_at = now() WHERE id = $1::uuid AND status = 'pending' RETURNING 1`, [jobId]);
    if (!queued) {
      await this.billing.release(reservation);
      return null;
    }
    await this.enqueueOrFail(jobId, submission.payer.tenantId, reservation);
    return { jobId, replayed: false, status: 'queued', createdAt };
  }

  private async amountOf(submission: ImageJobSubmission): Promise<bigint> {
    const amount = await this.reserveMicros(submission.chain, submission.request);
    return submission.minReserveMicros !== undefined && submission.minReserveMicros > amount ? submission.minReserveMicros : amount;
  }

  /** The parameters of INSERT_JOB_SQL. */
  private jobRow(submission: ImageJobSubmission, jobId: string, amount: bigint, status: 'queued' | 'pending'): unknown[] {
    const stored = toStoredImageJobRequest(submission.requestedModel, submission.request, submission.responseFormat ?? null);
    return [
      jobId,
      submission.payer.tenantId,
      submission.payer.keyId,
      submission.endpoint,
      JSON.stringify(stored),
      submission.chain.map((m) => m.id),
      submission.idempotency?.key ?? null,
      submission.idempotency?.requestHash ?? null,
      submission.clientRequestId ?? null,
      amount.toString(),
      status,
    ];
  }

  /**
   * Queues the job, or answers 503 with nothing charged: its reservation released and its row failed. The row lets
   * its `Idempotency-Key` go, so a retry with the key runs instead of being answered this 503 for the key's window.
   */
  private async enqueueOrFail(jobId: string, tenantId: string, reservation: Reservation): Promise<void> {
    try {
      await this.enqueue(jobId, tenantId);
    } catch (e) {
      this.logger.error(`image job ${jobId} could not be queued: ${e instanceof Error ? e.message : String(e)}`);
      const error = ApiError.unavailable('The image queue is not reachable; nothing was charged. Try again shortly.');
      await this.billing.release(reservation).catch(() => undefined);
      const record: ImageJobError = { status: error.status, type: error.type, code: error.code, message: error.message };
      await this.db
        .query(
          `UPDATE image_jobs SET status = 'failed', error = $2::jsonb, idempotency_key = NULL, completed_at = now(), updated_at = now() WHERE id = $1::uuid`,
          [jobId, JSON.stringify(record)],
        )
        .catch(() => undefined);
      throw error;
    }
  }

  /** The job, or null when it does not exist or belongs to another tenant (the two look the same). */
  async find(jobId: string, tenantId: string): Promise<ImageJobView | null> {
    if (!UUID.test(jobId)) return null;
    const [row] = await this.db.query<ImageJobRecordRow>(FIND_JOB_SQL, [jobId, tenantId]);
    return row ? imageJobRecordFromRow(row) : null;
  }

  /**
   * Waits until the job is finished or `timeoutMs` passed, and returns it either way. A worker in this process
   * hands over the finished job (and its images' bytes) as it finishes it, so nothing is read back; otherwise the
   * job's row is polled, which works whichever process runs the worker. `queued`: the caller has just queued the
   * job, so it is not read before the first wait.
   *
   * Jobs finished by a worker in another process wake the waiter through the queue's events (`ImageJobEvents`, on a
   * shared database), so polling is only the fallback and runs once a second; without a worker in this process or
   * those events (the embedded database with WORKER_IN_PROCESS=false), polling is the only way, and starts at 50 ms.
   */
  async waitFor(jobId: string, tenantId: string, timeoutMs: number, queued = false): Promise<WaitedImageJob> {
    const deadline = Date.now() + timeoutMs;
    // Listening for the whole wait, not only between reads, so a notice that comes during a read is not lost.
    const listener = this.completion.listen(jobId);
    try {
      const pushed = this.config.WORKER_IN_PROCESS || listensToQueueEvents(this.config);
      let interval = pushed ? MAX_POLL_INTERVAL_MS : FIRST_POLL_INTERVAL_MS;
      let read = !queued;
      for (;;) {
        if (read) {
          const view = await this.find(jobId, tenantId);
          if (!view) throw ApiError.notFound(`No image job ${jobId}.`, 'job_not_found', 'id');
          if (isTerminalImageJobStatus(view.status) || deadline - Date.now() <= 0) return { view };
        }
        const notice = await listener.next(Math.max(1, Math.min(interval, deadline - Date.now())));
        const finished = notice?.finished;
        if (finished && finished.record.tenantId === tenantId && isTerminalImageJobStatus(finished.record.status)) {
          return { view: finished.record, ...(finished.images ? { images: finished.images } : {}) };
        }
        // Otherwise (no notice, a bare one, or one from another process's worker) the row says where the job is.
        read = true;
        interval = Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
      }
    } finally {
      listener.stop();
    }
  }

  /** The images of a succeeded job: the bytes the worker handed over, or read back from the store. */
  async readImages(view: ImageJobView, handed?: readonly Buffer[]): Promise<GeneratedImages> {
    const result = view.result;
    if (view.status !== 'succeeded' || !result) throw new Error(`image job ${view.id} has not succeeded`);
    if (view.imagesExpiredAt) throw imagesExpiredError(view.id);
    const images: GeneratedImageBytes[] = [];
    for (const image of result.images) {
      const revised = image.revisedPrompt ? { revisedPrompt: image.revisedPrompt } : {};
      const bytes = handed?.[image.index];
      if (bytes) {
        images.push({ id: image.id, data: bytes, mimeType: image.mimeType, ...revised });
        continue;
      }
      const object = await this.store.get(imageStorageKey(view.tenantId, view.id, image.index));
      if (!object) throw imagesExpiredError(view.id);
      images.push({ id: image.id, data: await readImageObject(object), mimeType: object.mimeType, ...revised });
    }
    return {
      jobId: view.id,
      created: result.created,
      images,
      ...(result.text ? { text: result.text } : {}),
      ...(result.parts ? { parts: result.parts } : {}),
      ...(result.safetyRatings ? { safetyRatings: result.safetyRatings } : {}),
      usage: result.usage,
      servedModel: result.servedModel,
      provider: result.provider,
      fallbackLevel: result.fallbackLevel,
      costMicros: BigInt(result.costMicros),
      attempts: view.attempts,
    };
  }

  /** The tenant-facing error of a failed job, naming the job; with Google's verdict when its filters stopped the job. */
  jobError(view: ImageJobView): ImageJobFailure {
    const e = view.error ?? { status: 502, type: 'server_error', code: 'upstream_error', message: 'The image job failed.' };
    const headers: Record<string, string> = { ...(e.headers ?? {}), [JOB_ID_HEADER]: view.id };
    if (view.fallbackLevel !== null) headers['X-Switchyard-Fallback-Level'] = String(view.fallbackLevel);
    return new ImageJobFailure(new ApiError(e.status, e.type, e.message, e.code, null, headers), e.block);
  }

  /** The 504 of a wait that ran out; the job carries on and can be fetched by its id. */
  timeoutError(jobId: string, timeoutMs: number): ApiError {
    return new ApiError(
      504,
      'server_error',
      `Image generation did not finish within ${Math.round(timeoutMs / 1000)} s. Job ${jobId} continues; fetch it with GET /v1/images/generations/${jobId}.`,
      'generation_timeout',
      null,
      { [JOB_ID_HEADER]: jobId },
    );
  }

  /**
   * The job an `Idempotency-Key` already names: the same job for the same body, a 409 for a different one;
   * `pending` while the request that claimed the key is being admitted; null when no job holds the key (a key
   * older than the idempotency window, or a `pending` claim older than PENDING_CLAIM_STALE_MS, is let go here).
   */
  private async replay(tenantId: string, idempotency: { key: string; requestHash: string }): Promise<SubmittedImageJob | 'pending' | null> {
    const [found] = await this.db.query<{ id: string; status: string; request_hash: string | null; created_at: Date | string; stale: boolean }>(
      `SELECT id::text AS id, status, request_hash, created_at, updated_at < now() - make_interval(secs => $3::int / 1000.0) AS stale
         FROM image_jobs WHERE tenant_id = $1::uuid AND idempotency_key = $2`,
      [tenantId, idempotency.key, PENDING_CLAIM_STALE_MS],
    );
    if (!found) return null;
    const row = { id: found.id, status: found.status, requestHash: found.request_hash, createdAt: new Date(found.created_at) };
    if (row.status === 'pending') {
      if (!found.stale) return 'pending';
      // The request that claimed the key died before it was admitted or refused: the claim is dropped.
      await this.db.query(
        `DELETE FROM image_jobs WHERE id = $1::uuid AND status = 'pending' AND updated_at < now() - make_interval(secs => $2::int / 1000.0)`,
        [row.id, PENDING_CLAIM_STALE_MS],
      );
      return null;
    }
    if (Date.now() - row.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS) {
      await this.db.query('UPDATE image_jobs SET idempotency_key = NULL, updated_at = now() WHERE id = $1::uuid AND idempotency_key = $2', [
        row.id,
        idempotency.key,
      ]);
      return null;
    }
    if (row.requestHash !== idempotency.requestHash) {
      throw ApiError.conflict(
        'This Idempotency-Key was already used with a different request body. Use a new key for a new request.',
        'idempotency_key_reused',
      );
    }
    // Re-adding is a no-op when the job is queued already, and recovers one whose first enqueue was lost.
    if (row.status === 'queued') await this.enqueue(row.id, tenantId).catch(() => undefined);
    return { jobId: row.id, replayed: true, status: row.status as ImageJobStatus, createdAt: row.createdAt };
  }

  /**
   * Adds the job, or throws within ENQUEUE_TIMEOUT_MS. A queue whose connection was never ready (a gateway
   * started while Redis is down) waits for it inside `add` without end; the time limit turns that into the
   * route's 503. An add that lands after the limit is harmless: the job's row is failed by then, and the
   * worker does nothing for a finished job.
   */
  private async enqueue(jobId: string, tenantId: string): Promise<void> {
    await withTimeout(this.queue.add(GENERATE_IMAGES_JOB, { jobId, tenantId }, { jobId }), ENQUEUE_TIMEOUT_MS, 'the image queue');
  }
}

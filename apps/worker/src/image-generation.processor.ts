import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { ApiError } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { BillingService, computeCost, formatUsd, PriceBook, type Cost, type SettleInput } from '@app/billing';
import {
  googleBlockOf,
  ModelCatalog,
  ProviderClient,
  type GoogleBlock,
  type ImageGenerationResult,
  type ModelSpec,
  type NormalizedUsage,
} from '@app/providers';
import {
  fromStoredImageJobRequest,
  IMAGE_JOB_RECORD_COLUMNS,
  IMAGE_MAX_STALLED_COUNT,
  IMAGE_QUEUE,
  IMAGE_WORKER_CONCURRENCY,
  IMAGE_LOCK_DURATION_MS,
  IMAGE_STALLED_INTERVAL_MS,
  imageJobRecordFromRow,
  imageStorageKey,
  isTerminalImageJobStatus,
  JobCompletionSignal,
  type ImageJobError,
  type ImageJobImage,
  type ImageJobPayload,
  type ImageJobRecordRow,
  type ImageJobResult,
  type ImageJobStatus,
  type StoredImageJobRequest,
} from '@app/queue';
import {
  fallbackFailureToApiError,
  IMAGE_RETRY_POLICY,
  isFallbackFailure,
  AttemptObserver,
  runWithFallback,
  type AttemptRecord,
  type FallbackResult,
} from '@app/routing';
import { IMAGE_STORE, type ImageStore } from '@app/storage';

interface JobRow {
  id: string;
  tenantId: string;
  apiKeyId: string | null;
  endpoint: string;
  request: StoredImageJobRequest;
  chain: string[];
  createdAt: Date;
  /** the id the client gave the request that created the job */
  clientRequestId: string | null;
  /** the worst case held when the job was accepted; null for jobs accepted before it was recorded */
  reservedMicros: bigint | null;
}

/**
 * How long a run's hold on the balance lasts from its claim: the run's whole retry budget and then some, so the
 * sweeper never releases the hold of a job that is running. A claim never shortens a hold.
 */
export const IMAGE_RUN_HOLD_MS = IMAGE_RETRY_POLICY.totalBudgetMs + 10 * 60_000;

/**
 * Claims a job for a run: marks it running unless it is finished, extends its hold (the reservation whose id is
 * the job id) to last the run, and says in the same statement whether the hold still existed and whether an
 * earlier run already settled it (its usage record exists).
 */
const CLAIM_SQL = `
  WITH claimed AS (
    UPDATE image_jobs SET status = 'running', updated_at = now()
     WHERE id = $1::uuid AND status IN ('queued', 'running')
    RETURNING id, tenant_id, api_key_id, endpoint, request, chain, created_at, client_request_id, reserved_micros
  ), held AS (
    UPDATE reservations SET expires_at = GREATEST(expires_at, now() + make_interval(secs => $2::int / 1000.0))
     WHERE id = (SELECT id::text FROM claimed)
    RETURNING 1
  )
  SELECT c.id::text AS id, c.tenant_id::text AS tenant_id, c.api_key_id::text AS api_key_id, c.endpoint, c.request, c.chain,
         c.created_at, c.client_request_id, c.reserved_micros::text AS reserved_micros, u.status AS settled_status,
         EXISTS (SELECT 1 FROM held) AS held
    FROM claimed c LEFT JOIN usage_records u ON u.id = c.id::text`;

/**
 * Finishes a job unless another run already did, and returns it as the routes read it. Fields passed as null
 * keep what the row has.
 */
const FINISH_SQL = `
  UPDATE image_jobs
     SET status = $2, served_model = COALESCE($3, served_model), fallback_level = COALESCE($4::int, fallback_level),
         attempts = attempts + $5::int, result = COALESCE($6::jsonb, result), error = COALESCE($7::jsonb, error),
         completed_at = now(), updated_at = now()
   WHERE id = $1::uuid AND status IN ('queued', 'running')
  RETURNING ${IMAGE_JOB_RECORD_COLUMNS}`;

interface ClaimRow {
  id: string;
  tenant_id: string;
  api_key_id: string | null;
  endpoint: string;
  request: StoredImageJobRequest;
  chain: string[] | null;
  created_at: Date | string;
  client_request_id: string | null;
  reserved_micros: string | null;
  settled_status: string | null;
  held: boolean;
}

interface Claimed {
  row: JobRow;
  /** the status of the usage record an earlier run wrote, if any */
  settledStatus: string | null;
  /** the job's hold on the balance still existed (and now lasts the run) */
  held: boolean;
}

interface Finish {
  status: 'succeeded' | 'failed';
  servedModel?: string;
  fallbackLevel?: number;
  /** upstream attempts this run made, added to the row's count */
  attempts?: number;
  result?: ImageJobResult;
  error?: ImageJobError;
}

/** `block`: Google's verdict when its filters stopped the job, kept for the Gemini-native route to answer with. */
function errorRecord(error: ApiError, block?: GoogleBlock): ImageJobError {
  return {
    status: error.status,
    type: error.type,
    code: error.code,
    message: error.message,
    ...(Object.keys(error.headers).length > 0 ? { headers: error.headers } : {}),
    ...(block ? { block } : {}),
  };
}

/**
 * Runs image jobs: one upstream generation with retry and model fallback (IMAGE_RETRY_POLICY), the images
 * stored, the job settled at the serving model's price, the `image_jobs` row finished.
 *
 * Running a job again (a stalled job picked up after its worker died, or a BullMQ retry) is safe: a finished
 * job is not run again, images go to keys fixed by job and index and their rows are keyed the same way, and
 * settle is keyed by the job id and bills at most once. A job that fails for good releases its reservation.
 *
 * A job runs and is billed only on money held for it. The claim extends the job's hold to last the run; a job
 * whose hold the sweeper released while it waited (a backlog longer than the hold) is held again before any upstream
 * call, or failed with 402 when the balance no longer covers it. Settlement bills only against the hold
 * (`requireHold`); a run that outlived its hold has its actual cost held again, or is failed with 402, its images
 * discarded and nothing charged.
 *
 * A run's statements: claim the row (also extending its hold and reading whether an earlier run settled), record the stored images,
 * settle, finish the row (returning it, so waiters in this process get it without a read). They go to the
 * database driver directly: each is one hand-written statement, and Prisma's query pipeline costs more CPU than
 * the round trip itself.
 */
@Processor(IMAGE_QUEUE, {
  concurrency: IMAGE_WORKER_CONCURRENCY,
  maxStalledCount: IMAGE_MAX_STALLED_COUNT,
  lockDuration: IMAGE_LOCK_DURATION_MS,
  stalledInterval: IMAGE_STALLED_INTERVAL_MS,
})
export class ImageGenerationProcessor extends WorkerHost {
  private readonly logger = new Logger(ImageGenerationProcessor.name);

  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    private readonly billing: BillingService,
    private readonly prices: PriceBook,
    private readonly catalog: ModelCatalog,
    private readonly providers: ProviderClient,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
    private readonly completion: JobCompletionSignal,
    private readonly observer: AttemptObserver,
  ) {
    super();
  }

  async process(job: Job<ImageJobPayload>): Promise<{ status: ImageJobStatus }> {
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    return { status: await this.run(job.data.jobId, finalAttempt) };
  }

  /** One run of a job; returns the job's status afterwards. `finalAttempt`: no BullMQ retry follows a failure. */
  async run(jobId: string, finalAttempt = true): Promise<ImageJobStatus> {
    const claimed = await this.claim(jobId);
    if (!claimed) return this.unclaimable(jobId);
    const { row, settledStatus } = claimed;
    if (settledStatus === 'succeeded' && (await this.recoverSettled(row))) return 'succeeded';
    // A job with no usage record yet runs only on money held for it: its hold lapsed while it waited in the queue
    // (the sweeper released it), so it is held again, or failed before any upstream call.
    if (!claimed.held && settledStatus === null) {
      const refusal = await this.holdAgain(row, row.reservedMicros, 'queued');
      if (refusal) {
        await this.finish(row.id, { status: 'failed', error: errorRecord(refusal) });
        throw new UnrecoverableError(refusal.message);
      }
    }

    const attempts: AttemptRecord[] = [];
    let level = 0;
    const progress: Promise<unknown>[] = [];
    try {
      const chain = this.chainOf(row);
      const request = fromStoredImageJobRequest(row.request);
      const outcome = await runWithFallback(
        chain,
        (model, _level, _attempt, signal) => this.providers.generateImages(model, request, { signal }),
        IMAGE_RETRY_POLICY,
        this.observer.hooks({
          onAttempt: (record) => attempts.push(record),
          onFallback: (from, to, next) => {
            level = next;
            const why = this.observer.coolingDown(from.id) ? 'is cooling down' : 'failed';
            this.logger.warn(`image job ${jobId}: ${from.id} ${why}, falling back to ${to.id}`);
            progress.push(
              this.db
                .query(`UPDATE image_jobs SET fallback_level = $2::int, updated_at = now() WHERE id = $1::uuid AND status = 'running'`, [jobId, next])
                .catch(() => undefined),
            );
          },
        }),
      );
      await Promise.all(progress);
      return await this.succeed(row, outcome, attempts);
    } catch (e) {
      await Promise.all(progress);
      // the job was already finished and failed (its hold gone and not to be had again)
      if (e instanceof UnrecoverableError) throw e;
      if (isFallbackFailure(e)) {
        const error = fallbackFailureToApiError(e);
        await this.fail(row, error, attempts, level, googleBlockOf(e));
        throw new UnrecoverableError(error.message);
      }
      if (e instanceof ApiError) {
        await this.fail(row, e, attempts, level);
        throw new UnrecoverableError(e.message);
      }
      this.logger.error(`image job ${jobId} failed${finalAttempt ? '' : ', will retry'}: ${e instanceof Error ? e.message : String(e)}`);
      if (finalAttempt) {
        const error = new ApiError(500, 'server_error', 'The image job failed inside the gateway; nothing was charged.', 'job_failed');
        await this.fail(row, error, attempts, level).catch(() => undefined);
      }
      throw e;
    }
  }

  /**
   * A job the queue gave up on without a run finishing its row (it stalled out, or its last run died first): finished
   * from an earlier run's settlement when one succeeded, otherwise failed with `error` and its reservation released.
   * Returns the job's status afterwards.
   */
  async abandon(jobId: string, error: ApiError): Promise<ImageJobStatus> {
    const claimed = await this.claim(jobId);
    if (!claimed) return this.unclaimable(jobId);
    if (claimed.settledStatus === 'succeeded' && (await this.recoverSettled(claimed.row))) return 'succeeded';
    await this.fail(claimed.row, error, []);
    return 'failed';
  }

  /** Marks the job running and extends its hold to last the run; null when it has no row or is already finished. */
  private async claim(jobId: string): Promise<Claimed | null> {
    const [r] = await this.db.query<ClaimRow>(CLAIM_SQL, [jobId, IMAGE_RUN_HOLD_MS]);
    if (!r) return null;
    return {
      row: {
        id: r.id,
        tenantId: r.tenant_id,
        apiKeyId: r.api_key_id,
        endpoint: r.endpoint,
        request: r.request,
        chain: r.chain ?? [],
        createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
        clientRequestId: r.client_request_id,
        reservedMicros: r.reserved_micros === null ? null : BigInt(r.reserved_micros),
      },
      settledStatus: r.settled_status,
      held: r.held,
    };
  }

  /**
   * Holds `amount` for a job whose hold is gone (released by the sweeper while it waited in the queue, or while a
   * run outlived it), for IMAGE_RUN_HOLD_MS. Returns null when the job is held again (also by another run of it at
   * the same moment), or the tenant-facing error when it cannot be: the balance or the key's spend limit no longer
   * covers it (402), or the job predates recording its worst case. Errors of the database itself are thrown.
   */
  private async holdAgain(row: JobRow, amount: bigint | null, lapsedWhile: 'queued' | 'running'): Promise<ApiError | null> {
    const when = lapsedWhile === 'queued' ? 'waited in the queue' : 'ran';
    if (amount === null) {
      return new ApiError(
        500,
        'server_error',
        `This image job ${when} until its hold on your balance expired, and it cannot be held again; it was not charged. Submit it again.`,
        'job_failed',
      );
    }
    try {
      await this.billing.reserve(row.id, { tenantId: row.tenantId, keyId: row.apiKeyId }, amount, IMAGE_RUN_HOLD_MS);
      this.logger.warn(`image job ${row.id}: its hold expired while it ${when}; held $${formatUsd(amount)} again`);
      return null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 402) {
        const limit = e.code === 'spend_limit_exceeded' ? "this API key's spend limit" : 'the balance';
        const outcome = lapsedWhile === 'queued' ? 'it was not run and nothing was charged' : 'its images were discarded and nothing was charged';
        return new ApiError(
          402,
          e.type,
          `This image job ${when} until its hold on your balance expired, and ${limit} no longer covers it ($${formatUsd(amount)}): ${outcome}. Submit it again when ${limit} allows.`,
          e.code,
        );
      }
      // The reservation's id is the job's: another run of the job may have held it a moment ago.
      const [held] = await this.db.query('SELECT 1 FROM reservations WHERE id = $1', [row.id]);
      if (held) return null;
      throw e;
    }
  }

  /** The status to report for a job that could not be claimed: its own when it is finished, failed when it has no row. */
  private async unclaimable(jobId: string): Promise<ImageJobStatus> {
    const [r] = await this.db.query<{ status: string }>('SELECT status FROM image_jobs WHERE id = $1::uuid', [jobId]);
    if (r && isTerminalImageJobStatus(r.status)) return r.status;
    this.logger.warn(`image job ${jobId} has no row; nothing to do`);
    return 'failed';
  }

  /**
   * A run that died after settling (the images are stored and billed, the row was not finished) is finished
   * from what it left behind, without generating, and so without paying the upstream, a second time.
   */
  private async recoverSettled(row: JobRow): Promise<boolean> {
    const [usage] = await this.db.query<{
      served_model: string | null;
      provider: string | null;
      fallback_level: number;
      cost_micros: string;
      input_tokens: number;
      cached_tokens: number;
      output_tokens: number;
      reasoning_tokens: number;
      image_input_tokens: number;
      image_output_tokens: number;
      images: number;
      created_at: Date | string;
    }>(
      `SELECT served_model, provider, fallback_level, cost_micros::text AS cost_micros, input_tokens, cached_tokens, output_tokens,
              reasoning_tokens, image_input_tokens, image_output_tokens, images, created_at
         FROM usage_records WHERE id = $1 AND status = 'succeeded'`,
      [row.id],
    );
    if (!usage?.served_model) return false;
    const stored = await this.db.query<{ id: string; index: number; mime_type: string; bytes: number }>(
      'SELECT id::text AS id, index, mime_type, bytes FROM stored_images WHERE job_id = $1::uuid ORDER BY index',
      [row.id],
    );
    if (stored.length === 0 || (usage.images > 0 && stored.length !== usage.images)) return false;
    const record: ImageJobResult = {
      created: Math.floor(new Date(usage.created_at).getTime() / 1000),
      images: stored.map((s) => ({ id: s.id, index: Number(s.index), mimeType: s.mime_type, bytes: Number(s.bytes) })),
      usage: {
        textInput: usage.input_tokens,
        cachedInput: usage.cached_tokens,
        imageInput: usage.image_input_tokens,
        audioInput: 0,
        textOutput: usage.output_tokens,
        reasoningOutput: usage.reasoning_tokens,
        imageOutput: usage.image_output_tokens,
        images: usage.images,
      },
      costMicros: usage.cost_micros,
      servedModel: usage.served_model,
      provider: usage.provider ?? '',
      fallbackLevel: usage.fallback_level,
    };
    await this.finish(row.id, { status: 'succeeded', servedModel: usage.served_model, fallbackLevel: usage.fallback_level, result: record });
    this.logger.warn(`image job ${row.id} had been settled by an earlier run; finished it without generating again`);
    return true;
  }

  private chainOf(row: JobRow): ModelSpec[] {
    const chain = row.chain.map((id) => this.catalog.resolve(id));
    const missing = row.chain.filter((_, i) => chain[i] === undefined);
    if (missing.length > 0 || chain.length === 0) {
      throw new ApiError(502, 'server_error', `The model ${missing.join(', ') || '(none)'} is no longer served by this gateway.`, 'model_unavailable');
    }
    return chain as ModelSpec[];
  }

  private async cost(model: ModelSpec, usage: NormalizedUsage, request: StoredImageJobRequest): Promise<{ cost: Cost; priceId: string | null }> {
    const priced = await this.prices.priced(model);
    const price = priced?.price.price ?? model.price;
    if (!price) throw new Error(`model ${model.id} has no price`);
    return {
      cost: computeCost(price, usage, { size: request.size, quality: request.quality }),
      priceId: priced?.price.priceId ?? null,
    };
  }

  /** Stores the images under keys fixed by job and index, then records them all in one statement. */
  private async storeImages(row: JobRow, result: ImageGenerationResult): Promise<ImageJobImage[]> {
    const stored: { key: string; mimeType: string; size: number }[] = [];
    for (const [index, image] of result.images.entries()) {
      const key = imageStorageKey(row.tenantId, row.id, index);
      const info = await this.store.put(key, image.data, image.mimeType);
      stored.push({ key, mimeType: info.mimeType, size: info.size });
    }
    const params: unknown[] = [row.tenantId, row.id];
    const values = stored.map((s, index) => {
      const at = params.push(index, s.mimeType, s.key, s.size);
      return `(gen_random_uuid(), $1::uuid, $2::uuid, $${at - 3}::int, $${at - 2}, $${at - 1}, $${at}::int)`;
    });
    const rows = await this.db.query<{ id: string; index: number }>(
      `INSERT INTO stored_images (id, tenant_id, job_id, index, mime_type, storage_key, bytes)
       VALUES ${values.join(', ')}
       ON CONFLICT (job_id, index) DO UPDATE SET mime_type = EXCLUDED.mime_type, bytes = EXCLUDED.bytes, storage_key = EXCLUDED.storage_key
       RETURNING id::text AS id, index`,
      params,
    );
    const ids = new Map(rows.map((r) => [Number(r.index), r.id]));
    return stored.map((s, index) => {
      const id = ids.get(index);
      if (!id) throw new Error(`image ${index} of job ${row.id} was stored but not recorded`);
      const revisedPrompt = result.images[index].revisedPrompt;
      return { id, index, mimeType: s.mimeType, bytes: s.size, ...(revisedPrompt ? { revisedPrompt } : {}) };
    });
  }

  private async succeed(row: JobRow, outcome: FallbackResult<ImageGenerationResult>, attempts: readonly AttemptRecord[]): Promise<ImageJobStatus> {
    const { result, model, level } = outcome;
    const images = await this.storeImages(row, result);
    const { cost, priceId } = await this.cost(model, result.usage, row.request);
    const payer = { id: row.id, tenantId: row.tenantId, keyId: row.apiKeyId };
    const settlement: SettleInput = {
      endpoint: row.endpoint,
      requestedModel: row.request.requestedModel,
      servedModel: model.id,
      provider: model.provider,
      fallbackLevel: level,
      attempts: attempts.length,
      attemptLog: attempts,
      status: 'succeeded',
      latencyMs: Date.now() - row.createdAt.getTime(),
      usage: result.usage,
      cost,
      priceId,
      clientRequestId: row.clientRequestId,
      // billed only against the job's hold (see SETTLE_SQL)
      requireHold: true,
    };
    let costMicros = cost.totalMicros.toString();
    if (!(await this.billing.settle(payer, settlement))) {
      // A run that lost the race to settle reports what was billed, not what it would have billed.
      let billed = await this.billedMicros(row.id);
      if (billed === null) {
        // Not settled and not held: the hold was released while this run worked. Billed only if the cost can be held again.
        const refusal = await this.holdAgain(row, cost.totalMicros, 'running');
        if (refusal) {
          await this.discardImages(row, images);
          await this.fail(row, refusal, attempts, level);
          throw new UnrecoverableError(refusal.message);
        }
        if (!(await this.billing.settle(payer, settlement))) billed = await this.billedMicros(row.id);
      }
      costMicros = billed ?? costMicros;
    }
    const record: ImageJobResult = {
      created: Math.floor(Date.now() / 1000),
      images,
      ...(result.text ? { text: result.text } : {}),
      // The images are stored under their index in `result.images`, which is what the parts name.
      ...(result.parts?.length ? { parts: result.parts } : {}),
      ...(result.safetyRatings ? { safetyRatings: result.safetyRatings } : {}),
      usage: result.usage,
      costMicros,
      servedModel: model.id,
      provider: model.provider,
      fallbackLevel: level,
    };
    await this.finish(
      row.id,
      { status: 'succeeded', servedModel: model.id, fallbackLevel: level, attempts: attempts.length, result: record },
      result.images.map((i) => i.data),
    );
    return 'succeeded';
  }

  /** What the job's usage record billed, as a decimal string; null when it has none. */
  private async billedMicros(jobId: string): Promise<string | null> {
    const [billed] = await this.db.query<{ cost_micros: string }>('SELECT cost_micros::text AS cost_micros FROM usage_records WHERE id = $1', [jobId]);
    return billed?.cost_micros ?? null;
  }

  /** Deletes the images a run stored for a job that is then not charged: the tenant gets no link to them. */
  private async discardImages(row: JobRow, images: readonly ImageJobImage[]): Promise<void> {
    for (const image of images) await this.store.delete(imageStorageKey(row.tenantId, row.id, image.index));
    await this.db.query('DELETE FROM stored_images WHERE job_id = $1::uuid', [row.id]);
  }

  /**
   * `level`: how far the chain got; absent, the row keeps the level it recorded. A prompt Google's filters
   * blocked fails like any refusal: recorded as failed, at no cost, the reservation released.
   */
  private async fail(row: JobRow, error: ApiError, attempts: readonly AttemptRecord[], level?: number, block?: GoogleBlock): Promise<void> {
    // Settling as failed writes the usage record of a request that reached an upstream and releases the reservation.
    await this.billing.settle(
      { id: row.id, tenantId: row.tenantId, keyId: row.apiKeyId },
      {
        endpoint: row.endpoint,
        requestedModel: row.request.requestedModel,
        servedModel: null,
        provider: null,
        fallbackLevel: level ?? 0,
        attempts: attempts.length,
        attemptLog: attempts,
        status: 'failed',
        latencyMs: Date.now() - row.createdAt.getTime(),
        usage: null,
        cost: null,
        priceId: null,
        error: error.message,
        clientRequestId: row.clientRequestId,
      },
    );
    await this.finish(row.id, { status: 'failed', fallbackLevel: level, attempts: attempts.length, error: errorRecord(error, block) });
  }

  /**
   * Finishes the row unless another run already did; waiters in this process hear of it at once, with the row
   * as finished and the images' bytes, so they answer without reading either back.
   */
  private async finish(jobId: string, f: Finish, images?: readonly Buffer[]): Promise<void> {
    const [row] = await this.db.query<ImageJobRecordRow>(FINISH_SQL, [
      jobId,
      f.status,
      f.servedModel ?? null,
      f.fallbackLevel ?? null,
      f.attempts ?? 0,
      f.result ? JSON.stringify(f.result) : null,
      f.error ? JSON.stringify(f.error) : null,
    ]);
    if (!row) {
      this.logger.warn(`image job ${jobId} was already finished by another run`);
      this.completion.notify(jobId);
      return;
    }
    this.completion.notify(jobId, { record: imageJobRecordFromRow(row), ...(images ? { images } : {}) });
  }
}

import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { ApiError } from '@app/common';
import { Prisma, PrismaService } from '@app/database';
import { BillingService, computeCost, PriceBook, type Cost } from '@app/billing';
import {
  ModelCatalog,
  ProviderClient,
  type ImageGenerationResult,
  type ModelSpec,
  type NormalizedUsage,
} from '@app/providers';
import {
  fromStoredImageJobRequest,
  IMAGE_MAX_STALLED_COUNT,
  IMAGE_QUEUE,
  IMAGE_WORKER_CONCURRENCY,
  IMAGE_LOCK_DURATION_MS,
  IMAGE_STALLED_INTERVAL_MS,
  imageStorageKey,
  isTerminalImageJobStatus,
  JobCompletionSignal,
  type ImageJobError,
  type ImageJobImage,
  type ImageJobPayload,
  type ImageJobResult,
  type ImageJobStatus,
  type StoredImageJobRequest,
} from '@app/queue';
import { fallbackFailureToApiError, IMAGE_RETRY_POLICY, isFallbackFailure, runWithFallback, type FallbackResult } from '@app/routing';
import { IMAGE_STORE, type ImageStore } from '@app/storage';

interface JobRow {
  id: string;
  tenantId: string;
  apiKeyId: string | null;
  endpoint: string;
  status: string;
  request: StoredImageJobRequest;
  chain: string[];
  createdAt: Date;
}

function errorRecord(error: ApiError): ImageJobError {
  return {
    status: error.status,
    type: error.type,
    code: error.code,
    message: error.message,
    ...(Object.keys(error.headers).length > 0 ? { headers: error.headers } : {}),
  };
}

/**
 * Runs image jobs: one upstream generation with retry and model fallback (IMAGE_RETRY_POLICY), the images
 * stored, the job settled at the serving model's price, the `image_jobs` row finished.
 *
 * Running a job again (a stalled job picked up after its worker died, or a BullMQ retry) is safe: a finished
 * job is not run again, images go to keys fixed by job and index and their rows are keyed the same way, and
 * settle is keyed by the job id and bills at most once. A job that fails for good releases its reservation.
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
    private readonly prisma: PrismaService,
    private readonly billing: BillingService,
    private readonly prices: PriceBook,
    private readonly catalog: ModelCatalog,
    private readonly providers: ProviderClient,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
    private readonly completion: JobCompletionSignal,
  ) {
    super();
  }

  async process(job: Job<ImageJobPayload>): Promise<{ status: ImageJobStatus }> {
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    return { status: await this.run(job.data.jobId, finalAttempt) };
  }

  /** One run of a job; returns the job's status afterwards. `finalAttempt`: no BullMQ retry follows a failure. */
  async run(jobId: string, finalAttempt = true): Promise<ImageJobStatus> {
    const row = await this.load(jobId);
    if (!row) {
      this.logger.warn(`image job ${jobId} has no row; nothing to do`);
      return 'failed';
    }
    if (isTerminalImageJobStatus(row.status)) return row.status;
    if (await this.recoverSettled(row)) return 'succeeded';
    await this.prisma.imageJob.updateMany({ where: { id: jobId, status: { in: ['queued', 'running'] } }, data: { status: 'running' } });

    let upstreamAttempts = 0;
    let level = 0;
    const progress: Promise<unknown>[] = [];
    try {
      const chain = this.chainOf(row);
      const request = fromStoredImageJobRequest(row.request);
      const outcome = await runWithFallback(
        chain,
        (model, _level, _attempt, signal) => this.providers.generateImages(model, request, { signal }),
        IMAGE_RETRY_POLICY,
        {
          onAttempt: () => upstreamAttempts++,
          onFallback: (from, to, next) => {
            level = next;
            this.logger.warn(`image job ${jobId}: ${from.id} failed, falling back to ${to.id}`);
            progress.push(this.prisma.imageJob.updateMany({ where: { id: jobId, status: 'running' }, data: { fallbackLevel: next } }).catch(() => undefined));
          },
        },
      );
      await Promise.all(progress);
      return await this.succeed(row, outcome, upstreamAttempts);
    } catch (e) {
      await Promise.all(progress);
      if (isFallbackFailure(e)) {
        const error = fallbackFailureToApiError(e);
        await this.fail(row, error, upstreamAttempts, level);
        throw new UnrecoverableError(error.message);
      }
      if (e instanceof ApiError) {
        await this.fail(row, e, upstreamAttempts, level);
        throw new UnrecoverableError(e.message);
      }
      this.logger.error(`image job ${jobId} failed${finalAttempt ? '' : ', will retry'}: ${e instanceof Error ? e.message : String(e)}`);
      if (finalAttempt) {
        const error = new ApiError(500, 'server_error', 'The image job failed inside the gateway; nothing was charged.', 'job_failed');
        await this.fail(row, error, upstreamAttempts, level).catch(() => undefined);
      }
      throw e;
    }
  }

  private async load(jobId: string): Promise<JobRow | null> {
    const row = await this.prisma.imageJob.findUnique({
      where: { id: jobId },
      select: { id: true, tenantId: true, apiKeyId: true, endpoint: true, status: true, request: true, chain: true, createdAt: true },
    });
    return row ? { ...row, request: row.request as unknown as StoredImageJobRequest } : null;
  }

  /**
   * A run that died after settling (the images are stored and billed, the row was not finished) is finished
   * from what it left behind, without generating, and so without paying the upstream, a second time.
   */
  private async recoverSettled(row: JobRow): Promise<boolean> {
    const usage = await this.prisma.usageRecord.findUnique({ where: { id: row.id } });
    if (!usage || usage.status !== 'succeeded' || !usage.servedModel) return false;
    const stored = await this.prisma.storedImage.findMany({ where: { jobId: row.id }, orderBy: { index: 'asc' } });
    if (stored.length === 0 || (usage.images > 0 && stored.length !== usage.images)) return false;
    const record: ImageJobResult = {
      created: Math.floor(usage.createdAt.getTime() / 1000),
      images: stored.map((s) => ({ id: s.id, index: s.index, mimeType: s.mimeType, bytes: s.bytes })),
      usage: {
        textInput: usage.inputTokens,
        cachedInput: usage.cachedTokens,
        imageInput: usage.imageInputTokens,
        audioInput: 0,
        textOutput: usage.outputTokens,
        reasoningOutput: usage.reasoningTokens,
        imageOutput: usage.imageOutputTokens,
        images: usage.images,
      },
      costMicros: usage.costMicros.toString(),
      servedModel: usage.servedModel,
      provider: usage.provider ?? '',
      fallbackLevel: usage.fallbackLevel,
    };
    await this.finish(row.id, {
      status: 'succeeded',
      servedModel: usage.servedModel,
      fallbackLevel: usage.fallbackLevel,
      result: record as unknown as Prisma.InputJsonValue,
      completedAt: new Date(),
    });
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

  private async storeImages(row: JobRow, result: ImageGenerationResult): Promise<ImageJobImage[]> {
    const out: ImageJobImage[] = [];
    for (const [index, image] of result.images.entries()) {
      const key = imageStorageKey(row.tenantId, row.id, index);
      const info = await this.store.put(key, image.data, image.mimeType);
      const rows = await this.prisma.$queryRaw<{ id: string }[]>`
        INSERT INTO stored_images (id, tenant_id, job_id, index, mime_type, storage_key, bytes)
        VALUES (gen_random_uuid(), ${row.tenantId}::uuid, ${row.id}::uuid, ${index}, ${info.mimeType}, ${key}, ${info.size})
        ON CONFLICT (job_id, index) DO UPDATE SET mime_type = EXCLUDED.mime_type, bytes = EXCLUDED.bytes, storage_key = EXCLUDED.storage_key
        RETURNING id::text AS id`;
      out.push({
        id: rows[0].id,
        index,
        mimeType: info.mimeType,
        bytes: info.size,
        ...(image.revisedPrompt ? { revisedPrompt: image.revisedPrompt } : {}),
      });
    }
    return out;
  }

  private async succeed(row: JobRow, outcome: FallbackResult<ImageGenerationResult>, upstreamAttempts: number): Promise<ImageJobStatus> {
    const { result, model, level } = outcome;
    const images = await this.storeImages(row, result);
    const { cost, priceId } = await this.cost(model, result.usage, row.request);
    const payer = { id: row.id, tenantId: row.tenantId, keyId: row.apiKeyId };
    const settled = await this.billing.settle(payer, {
      endpoint: row.endpoint,
      requestedModel: row.request.requestedModel,
      servedModel: model.id,
      provider: model.provider,
      fallbackLevel: level,
      attempts: upstreamAttempts,
      status: 'succeeded',
      latencyMs: Date.now() - row.createdAt.getTime(),
      usage: result.usage,
      cost,
      priceId,
    });
    // A run that lost the race to settle reports what was billed, not what it would have billed.
    let costMicros = cost.totalMicros;
    if (!settled) {
      const billed = await this.prisma.usageRecord.findUnique({ where: { id: row.id }, select: { costMicros: true } });
      costMicros = billed?.costMicros ?? costMicros;
    }
    const record: ImageJobResult = {
      created: Math.floor(Date.now() / 1000),
      images,
      ...(result.text ? { text: result.text } : {}),
      usage: result.usage,
      costMicros: costMicros.toString(),
      servedModel: model.id,
      provider: model.provider,
      fallbackLevel: level,
    };
    await this.finish(row.id, {
      status: 'succeeded',
      servedModel: model.id,
      fallbackLevel: level,
      attempts: { increment: upstreamAttempts },
      result: record as unknown as Prisma.InputJsonValue,
      completedAt: new Date(),
    });
    return 'succeeded';
  }

  private async fail(row: JobRow, error: ApiError, upstreamAttempts: number, level: number): Promise<void> {
    // Settling as failed writes the usage record of a request that reached an upstream and releases the reservation.
    await this.billing.settle(
      { id: row.id, tenantId: row.tenantId, keyId: row.apiKeyId },
      {
        endpoint: row.endpoint,
        requestedModel: row.request.requestedModel,
        servedModel: null,
        provider: null,
        fallbackLevel: level,
        attempts: upstreamAttempts,
        status: 'failed',
        latencyMs: Date.now() - row.createdAt.getTime(),
        usage: null,
        cost: null,
        priceId: null,
        error: error.message,
      },
    );
    await this.finish(row.id, {
      status: 'failed',
      fallbackLevel: level,
      attempts: { increment: upstreamAttempts },
      error: errorRecord(error) as unknown as Prisma.InputJsonValue,
      completedAt: new Date(),
    });
  }

  /** Finishes the row unless another run already did; waiters in this process hear of it at once. */
  private async finish(jobId: string, data: Prisma.ImageJobUpdateManyMutationInput): Promise<void> {
    const { count } = await this.prisma.imageJob.updateMany({ where: { id: jobId, status: { in: ['queued', 'running'] } }, data });
    if (count === 0) this.logger.warn(`image job ${jobId} was already finished by another run`);
    this.completion.notify(jobId);
  }
}

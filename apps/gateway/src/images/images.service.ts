import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ApiError, AppConfig } from '@app/common';
import { formatUsd, RateLimiter } from '@app/billing';
import type { ImageGenerationRequest } from '@app/providers';
import { checkImagesChain, ModelResolver, type ResolvedRoute } from '@app/routing';
import { IMAGE_STORE, UrlSigner, type ImageStore } from '@app/storage';
import type { AuthContext } from '@app/tenancy';
import { imageStorageKey, type ImageJobImage } from '@app/queue';
import { ImageGenerationService, imagesExpiredError, JOB_ID_HEADER, type ImageJobView } from './image-generation.service';
import {
  Base64ImagesJson,
  imageJobBody,
  imagesResponseBody,
  type Base64Source,
  type ImageDatum,
  type ImagesResponseBody,
} from './image-response';
import type { CreateImageDto } from './images.dto';

export const IMAGES_ENDPOINT = '/v1/images/generations';

/** What the controller sends: status, headers and a JSON body, or one with images to encode as it is written. */
export interface RouteAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The request details the route reads besides the body. */
export interface ImagesRequestContext {
  /** `Prefer` header; `respond-async` asks for a 202 and a job to poll */
  prefer?: string;
  idempotencyKey?: string;
  /** scheme://host the request came in on, for links when PUBLIC_BASE_URL is not set */
  origin?: string;
  /** the request id; becomes the job id (and so the usage record id) unless an idempotent replay answers */
  requestId?: string;
  /** the id the client gave the request, kept in the job's usage record for correlation */
  clientRequestId?: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** JSON with sorted keys, so that the same body always hashes the same whatever the order of its fields. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function requestHash(dto: CreateImageDto): string {
  return createHash('sha256').update(`${IMAGES_ENDPOINT}\n${canonicalJson(dto)}`).digest('hex');
}

export function wantsAsync(prefer: string | undefined): boolean {
  return prefer !== undefined && /(^|[\s,;])respond-async([\s,;]|$)/i.test(prefer);
}

/**
 * `POST /v1/images/generations` and the job routes: validate → rate limit → resolve → capability check →
 * reserve and queue → wait for the worker (or answer 202) → answer as OpenAI does. With an `Idempotency-Key`:
 * validate → resolve → capability check → claim the key (or answer with the job it names) → rate limit →
 * reserve and queue → …, so only the request that creates the job uses rate-limit quota and reserves.
 */
@Injectable()
export class ImagesService {
  constructor(
    private readonly config: AppConfig,
    private readonly limiter: RateLimiter,
    private readonly resolver: ModelResolver,
    private readonly generation: ImageGenerationService,
    private readonly signer: UrlSigner,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
  ) {}

  async create(auth: AuthContext, dto: CreateImageDto, ctx: ImagesRequestContext): Promise<RouteAnswer> {
    if (ctx.idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(ctx.idempotencyKey)) {
      throw ApiError.badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters.', 'Idempotency-Key', 'invalid_value');
    }
    const n = dto.n ?? 1;
    // A request with an Idempotency-Key is rate-limited only when it creates the job (`admit`, below): a replay of
    // the job, or a concurrent duplicate of the request, uses no quota.
    let limitHeaders: Record<string, string> = ctx.idempotencyKey ? {} : (await this.limiter.enforce(auth, { images: n })).headers;
    const route = this.resolve(dto, auth);
    checkImagesChain(route, dto);

    const request: ImageGenerationRequest = { prompt: dto.prompt, n };
    if (dto.size !== undefined) request.size = dto.size;
    if (dto.quality !== undefined) request.quality = dto.quality;
    if (dto.style !== undefined) request.style = dto.style;
    if (dto.output_format !== undefined) request.outputFormat = dto.output_format;
    if (dto.output_compression !== undefined) request.outputCompression = dto.output_compression;
    if (dto.background !== undefined) request.background = dto.background;
    if (dto.user !== undefined) request.user = dto.user;

    const job = await this.generation.submit({
      jobId: ctx.requestId,
      clientRequestId: ctx.clientRequestId,
      payer: { tenantId: auth.tenantId, keyId: auth.keyId },
      endpoint: IMAGES_ENDPOINT,
      requestedModel: dto.model,
      chain: route.chain,
      request,
      responseFormat: dto.response_format ?? 'both',
      idempotency: ctx.idempotencyKey ? { key: ctx.idempotencyKey, requestHash: requestHash(dto) } : undefined,
      admit: async () => {
        limitHeaders = (await this.limiter.enforce(auth, { images: n })).headers;
      },
    });
    const headers: Record<string, string> = { ...limitHeaders, [JOB_ID_HEADER]: job.jobId };
    if (job.replayed) headers['Idempotent-Replayed'] = 'true';

    if (wantsAsync(ctx.prefer)) {
      return {
        status: 202,
        headers: { ...headers, Location: `${IMAGES_ENDPOINT}/${job.jobId}`, 'Preference-Applied': 'respond-async' },
        body: { id: job.jobId, object: 'image.generation.job', status: job.status, created: Math.floor(job.createdAt.getTime() / 1000) },
      };
    }

    const timeoutMs = this.config.IMAGE_SYNC_TIMEOUT_MS;
    const { view, images } = await this.generation.waitFor(job.jobId, auth.tenantId, timeoutMs, !job.replayed);
    if (view.status === 'failed') {
      const error = this.generation.jobError(view);
      throw new ApiError(error.status, error.type, error.message, error.code, error.param, { ...headers, ...error.headers });
    }
    if (view.status !== 'succeeded') {
      const error = this.generation.timeoutError(job.jobId, timeoutMs);
      return {
        status: error.status,
        headers: { ...headers, ...error.headers },
        body: { error: { message: error.message, type: error.type, param: null, code: error.code, job_id: job.jobId } },
      };
    }
    // Only an Idempotency-Key replay can find a job whose images the retention purge already deleted.
    const body = await this.imagesAnswer(view, ctx.origin, images, (r) => r);
    if (body === null) throw imagesExpiredError(view.id);
    return { status: 200, headers: { ...headers, ...this.outcomeHeaders(view) }, body };
  }

  async get(auth: AuthContext, id: string, origin?: string): Promise<RouteAnswer> {
    const view = await this.generation.find(id, auth.tenantId);
    if (!view) throw ApiError.notFound(`No image job with id ${id.slice(0, 100)}.`, 'job_not_found', 'id');
    const headers: Record<string, string> = { [JOB_ID_HEADER]: view.id };
    if (view.status !== 'succeeded') return { status: 200, headers, body: imageJobBody(view, null) };
    Object.assign(headers, this.outcomeHeaders(view));
    const body = await this.imagesAnswer(view, origin, undefined, (r) => imageJobBody(view, r));
    // Images deleted after the retention period: the job still answers, with what it produced and `data: []`.
    return { status: 200, headers, body: body ?? imageJobBody(view, imagesResponseBody(view, []), true) };
  }

  private resolve(dto: CreateImageDto, auth: AuthContext): ResolvedRoute {
    try {
      return this.resolver.resolve({ model: dto.model, models: dto.models ?? dto.extra_body?.models, allowedModels: auth.allowedModels });
    } catch (e) {
      // OpenAI's Images API answers an unknown model with 400 naming `model`, unlike chat's 404.
      if (e instanceof ApiError && e.status === 404) throw ApiError.badRequest(e.message, e.param ?? 'model', e.code ?? 'model_not_found');
      throw e;
    }
  }

  private outcomeHeaders(view: ImageJobView): Record<string, string> {
    const result = view.result;
    if (!result) return {};
    return {
      'X-Switchyard-Fallback-Level': String(result.fallbackLevel),
      'X-Switchyard-Fallback-Model': result.servedModel,
      'X-Switchyard-Cost-Usd': formatUsd(BigInt(result.costMicros)),
    };
  }

  /**
   * IMAGE_URL_TTL_SECONDS, but never past the moment the retention purge may delete the images (counted from the
   * job's creation, which is before its images were stored): a link handed out late in an image's life expires
   * with it instead of answering 410 while it still looks valid. At least 1 s.
   */
  private linkLifetimeSeconds(view: ImageJobView, nowMs = Date.now()): number {
    const ttl = this.config.IMAGE_URL_TTL_SECONDS;
    const retentionHours = this.config.IMAGE_RETENTION_HOURS;
    if (retentionHours === 0) return ttl;
    const purgeableAtMs = view.createdAt.getTime() + retentionHours * 3_600_000;
    return Math.max(1, Math.min(ttl, Math.floor((purgeableAtMs - nowMs) / 1000)));
  }

  /**
   * The answer about a finished job, `wrap`ping its images response: signed links, the images' base64, which is
   * spliced in as the answer is written (bytes the worker handed over, else read from the store), or both when the
   * request named no `response_format`. Null when the images are no longer stored: the job is marked as purged, or
   * (base64) an image's file is missing.
   */
  private async imagesAnswer(
    view: ImageJobView,
    origin: string | undefined,
    handed: readonly Buffer[] | undefined,
    wrap: (body: ImagesResponseBody) => unknown,
  ): Promise<unknown> {
    const result = view.result;
    if (!result) return wrap(imagesResponseBody(view, []));
    if (view.imagesExpiredAt) return null;
    const format = view.request.responseFormat;
    const base = this.config.PUBLIC_BASE_URL ? this.config.publicBaseUrl : (origin ?? this.config.publicBaseUrl);
    const ttl = this.linkLifetimeSeconds(view);
    // Jobs of other routes (null) have no format of their own; asked for here, they answer with links.
    const datum = (image: ImageJobImage, b64?: string): ImageDatum => {
      const d: ImageDatum = format === 'b64_json' ? {} : { url: this.signer.buildUrl(base, image.id, ttl) };
      if (b64 !== undefined) d.b64_json = b64;
      if (image.revisedPrompt) d.revised_prompt = image.revisedPrompt;
      return d;
    };
    if (format !== 'b64_json' && format !== 'both') return wrap(imagesResponseBody(view, result.images.map((image) => datum(image))));
    const sources: Base64Source[] = [];
    try {
      for (const image of result.images) {
        const bytes = handed?.[image.index];
        if (bytes) {
          sources.push({ bytes });
          continue;
        }
        const object = await this.store.get(imageStorageKey(view.tenantId, view.id, image.index));
        if (!object) {
          // Deleted by a purge run that has not removed (or could not yet remove) the rows and marked the job.
          for (const s of sources) if ('object' in s) s.object.stream?.destroy();
          return null;
        }
        sources.push({ object });
      }
    } catch (e) {
      for (const s of sources) if ('object' in s) s.object.stream?.destroy();
      throw e;
    }
    return new Base64ImagesJson(
      (placeholders) => wrap(imagesResponseBody(view, result.images.map((image, i) => datum(image, placeholders[i])))),
      sources,
    );
  }
}

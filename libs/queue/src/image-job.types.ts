import type { GeminiImageOptions, GeminiSafetyRating, GoogleBlock, ImageGenerationRequest, ImageResultPart, InputImage, NormalizedUsage } from '@app/providers';

/**
 * The shapes kept in an `image_jobs` row, shared by the gateway (which writes the request and reads the
 * outcome) and the worker (which reads the request and writes the outcome). They are JSON columns, so
 * everything here is plain JSON: bytes as base64, money as a decimal string of micro-USD.
 */
export type ImageJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export function isTerminalImageJobStatus(status: string): status is 'succeeded' | 'failed' {
  return status === 'succeeded' || status === 'failed';
}

/**
 * How `/v1/images/generations` returns images. The seeds disagree on the default: one documents `url`, the other
 * reads `data[0].b64_json` from an answer to a request without `response_format` (as OpenAI's GPT image models
 * always answer). Both fit in one `data` item, so a request that names neither gets `both`.
 */
export type ImagesResponseFormat = 'url' | 'b64_json' | 'both';

/** `image_jobs.request`: the canonical request plus what the route needs to answer. */
export interface StoredImageJobRequest {
  /** the model name the tenant sent (`model`), for the usage record */
  requestedModel: string;
  /**
   * how the images route hands images back: `url`, `b64_json`, or `both` when the request named no
   * `response_format`; null for other routes, which read the bytes themselves
   */
  responseFormat: ImagesResponseFormat | null;
  prompt: string;
  n: number;
  size?: string;
  quality?: string;
  style?: string;
  outputFormat?: 'png' | 'jpeg' | 'webp';
  outputCompression?: number;
  background?: 'transparent' | 'opaque' | 'auto';
  aspectRatio?: string;
  user?: string;
  inputImages?: { mimeType: string; data: string }[];
  /**
   * A Gemini-native request's own fields for Gemini image models (its conversation, system instruction, safety
   * settings, sampling); absent in rows written before they were kept, which run as one prompt, as they did.
   */
  gemini?: GeminiImageOptions;
}

/** One stored image of a finished job; `id` is the `stored_images` row, which signed links name. */
export interface ImageJobImage {
  id: string;
  index: number;
  mimeType: string;
  bytes: number;
  revisedPrompt?: string;
}

/** `image_jobs.result` of a job that succeeded. */
export interface ImageJobResult {
  /** unix seconds when the images were produced */
  created: number;
  images: ImageJobImage[];
  /** text the model answered beside the images (Gemini image models) */
  text?: string;
  /**
   * The answer's text and images (by `index`) in the order the model gave them; absent in results written
   * before it was kept, and for models that answer with images only. Readers without it put the text first.
   */
  parts?: ImageResultPart[];
  /** Gemini image models: the answer's safety ratings as Google sent them */
  safetyRatings?: GeminiSafetyRating[];
  usage: NormalizedUsage;
  /** the settled cost in micro-USD, as a decimal string */
  costMicros: string;
  /** public id of the model that served */
  servedModel: string;
  provider: string;
  fallbackLevel: number;
}

/** `image_jobs.error` of a job that failed: the tenant-facing error, as the route would have raised it. */
export interface ImageJobError {
  status: number;
  type: string;
  code: string | null;
  message: string;
  headers?: Record<string, string>;
  /** Google's verdict when its filters blocked the prompt or withheld the image, which the Gemini-native route answers with */
  block?: GoogleBlock;
}

/** An `image_jobs` row as the routes answer from it (everything but the key id and idempotency columns). */
export interface ImageJobRecord {
  id: string;
  tenantId: string;
  endpoint: string;
  status: ImageJobStatus;
  request: StoredImageJobRequest;
  chain: string[];
  servedModel: string | null;
  fallbackLevel: number | null;
  attempts: number;
  result: ImageJobResult | null;
  error: ImageJobError | null;
  createdAt: Date;
  completedAt: Date | null;
  /** when the retention purge deleted the job's stored images (IMAGE_RETENTION_HOURS); null while they are kept */
  imagesExpiredAt: Date | null;
}

/** The select list (or `RETURNING` list) an `ImageJobRecord` is read from; pair it with `imageJobRecordFromRow`. */
export const IMAGE_JOB_RECORD_COLUMNS =
  'id::text AS id, tenant_id::text AS tenant_id, endpoint, status, request, chain, served_model, fallback_level, attempts, result, error, created_at, completed_at, images_expired_at';

/** A row as `IMAGE_JOB_RECORD_COLUMNS` selects it, from node-postgres or PGlite. */
export interface ImageJobRecordRow {
  id: string;
  tenant_id: string;
  endpoint: string;
  status: string;
  request: unknown;
  chain: string[] | null;
  served_model: string | null;
  fallback_level: number | null;
  attempts: number;
  result: unknown;
  error: unknown;
  created_at: Date | string;
  completed_at: Date | string | null;
  images_expired_at: Date | string | null;
}

function toDate(v: Date | string): Date {
  return v instanceof Date ? v : new Date(v);
}

export function imageJobRecordFromRow(row: ImageJobRecordRow): ImageJobRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    endpoint: row.endpoint,
    status: row.status as ImageJobStatus,
    request: row.request as StoredImageJobRequest,
    chain: row.chain ?? [],
    servedModel: row.served_model,
    fallbackLevel: row.fallback_level === null ? null : Number(row.fallback_level),
    attempts: Number(row.attempts),
    result: (row.result as ImageJobResult | null) ?? null,
    error: (row.error as ImageJobError | null) ?? null,
    createdAt: toDate(row.created_at),
    completedAt: row.completed_at === null ? null : toDate(row.completed_at),
    imagesExpiredAt: row.images_expired_at === null ? null : toDate(row.images_expired_at),
  };
}

/**
 * What a worker hands the requests of its own process that wait for a job it just finished, so they answer without
 * reading the job back: the row as the finishing statement returned it, and the bytes of the images it stored.
 */
export interface FinishedImageJob {
  record: ImageJobRecord;
  /** the stored images' bytes, by index (absent for a failed job or one finished from an earlier run) */
  images?: readonly Buffer[];
}

export function toStoredImageJobRequest(
  requestedModel: string,
  req: ImageGenerationRequest,
  responseFormat: StoredImageJobRequest['responseFormat'],
): StoredImageJobRequest {
  const out: StoredImageJobRequest = { requestedModel, responseFormat, prompt: req.prompt, n: req.n ?? 1 };
  if (req.size !== undefined) out.size = req.size;
  if (req.quality !== undefined) out.quality = req.quality;
  if (req.style !== undefined) out.style = req.style;
  if (req.outputFormat !== undefined) out.outputFormat = req.outputFormat;
  if (req.outputCompression !== undefined) out.outputCompression = req.outputCompression;
  if (req.background !== undefined) out.background = req.background;
  if (req.aspectRatio !== undefined) out.aspectRatio = req.aspectRatio;
  if (req.user !== undefined) out.user = req.user;
  if (req.inputImages && req.inputImages.length > 0) {
    out.inputImages = req.inputImages.map((img) => ({ mimeType: img.mimeType, data: img.data.toString('base64') }));
  }
  if (req.gemini !== undefined) out.gemini = req.gemini;
  return out;
}

export function fromStoredImageJobRequest(stored: StoredImageJobRequest): ImageGenerationRequest {
  const { requestedModel: _model, responseFormat: _format, inputImages, ...rest } = stored;
  const req: ImageGenerationRequest = { ...rest };
  if (inputImages && inputImages.length > 0) {
    req.inputImages = inputImages.map((img): InputImage => ({ mimeType: img.mimeType, data: Buffer.from(img.data, 'base64') }));
  }
  return req;
}

/** Where a job's images live in the image store: fixed per job and index, so a repeated run overwrites, never adds. */
export function imageStorageKey(tenantId: string, jobId: string, index: number): string {
  return `${tenantId}/${jobId}/${index}`;
}

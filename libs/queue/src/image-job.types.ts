import type { ImageGenerationRequest, InputImage, NormalizedUsage } from '@app/providers';

/**
 * The shapes kept in an `image_jobs` row, shared by the gateway (which writes the request and reads the
 * outcome) and the worker (which reads the request and writes the outcome). They are JSON columns, so
 * everything here is plain JSON: bytes as base64, money as a decimal string of micro-USD.
 */
export type ImageJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export function isTerminalImageJobStatus(status: string): status is 'succeeded' | 'failed' {
  return status === 'succeeded' || status === 'failed';
}

/** `image_jobs.request`: the canonical request plus what the route needs to answer. */
export interface StoredImageJobRequest {
  /** the model name the tenant sent (`model`), for the usage record */
  requestedModel: string;
  /** how the images route hands images back; other routes read the bytes themselves */
  responseFormat: 'url' | 'b64_json' | null;
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

import type { NormalizedUsage } from '@app/providers';
import type { ImageJobView } from './image-generation.service';

/** One entry of `data` in OpenAI's images response. */
export interface ImageDatum {
  url?: string;
  b64_json?: string;
  revised_prompt?: string;
}

/** OpenAI's image usage object (GPT image models); per-image-priced models report none. */
export interface ImagesUsage {
  input_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
  output_tokens: number;
  total_tokens: number;
}

export interface ImagesResponseBody {
  created: number;
  data: ImageDatum[];
  output_format?: string;
  size?: string;
  quality?: string;
  usage?: ImagesUsage;
}

export function toImagesUsage(u: NormalizedUsage): ImagesUsage | undefined {
  const input = u.textInput + u.cachedInput + u.imageInput + u.audioInput;
  const output = u.textOutput + u.reasoningOutput + u.imageOutput;
  if (input + output === 0) return undefined;
  return {
    input_tokens: input,
    input_tokens_details: { text_tokens: input - u.imageInput, image_tokens: u.imageInput },
    output_tokens: output,
    total_tokens: input + output,
  };
}

const FORMAT_OF_MIME: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/webp': 'webp' };

/** `data` is built by the caller (signed links or base64); the rest follows from the finished job. */
export function imagesResponseBody(view: ImageJobView, data: ImageDatum[]): ImagesResponseBody {
  const result = view.result;
  const body: ImagesResponseBody = { created: result?.created ?? Math.floor(view.createdAt.getTime() / 1000), data };
  const format = result?.images[0] ? FORMAT_OF_MIME[result.images[0].mimeType] : undefined;
  if (format) body.output_format = format;
  if (view.request.size) body.size = view.request.size;
  if (view.request.quality) body.quality = view.request.quality;
  const usage = result ? toImagesUsage(result.usage) : undefined;
  if (usage) body.usage = usage;
  return body;
}

/** `GET /v1/images/generations/{id}` and the 202 of an asynchronous request. */
export interface ImageJobBody {
  id: string;
  object: 'image.generation.job';
  status: string;
  created: number;
  model?: string;
  models?: string[];
  served_model?: string | null;
  fallback_level?: number | null;
  attempts?: number;
  completed_at?: number | null;
  result?: ImagesResponseBody | null;
  error?: { message: string; type: string; code: string | null } | null;
}

export function imageJobBody(view: ImageJobView, result?: ImagesResponseBody | null): ImageJobBody {
  return {
    id: view.id,
    object: 'image.generation.job',
    status: view.status,
    created: Math.floor(view.createdAt.getTime() / 1000),
    model: view.request.requestedModel,
    models: view.chain,
    served_model: view.servedModel,
    fallback_level: view.fallbackLevel,
    attempts: view.attempts,
    completed_at: view.completedAt ? Math.floor(view.completedAt.getTime() / 1000) : null,
    result: result ?? null,
    error: view.error ? { message: view.error.message, type: view.error.type, code: view.error.code } : null,
  };
}

import type { NormalizedUsage } from './usage';

export type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/webp';

export interface InputImage {
  data: Buffer;
  mimeType: string;
}

/** Canonical image generation (and edit) request; field meanings follow OpenAI's Images API. */
export interface ImageGenerationRequest {
  prompt: string;
  /** number of images; default 1 */
  n?: number;
  /** OpenAI-style "WxH" or "auto" */
  size?: string;
  /** 'low' | 'medium' | 'high' | 'auto' | 'standard' | 'hd', as the model accepts */
  quality?: string;
  /** 'vivid' | 'natural' (dall-e-3 only) */
  style?: string;
  outputFormat?: 'png' | 'jpeg' | 'webp';
  /** 0..100, jpeg/webp only */
  outputCompression?: number;
  background?: 'transparent' | 'opaque' | 'auto';
  /** aspect ratio for providers that take one instead of a size (e.g. "16:9") */
  aspectRatio?: string;
  user?: string;
  /** present for an edit: the image(s) to edit */
  inputImages?: InputImage[];
  /** edit mask (PNG with alpha), where the provider supports one */
  mask?: InputImage;
}

export interface GeneratedImage {
  data: Buffer;
  mimeType: string;
  revisedPrompt?: string;
}

export interface ImageGenerationResult {
  images: GeneratedImage[];
  /** text returned beside the image(s), by models that answer with both */
  text?: string;
  usage: NormalizedUsage;
  /** the upstream's own model id, when it says */
  upstreamModel?: string;
}

import type { GeminiContent, GeminiGenerationConfig, GeminiModality, GeminiSafetyRating, GeminiSafetySetting } from './gemini';
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
  /**
   * What Google's `generateContent` has a place for beyond a prompt and input images, from the Gemini-native
   * route (no other route sets it). Only the Google adapter reads it, for the models it serves through
   * `generateContent` (`takesGeminiContents`); models that take a prompt only get `prompt` and `inputImages`,
   * and the route refuses a request whose chain holds such a model when it carries what they cannot take.
   */
  gemini?: GeminiImageOptions;
}

/** A part of the prompt's own content, in the tenant's order: its text, or an input image by index into `inputImages`. */
export type GeminiPromptPart = { text: string } | { inputImage: number };

/** `generationConfig` fields sent to Gemini image models as the tenant wrote them. */
export const GEMINI_IMAGE_SAMPLING_FIELDS = [
  'temperature',
  'topP',
  'topK',
  'seed',
  'maxOutputTokens',
  'stopSequences',
  'presencePenalty',
  'frequencyPenalty',
] as const satisfies readonly (keyof GeminiGenerationConfig)[];

export type GeminiImageSampling = Pick<GeminiGenerationConfig, (typeof GEMINI_IMAGE_SAMPLING_FIELDS)[number]>;

/**
 * A Gemini request as Google's image models take it, around the canonical prompt and input images: the
 * conversation before the prompt, the prompt's parts in order, the system instruction, safety settings,
 * sampling fields and the output modalities. Plain JSON (images in `history` as base64), so it is stored
 * with the job as it is.
 */
export interface GeminiImageOptions {
  /** the contents before the prompt's own (user and model turns, with their inline images), as sent */
  history?: GeminiContent[];
  /** the prompt's content; without it the input images come first, then the prompt */
  promptParts?: GeminiPromptPart[];
  /** sent as `systemInstruction` (the canonical `prompt` carries its text too, for models that take a prompt only) */
  systemInstruction?: GeminiContent;
  safetySettings?: GeminiSafetySetting[];
  sampling?: GeminiImageSampling;
  /** `generationConfig.responseModalities`; TEXT and IMAGE when absent */
  responseModalities?: GeminiModality[];
}

/**
 * The text and image bytes a request sends upstream, for reserving its worst case: the prompt and input
 * images, and the earlier turns a Gemini image model is sent with them.
 */
export function imagePromptExtent(req: ImageGenerationRequest): { textBytes: number; images: number } {
  let textBytes = Buffer.byteLength(req.prompt);
  let images = req.inputImages?.length ?? 0;
  for (const content of req.gemini?.history ?? []) {
    for (const part of content.parts) {
      if (typeof part.text === 'string') textBytes += Buffer.byteLength(part.text);
      if (part.inlineData) images += 1;
    }
  }
  return { textBytes, images };
}

export interface GeneratedImage {
  data: Buffer;
  mimeType: string;
  revisedPrompt?: string;
}

/**
 * One part of an answer in the upstream's order: text, or an image by index into `images`. `thoughtSignature`
 * is Gemini's opaque token on the part, which a client sends back with the turn.
 */
export type ImageResultPart = { text: string; thoughtSignature?: string } | { image: number; thoughtSignature?: string };

export interface ImageGenerationResult {
  images: GeneratedImage[];
  /** text returned beside the image(s), by models that answer with both */
  text?: string;
  /** text and images in the order the upstream answered them, by models that answer with both */
  parts?: ImageResultPart[];
  /** Gemini: the answer's safety ratings as Google sent them (with `safetySettings`, or when Google rates on its own) */
  safetyRatings?: GeminiSafetyRating[];
  usage: NormalizedUsage;
  /** the upstream's own model id, when it says */
  upstreamModel?: string;
}

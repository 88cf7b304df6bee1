/**
 * Image generation on Google: Imagen 4 through `models/{m}:predict`, and the Gemini image models
 * ("nano banana") through `generateContent` with image output. Both answer the canonical image request.
 * Imagen REST parameters: https://ai.google.dev/gemini-api/docs/imagen#imagen-configuration
 */
import type { ModelSpec } from '../catalog/model-spec';
import { UpstreamError } from '../errors';
import { decodeImageValue } from '../http/lifted-base64';
import type { GeneratedImage, ImageGenerationRequest, ImageGenerationResult, ImageResultPart } from '../types/images';
import { emptyUsage } from '../types/usage';
import type {
  GeminiCandidate,
  GeminiGenerationConfig,
  GeminiImageConfig,
  GeminiPart,
  GeminiRequest,
  GeminiResponse,
  GeminiSafetyRating,
  ImagenPredictRequest,
  ImagenPredictResponse,
} from '../types/gemini';
import { normalizeGeminiUsage } from './gemini-usage';
import { GEMINI_POLICY_REASONS, GoogleFilterError, promptBlockError, safetyRatingsOf } from './google-errors';

const PROVIDER = 'google' as const;

/** Aspect ratios Imagen 4 accepts. */
export const IMAGEN_ASPECT_RATIOS = ['1:1', '3:4', '4:3', '9:16', '16:9'] as const;
/** Aspect ratios the Gemini image models accept (imageConfig.aspectRatio). */
export const GEMINI_IMAGE_ASPECT_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] as const;

function ratioValue(r: string): number {
  const [w, h] = r.split(':').map(Number);
  return w / h;
}

export function parseSize(size: string | undefined): { width: number; height: number } | undefined {
  if (!size) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(size.trim());
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/** The allowed aspect ratio closest to an OpenAI-style "WxH" size (compared on a log scale). */
export function nearestAspectRatio(width: number, height: number, allowed: readonly string[]): string {
  const target = Math.log(width / height);
  let best = allowed[0];
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const r of allowed) {
    const d = Math.abs(Math.log(ratioValue(r)) - target);
    if (d < bestDistance) {
      best = r;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Google sizes images by class ("1K" ≈ 1 megapixel, "2K" ≈ 4, "4K" ≈ 16) rather than by pixels; the
 * class is read from the pixel count, since a 1K rendering at 16:9 is 1408 px wide. Only classes above
 * the 1K default are sent, so models without the parameter (Imagen 4 Fast, Gemini 2.5 Flash Image) are
 * never handed one for an ordinary request; larger sizes are refused earlier by the catalog's `sizes`
 * for the models that cannot produce them.
 */
export function imageSizeClass(width: number, height: number): '1K' | '2K' | '4K' {
  const pixels = width * height;
  if (pixels > 8_000_000) return '4K';
  if (pixels > 2_000_000) return '2K';
  return '1K';
}

/** Gemini image models take the size class as `quality` in the catalog ("0.5K", "1K", "2K", "4K"). */
const QUALITY_IMAGE_SIZE: Record<string, string> = { '0.5K': '512', '1K': '1K', '2K': '2K', '4K': '4K' };

function aspectAndSize(req: ImageGenerationRequest, allowed: readonly string[]): { aspectRatio?: string; imageSize?: string } {
  const out: { aspectRatio?: string; imageSize?: string } = {};
  const size = parseSize(req.size);
  if (req.aspectRatio && allowed.includes(req.aspectRatio)) out.aspectRatio = req.aspectRatio;
  else if (size) out.aspectRatio = nearestAspectRatio(size.width, size.height, allowed);
  if (size) {
    const cls = imageSizeClass(size.width, size.height);
    if (cls !== '1K') out.imageSize = cls;
  }
  return out;
}

const OUTPUT_MIME: Record<string, string> = { png: 'image/png', jpeg: 'image/jpeg' };

export function buildImagenRequest(req: ImageGenerationRequest): ImagenPredictRequest {
  if (req.inputImages && req.inputImages.length > 0) {
    throw new UpstreamError({ kind: 'invalid_request', provider: PROVIDER, message: 'Imagen models cannot edit images on this API' });
  }
  // The upstream default is 4 images, each billed: always say how many.
  const body: ImagenPredictRequest = { instances: [{ prompt: req.prompt }], parameters: { sampleCount: req.n ?? 1, includeRaiReason: true } };
  const { aspectRatio, imageSize } = aspectAndSize(req, IMAGEN_ASPECT_RATIOS);
  if (aspectRatio) body.parameters.aspectRatio = aspectRatio;
  if (imageSize === '2K' || imageSize === '4K') body.parameters.imageSize = '2K';
  const mime = req.outputFormat ? OUTPUT_MIME[req.outputFormat] : undefined;
  if (mime) {
    body.parameters.outputOptions = { mimeType: mime };
    if (mime === 'image/jpeg' && req.outputCompression !== undefined) {
      body.parameters.outputOptions.compressionQuality = req.outputCompression;
    }
  }
  return body;
}

/** `lifted`: the image payloads the HTTP client took out of the body (`UpstreamResponse.lifted`). */
export function parseImagenResponse(body: ImagenPredictResponse, lifted?: ReadonlyMap<string, Buffer>): ImageGenerationResult {
  const images: GeneratedImage[] = [];
  const filtered: string[] = [];
  for (const p of body.predictions ?? []) {
    if (typeof p.bytesBase64Encoded === 'string' && p.bytesBase64Encoded.length > 0) {
      const img = decodeImageValue(PROVIDER, p.bytesBase64Encoded, lifted);
      images.push({ data: img.data, mimeType: img.mimeType, ...(p.prompt ? { revisedPrompt: p.prompt } : {}) });
    } else if (typeof p.raiFilteredReason === 'string') {
      filtered.push(p.raiFilteredReason);
    }
  }
  if (images.length === 0) {
    if (filtered.length > 0) {
      throw new UpstreamError({
        kind: 'content_policy',
        provider: PROVIDER,
        status: 200,
        message: 'The upstream provider filtered every generated image under its content policy',
        detail: filtered.join(' | ').slice(0, 2000),
      });
    }
    throw new UpstreamError({ kind: 'no_image', provider: PROVIDER, status: 200 });
  }
  // Imagen is priced per output image; filtered images are not delivered and not counted.
  const usage = emptyUsage();
  usage.images = images.length;
  return { images, usage };
}

/** The prompt's own turn: its parts in the tenant's order, or (without them) the input images, then the prompt. */
function promptTurnParts(req: ImageGenerationRequest): GeminiPart[] {
  const images = req.inputImages ?? [];
  const inline = (i: number): GeminiPart | undefined => {
    const img = images[i];
    return img ? { inlineData: { mimeType: img.mimeType, data: img.data.toString('base64') } } : undefined;
  };
  const ordered = req.gemini?.promptParts;
  if (ordered && ordered.length > 0) {
    return ordered.flatMap((p): GeminiPart[] => {
      if ('text' in p) return [{ text: p.text }];
      const part = inline(p.inputImage);
      return part ? [part] : [];
    });
  }
  return [...images.map((_, i) => inline(i) as GeminiPart), { text: req.prompt }];
}

/**
 * Gemini image models: `generateContent` asking for text and image output (or the modalities the tenant
 * named). A request from the Gemini-native route brings its conversation, system instruction, safety
 * settings and sampling fields (`req.gemini`), which go to Google as they came; from other routes it is one
 * user turn.
 */
export function buildGeminiImageRequest(req: ImageGenerationRequest): GeminiRequest {
  const gemini = req.gemini;
  const imageConfig: GeminiImageConfig = aspectAndSize(req, GEMINI_IMAGE_ASPECT_RATIOS);
  const qualitySize = req.quality ? QUALITY_IMAGE_SIZE[req.quality] : undefined;
  if (qualitySize) imageConfig.imageSize = qualitySize;
  const generationConfig: GeminiGenerationConfig = {
    ...(gemini?.sampling ?? {}),
    responseModalities: gemini?.responseModalities?.length ? gemini.responseModalities : ['TEXT', 'IMAGE'],
  };
  if (Object.keys(imageConfig).length > 0) generationConfig.imageConfig = imageConfig;
  const body: GeminiRequest = {
    contents: [...(gemini?.history ?? []), { role: 'user', parts: promptTurnParts(req) }],
    generationConfig,
  };
  if (gemini?.systemInstruction) body.systemInstruction = gemini.systemInstruction;
  if (gemini?.safetySettings?.length) body.safetySettings = gemini.safetySettings;
  return body;
}

/** `lifted`: the image payloads the HTTP client took out of the body (`UpstreamResponse.lifted`). */
export function parseGeminiImageResponse(resp: GeminiResponse, lifted?: ReadonlyMap<string, Buffer>): ImageGenerationResult {
  const blocked = promptBlockError(resp);
  if (blocked) throw blocked;
  const images: GeneratedImage[] = [];
  // Text and images as Google ordered them, each with the signature it carried (Gemini 3 signs them).
  const parts: ImageResultPart[] = [];
  let safetyRatings: GeminiSafetyRating[] | undefined;
  let text = '';
  let policy: { reason: string; index: number; candidate: GeminiCandidate } | undefined;
  for (const [at, c] of (resp.candidates ?? []).entries()) {
    if (c.finishReason && GEMINI_POLICY_REASONS.has(c.finishReason)) policy = { reason: c.finishReason, index: c.index ?? at, candidate: c };
    safetyRatings ??= safetyRatingsOf(c.safetyRatings);
    for (const p of c.content?.parts ?? []) {
      if (p.thought) continue;
      const signed = typeof p.thoughtSignature === 'string' && p.thoughtSignature !== '' ? { thoughtSignature: p.thoughtSignature } : {};
      if (p.inlineData && p.inlineData.mimeType.startsWith('image/')) {
        const img = decodeImageValue(PROVIDER, p.inlineData.data, lifted);
        images.push({ data: img.data, mimeType: img.mimeType });
        parts.push({ image: images.length - 1, ...signed });
      } else if (typeof p.text === 'string') {
        text += p.text;
        parts.push({ text: p.text, ...signed });
      }
    }
  }
  if (images.length === 0) {
    if (policy) {
      // Google's verdict rides on the error, so the Gemini-native route can answer it as Google does.
      const safetyRatings = safetyRatingsOf(policy.candidate.safetyRatings);
      throw new GoogleFilterError(policy.reason, `The upstream provider withheld the image (${policy.reason})`, {
        candidate: { index: policy.index, finishReason: policy.reason, ...(safetyRatings ? { safetyRatings } : {}) },
      });
    }
    throw new UpstreamError({ kind: 'no_image', provider: PROVIDER, status: 200, detail: text.slice(0, 500) || undefined });
  }
  // Token-priced: the image output tokens carry the cost, so `images` stays 0.
  const result: ImageGenerationResult = { images, parts, usage: normalizeGeminiUsage(resp.usageMetadata) };
  if (text) result.text = text;
  if (safetyRatings) result.safetyRatings = safetyRatings;
  if (resp.modelVersion) result.upstreamModel = resp.modelVersion;
  return result;
}

/** True for models served through generateContent (Gemini image models), false for Imagen's predict. */
export function usesGenerateContent(model: ModelSpec): boolean {
  return model.capabilities.chat;
}

/**
 * True for the image models that take a Gemini request whole (`ImageGenerationRequest.gemini`): Google's
 * models served through `generateContent`. Every other image model takes a prompt and input images only.
 */
export function takesGeminiContents(model: ModelSpec): boolean {
  return model.provider === PROVIDER && usesGenerateContent(model);
}

/**
 * Gemini image models on the Gemini-native route run through the image queue like every image request
 * (seed 002): the Gemini request becomes the canonical image request, and the finished job becomes a
 * GenerateContentResponse with the images as `inlineData` parts.
 *
 * The prompt is the text of the last user content (after the system instruction's text, which Google's
 * own image models honour); its `inlineData` images are the images to edit; `imageConfig` gives the
 * aspect ratio and the size class, which the catalog calls the model's quality.
 */
import { ApiError } from '@app/common';
import type { ImageGenerationRequest, InputImage, ModelSpec } from '@app/providers';
import type { ResolvedRoute } from '@app/routing';
import type { GeneratedImages } from '../images/image-generation.service';
import { GEMINI_IMAGE_ASPECT_RATIOS, geminiUsageFromNormalized, type GeminiPart, type GeminiRequest, type GeminiResponse } from './gemini-wire';

const INPUT_IMAGE_TYPES: Record<string, string> = {
  'image/png': 'image/png',
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/webp': 'image/webp',
  'image/gif': 'image/gif',
};

/** Google's `imageSize` → the catalog's quality names for Gemini image models. */
const SIZE_QUALITY: Record<string, string> = { '512': '0.5K', '1K': '1K', '2K': '2K', '4K': '4K' };

export function imageRequestFromGemini(req: GeminiRequest): ImageGenerationRequest {
  const index = req.contents.map((c) => c.role ?? 'user').lastIndexOf('user');
  if (index < 0) throw ApiError.badRequest('An image model needs a user content whose text is the prompt.', 'contents');
  const texts: string[] = [];
  const inputImages: InputImage[] = [];
  req.contents[index].parts.forEach((part, j) => {
    const param = `contents[${index}].parts[${j}]`;
    if (part.thought) return;
    if (typeof part.text === 'string') texts.push(part.text);
    else if (part.inlineData) {
      const mimeType = INPUT_IMAGE_TYPES[part.inlineData.mimeType];
      if (!mimeType) {
        throw ApiError.badRequest(`Image models take PNG, JPEG, WebP or GIF input images; got ${part.inlineData.mimeType.slice(0, 100)}.`, `${param}.inlineData.mimeType`, 'invalid_image');
      }
      inputImages.push({ mimeType, data: Buffer.from(part.inlineData.data, 'base64') });
    } else {
      throw ApiError.badRequest('Image models take text and inlineData parts only.', param, 'unsupported_parameter');
    }
  });
  const prompt = texts.join('\n').trim();
  if (!prompt) throw ApiError.badRequest('The last user content has no text to use as the image prompt.', `contents[${index}].parts`);
  const system = (req.systemInstruction?.parts ?? []).map((p) => p.text ?? '').join('\n').trim();

  const out: ImageGenerationRequest = { prompt: system ? `${system}\n\n${prompt}` : prompt, n: 1 };
  if (inputImages.length > 0) out.inputImages = inputImages;
  const image = req.generationConfig?.imageConfig;
  if (image?.aspectRatio) out.aspectRatio = image.aspectRatio;
  if (image?.imageSize) out.quality = SIZE_QUALITY[image.imageSize];
  return out;
}

/**
 * What every image model of the chain must accept, checked before anything is reserved. `1K` is every
 * Gemini image model's default size, so it is dropped for models that cannot be asked for a size.
 */
export function checkGeminiImageChain(route: ResolvedRoute, req: GeminiRequest, image: ImageGenerationRequest): void {
  const gc = req.generationConfig ?? {};
  const modalities = gc.responseModalities;
  if (modalities && !modalities.includes('IMAGE')) {
    throw ApiError.badRequest(
      `${route.chain[0].id} answers with an image; include "IMAGE" in generationConfig.responseModalities.`,
      'generationConfig.responseModalities',
      'unsupported_parameter',
    );
  }
  if (gc.candidateCount !== undefined && gc.candidateCount > 1) {
    throw ApiError.badRequest(`${route.chain[0].id} returns one candidate per request; candidateCount must be 1.`, 'generationConfig.candidateCount', 'unsupported_parameter');
  }
  if (gc.responseMimeType === 'application/json' || gc.responseSchema || gc.responseJsonSchema) {
    throw ApiError.badRequest('Image models do not produce JSON; remove responseMimeType and responseSchema.', 'generationConfig.responseMimeType', 'unsupported_parameter');
  }
  if ((req.tools?.length ?? 0) > 0) {
    throw ApiError.badRequest('Image models do not support tools.', 'tools', 'unsupported_parameter');
  }
  if (image.aspectRatio !== undefined && !(GEMINI_IMAGE_ASPECT_RATIOS as readonly string[]).includes(image.aspectRatio)) {
    throw ApiError.badRequest(
      `generationConfig.imageConfig.aspectRatio must be one of ${GEMINI_IMAGE_ASPECT_RATIOS.join(', ')}.`,
      'generationConfig.imageConfig.aspectRatio',
      'invalid_value',
    );
  }
  const quality = image.quality;
  if (quality === undefined) return;
  route.chain.forEach((model: ModelSpec) => {
    const qualities = model.capabilities.qualities ?? [];
    // 1K is every Gemini image model's default, also for those that cannot be asked for a size.
    if (quality === '1K' || qualities.includes(quality)) return;
    const sizes = Object.entries(SIZE_QUALITY)
      .filter(([, q]) => qualities.includes(q))
      .map(([size]) => size);
    throw ApiError.badRequest(
      `Model ${model.id} does not support imageSize ${req.generationConfig?.imageConfig?.imageSize ?? quality}; supported: ${sizes.length ? sizes.join(', ') : '1K'}.`,
      'generationConfig.imageConfig.imageSize',
      'invalid_value',
    );
  });
}

/** The request for models without a size choice: the 1K default is what they render anyway. */
export function imageRequestForChain(route: ResolvedRoute, image: ImageGenerationRequest): ImageGenerationRequest {
  if (image.quality !== '1K') return image;
  const everyModelTakesIt = route.chain.every((m) => (m.capabilities.qualities ?? []).includes('1K'));
  if (everyModelTakesIt) return image;
  const { quality: _default, ...rest } = image;
  return rest;
}

/** The finished job as Google's answer: text (unless only IMAGE was asked for) and the images. */
export function imageResultToGemini(result: GeneratedImages, modelVersion: string, textWanted: boolean): GeminiResponse {
  const parts: GeminiPart[] = [];
  if (textWanted && result.text) parts.push({ text: result.text });
  for (const image of result.images) parts.push({ inlineData: { mimeType: image.mimeType, data: image.data.toString('base64') } });
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata: geminiUsageFromNormalized(result.usage),
    modelVersion,
    responseId: result.jobId.replace(/-/g, ''),
  };
}

/**
 * Gemini image models on the Gemini-native route run through the image queue like every image request
 * (seed 002): the Gemini request becomes the canonical image request, and the finished job becomes a
 * GenerateContentResponse with the text and images as the model ordered them.
 *
 * The canonical request keeps what every image model takes: the prompt (the text of the last user content,
 * after the system instruction's text) and that content's `inlineData` images to edit; `imageConfig` gives
 * the aspect ratio and the size class, which the catalog calls the model's quality. Beside it travels what
 * Google's image models take and the others do not (`ImageGenerationRequest.gemini`): the earlier turns with
 * their images (multi-turn editing), the last content's parts in their order, the system instruction as
 * one, the safety settings, the sampling fields of `generationConfig` and `responseModalities`. Gemini image
 * models get all of it, as Google's own API would.
 */
import { ApiError } from '@app/common';
import {
  GEMINI_IMAGE_SAMPLING_FIELDS,
  takesGeminiContents,
  type GeminiImageOptions,
  type GeminiImageSampling,
  type GeminiPromptPart,
  type ImageGenerationRequest,
  type InputImage,
  type ModelSpec,
} from '@app/providers';
import type { ResolvedRoute } from '@app/routing';
import { answerParts, type GeneratedImages } from '../images/image-generation.service';
import {
  GEMINI_IMAGE_ASPECT_RATIOS,
  geminiUsageFromNormalized,
  type GeminiContent,
  type GeminiPart,
  type GeminiRequest,
  type GeminiResponse,
} from './gemini-wire';

const INPUT_IMAGE_TYPES: Record<string, string> = {
  'image/png': 'image/png',
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/webp': 'image/webp',
  'image/gif': 'image/gif',
};

/** Google's `imageSize` → the catalog's quality names for Gemini image models. */
const SIZE_QUALITY: Record<string, string> = { '512': '0.5K', '1K': '1K', '2K': '2K', '4K': '4K' };

/** An image part's MIME type as image models take it, or the 400 naming it. */
function inputImageType(part: GeminiPart, param: string): string {
  const mimeType = INPUT_IMAGE_TYPES[part.inlineData?.mimeType ?? ''];
  if (!mimeType) {
    throw ApiError.badRequest(
      `Invalid request: ${param}.inlineData.mimeType: image models take PNG, JPEG, WebP or GIF images; got ${(part.inlineData?.mimeType ?? '').slice(0, 100)}.`,
      `${param}.inlineData.mimeType`,
      'invalid_image',
    );
  }
  return mimeType;
}

function onlyTextAndImages(param: string): ApiError {
  return ApiError.badRequest(`Invalid request: ${param}: image models take text and inlineData parts only.`, param, 'unsupported_parameter');
}

/** An earlier turn as Google's image models take it: its text and inline images (with their signatures), as sent. */
function historyContent(content: GeminiContent, index: number): GeminiContent {
  const parts = content.parts.map((part, j): GeminiPart => {
    const param = `contents[${index}].parts[${j}]`;
    const extra: GeminiPart = {
      ...(part.thought !== undefined ? { thought: part.thought } : {}),
      ...(part.thoughtSignature !== undefined ? { thoughtSignature: part.thoughtSignature } : {}),
    };
    if (typeof part.text === 'string') return { text: part.text, ...extra };
    if (part.inlineData) return { inlineData: { mimeType: inputImageType(part, param), data: part.inlineData.data }, ...extra };
    throw onlyTextAndImages(param);
  });
  return { role: content.role ?? 'user', parts };
}

function samplingOf(req: GeminiRequest): GeminiImageSampling | undefined {
  const gc = req.generationConfig ?? {};
  const out: Record<string, unknown> = {};
  for (const field of GEMINI_IMAGE_SAMPLING_FIELDS) {
    const value = gc[field];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    out[field] = value;
  }
  return Object.keys(out).length > 0 ? (out as GeminiImageSampling) : undefined;
}

export function imageRequestFromGemini(req: GeminiRequest): ImageGenerationRequest {
  const index = req.contents.map((c) => c.role ?? 'user').lastIndexOf('user');
  if (index < 0) throw ApiError.badRequest('An image model needs a user content whose text is the prompt.', 'contents');
  if (index < req.contents.length - 1) {
    // Google's image models answer the user's last turn; a model turn after it is not a prompt to draw.
    throw ApiError.badRequest(
      `Invalid request: an image model answers the last content, which must be the user's prompt; contents[${index + 1}].role is "model".`,
      `contents[${index + 1}].role`,
    );
  }
  const texts: string[] = [];
  const inputImages: InputImage[] = [];
  const promptParts: GeminiPromptPart[] = [];
  req.contents[index].parts.forEach((part, j) => {
    const param = `contents[${index}].parts[${j}]`;
    if (part.thought) return;
    if (typeof part.text === 'string') {
      texts.push(part.text);
      promptParts.push({ text: part.text });
    } else if (part.inlineData) {
      const mimeType = inputImageType(part, param);
      promptParts.push({ inputImage: inputImages.length });
      inputImages.push({ mimeType, data: Buffer.from(part.inlineData.data, 'base64') });
    } else {
      throw onlyTextAndImages(param);
    }
  });
  const prompt = texts.join('\n').trim();
  if (!prompt) {
    throw ApiError.badRequest(`Invalid request: contents[${index}].parts: the last user content has no text to use as the image prompt.`, `contents[${index}].parts`);
  }
  const history = req.contents.slice(0, index).map(historyContent);
  const system = (req.systemInstruction?.parts ?? []).map((p) => p.text ?? '').join('\n').trim();

  // Models that take a prompt only read the system instruction's words in it; Gemini models get it as one.
  const out: ImageGenerationRequest = { prompt: system ? `${system}\n\n${prompt}` : prompt, n: 1 };
  if (inputImages.length > 0) out.inputImages = inputImages;
  const image = req.generationConfig?.imageConfig;
  if (image?.aspectRatio) out.aspectRatio = image.aspectRatio;
  if (image?.imageSize) out.quality = SIZE_QUALITY[image.imageSize];

  const gemini: GeminiImageOptions = { promptParts };
  if (history.length > 0) gemini.history = history;
  if (req.systemInstruction) gemini.systemInstruction = { parts: req.systemInstruction.parts.map((p) => ({ text: p.text ?? '' })) };
  if (req.safetySettings?.length) gemini.safetySettings = req.safetySettings;
  const sampling = samplingOf(req);
  if (sampling) gemini.sampling = sampling;
  const modalities = req.generationConfig?.responseModalities;
  if (modalities?.length) gemini.responseModalities = modalities;
  out.gemini = gemini;
  return out;
}

/**
 * The first field of a Gemini request that a model taking a prompt and input images only (an OpenAI image
 * model named on this route, or any such model in its chain) cannot be given: the earlier turns, the
 * safety settings, a sampling field. The system instruction is not among them: its words reach such a
 * model in the prompt, as they always did.
 */
function geminiOnlyField(gemini: GeminiImageOptions | undefined): { param: string; what: string } | undefined {
  if (gemini?.history?.length) return { param: 'contents[0]', what: 'the turns before the last user content (contents[0] on)' };
  if (gemini?.safetySettings?.length) return { param: 'safetySettings', what: 'safetySettings' };
  const sampling = gemini?.sampling ?? {};
  const field = GEMINI_IMAGE_SAMPLING_FIELDS.find((f) => sampling[f] !== undefined);
  return field ? { param: `generationConfig.${field}`, what: `generationConfig.${field}` } : undefined;
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
  // Refused as before (the chat checks refuse its translation, reasoning_effort), under the name this route's clients sent.
  const thinking = gc.thinkingConfig;
  if (thinking && (thinking.thinkingLevel !== undefined || (thinking.thinkingBudget !== undefined && thinking.thinkingBudget >= 0))) {
    throw ApiError.badRequest(
      'Invalid request: generationConfig.thinkingConfig: image models take no thinking budget or level through Switchyard.',
      'generationConfig.thinkingConfig',
      'unsupported_parameter',
    );
  }
  // A model that takes a prompt only would answer another request than the one sent (an edit of an image it
  // never saw, thresholds and sampling it never applied) and bill it: refused up front, naming the field,
  // rather than run with part of the request silently dropped. On this route's own chains (a model and its
  // catalog fallbacks, one provider) that is an OpenAI image model named here; a chain mixing the two kinds
  // is refused the same way, whichever model would have served.
  const promptOnly = route.chain.find((m) => !takesGeminiContents(m));
  const field = promptOnly ? geminiOnlyField(image.gemini) : undefined;
  if (promptOnly && field) {
    throw ApiError.badRequest(
      `Invalid request: ${promptOnly.id} takes a prompt and input images only and cannot be sent ${field.what}; ` +
        'send it one user content (with the images to edit), or use a Gemini image model.',
      field.param,
      'unsupported_parameter',
    );
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

/**
 * The finished job as Google's answer: its text (unless only IMAGE was asked for) and images in the order the
 * model gave them, each with the signature it carried, which a client sends back on the next turn, and the
 * safety ratings Google gave the answer.
 */
export function imageResultToGemini(result: GeneratedImages, modelVersion: string, textWanted: boolean): GeminiResponse {
  const parts: GeminiPart[] = [];
  for (const part of answerParts(result)) {
    const signed = part.thoughtSignature ? { thoughtSignature: part.thoughtSignature } : {};
    if ('text' in part) {
      if (textWanted) parts.push({ text: part.text, ...signed });
    } else {
      parts.push({ inlineData: { mimeType: part.image.mimeType, data: part.image.data.toString('base64') }, ...signed });
    }
  }
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0, ...(result.safetyRatings ? { safetyRatings: result.safetyRatings } : {}) }],
    usageMetadata: geminiUsageFromNormalized(result.usage),
    modelVersion,
    responseId: result.jobId.replace(/-/g, ''),
  };
}

/**
 * OpenAI: chat completions (the canonical dialect, so the request passes through nearly untouched) and
 * the Images API for the GPT image models (generations and edits, always base64 output).
 */
import type { ModelSpec } from '../catalog/model-spec';
import type { ImagesCapability, MultipartPart, UpstreamRequest, UpstreamResponse } from '../adapter';
import { UpstreamError, isRecord, malformed, parseJsonBody, str } from '../errors';
import type { ChatCompletionRequest, ChatMessage } from '../types/chat';
import type { GeneratedImage, ImageGenerationRequest, ImageGenerationResult } from '../types/images';
import { type NormalizedUsage, emptyUsage, splitInput, splitOutput, tokenCount } from '../types/usage';
import { OpenAICompatibleAdapter, OpenAICompatibleChat, copy } from '../openai-compatible/openai-compatible.adapter';
import { decodeImageValue } from '../http/lifted-base64';

export class OpenAIChat extends OpenAICompatibleChat {
  constructor() {
    super('openai');
  }

  protected override mapMessages(messages: ChatMessage[]): unknown[] {
    // OpenAI accepts every canonical role and part type as is, including 'developer' and input_audio.
    return messages;
  }

  protected override mapRequest(model: ModelSpec, req: ChatCompletionRequest): Record<string, unknown> {
    const body = super.mapRequest(model, req);
    // `max_tokens` is deprecated and refused by the o-series/GPT-5 reasoning models;
    // `max_completion_tokens` works for every current chat model.
    const maxTokens = body.max_tokens;
    delete body.max_tokens;
    if (maxTokens !== undefined) body.max_completion_tokens = maxTokens;
    if (req.web_search_options && model.capabilities.webSearch) body.web_search_options = req.web_search_options;
    return body;
  }
}

/**
 * GPT image usage: `input_tokens_details.{text_tokens,image_tokens}` split the input; output tokens
 * are image tokens unless `output_tokens_details` says otherwise
 * (https://platform.openai.com/docs/api-reference/images/object).
 */
export function normalizeOpenAIImageUsage(raw: unknown, imageCount: number): NormalizedUsage {
  const usage = emptyUsage();
  usage.images = imageCount;
  if (!isRecord(raw)) return usage;
  const inTotal = tokenCount(raw.input_tokens);
  const inD = isRecord(raw.input_tokens_details) ? raw.input_tokens_details : undefined;
  if (inD) {
    const cached = tokenCount(inD.cached_tokens);
    const split = splitInput(inTotal, { cached, image: inD.image_tokens });
    Object.assign(usage, split);
  } else {
    usage.textInput = inTotal;
  }
  const outTotal = tokenCount(raw.output_tokens);
  const outD = isRecord(raw.output_tokens_details) ? raw.output_tokens_details : undefined;
  if (outD && (outD.image_tokens !== undefined || outD.text_tokens !== undefined)) {
    const split = splitOutput(outTotal, { image: outD.image_tokens, reasoning: outD.reasoning_tokens });
    Object.assign(usage, split);
  } else {
    usage.imageOutput = outTotal;
  }
  return usage;
}

const IMAGE_MIME: Record<string, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** Whether the model is a GPT image model (token-billed, b64 only) rather than DALL·E. */
function isGptImage(model: ModelSpec): boolean {
  return !model.upstreamId.startsWith('dall-e');
}

export class OpenAIImages implements ImagesCapability {
  buildRequest(model: ModelSpec, req: ImageGenerationRequest, apiKey: string): UpstreamRequest {
    const body: Record<string, unknown> = { model: model.upstreamId, prompt: req.prompt };
    copy(body, req, ['n', 'size', 'quality', 'user']);
    if (isGptImage(model)) {
      // GPT image models always answer in base64 and refuse `response_format`.
      if (req.outputFormat) body.output_format = req.outputFormat;
      if (req.outputCompression !== undefined && req.outputFormat !== 'png') body.output_compression = req.outputCompression;
      if (req.background) body.background = req.background;
    } else {
      body.response_format = 'b64_json';
      if (req.style) body.style = req.style;
    }
    return { method: 'POST', path: '/images/generations', headers: auth(apiKey), body: { kind: 'json', value: body }, stream: false };
  }

  parseResponse(model: ModelSpec, res: UpstreamResponse, req: ImageGenerationRequest): ImageGenerationResult {
    return parseImagesResponse(model, res, req);
  }

  buildEditRequest(model: ModelSpec, req: ImageGenerationRequest, apiKey: string): UpstreamRequest {
    const images = req.inputImages ?? [];
    if (images.length === 0) {
      throw new UpstreamError({ kind: 'invalid_request', provider: 'openai', message: 'an image edit needs at least one input image' });
    }
    const parts: MultipartPart[] = [
      { name: 'model', value: model.upstreamId },
      { name: 'prompt', value: req.prompt },
    ];
    // GPT image models take several reference images as `image[]`.
    images.forEach((img, i) =>
      parts.push({ name: images.length > 1 ? 'image[]' : 'image', data: img.data, filename: `image-${i}.${ext(img.mimeType)}`, contentType: img.mimeType }),
    );
    if (req.mask) parts.push({ name: 'mask', data: req.mask.data, filename: 'mask.png', contentType: req.mask.mimeType });
    if (req.n !== undefined) parts.push({ name: 'n', value: String(req.n) });
    if (req.size) parts.push({ name: 'size', value: req.size });
    if (req.quality) parts.push({ name: 'quality', value: req.quality });
    if (req.user) parts.push({ name: 'user', value: req.user });
    if (isGptImage(model)) {
      if (req.outputFormat) parts.push({ name: 'output_format', value: req.outputFormat });
      if (req.outputCompression !== undefined && req.outputFormat !== 'png') {
        parts.push({ name: 'output_compression', value: String(req.outputCompression) });
      }
      if (req.background) parts.push({ name: 'background', value: req.background });
    } else {
      parts.push({ name: 'response_format', value: 'b64_json' });
    }
    return { method: 'POST', path: '/images/edits', headers: auth(apiKey), body: { kind: 'multipart', parts }, stream: false };
  }

  parseEditResponse(model: ModelSpec, res: UpstreamResponse, req: ImageGenerationRequest): ImageGenerationResult {
    return parseImagesResponse(model, res, req);
  }
}

function parseImagesResponse(model: ModelSpec, res: UpstreamResponse, req: ImageGenerationRequest): ImageGenerationResult {
  const body = parseJsonBody(res.bodyText);
  if (!isRecord(body)) throw malformed('openai', 'not JSON', res.bodyText);
  if (!Array.isArray(body.data)) throw malformed('openai', 'no data', res.bodyText);
  const images: GeneratedImage[] = [];
  for (const d of body.data) {
    if (!isRecord(d)) continue;
    const b64 = str(d.b64_json);
    if (!b64) continue;
    const { data, mimeType } = decodeImageValue('openai', b64, res.lifted);
    const img: GeneratedImage = { data, mimeType };
    const revised = str(d.revised_prompt);
    if (revised) img.revisedPrompt = revised;
    images.push(img);
  }
  if (images.length === 0) {
    throw new UpstreamError({ kind: 'no_image', provider: 'openai', detail: res.bodyText.slice(0, 500) });
  }
  const declared = str(body.output_format) ?? req.outputFormat;
  if (declared && IMAGE_MIME[declared] && images.some((i) => i.mimeType !== IMAGE_MIME[declared])) {
    throw malformed('openai', `images are not in the requested ${declared} format`);
  }
  return { images, usage: normalizeOpenAIImageUsage(body.usage, images.length), upstreamModel: model.upstreamId };
}

function auth(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}` };
}

function ext(mime: string): string {
  if (mime === 'image/jpeg') return 'jpg';
  if (mime === 'image/webp') return 'webp';
  return 'png';
}

export function createOpenAIAdapter(): OpenAICompatibleAdapter {
  return new OpenAICompatibleAdapter('openai', new OpenAIChat(), new OpenAIImages());
}

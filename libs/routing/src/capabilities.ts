/**
 * Capability checks: can this model serve this request on this route family? They run for every model of
 * the chain before anything is reserved or sent upstream, so a request that one candidate cannot serve
 * fails with a 400 naming the field instead of failing (or being billed) half-way down the chain.
 *
 * Pure functions over the catalog's `ModelSpec`; each failure is an `ApiError` whose `param` names the
 * request field at fault.
 */
import { ApiError } from '@app/common';
import type { ChatCompletionRequest, ModelSpec } from '@app/providers';

/**
 * The chat body as the gateway receives it. `logprobs` / `top_logprobs` and `modalities` are OpenAI fields
 * the canonical request does not model (no adapter translates them), but the checks must see them to refuse
 * them on image models and to know when the tenant wants an image back.
 */
export type ChatRequestToCheck = ChatCompletionRequest & {
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  /** OpenAI-style output modalities; `image` asks for an image in the answer (used by `switchyard/auto`) */
  modalities?: string[] | null;
};

/** What a chat request needs from a model; the auto router picks from it. */
export interface ChatFeatures {
  /** an `image_url` content part anywhere in the messages */
  imageInput: boolean;
  /** an `input_audio` content part anywhere in the messages */
  audioInput: boolean;
  /** a non-empty `tools` list */
  tools: boolean;
  /** `response_format.type === 'json_schema'` */
  jsonSchema: boolean;
  /** `web_search_options` present */
  webSearch: boolean;
  /** `stream: true` */
  stream: boolean;
  /** `modalities` includes `image` */
  imageOutput: boolean;
  /** `n > 1` */
  multipleChoices: boolean;
}

/** A route's chain with the request field that named each entry (`model`, `models[2]`). */
export interface CheckedChain {
  chain: readonly ModelSpec[];
  /** parallel to `chain`; absent means every entry is named by `model` */
  params?: readonly string[];
}

/** Fields an image-output model cannot honour through chat (seed 002: "tools, response_format, reasoning, and logprobs are not supported"). */
const IMAGE_OUTPUT_UNSUPPORTED_FIELDS = [
  'tools',
  'tool_choice',
  'response_format',
  'reasoning_effort',
  'logprobs',
  'top_logprobs',
] as const;

export const IMAGE_STYLES: readonly string[] = ['vivid', 'natural'];
export const IMAGE_OUTPUT_FORMATS: readonly string[] = ['png', 'jpeg', 'webp'];
/** OpenAI's Images API ceiling on `n`, whatever the model allows. */
export const IMAGES_MAX_N = 10;

const CHAT_ROUTE = '/v1/chat/completions';
const IMAGES_ROUTE = '/v1/images/generations';
const GEMINI_NATIVE_ROUTE = '/v1beta/models/{model}:generateContent';

/**
 * Text bytes one token covers at most, for refusing a prompt that cannot fit a model's context window
 * before anything is reserved or sent. Ordinary English averages about 4 bytes per token, code and most
 * other scripts fewer, so a prompt over 8 bytes per token of the window would not fit even at twice that
 * density; only text built to compress (one character repeated) could, and upstreams refuse that anyway.
 */
export const MAX_TEXT_BYTES_PER_TOKEN = 8;

/** UTF-8 bytes of the messages' text (string contents and text parts); images and audio do not count. */
export function messageTextBytes(request: Pick<ChatRequestToCheck, 'messages'>): number {
  let bytes = 0;
  for (const message of request.messages) {
    const content: unknown = message.content;
    if (typeof content === 'string') bytes += Buffer.byteLength(content, 'utf8');
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = typeof part === 'object' && part !== null ? (part as { text?: unknown }).text : undefined;
        if (typeof text === 'string') bytes += Buffer.byteLength(text, 'utf8');
      }
    }
  }
  return bytes;
}

/** A field counts as used when it carries a value that asks for something (`false`, `null` and `[]` do not). */
function isUsed(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

function invalid(message: string, param: string, code = 'unsupported_parameter'): ApiError {
  return ApiError.badRequest(message, param, code);
}

function paramOf(route: CheckedChain, index: number): string {
  return route.params?.[index] ?? 'model';
}

/** Content parts by position, so errors can name `messages[i].content[j]`. */
function* contentParts(request: ChatRequestToCheck): Generator<{ type: string; param: string }> {
  for (const [i, message] of request.messages.entries()) {
    const content: unknown = message.content;
    if (!Array.isArray(content)) continue;
    for (const [j, part] of content.entries()) {
      const type = typeof part === 'object' && part !== null ? (part as { type?: unknown }).type : undefined;
      if (typeof type === 'string') yield { type, param: `messages[${i}].content[${j}]` };
    }
  }
}

export function chatFeatures(request: ChatRequestToCheck): ChatFeatures {
  let imageInput = false;
  let audioInput = false;
  for (const part of contentParts(request)) {
    if (part.type === 'image_url') imageInput = true;
    if (part.type === 'input_audio') audioInput = true;
  }
  return {
    imageInput,
    audioInput,
    tools: isUsed(request.tools),
    jsonSchema: request.response_format?.type === 'json_schema',
    webSearch: isUsed(request.web_search_options),
    stream: request.stream === true,
    imageOutput: Array.isArray(request.modalities) && request.modalities.includes('image'),
    multipleChoices: typeof request.n === 'number' && request.n > 1,
  };
}

/** Throws the 400 for the first thing `model` cannot do for this chat request. */
export function checkChatRequest(model: ModelSpec, request: ChatRequestToCheck, modelParam = 'model'): void {
  const caps = model.capabilities;
  if (!caps.chat) {
    throw invalid(
      `Model ${model.id} is an image generation model and is not served on ${CHAT_ROUTE}; use ${IMAGES_ROUTE}.`,
      modelParam,
      'model_not_supported',
    );
  }

  if (caps.imageOutputViaChat) {
    if (request.stream === true) {
      throw invalid(`Model ${model.id} generates images and answers without streaming; remove \`stream\`.`, 'stream');
    }
    for (const field of IMAGE_OUTPUT_UNSUPPORTED_FIELDS) {
      if (isUsed(request[field])) {
        throw invalid(`Model ${model.id} generates images and does not support \`${field}\`.`, field);
      }
    }
    if (typeof request.n === 'number' && request.n > 1) {
      // Only OpenAI's image models render several images in one call; Gemini answers with one turn.
      if (model.provider !== 'openai') {
        throw invalid(`Model ${model.id} returns one image per request; \`n\` greater than 1 is supported only by GPT image models.`, 'n');
      }
      const maxN = Math.min(IMAGES_MAX_N, caps.maxN ?? 1);
      if (request.n > maxN) throw invalid(`Model ${model.id} accepts \`n\` from 1 to ${maxN}.`, 'n');
    }
  } else if (request.stream === true && !caps.streaming) {
    throw invalid(`Model ${model.id} does not support streaming; remove \`stream\`.`, 'stream');
  }

  if (isUsed(request.tools) && !caps.tools) {
    throw invalid(`Model ${model.id} does not support tools.`, 'tools');
  }
  if (request.response_format?.type === 'json_schema' && !caps.jsonSchema) {
    throw invalid(`Model ${model.id} does not support \`response_format\` of type json_schema.`, 'response_format');
  }
  if (isUsed(request.web_search_options) && !caps.webSearch) {
    throw invalid(`Model ${model.id} does not support web search.`, 'web_search_options');
  }
  for (const part of contentParts(request)) {
    if (part.type === 'image_url' && !caps.vision) {
      throw invalid(`Model ${model.id} does not accept image input.`, part.param);
    }
    if (part.type === 'input_audio' && !caps.audioInput) {
      throw invalid(`Model ${model.id} does not accept audio input.`, part.param);
    }
  }
  const window = caps.contextWindow;
  if (window !== undefined) {
    const bytes = messageTextBytes(request);
    if (bytes > window * MAX_TEXT_BYTES_PER_TOKEN) {
      throw invalid(
        `The messages hold ${bytes} bytes of text, more than the ${window}-token context window of ${model.id} can take.`,
        'messages',
        'context_length_exceeded',
      );
    }
  }
  // `reasoning_effort` on a model without reasoning is not an error: see `chatRequestForModel`.
}

/** `checkChatRequest` for every model of the chain, first failure wins. */
export function checkChatChain(route: CheckedChain, request: ChatRequestToCheck): void {
  route.chain.forEach((model, index) => checkChatRequest(model, request, paramOf(route, index)));
}

/**
 * The request as it should be sent to `model`. `reasoning_effort` is dropped for models without
 * reasoning rather than refused, because it is a hint, not a contract: SDKs and agent frameworks send it
 * by default, a fallback chain may mix reasoning and non-reasoning models, and such upstreams answer it
 * with a 400 that would end the chain (invalid_request never falls back). Dropping it changes neither the
 * answer's shape nor the price basis. Image-output models are the exception: there the field is refused
 * by `checkChatRequest`, as the public contract says.
 */
export function chatRequestForModel<T extends ChatRequestToCheck>(model: ModelSpec, request: T): T {
  if (model.capabilities.reasoning || request.reasoning_effort === undefined) return request;
  const { reasoning_effort: _dropped, ...rest } = request;
  return rest as T;
}

// ---------------------------------------------------------------------------------------------------------------
// /v1/images/generations

/** The fields of an images request the checks read, named as on the wire. */
export interface ImagesRequestToCheck {
  n?: number | null;
  size?: string | null;
  quality?: string | null;
  style?: string | null;
  output_format?: string | null;
  output_compression?: number | null;
  stream?: boolean | null;
}

function listed(values: readonly string[]): string {
  return values.join(', ');
}

/** Throws the 400 for the first thing `model` cannot do for this images request. */
export function checkImagesRequest(model: ModelSpec, request: ImagesRequestToCheck, modelParam = 'model'): void {
  const caps = model.capabilities;
  if (!caps.imagesEndpoint) {
    if (caps.imageOutputViaChat) {
      throw invalid(
        `Model ${model.id} generates images through chat, not ${IMAGES_ROUTE}; use ${CHAT_ROUTE} or the Gemini-native route ${GEMINI_NATIVE_ROUTE}.`,
        modelParam,
        'model_not_supported',
      );
    }
    throw invalid(`Model ${model.id} does not generate images; use ${CHAT_ROUTE}.`, modelParam, 'model_not_supported');
  }
  if (request.stream === true) {
    throw invalid(`Streaming is not supported on ${IMAGES_ROUTE}; remove \`stream\`.`, 'stream');
  }
  if (request.n !== undefined && request.n !== null) {
    const maxN = Math.min(IMAGES_MAX_N, caps.maxN ?? 1);
    if (!Number.isInteger(request.n) || request.n < 1 || request.n > maxN) {
      throw invalid(`Model ${model.id} accepts \`n\` from 1 to ${maxN}.`, 'n', 'invalid_value');
    }
  }
  const sizes = caps.sizes ?? [];
  if (request.size !== undefined && request.size !== null && !sizes.includes(request.size)) {
    throw invalid(`Model ${model.id} does not support size ${request.size}; supported sizes: ${listed(sizes)}.`, 'size', 'invalid_value');
  }
  const qualities = caps.qualities ?? [];
  if (request.quality !== undefined && request.quality !== null && !qualities.includes(request.quality)) {
    throw invalid(
      `Model ${model.id} does not support quality ${request.quality}; supported qualities: ${listed(qualities)}.`,
      'quality',
      'invalid_value',
    );
  }
  if (request.style !== undefined && request.style !== null && !IMAGE_STYLES.includes(request.style)) {
    throw invalid(`\`style\` must be one of: ${listed(IMAGE_STYLES)}.`, 'style', 'invalid_value');
  }
  if (request.output_format !== undefined && request.output_format !== null && !IMAGE_OUTPUT_FORMATS.includes(request.output_format)) {
    throw invalid(`\`output_format\` must be one of: ${listed(IMAGE_OUTPUT_FORMATS)}.`, 'output_format', 'invalid_value');
  }
  const compression = request.output_compression;
  if (compression !== undefined && compression !== null && (!Number.isInteger(compression) || compression < 0 || compression > 100)) {
    throw invalid('`output_compression` must be an integer from 0 to 100.', 'output_compression', 'invalid_value');
  }
}

export function checkImagesChain(route: CheckedChain, request: ImagesRequestToCheck): void {
  route.chain.forEach((model, index) => checkImagesRequest(model, request, paramOf(route, index)));
}

// ---------------------------------------------------------------------------------------------------------------
// /v1beta/models/{model}:generateContent

export function checkGeminiNativeRequest(model: ModelSpec, modelParam = 'model'): void {
  if (!model.capabilities.chat) {
    throw invalid(
      `Model ${model.id} does not support generateContent; use ${IMAGES_ROUTE} for image generation models.`,
      modelParam,
      'model_not_supported',
    );
  }
}

export function checkGeminiNativeChain(route: CheckedChain): void {
  route.chain.forEach((model, index) => checkGeminiNativeRequest(model, paramOf(route, index)));
}

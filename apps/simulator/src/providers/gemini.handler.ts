/**
 * Google Gemini API (`/v1beta/models/{m}:generateContent`, `:streamGenerateContent` with and without
 * `alt=sse`) and Imagen (`:predict`).
 *
 * - `usageMetadata`: `promptTokenCount`, `candidatesTokenCount`, `totalTokenCount`, per-modality
 *   `promptTokensDetails` / `candidatesTokensDetails` (`{ modality, tokenCount }`), `thoughtsTokenCount`
 *   for thinking models (counted beside the candidates), `cachedContentTokenCount` when a prefix is cached
 *   (ai.google.dev/api/generate-content#UsageMetadata).
 * - Image models (`*-image*`) answer text plus an `inlineData` PNG when `responseModalities` includes
 *   IMAGE (the default for these models); an image costs 1290 output tokens
 *   (ai.google.dev/gemini-api/docs/image-generation), sizes follow `imageConfig.aspectRatio`.
 * - `alt=sse` streams `data: {json}\r\n\r\n`; without it the stream is one JSON array, element by element.
 *   An error inside a stream is a chunk `{ "error": { code, message, status } }`, which @google/genai
 *   turns into an ApiError.
 * - Imagen: `{ instances: [{ prompt }], parameters: { sampleCount, aspectRatio, imageSize, outputOptions } }`
 *   → `{ predictions: [{ bytesBase64Encoded, mimeType }] }`.
 * - `safetySettings`: with them, every candidate carries `safetyRatings` for the four harm categories
 *   (NEGLIGIBLE, or HIGH when the user's text holds the category's trigger word, see HARM_TRIGGERS), and a
 *   rating at or above a category's threshold blocks the prompt as Google does: 200 with
 *   `promptFeedback: { blockReason: "SAFETY", safetyRatings }`, no candidates, prompt tokens in the usage
 *   (ai.google.dev/gemini-api/docs/safety-settings). Without them, no ratings (the default is off).
 * - `cachedContent: "cachedContents/{id}"`: any such cache exists and holds 2048–4095 tokens (fixed per
 *   name), counted into `promptTokenCount` and reported as `cachedContentTokenCount`; another name is 403
 *   "CachedContent not found"; `systemInstruction`, `tools` or `toolConfig` beside it are 400, as Google
 *   wants them inside the cache (ai.google.dev/gemini-api/docs/caching).
 * - Gemini 3 text models sign their turns (ai.google.dev/gemini-api/docs/thought-signatures): a
 *   `thoughtSignature` on the function call, or on the last text part; a request whose model turn opens
 *   its function calls without one is 400 INVALID_ARGUMENT (`skip_thought_signature_validator` passes).
 */
import { estimateTokens, generatePieces, hash32, hashHex, splitEven, splitString } from '../generation/deterministic';
import { sampleFromSchema } from '../generation/json-schema-sample';
import { arr, isRecord, json, num, str, type HandlerContext, type SimResponse } from '../http/sim-response';
import { errorBody, errorResponse } from './error-envelopes';

export const GEMINI_IMAGE_TOKENS = 1290;
/** an input image of up to 384 px per side; larger images are tiled at the same rate per tile */
const GEMINI_INPUT_IMAGE_TOKENS = 258;

/** gemini-2.5-flash-image output sizes per aspect ratio (all 1290 tokens). */
const GEMINI_IMAGE_SIZES: Record<string, [number, number]> = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};

/** Imagen 3/4 output sizes at 1K; 2K doubles both edges. */
const IMAGEN_SIZES: Record<string, [number, number]> = {
  '1:1': [1024, 1024],
  '3:4': [896, 1280],
  '4:3': [1280, 896],
  '9:16': [768, 1408],
  '16:9': [1408, 768],
};

export function geminiModelFromPath(path: string): { model: string; action: string } | null {
  const m = /^\/v1(?:beta|alpha)?\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  if (!m || !m[1] || !m[2]) return null;
  return { model: decodeURIComponent(m[1]), action: m[2] };
}

interface PromptCount {
  text: number;
  image: number;
  audio: number;
  total: number;
  prefix: number;
  lastHasFunctionResponse: boolean;
}

function countPrompt(body: Record<string, unknown>): PromptCount {
  let text = 0;
  let image = 0;
  let audio = 0;
  let prefix = 0;
  const contents = arr(body['contents']);
  const countParts = (parts: unknown[]): number => {
    let chars = 0;
    let media = 0;
    for (const part of parts) {
      if (!isRecord(part)) continue;
      if (typeof part['text'] === 'string') chars += part['text'].length;
      const inline = part['inlineData'] ?? part['inline_data'];
      if (isRecord(inline)) {
        const mime = str(inline['mimeType']) ?? str(inline['mime_type']) ?? '';
        if (mime.startsWith('audio/')) {
          // 32 tokens per second of audio; ≈ 16 kB/s of encoded audio.
          const t = Math.max(1, Math.ceil(((str(inline['data'])?.length ?? 0) * 3) / 4 / 500));
          audio += t;
          media += t;
        } else {
          image += GEMINI_INPUT_IMAGE_TOKENS;
          media += GEMINI_INPUT_IMAGE_TOKENS;
        }
      }
      if (isRecord(part['functionCall'])) chars += JSON.stringify(part['functionCall']).length;
      if (isRecord(part['functionResponse'])) chars += JSON.stringify(part['functionResponse']).length;
    }
    const t = Math.ceil(chars / 4);
    text += t;
    return t + media;
  };
  if (isRecord(body['systemInstruction'])) prefix += countParts(arr(body['systemInstruction']['parts']));
  contents.forEach((c, i) => {
    if (!isRecord(c)) return;
    const t = countParts(arr(c['parts']));
    if (i < contents.length - 1) prefix += t;
  });
  if (Array.isArray(body['tools'])) {
    const t = estimateTokens(JSON.stringify(body['tools']));
    text += t;
    prefix += t;
  }
  const last = contents[contents.length - 1];
  const lastHasFunctionResponse = isRecord(last) && arr(last['parts']).some((p) => isRecord(p) && isRecord(p['functionResponse']));
  return { text, image, audio, total: text + image + audio, prefix, lastHasFunctionResponse };
}

/** The categories the Gemini API rates, and the word that makes the simulator rate a user's text HIGH in one. */
const HARM_TRIGGERS: ReadonlyArray<[string, RegExp]> = [
  ['HARM_CATEGORY_HARASSMENT', /\binsult\b/i],
  ['HARM_CATEGORY_HATE_SPEECH', /\bhateful\b/i],
  ['HARM_CATEGORY_SEXUALLY_EXPLICIT', /\bexplicit\b/i],
  ['HARM_CATEGORY_DANGEROUS_CONTENT', /\bexplosives?\b/i],
];
/** The lowest probability (index into PROBABILITIES) each threshold blocks; BLOCK_NONE and OFF block nothing. */
const BLOCKS_FROM: Record<string, number> = { HARM_BLOCK_THRESHOLD_UNSPECIFIED: 2, BLOCK_LOW_AND_ABOVE: 1, BLOCK_MEDIUM_AND_ABOVE: 2, BLOCK_ONLY_HIGH: 3, BLOCK_NONE: 4, OFF: 4 };
const PROBABILITIES = ['NEGLIGIBLE', 'LOW', 'MEDIUM', 'HIGH'];

interface Safety {
  ratings: Record<string, unknown>[] | null;
  blocked: boolean;
}

function rateSafety(body: Record<string, unknown>): Safety | SimResponse {
  const settings = arr(body['safetySettings']);
  if (settings.length === 0) return { ratings: null, blocked: false };
  const thresholds = new Map<string, number>();
  for (const [i, setting] of settings.entries()) {
    const category = isRecord(setting) ? str(setting['category']) : undefined;
    const threshold = isRecord(setting) ? str(setting['threshold']) : undefined;
    if (!category?.startsWith('HARM_CATEGORY_')) return errorResponse('google', 400, { message: `Invalid value at 'safety_settings[${i}].category', "${category ?? ''}"` });
    const from = threshold === undefined ? undefined : BLOCKS_FROM[threshold];
    if (from === undefined) return errorResponse('google', 400, { message: `Invalid value at 'safety_settings[${i}].threshold', "${threshold ?? ''}"` });
    thresholds.set(category, from);
  }
  const userText = arr(body['contents'])
    .filter((c) => isRecord(c) && c['role'] !== 'model')
    .flatMap((c) => arr((c as Record<string, unknown>)['parts']))
    .map((p) => (isRecord(p) && typeof p['text'] === 'string' ? p['text'] : ''))
    .join('\n');
  let blocked = false;
  const ratings = HARM_TRIGGERS.map(([category, trigger]) => {
    const level = trigger.test(userText) ? 3 : 0;
    const rating: Record<string, unknown> = { category, probability: PROBABILITIES[level] };
    if (level >= (thresholds.get(category) ?? 4)) {
      rating['blocked'] = true;
      blocked = true;
    }
    return rating;
  });
  return { ratings, blocked };
}

/** A `cachedContent` the simulator accepts, as its token count; or Google's refusal. */
function cachedTokens(body: Record<string, unknown>): number | SimResponse {
  const name = body['cachedContent'];
  if (name === undefined) return 0;
  if (typeof name !== 'string' || !/^cachedContents\/[A-Za-z0-9._-]+$/.test(name)) {
    return errorResponse('google', 403, { message: 'CachedContent not found (or permission denied)' });
  }
  if (body['systemInstruction'] !== undefined || body['tools'] !== undefined || body['toolConfig'] !== undefined) {
    return errorResponse('google', 400, {
      message: 'CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request.',
    });
  }
  return 2048 + (hash32(name) % 2048);
}

function signsTurns(model: string): boolean {
  return model.startsWith('gemini-3') && !model.includes('-image');
}

/** Gemini 3 wants the first function call of every model turn signed (or explicitly unsigned). */
function missingSignature(model: string, body: Record<string, unknown>): SimResponse | null {
  if (!signsTurns(model)) return null;
  for (const [ci, c] of arr(body['contents']).entries()) {
    if (!isRecord(c) || c['role'] !== 'model') continue;
    const parts = arr(c['parts']);
    const first = parts.findIndex((p) => isRecord(p) && isRecord(p['functionCall']));
    if (first < 0) continue;
    const part = parts[first] as Record<string, unknown>;
    if (typeof part['thoughtSignature'] !== 'string' || part['thoughtSignature'] === '') {
      const name = str((part['functionCall'] as Record<string, unknown>)['name']) ?? '';
      return errorResponse('google', 400, {
        message: `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${name}\` , position ${ci + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      });
    }
  }
  return null;
}

function pickFunction(body: Record<string, unknown>): Record<string, unknown> | null {
  const declarations: Record<string, unknown>[] = [];
  for (const tool of arr(body['tools'])) {
    if (isRecord(tool)) declarations.push(...arr(tool['functionDeclarations'] ?? tool['function_declarations']).filter(isRecord));
  }
  if (declarations.length === 0) return null;
  const cfg = isRecord(body['toolConfig']) && isRecord(body['toolConfig']['functionCallingConfig']) ? body['toolConfig']['functionCallingConfig'] : {};
  if (cfg['mode'] === 'NONE') return null;
  const allowed = arr(cfg['allowedFunctionNames']).filter((x): x is string => typeof x === 'string');
  return declarations.find((d) => allowed.length === 0 || allowed.includes(str(d['name']) ?? '')) ?? null;
}

function isThinkingModel(model: string, body: Record<string, unknown>): boolean {
  if (model.includes('-image') || model.includes('lite') || model.startsWith('gemini-2.0') || model.startsWith('gemini-1.')) return false;
  const gen = isRecord(body['generationConfig']) ? body['generationConfig'] : {};
  const thinking = isRecord(gen['thinkingConfig']) ? gen['thinkingConfig'] : {};
  return thinking['thinkingBudget'] !== 0;
}

interface Plan {
  responseId: string;
  parts: Record<string, unknown>[];
  /** the visible text split for streaming (empty for function calls) */
  textPieces: string[];
  image: Record<string, unknown> | null;
  functionCall: Record<string, unknown> | null;
  finishReason: string;
  usage: Record<string, unknown>;
  promptTokens: number;
  /** Gemini 3's signature of the turn: on the function call, or on the last text part */
  signature: string | null;
  safetyRatings: Record<string, unknown>[] | null;
}

async function buildPlan(ctx: HandlerContext, body: Record<string, unknown>, model: string, cached: number, safety: Safety): Promise<Plan | SimResponse> {
  const conversation = JSON.stringify([model, body['contents'], body['systemInstruction'] ?? null, body['tools'] ?? null]);
  const seed = hash32(conversation);
  const prompt = countPrompt(body);
  if (cached > 0) {
    // The cache's tokens are part of the prompt, all text, all read from the cache.
    prompt.text += cached;
    prompt.total += cached;
  }
  const gen = isRecord(body['generationConfig']) ? body['generationConfig'] : {};
  const limit = num(gen['maxOutputTokens']);
  const isImageModel = model.includes('-image');
  const modalitiesRaw = gen['responseModalities'];
  const modalities = Array.isArray(modalitiesRaw) ? modalitiesRaw.map((m) => String(m).toUpperCase()) : isImageModel ? ['TEXT', 'IMAGE'] : ['TEXT'];
  const wantsImage = isImageModel && modalities.includes('IMAGE');

  let textPieces: string[] = [];
  let functionCall: Record<string, unknown> | null = null;
  let image: Record<string, unknown> | null = null;
  let finishReason = 'STOP';
  let textTokens = 0;
  let imageTokens = 0;

  const fn = prompt.lastHasFunctionResponse || isImageModel ? null : pickFunction(body);
  if (fn) {
    const schema = fn['parametersJsonSchema'] ?? fn['parameters'];
    functionCall = { name: str(fn['name']) ?? 'function', args: sampleFromSchema(schema, seed) };
    textTokens = estimateTokens(JSON.stringify(functionCall)) + 4;
  } else if (gen['responseMimeType'] === 'application/json') {
    const schema = gen['responseJsonSchema'] ?? gen['_responseJsonSchema'] ?? gen['responseSchema'];
    const text = JSON.stringify(schema !== undefined ? sampleFromSchema(schema, seed) : { answer: generatePieces(seed, 8).join('') });
    textPieces = splitString(text, Math.max(1, ctx.streamChunks));
    textTokens = estimateTokens(text);
  } else {
    const natural = wantsImage ? 12 : Math.max(ctx.streamChunks, 24 + (seed % 8));
    textTokens = limit !== undefined && limit >= 1 && limit < natural ? Math.floor(limit) : natural;
    if (textTokens < natural) finishReason = 'MAX_TOKENS';
    textPieces = generatePieces(seed, textTokens);
  }

  if (wantsImage && !ctx.rule?.noImage) {
    const imageConfig = isRecord(gen['imageConfig']) ? gen['imageConfig'] : {};
    const ratio = str(imageConfig['aspectRatio']) ?? '1:1';
    const size = GEMINI_IMAGE_SIZES[ratio];
    if (!size) return errorResponse('google', 400, { message: `Unsupported aspect ratio: ${ratio}` });
    const scale = imageConfig['imageSize'] === '2K' ? 2 : imageConfig['imageSize'] === '4K' ? 4 : 1;
    const encoded = await ctx.images.get(size[0] * scale, size[1] * scale, 'png');
    image = { inlineData: { mimeType: 'image/png', data: encoded.base64 } };
    imageTokens = GEMINI_IMAGE_TOKENS;
  }

  const thoughts = isThinkingModel(model, body) ? textTokens * 2 : 0;
  const candidates = textTokens + imageTokens;
  const cachedTotal = cached > 0 ? cached : prompt.total >= 1024 ? prompt.prefix : 0;
  const promptDetails = [{ modality: 'TEXT', tokenCount: prompt.text }];
  if (prompt.image > 0) promptDetails.push({ modality: 'IMAGE', tokenCount: prompt.image });
  if (prompt.audio > 0) promptDetails.push({ modality: 'AUDIO', tokenCount: prompt.audio });
  const candidateDetails = [{ modality: 'TEXT', tokenCount: textTokens }];
  if (imageTokens > 0) candidateDetails.push({ modality: 'IMAGE', tokenCount: imageTokens });
  const usage: Record<string, unknown> = {
    promptTokenCount: prompt.total,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt.total + candidates + thoughts,
    promptTokensDetails: promptDetails,
    candidatesTokensDetails: candidateDetails,
  };
  if (cachedTotal > 0) {
    usage['cachedContentTokenCount'] = cachedTotal;
    usage['cacheTokensDetails'] = [{ modality: 'TEXT', tokenCount: cachedTotal }];
  }
  if (thoughts > 0) usage['thoughtsTokenCount'] = thoughts;

  // A signature is opaque base64; this one is fixed by the conversation.
  const signature = signsTurns(model) ? Buffer.from(`sig:${hashHex(conversation, 32)}`).toString('base64') : null;
  const parts: Record<string, unknown>[] = [];
  if (functionCall) parts.push({ functionCall, ...(signature ? { thoughtSignature: signature } : {}) });
  else parts.push({ text: textPieces.join(''), ...(signature ? { thoughtSignature: signature } : {}) });
  if (image) parts.push(image);
  return {
    responseId: hashHex(conversation, 22),
    parts,
    textPieces,
    image,
    functionCall,
    finishReason,
    usage,
    promptTokens: prompt.total,
    signature,
    safetyRatings: safety.ratings,
  };
}

function responseOf(plan: Plan, model: string, parts: Record<string, unknown>[], final: boolean, usage: Record<string, unknown>): Record<string, unknown> {
  const candidate: Record<string, unknown> = { content: { parts, role: 'model' }, index: 0 };
  if (final) candidate['finishReason'] = plan.finishReason;
  if (plan.safetyRatings) candidate['safetyRatings'] = plan.safetyRatings;
  return { candidates: [candidate], usageMetadata: usage, modelVersion: model, responseId: plan.responseId };
}

/** What Google answers a prompt its filters blocked: no candidates, the prompt's tokens only. */
function blockedAnswer(ctx: HandlerContext, body: Record<string, unknown>, model: string, action: string, ratings: Record<string, unknown>[], cached: number): SimResponse {
  const prompt = countPrompt(body).total + cached;
  const answer = {
    promptFeedback: { blockReason: 'SAFETY', safetyRatings: ratings },
    usageMetadata: { promptTokenCount: prompt, totalTokenCount: prompt, promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }] },
    modelVersion: model,
    responseId: hashHex(JSON.stringify([model, body['contents']]), 22),
  };
  if (action === 'generateContent') return json(200, answer);
  const sse = ctx.query.get('alt') === 'sse';
  return {
    kind: 'stream',
    contentType: sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
    frames: sse ? [`data: ${JSON.stringify(answer)}\r\n\r\n`] : [`[${JSON.stringify(answer)}`, ']'],
    terminatorFrames: sse ? 0 : 1,
    errorFrame: () => '',
  };
}

export async function handleGemini(ctx: HandlerContext): Promise<SimResponse> {
  const route = geminiModelFromPath(ctx.path);
  if (!route) return errorResponse('google', 404, { message: `Method not found: ${ctx.path}` });
  const { model, action } = route;
  if (action === 'predict') return handleImagen(ctx, model);
  if (action !== 'generateContent' && action !== 'streamGenerateContent') {
    return errorResponse('google', 404, { message: `models/${model} is not found for API version v1beta, or is not supported for ${action}.` });
  }
  if (model.startsWith('imagen')) {
    return errorResponse('google', 404, { message: `models/${model} is not found for API version v1beta, or is not supported for ${action}. Call ListModels to see the list of available models and their supported methods.` });
  }
  const body = ctx.body;
  if (!isRecord(body)) return errorResponse('google', 400, { message: 'Invalid JSON payload received.' });
  if (!Array.isArray(body['contents']) || body['contents'].length === 0) {
    return errorResponse('google', 400, { message: '* GenerateContentRequest.contents: contents is not specified\n' });
  }
  const cached = cachedTokens(body);
  if (typeof cached !== 'number') return cached;
  const unsigned = missingSignature(model, body);
  if (unsigned) return unsigned;
  const safety = rateSafety(body);
  if ('kind' in safety) return safety;
  if (safety.blocked && safety.ratings) return blockedAnswer(ctx, body, model, action, safety.ratings, cached);
  const planned = await buildPlan(ctx, body, model, cached, safety);
  if ('kind' in planned) return planned;
  const plan = planned;
  if (action === 'generateContent') return json(200, responseOf(plan, model, plan.parts, true, plan.usage));

  // Streaming: text in pieces (each chunk a full GenerateContentResponse with cumulative usage), the
  // image in one chunk, and the finish reason with the full usage on the last one.
  const elements: Record<string, unknown>[] = [];
  const interim = (candidates: number): Record<string, unknown> => ({
    promptTokenCount: plan.promptTokens,
    candidatesTokenCount: candidates,
    totalTokenCount: plan.promptTokens + candidates,
  });
  if (plan.functionCall) {
    elements.push(responseOf(plan, model, plan.parts, true, plan.usage));
  } else {
    const groups = splitEven(plan.textPieces, Math.max(1, ctx.streamChunks));
    let sent = 0;
    groups.forEach((group, i) => {
      sent += group.length;
      const last = i === groups.length - 1 && !plan.image;
      // The turn's signature comes with the last piece of its text.
      const signed = i === groups.length - 1 && plan.signature ? { thoughtSignature: plan.signature } : {};
      elements.push(responseOf(plan, model, [{ text: group.join(''), ...signed }], last, last ? plan.usage : interim(sent)));
    });
    if (plan.image) elements.push(responseOf(plan, model, [plan.image], true, plan.usage));
  }
  const errorJson = JSON.stringify(errorBody('google', 500, { message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting' }));
  if (ctx.query.get('alt') === 'sse') {
    return {
      kind: 'stream',
      contentType: 'text/event-stream',
      frames: elements.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`),
      terminatorFrames: 0,
      errorFrame: () => `data: ${errorJson}\r\n\r\n`,
    };
  }
  const frames = elements.map((e, i) => `${i === 0 ? '[' : ',\r\n'}${JSON.stringify(e)}`);
  frames.push(']');
  return {
    kind: 'stream',
    contentType: 'application/json; charset=UTF-8',
    frames,
    terminatorFrames: 1,
    errorFrame: (sent) => `${sent === 0 ? '[' : ',\r\n'}${errorJson}]`,
  };
}

async function handleImagen(ctx: HandlerContext, model: string): Promise<SimResponse> {
  if (!model.startsWith('imagen')) {
    return errorResponse('google', 404, { message: `models/${model} is not found for API version v1beta, or is not supported for predict. Call ListModels to see the list of available models and their supported methods.` });
  }
  const body = ctx.body;
  if (!isRecord(body)) return errorResponse('google', 400, { message: 'Invalid JSON payload received.' });
  const instance = arr(body['instances'])[0];
  const prompt = isRecord(instance) ? str(instance['prompt']) : undefined;
  if (!prompt) return errorResponse('google', 400, { message: 'Invalid request: instances[0].prompt is required.' });
  const params = isRecord(body['parameters']) ? body['parameters'] : {};
  const sampleCount = num(params['sampleCount']) ?? 4;
  if (!Number.isInteger(sampleCount) || sampleCount < 1 || sampleCount > 4) {
    return errorResponse('google', 400, { message: 'sampleCount must be an integer between 1 and 4.' });
  }
  const ratio = str(params['aspectRatio']) ?? '1:1';
  const size = IMAGEN_SIZES[ratio];
  if (!size) return errorResponse('google', 400, { message: `Unsupported aspect ratio: ${ratio}. Supported: 1:1, 3:4, 4:3, 9:16, 16:9.` });
  const scale = params['imageSize'] === '2K' ? 2 : 1;
  const outputOptions = isRecord(params['outputOptions']) ? params['outputOptions'] : {};
  const mimeType = str(outputOptions['mimeType']) ?? 'image/png';
  if (mimeType !== 'image/png' && mimeType !== 'image/jpeg') return errorResponse('google', 400, { message: `Unsupported output mime type: ${mimeType}` });
  if (ctx.rule?.noImage) {
    // What Imagen answers when every sample was filtered: a reason instead of image bytes.
    return json(200, { predictions: [{ raiFilteredReason: 'The image could not be generated for this prompt.' }] });
  }
  const image = await ctx.images.get(size[0] * scale, size[1] * scale, mimeType === 'image/jpeg' ? 'jpeg' : 'png');
  return json(200, { predictions: Array.from({ length: sampleCount }, () => ({ bytesBase64Encoded: image.base64, mimeType })) });
}

import type { ChatCompletionRequest, ModelSpec } from '@app/providers';
import { maxPerImagePrice, perImagePrice, reachableRates, tokenCost } from './cost';

/**
 * Worst-case costs, reserved before any upstream call so that concurrent requests can never spend more
 * than the tenant has. Each bound is deliberately generous; settlement replaces it with the real cost.
 */

/** Upper bound for an image part's input tokens (OpenAI high detail, Anthropic and Gemini all stay below). */
export const IMAGE_PART_TOKENS = 2_000;
/** Output bound when neither the request nor the catalog gives one. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 8_192;
/** Output bound per image for token-priced image models without a per-image table. */
export const IMAGE_OUTPUT_TOKENS_PER_IMAGE = 8_000;
/** The bound for a context cache on a model whose context window the catalog does not give. */
export const DEFAULT_CACHE_TOKENS = 1_048_576;

/**
 * An upper bound on input tokens: byte-level tokenizers never produce more tokens than UTF-8 bytes, so the
 * text's byte length bounds it (a few framing tokens per message are covered by the JSON punctuation that
 * is counted too). Image parts count as IMAGE_PART_TOKENS instead of their base64 length.
 */
export function inputTokenBound(req: Pick<ChatCompletionRequest, 'messages' | 'tools' | 'response_format'>): number {
  let bytes = 0;
  let images = 0;
  for (const m of req.messages) {
    const { content, ...rest } = m as unknown as { content?: unknown } & Record<string, unknown>;
    bytes += Buffer.byteLength(JSON.stringify(rest));
    if (typeof content === 'string') bytes += Buffer.byteLength(content);
    else if (Array.isArray(content)) {
      for (const part of content as { type?: string; [k: string]: unknown }[]) {
        if (part.type === 'image_url') images++;
        else if (part.type === 'input_audio') bytes += Buffer.byteLength(JSON.stringify(part)) / 4; // base64 of audio ≫ its tokens
        else bytes += Buffer.byteLength(JSON.stringify(part));
      }
    }
  }
  if (req.tools) bytes += Buffer.byteLength(JSON.stringify(req.tools));
  if (req.response_format) bytes += Buffer.byteLength(JSON.stringify(req.response_format));
  return Math.ceil(bytes) + images * IMAGE_PART_TOKENS;
}

export function outputTokenBound(model: ModelSpec, req: Pick<ChatCompletionRequest, 'max_tokens' | 'max_completion_tokens' | 'n'>): number {
  const asked = req.max_completion_tokens ?? req.max_tokens;
  const limit = model.capabilities.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  const perChoice = asked !== undefined && asked !== null ? Math.min(asked, limit) : limit;
  return perChoice * Math.max(1, req.n ?? 1);
}

/**
 * Worst case for a chat request on one model, in micro-USD: every input token at the dearest input-side
 * rate and every output token at the dearest output-side rate, over the prompt bands the request's input
 * bound can reach (a short prompt is not reserved at long-context rates) and the time-of-day rates for
 * `startedAt` (unknown = the base rates, the catalog's dearest time of day).
 */
export function chatReserveMicros(
  model: ModelSpec,
  req: ChatCompletionRequest,
  imagesWanted = 0,
  imageCtx: { size?: string; quality?: string } = {},
  startedAt?: Date,
): bigint {
  const price = model.price;
  if (!price) throw new Error(`model ${model.id} has no price`);
  // A Google context cache adds tokens the request does not show: it is bounded by the model's context window.
  const cached = req.google?.cachedContent ? (model.capabilities.contextWindow ?? DEFAULT_CACHE_TOKENS) : 0;
  const input = inputTokenBound(req) + cached;
  const output = outputTokenBound(model, req);
  let total = 0n;
  if (price.tokens) {
    let inRate = 0;
    let outRate = 0;
    for (const r of reachableRates(price.tokens, input, startedAt)) {
      inRate = Math.max(inRate, r.input, r.cacheWrite ?? 0, r.imageInput ?? 0, r.audioInput ?? 0);
      outRate = Math.max(outRate, r.output, r.reasoningOutput ?? 0);
    }
    total += tokenCost(input, inRate) + tokenCost(output, outRate);
  }
  if (imagesWanted > 0) total += imageReserveMicros(model, imagesWanted, imageCtx);
  return total;
}

/**
 * Worst case for generating n images: the per-image list price where there is one (the exact cell when
 * quality and size are given), and for token-priced models IMAGE_OUTPUT_TOKENS_PER_IMAGE at the image
 * output rate, whichever is higher. The prompt is bounded separately (promptReserveMicros).
 */
export function imageReserveMicros(model: ModelSpec, n: number, ctx: { size?: string; quality?: string } = {}): bigint {
  const price = model.price;
  if (!price) throw new Error(`model ${model.id} has no price`);
  let unit = 0n;
  if (price.perImage) {
    const exact = ctx.quality && ctx.quality !== 'auto' && ctx.size && ctx.size !== 'auto' ? perImagePrice(price.perImage, ctx) : undefined;
    unit = BigInt(exact ?? maxPerImagePrice(price.perImage));
  }
  if (price.tokens) {
    const byTokens = tokenCost(IMAGE_OUTPUT_TOKENS_PER_IMAGE, price.tokens.imageOutput ?? price.tokens.output);
    if (byTokens > unit) unit = byTokens;
  }
  if (!price.perImage && !price.tokens) throw new Error(`model ${model.id} has no image price`);
  return BigInt(n) * unit;
}

/** Worst case for an image prompt's input (text + input images) on a token-priced image model. */
export function promptReserveMicros(model: ModelSpec, promptBytes: number, inputImages: number): bigint {
  const t = model.price?.tokens;
  if (!t) return 0n;
  return tokenCost(promptBytes, t.input) + tokenCost(inputImages * IMAGE_PART_TOKENS * 4, t.imageInput ?? t.input);
}

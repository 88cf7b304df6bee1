import type { OpenAIUsage } from './chat';

/**
 * Provider-neutral usage: what billing prices. The counts are DISJOINT so that billing can multiply
 * each by its own rate and sum without double counting (e.g. `textInput` excludes cached, image and
 * audio input tokens even where the provider's `prompt_tokens` includes them).
 */
export interface NormalizedUsage {
  /** input tokens that are text, not served from cache */
  textInput: number;
  /** input tokens served from the provider's prompt cache */
  cachedInput: number;
  /**
   * input tokens written to the provider's prompt cache, where the provider reports them apart and bills
   * them above plain input (Anthropic's `cache_creation_input_tokens`). Set only when non-zero, so usage
   * recorded before the field existed reads the same; absent = 0.
   */
  cacheWriteInput?: number;
  /** image input tokens, where the provider reports them separately */
  imageInput: number;
  /** audio input tokens */
  audioInput: number;
  /** output text tokens, excluding reasoning */
  textOutput: number;
  /** reasoning ("thinking") output tokens */
  reasoningOutput: number;
  /** image output tokens (token-priced image models) */
  imageOutput: number;
  /** number of images billed per image (per-image-priced models) */
  images: number;
}

/** The counts every usage carries (`cacheWriteInput` is optional and handled on its own). */
export const USAGE_FIELDS: readonly Exclude<keyof NormalizedUsage, 'cacheWriteInput'>[] = [
  'textInput',
  'cachedInput',
  'imageInput',
  'audioInput',
  'textOutput',
  'reasoningOutput',
  'imageOutput',
  'images',
];

export function emptyUsage(): NormalizedUsage {
  return {
    textInput: 0,
    cachedInput: 0,
    imageInput: 0,
    audioInput: 0,
    textOutput: 0,
    reasoningOutput: 0,
    imageOutput: 0,
    images: 0,
  };
}

export function addUsage(a: NormalizedUsage, b: NormalizedUsage): NormalizedUsage {
  const out = emptyUsage();
  for (const k of USAGE_FIELDS) out[k] = a[k] + b[k];
  const cacheWriteInput = cacheWriteTokens(a) + cacheWriteTokens(b);
  if (cacheWriteInput > 0) out.cacheWriteInput = cacheWriteInput;
  return out;
}

/** Cache-write input tokens, 0 when the usage carries none. */
export function cacheWriteTokens(u: NormalizedUsage): number {
  return u.cacheWriteInput ?? 0;
}

/** Every input token of the request: text, cached, cache writes, image and audio. */
export function totalInputTokens(u: NormalizedUsage): number {
  return u.textInput + u.cachedInput + cacheWriteTokens(u) + u.imageInput + u.audioInput;
}

export function totalOutputTokens(u: NormalizedUsage): number {
  return u.textOutput + u.reasoningOutput + u.imageOutput;
}

/** A non-negative integer from anything a provider might send (missing, null, float, string). */
export function tokenCount(v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/**
 * Breakdown of an input total. The parts are carved out of `total` in order and clamped, so a provider
 * that reports a detail larger than its own total never yields negative text tokens.
 */
export function splitInput(
  total: number,
  parts: { cached?: unknown; image?: unknown; audio?: unknown },
): Pick<NormalizedUsage, 'textInput' | 'cachedInput' | 'imageInput' | 'audioInput'> {
  let rest = Math.max(0, total);
  const take = (n: unknown): number => {
    const v = Math.min(rest, tokenCount(n));
    rest -= v;
    return v;
  };
  const cachedInput = take(parts.cached);
  const imageInput = take(parts.image);
  const audioInput = take(parts.audio);
  return { textInput: rest, cachedInput, imageInput, audioInput };
}

export function splitOutput(
  total: number,
  parts: { reasoning?: unknown; image?: unknown },
): Pick<NormalizedUsage, 'textOutput' | 'reasoningOutput' | 'imageOutput'> {
  let rest = Math.max(0, total);
  const take = (n: unknown): number => {
    const v = Math.min(rest, tokenCount(n));
    rest -= v;
    return v;
  };
  const reasoningOutput = take(parts.reasoning);
  const imageOutput = take(parts.image);
  return { textOutput: rest, reasoningOutput, imageOutput };
}

/**
 * From OpenAI chat usage. OpenAI's `prompt_tokens` includes cached and audio tokens and its
 * `completion_tokens` includes reasoning tokens
 * (https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage).
 */
export function normalizeOpenAIUsage(usage: OpenAIUsage | null | undefined): NormalizedUsage {
  if (!usage) return emptyUsage();
  const p = usage.prompt_tokens_details ?? {};
  const c = usage.completion_tokens_details ?? {};
  return {
    ...splitInput(tokenCount(usage.prompt_tokens), {
      cached: p.cached_tokens,
      image: p.image_tokens,
      audio: p.audio_tokens,
    }),
    ...splitOutput(tokenCount(usage.completion_tokens), {
      reasoning: c.reasoning_tokens,
      image: c.image_tokens,
    }),
    images: 0,
  };
}

/** Back to OpenAI's shape, for the `usage` a tenant sees when the upstream spoke another dialect. */
export function toOpenAIUsage(u: NormalizedUsage): OpenAIUsage {
  const prompt = totalInputTokens(u);
  const completion = totalOutputTokens(u);
  const out: OpenAIUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: u.cachedInput, audio_tokens: u.audioInput },
    completion_tokens_details: { reasoning_tokens: u.reasoningOutput },
  };
  if (u.imageInput > 0 && out.prompt_tokens_details) out.prompt_tokens_details.image_tokens = u.imageInput;
  if (u.imageOutput > 0 && out.completion_tokens_details) out.completion_tokens_details.image_tokens = u.imageOutput;
  return out;
}

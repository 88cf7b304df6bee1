/**
 * The shape of one model in Switchyard's catalog. The catalog is the single source of truth for what a
 * model can do and what it costs at the provider's list price; billing seeds its versioned price table
 * from it, routing checks capabilities against it, and `GET /v1/models` lists it.
 */

export type ProviderId =
  | 'openai'
  | 'google'
  | 'xai'
  | 'anthropic'
  | 'deepseek'
  | 'qwen'
  | 'moonshot'
  | 'minimax';

/**
 * Rates that replace the base input / cached / cache-write / output rates for a request whose prompt is
 * longer than `thresholdTokens` (input + cached + cache-write + image + audio input tokens). A prompt of
 * exactly `thresholdTokens` stays below the band; providers that switch "once the prompt reaches N" are
 * written with `thresholdTokens: N - 1`.
 */
export interface PromptBand {
  thresholdTokens: number;
  input: number;
  output: number;
  /** omitted = the base `cachedInput` (or the band's `input` when the base has none) */
  cachedInput?: number;
  /** omitted = the base `cacheWrite` */
  cacheWrite?: number;
}

/** A weekly time window in UTC: `days` are 0 (Sunday) to 6, `from`/`to` are `HH:MM`, `to` exclusive (`24:00` allowed). */
export interface TimeWindow {
  days: number[];
  from: string;
  to: string;
}

/**
 * Rates that replace the base input / cached / output rates for a request that starts inside one of the
 * windows (e.g. DeepSeek's off-peak hours). The request's start time decides, whatever its duration.
 */
export interface TimeOfDayRates {
  label: string;
  windows: TimeWindow[];
  input: number;
  output: number;
  cachedInput?: number;
}

/**
 * Token rates in integer micro-USD per 1,000,000 tokens (so $0.15 / 1M tokens is 150_000).
 * A dimension the provider does not bill separately is omitted and falls back as documented per field.
 */
export interface TokenRates {
  /** text (and, unless imageInput is set, image) input tokens */
  input: number;
  /** cached input tokens; omitted = billed at `input` */
  cachedInput?: number;
  /**
   * input tokens written to the prompt cache, where the provider bills the write above `input`
   * (Anthropic: 1.25x input for the 5-minute cache; MiniMax). Omitted = billed at `input`.
   */
  cacheWrite?: number;
  /** text output tokens */
  output: number;
  /** reasoning output tokens; omitted = billed at `output` */
  reasoningOutput?: number;
  /** image input tokens where the provider bills them at their own rate; omitted = billed at `input` */
  imageInput?: number;
  /** image output tokens (gpt-image, Gemini image models) */
  imageOutput?: number;
  /** audio input tokens; omitted = billed at `input` */
  audioInput?: number;
  /**
   * Prompt-length bands in ascending `thresholdTokens` order: the last band whose threshold the prompt
   * exceeds replaces the base rates (Gemini Pro: one band above 200K; Qwen: up to three). Price rows
   * stored before bands were a list hold a single band object, which is read as a list of one.
   */
  longContext?: PromptBand[];
  /** time-of-day rates (DeepSeek's off-peak hours); the base rates apply outside every window */
  timeOfDay?: TimeOfDayRates[];
}

/** Per-image prices in integer micro-USD, keyed by quality then size (use '*' for "any"). */
export type ImagePriceTable = Record<string, Record<string, number>>;

export interface ModelPrice {
  tokens?: TokenRates;
  perImage?: ImagePriceTable;
  /** where the list price was read (provider's pricing page) */
  source: string;
  /** the date the price was read or took effect, YYYY-MM-DD */
  date: string;
}

export interface ModelCapabilities {
  chat: boolean;
  streaming: boolean;
  tools: boolean;
  vision: boolean;
  audioInput: boolean;
  jsonSchema: boolean;
  reasoning: boolean;
  webSearch: boolean;
  /** returns images from a chat turn (Gemini image models, GPT image models through chat) */
  imageOutputViaChat: boolean;
  /** callable on /v1/images/generations */
  imagesEndpoint: boolean;
  /** accepts input images to edit */
  imageEditing: boolean;
  /** image models: OpenAI-style sizes accepted ("1024x1024", ...) */
  sizes?: string[];
  /** image models: quality values accepted */
  qualities?: string[];
  /** image models: largest n per request */
  maxN?: number;
  contextWindow?: number;
  maxOutputTokens?: number;
}

export interface ModelSpec {
  /** public id, `provider/model`, e.g. `openai/gpt-4o-mini`, `grok/grok-imagine-image` */
  id: string;
  provider: ProviderId;
  /** the id the upstream API expects */
  upstreamId: string;
  /** other names that resolve to this model: bare names (`gpt-4o-mini`) and alternative prefixes (`xai/…`) */
  aliases: string[];
  capabilities: ModelCapabilities;
  /** list price; a model without one is refused, never billed $0 */
  price: ModelPrice | null;
  /**
   * Configured fallbacks (public ids), used where the API has no per-request chain (the Gemini-native
   * route) and, for a model past its shutdown date, instead of the model itself.
   */
  fallbacks?: string[];
  /** the provider's announced retirement; the model stays listed and callable (the upstream decides) */
  deprecation?: Deprecation;
}

export interface Deprecation {
  /** YYYY-MM-DD the provider announced it */
  announced: string;
  /** YYYY-MM-DD after which the provider stops serving it (its earliest announced date) */
  shutdown?: string;
  /** the provider's recommended replacement, as the provider names it (not necessarily in this catalog) */
  replacement?: string;
  /** the provider's deprecation page */
  source: string;
}

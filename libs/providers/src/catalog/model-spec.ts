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
  /** input above a long-context threshold (e.g. Gemini Pro > 200k tokens): rates that replace the above */
  longContext?: { thresholdTokens: number; input: number; output: number; cachedInput?: number };
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
  /** configured fallbacks used where the API has no per-request chain (Gemini-native route) */
  fallbacks?: string[];
}

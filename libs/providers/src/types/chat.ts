/**
 * Canonical chat types. Switchyard's public chat API is OpenAI's chat-completions wire format, so that
 * format, typed, is also the shape every adapter translates to and from. Field names stay snake_case on
 * purpose: these objects are serialised to tenants as they are.
 *
 * What only Google's wire format has a place for (safety ratings, thought signatures, a blocked prompt's
 * feedback) rides on the same objects under the `GOOGLE_FIELDS` symbol: it travels with them through the
 * pipeline to the Google adapter and the Gemini-native route, and `JSON.stringify` never writes a symbol
 * key, so the OpenAI-shaped answer and other providers' request bodies stay exactly as they are.
 */
import type { GeminiPromptFeedback, GeminiSafetyRating, GeminiSafetySetting } from './gemini';

/** Key of the Google-only fields on canonical objects (see the file comment). */
export const GOOGLE_FIELDS: unique symbol = Symbol('switchyard.google');

/**
 * Gemini's `thoughtSignature` (https://ai.google.dev/gemini-api/docs/thought-signatures): an opaque token
 * on the part it came with, to be sent back on that part in the next turn. Gemini 3 refuses a turn whose
 * function call lost it.
 */
export interface GoogleSignature {
  thoughtSignature?: string;
}

/** The signatures of an earlier model turn, for the Google adapter to send back on the parts they came on. */
export interface GoogleTurnFields extends GoogleSignature {
  /** a thought summary part that carried a signature, sent back as it came */
  signedThought?: { text: string; thoughtSignature: string };
}

/** What a Google candidate says beside its content. */
export interface GoogleCandidateFields {
  /** `candidates[].safetyRatings` */
  safetyRatings?: GeminiSafetyRating[];
  /** the signature Google put on the candidate's answer text (the last text part, or an empty one) */
  textSignature?: string;
  /** the signature on its thought summary */
  thoughtSignature?: string;
}

/** What a Google answer says beside its candidates. */
export interface GoogleAnswerFields {
  /** `promptFeedback` of an answer that was not blocked (only its `safetyRatings`) */
  promptFeedback?: GeminiPromptFeedback;
}

/**
 * Google's filters refused the prompt (`promptFeedback.blockReason`, no candidates) or withheld the answer
 * (a candidate ended by `finishReason` with no content), in a 200 answer. Carried on the `UpstreamError`
 * the Google adapter throws for it, under `GOOGLE_FIELDS`.
 */
export interface GoogleBlock {
  promptFeedback?: GeminiPromptFeedback;
  candidate?: { index: number; finishReason: string; safetyRatings?: GeminiSafetyRating[] };
}

/**
 * Request fields only Google's models take. Other adapters never read them: the tenant asked for
 * something those providers do not offer (filter thresholds) or cannot reach (a cache at Google).
 */
export interface GoogleRequestOptions {
  /** `safetySettings`: per-category block thresholds */
  safetySettings?: GeminiSafetySetting[];
  /** `cachedContent`: resource name of a context cache in the gateway's Google project */
  cachedContent?: string;
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface TextContentPart {
  type: 'text';
  text: string;
}

export interface ImageUrlContentPart {
  type: 'image_url';
  image_url: {
    /** an https URL or a `data:<mime>;base64,...` URI */
    url: string;
    detail?: 'auto' | 'low' | 'high';
  };
}

export interface InputAudioContentPart {
  type: 'input_audio';
  input_audio: {
    /** base64 audio bytes */
    data: string;
    format: 'wav' | 'mp3' | (string & {});
  };
}

export type ChatContentPart = TextContentPart | ImageUrlContentPart | InputAudioContentPart;

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: {
    name: string;
    /** JSON text, exactly as the model produced it */
    arguments: string;
  };
  /** the function-call part's thought signature, in a request for the Google adapter to send back */
  [GOOGLE_FIELDS]?: GoogleSignature;
}

export interface SystemMessage {
  role: 'system' | 'developer';
  content: string | TextContentPart[];
  name?: string;
}

export interface UserMessage {
  role: 'user';
  content: string | ChatContentPart[];
  name?: string;
}

export interface AssistantMessage {
  role: 'assistant';
  content?: string | TextContentPart[] | null;
  tool_calls?: ChatToolCall[];
  name?: string;
  /** reasoning text some providers return (DeepSeek, Qwen, Kimi); passed back only where the provider wants it */
  reasoning_content?: string | null;
  /** the thought signatures of the turn's text and thought parts, for the Google adapter to send back */
  [GOOGLE_FIELDS]?: GoogleTurnFields;
}

export interface ToolMessage {
  role: 'tool';
  content: string | TextContentPart[];
  tool_call_id: string;
}

export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

export interface ChatTool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    /** JSON Schema of the arguments */
    parameters?: Record<string, unknown>;
    strict?: boolean;
  };
}

export type ChatToolChoice =
  | 'auto'
  | 'none'
  | 'required'
  | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: {
        name: string;
        description?: string;
        schema?: Record<string, unknown>;
        strict?: boolean;
      };
    };

export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';

export interface WebSearchOptions {
  search_context_size?: 'low' | 'medium' | 'high';
  user_location?: {
    type: 'approximate';
    approximate?: { city?: string; country?: string; region?: string; timezone?: string };
  };
}

export interface ChatCompletionRequest {
  /** the model id the adapter sends upstream is taken from the ModelSpec, not from here */
  model: string;
  messages: ChatMessage[];
  tools?: ChatTool[];
  tool_choice?: ChatToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  reasoning_effort?: ReasoningEffort;
  web_search_options?: WebSearchOptions;
  n?: number;
  stop?: string | string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  /**
   * Sample from the k most likely tokens. Not in OpenAI's API (its adapters drop it); Google's
   * `generationConfig.topK` and Anthropic's `top_k` take it.
   */
  top_k?: number;
  user?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  /** Google-only fields (see `GoogleRequestOptions`); set by the Gemini-native route, never by the chat route */
  google?: GoogleRequestOptions;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

/** OpenAI's usage object, as tenants receive it. */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: {
    cached_tokens?: number;
    audio_tokens?: number;
    /** not in OpenAI's chat usage; filled when a provider reports image input separately */
    image_tokens?: number;
    text_tokens?: number;
  };
  completion_tokens_details?: {
    reasoning_tokens?: number;
    audio_tokens?: number;
    accepted_prediction_tokens?: number;
    rejected_prediction_tokens?: number;
    /** image output tokens (image models answering through chat) */
    image_tokens?: number;
  };
}

export interface GeneratedImagePart {
  type: 'image_url';
  image_url: { url: string };
}

export interface ChatCompletionMessage {
  role: 'assistant';
  /** a string, or text/image parts when the model returned images */
  content: string | (TextContentPart | GeneratedImagePart)[] | null;
  refusal?: string | null;
  tool_calls?: ChatToolCall[];
  reasoning_content?: string;
  /** images produced by the turn, as data URIs (same images as the image parts of `content`) */
  images?: GeneratedImagePart[];
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  finish_reason: FinishReason | null;
  logprobs?: null;
  [GOOGLE_FIELDS]?: GoogleCandidateFields;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  /** the upstream's model id; the gateway replaces it with the public id it resolved */
  model: string;
  choices: ChatCompletionChoice[];
  usage?: OpenAIUsage;
  system_fingerprint?: string | null;
  [GOOGLE_FIELDS]?: GoogleAnswerFields;
}

export interface ChatToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionDelta {
  role?: 'assistant';
  content?: string | null;
  reasoning_content?: string | null;
  tool_calls?: ChatToolCallDelta[];
  refusal?: string | null;
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: ChatCompletionDelta;
  finish_reason: FinishReason | null;
  logprobs?: null;
  [GOOGLE_FIELDS]?: GoogleCandidateFields;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChatCompletionChunkChoice[];
  /** only on the final chunk (whose `choices` is empty), as with OpenAI's `include_usage` */
  usage?: OpenAIUsage | null;
  system_fingerprint?: string | null;
  [GOOGLE_FIELDS]?: GoogleAnswerFields;
}

/**
 * The contract every upstream provider implements. Adapters are pure translators: no I/O, no
 * environment, no framework objects. They describe the upstream request, and turn upstream bytes
 * (already read and parsed by the HTTP client) into canonical results, chunks and usage. The one
 * HTTP client (`http/`) and the `ProviderClient` do everything else.
 */
import type { ModelSpec, ProviderId } from './catalog/model-spec';
import type { UpstreamError } from './errors';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from './types/chat';
import type { ImageGenerationRequest, ImageGenerationResult } from './types/images';
import type { NormalizedUsage } from './types/usage';

/** One part of a multipart/form-data body (image edits). */
export type MultipartPart =
  | { name: string; value: string }
  | { name: string; data: Buffer; filename: string; contentType: string };

export type UpstreamBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'multipart'; parts: MultipartPart[] }
  | { kind: 'none' };

/** An upstream call, described relative to the provider's configured base URL. */
export interface UpstreamRequest {
  method: 'POST' | 'GET';
  /** path (and query) appended to the base URL, starting with '/', e.g. '/chat/completions' */
  path: string;
  /** provider headers including auth; the client adds content-type and accept */
  headers: Record<string, string>;
  body: UpstreamBody;
  /** true when the answer is an SSE stream */
  stream: boolean;
}

/** A buffered upstream answer as the HTTP client hands it to an adapter. */
export interface UpstreamResponse {
  status: number;
  /** lower-cased header names */
  headers: Record<string, string>;
  /** the body as text; adapters parse it (`parseJsonBody` in errors.ts does it safely) */
  bodyText: string;
  /**
   * Base64 payloads (generated images) the client decoded from the raw answer instead of leaving them in
   * `bodyText`, where a placeholder string stands for each: placeholder → bytes. Adapters read such a value
   * with `decodeImageValue` (`http/lifted-base64.ts`), which accepts a placeholder or ordinary base64 alike.
   */
  lifted?: ReadonlyMap<string, Buffer>;
}

/** One Server-Sent Event as the SSE reader produces it. */
export interface SseEvent {
  /** the `event:` field; undefined when the stream does not name events (OpenAI) */
  event?: string;
  /** the `data:` lines joined with '\n' */
  data: string;
  id?: string;
}

export interface ChatResult {
  /** canonical completion; `usage` is filled in OpenAI's shape whatever the provider's dialect */
  completion: ChatCompletion;
  usage: NormalizedUsage;
}

/**
 * Per-stream state. Adapters that need more (Anthropic's block indexes, ...) extend it.
 * The client reads `usage` and `done`, and `outputChars` to estimate usage for an interrupted stream.
 */
export interface ChatStreamState {
  id: string;
  created: number;
  model: string;
  /** the final usage once the upstream reported it */
  usage: NormalizedUsage | null;
  /** the upstream signalled the end of the stream (`[DONE]`, `message_stop`, ...) */
  done: boolean;
  /** characters of content, reasoning and tool-call arguments streamed so far */
  outputChars: number;
  /** a finish_reason has been emitted */
  finished: boolean;
}

export interface ChatStreamEnd {
  /** the usage the upstream reported; null when it never did (the client then estimates) */
  usage: NormalizedUsage | null;
}

export interface ChatCapability<S extends ChatStreamState = ChatStreamState> {
  buildRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest;
  /** throws UpstreamError (`malformed_response`, `content_policy`, ...) when the body is not a usable answer */
  parseResponse(model: ModelSpec, res: UpstreamResponse, req: ChatCompletionRequest): ChatResult;
  buildStreamRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest;
  createStreamState(model: ModelSpec, req: ChatCompletionRequest): S;
  /**
   * Canonical chunks for one SSE event (zero or more). Must not emit a usage chunk: the client emits
   * the final usage chunk itself from `state.usage`. Throws UpstreamError for an error event inside a
   * 200 stream.
   */
  parseStreamEvent(event: SseEvent, state: S): ChatCompletionChunk[];
  /** called once the body ended; may return trailing chunks (e.g. a missing finish_reason) */
  finishStream(state: S): ChatCompletionChunk[];
}

export interface ImagesCapability {
  buildRequest(model: ModelSpec, req: ImageGenerationRequest, apiKey: string): UpstreamRequest;
  /** throws UpstreamError `no_image` when the answer carries no image */
  parseResponse(model: ModelSpec, res: UpstreamResponse, req: ImageGenerationRequest): ImageGenerationResult;
  /** present when the provider can edit input images */
  buildEditRequest?(model: ModelSpec, req: ImageGenerationRequest, apiKey: string): UpstreamRequest;
  parseEditResponse?(model: ModelSpec, res: UpstreamResponse, req: ImageGenerationRequest): ImageGenerationResult;
}

export interface ProviderAdapter {
  readonly provider: ProviderId;
  readonly chat?: ChatCapability<ChatStreamState>;
  readonly images?: ImagesCapability;
  /** any non-2xx answer (also used for an HTML page or other unparseable error body) */
  classifyError(res: UpstreamResponse, secrets: readonly string[]): UpstreamError;
}

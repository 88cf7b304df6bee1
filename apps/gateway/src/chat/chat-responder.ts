/**
 * The seam between the chat pipeline and the wire. `ChatService.answer` decides what happened (which model
 * served, what it said, what it cost); a `ChatResponder` decides how that looks to the tenant. The chat
 * route answers in OpenAI's shape (`OpenAIChatResponder`); the Gemini-native route translates the same
 * canonical completion and chunks into Google's shape. One pipeline, one billing path, several shapes.
 */
import type { ApiError } from '@app/common';
import type { ChatCompletion, ChatCompletionChunk, ModelSpec, NormalizedUsage } from '@app/providers';
import { SSE_DONE, type ChatExchangePort } from './chat-exchange';

export interface StreamEnd {
  /** the upstream finished the answer and the tenant read it to the end */
  complete: boolean;
  /** the upstream failed after the first byte: nothing can fall back any more, the tenant must be told */
  error?: ApiError;
}

export interface ChatResponder {
  /** aborted when the tenant closed the connection before the answer was complete */
  readonly signal: AbortSignal;
  setHeaders(headers: Record<string, string>): void;
  /** a whole answer; `completion.model` is already the serving model's public id */
  sendCompletion(completion: ChatCompletion, usage: NormalizedUsage, served: ModelSpec): void;
  /** status 200 and the headers, before the first chunk */
  startStream(headers: Record<string, string>, served: ModelSpec): void;
  /** one canonical chunk (`model` already public); resolves when the socket can take more */
  sendChunk(chunk: ChatCompletionChunk): Promise<void>;
  /** the final usage of a stream the upstream finished; `chunk` is OpenAI's usage-only chunk */
  sendUsage(chunk: ChatCompletionChunk, usage: NormalizedUsage): Promise<void>;
  /** the end of a started stream, after the request was settled */
  endStream(end: StreamEnd): Promise<void>;
  /**
   * The chain failed before anything was sent (the failure is already settled as `failed`). A shape whose
   * API answers some failures as a normal response (Google: a blocked prompt is a 200 with
   * `promptFeedback`) answers here and returns true; otherwise the tenant gets the error.
   */
  answerFailure?(failure: unknown): boolean;
}

function errorEvent(error: ApiError): { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
}

/** `POST /v1/chat/completions`: a `chat.completion`, or `data:` chunks ending in `[DONE]` (or an error event). */
export class OpenAIChatResponder implements ChatResponder {
  constructor(
    private readonly exchange: ChatExchangePort,
    /** `stream_options.include_usage`: the tenant asked for the usage chunk */
    private readonly includeUsage: boolean,
  ) {}

  get signal(): AbortSignal {
    return this.exchange.signal;
  }

  setHeaders(headers: Record<string, string>): void {
    this.exchange.setHeaders(headers);
  }

  sendCompletion(completion: ChatCompletion): void {
    this.exchange.sendJson(200, completion);
  }

  startStream(headers: Record<string, string>): void {
    this.exchange.startEvents(headers);
  }

  sendChunk(chunk: ChatCompletionChunk): Promise<void> {
    return this.exchange.sendEvent(chunk);
  }

  async sendUsage(chunk: ChatCompletionChunk): Promise<void> {
    if (this.includeUsage) await this.exchange.sendEvent(chunk);
  }

  async endStream(end: StreamEnd): Promise<void> {
    // After the first byte nothing can fall back: end with an error event, never a clean-looking end.
    if (end.error) await this.exchange.sendEvent(errorEvent(end.error));
    else if (end.complete) await this.exchange.sendEvent(SSE_DONE);
    this.exchange.end();
  }
}

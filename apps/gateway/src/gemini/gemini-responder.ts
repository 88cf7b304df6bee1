/**
 * The tenant's end of one Gemini-native request: the chat pipeline's canonical completion or chunks,
 * written in Google's shape. `streamGenerateContent?alt=sse` (what @google/genai sends) is Server-Sent
 * Events of GenerateContentResponse chunks; without `alt=sse` it is one JSON array written element by
 * element, as Google's REST API does. A failure after the first byte ends the stream with Google's error
 * object (`{"error":{code,message,status}}`), which the SDK raises as an ApiError.
 */
import type { Response } from 'express';
import { googleEnvelope } from '@app/common';
import {
  googleBlockOf,
  type ChatCompletion,
  type ChatCompletionChunk,
  type GoogleBlock,
  type ModelSpec,
  type NormalizedUsage,
} from '@app/providers';
import type { ChatResponder, StreamEnd } from '../chat/chat-responder';
import { ChatExchange } from '../chat/chat-exchange';
import { GeminiStreamTranslator, chatResponseToGemini, type GeminiResponse } from './gemini-wire';

/** How the answer is written: one JSON object (`:generateContent`), or a stream as SSE or one JSON array. */
export type GeminiAnswerFormat = 'json' | 'sse' | 'json-array';

/** Google's name of a model: catalog ids without the `google/` prefix, other providers' ids as they are. */
export function geminiModelName(model: Pick<ModelSpec, 'id' | 'provider'>): string {
  return model.provider === 'google' ? model.id.slice(model.id.indexOf('/') + 1) : model.id;
}

export class GeminiResponder implements ChatResponder {
  /** the socket side (headers, JSON, streamed writes with back-pressure, the tenant leaving), shared with chat */
  private readonly exchange: ChatExchange;
  private translator: GeminiStreamTranslator | undefined;
  private elements = 0;

  constructor(
    res: Response,
    private readonly format: GeminiAnswerFormat,
    /** Google's name of the model the tenant asked for, for answers no model produced */
    private readonly requestedModel: string,
  ) {
    this.exchange = new ChatExchange(res);
  }

  get signal(): AbortSignal {
    return this.exchange.signal;
  }

  setHeaders(headers: Record<string, string>): void {
    this.exchange.setHeaders(headers);
  }

  sendJson(body: unknown): void {
    this.exchange.sendJson(200, body);
  }

  sendCompletion(completion: ChatCompletion, usage: NormalizedUsage, served: ModelSpec): void {
    this.sendJson(chatResponseToGemini(completion, geminiModelName(served), usage));
  }

  startStream(headers: Record<string, string>, served: ModelSpec): void {
    this.translator = new GeminiStreamTranslator(geminiModelName(served));
    this.openStream(headers);
  }

  private openStream(headers: Record<string, string>): void {
    this.exchange.startEvents(headers, this.format === 'sse' ? undefined : 'application/json; charset=utf-8');
    if (this.format === 'json-array') void this.exchange.write('[');
  }

  async sendChunk(chunk: ChatCompletionChunk): Promise<void> {
    // Usage travels separately (`sendUsage`); a chunk carrying it would end the translation early.
    const { usage: _usage, ...content } = chunk;
    for (const out of this.stream().push(content)) await this.write(out);
  }

  async sendUsage(_chunk: ChatCompletionChunk, usage: NormalizedUsage): Promise<void> {
    // Google's last chunk carries finishReason and the final usageMetadata together.
    for (const out of this.stream().end(usage)) await this.write(out);
  }

  async endStream(end: StreamEnd): Promise<void> {
    if (end.error) await this.write(googleEnvelope.body(end.error));
    else if (end.complete) for (const out of this.stream().end()) await this.write(out);
    if (this.format === 'json-array') await this.exchange.write(']');
    this.exchange.end();
  }

  /**
   * Google answers a refused prompt with 200: `promptFeedback` (`blockReason`, `safetyRatings`) and no
   * candidates; an answer its filters withheld is a candidate with that finishReason (and its ratings)
   * and no content. The SDK reads both as data, whole or as the one chunk of a stream. The request is
   * settled as failed, at no cost, so the usage shows no tokens.
   */
  answerFailure(failure: unknown): boolean {
    const block = googleBlockOf(failure);
    return block ? this.answerBlock(block) : false;
  }

  /**
   * Google's verdict as Google answers it (see `answerFailure`); also for an image model's job that Google's
   * filters stopped. False when it has nothing to answer with or the answer has started.
   */
  answerBlock(block: GoogleBlock, headers: Record<string, string> = {}): boolean {
    if (this.exchange.headersSent) return false;
    const body: GeminiResponse = {};
    if (block.promptFeedback) body.promptFeedback = block.promptFeedback;
    else if (block.candidate) {
      const { index, finishReason, safetyRatings } = block.candidate;
      body.candidates = [{ finishReason, index, ...(safetyRatings ? { safetyRatings } : {}) }];
    } else return false;
    body.usageMetadata = { promptTokenCount: 0, candidatesTokenCount: 0, totalTokenCount: 0 };
    body.modelVersion = this.requestedModel;
    if (Object.keys(headers).length > 0) this.setHeaders(headers);
    if (this.format === 'json') {
      this.sendJson(body);
      return true;
    }
    this.openStream({});
    const json = JSON.stringify(body);
    void this.exchange.write(this.format === 'sse' ? `data: ${json}\r\n\r\n` : `${json}]`);
    this.exchange.end();
    return true;
  }

  private stream(): GeminiStreamTranslator {
    // startStream always runs first; a missing translator is a bug in the pipeline, not a tenant error.
    if (!this.translator) throw new Error('the Gemini stream was not started');
    return this.translator;
  }

  private async write(element: unknown): Promise<void> {
    const json = JSON.stringify(element);
    const text = this.format === 'sse' ? `data: ${json}\r\n\r\n` : `${this.elements > 0 ? ',\r\n' : ''}${json}`;
    this.elements += 1;
    await this.exchange.write(text);
  }
}

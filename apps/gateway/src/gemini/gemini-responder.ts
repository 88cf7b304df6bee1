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
  GOOGLE_FIELDS,
  UpstreamError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type GoogleBlock,
  type ModelSpec,
  type NormalizedUsage,
} from '@app/providers';
import type { ChatResponder, StreamEnd } from '../chat/chat-responder';
import { GeminiStreamTranslator, chatResponseToGemini, type GeminiResponse } from './gemini-wire';

/** How the answer is written: one JSON object (`:generateContent`), or a stream as SSE or one JSON array. */
export type GeminiAnswerFormat = 'json' | 'sse' | 'json-array';

/** Google's verdict, when the failure is its filters stopping a 200 answer (see `GoogleFilterError`). */
function googleBlock(failure: unknown): GoogleBlock | undefined {
  if (!(failure instanceof UpstreamError) || failure.kind !== 'content_policy') return undefined;
  return (failure as UpstreamError & { [GOOGLE_FIELDS]?: GoogleBlock })[GOOGLE_FIELDS];
}

/** Google's name of a model: catalog ids without the `google/` prefix, other providers' ids as they are. */
export function geminiModelName(model: Pick<ModelSpec, 'id' | 'provider'>): string {
  return model.provider === 'google' ? model.id.slice(model.id.indexOf('/') + 1) : model.id;
}

export class GeminiResponder implements ChatResponder {
  private readonly gone = new AbortController();
  private translator: GeminiStreamTranslator | undefined;
  private elements = 0;

  constructor(
    private readonly res: Response,
    private readonly format: GeminiAnswerFormat,
    /** Google's name of the model the tenant asked for, for answers no model produced */
    private readonly requestedModel: string,
  ) {
    res.once('close', () => {
      if (!res.writableFinished) this.gone.abort(new Error('the client closed the connection'));
    });
  }

  get signal(): AbortSignal {
    return this.gone.signal;
  }

  setHeaders(headers: Record<string, string>): void {
    if (this.res.headersSent) return;
    for (const [name, value] of Object.entries(headers)) this.res.setHeader(name, value);
  }

  sendJson(body: unknown): void {
    this.res.status(200).json(body);
  }

  sendCompletion(completion: ChatCompletion, usage: NormalizedUsage, served: ModelSpec): void {
    this.sendJson(chatResponseToGemini(completion, geminiModelName(served), usage));
  }

  startStream(headers: Record<string, string>, served: ModelSpec): void {
    this.translator = new GeminiStreamTranslator(geminiModelName(served));
    this.openStream(headers);
  }

  private openStream(headers: Record<string, string>): void {
    this.setHeaders({
      ...headers,
      'Content-Type': this.format === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/json; charset=utf-8',
      // no-transform keeps compressing proxies from holding chunks back; X-Accel-Buffering does the same for nginx.
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.res.status(200);
    this.res.socket?.setNoDelay(true);
    // The headers leave with the first write (the stream opens once the upstream produced its first chunk).
    if (this.format === 'json-array') this.res.write('[');
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
    if (this.format === 'json-array' && !this.res.writableEnded && !this.res.destroyed) this.res.write(']');
    if (!this.res.writableEnded) this.res.end();
  }

  /**
   * Google answers a refused prompt with 200: `promptFeedback` (`blockReason`, `safetyRatings`) and no
   * candidates; an answer its filters withheld is a candidate with that finishReason (and its ratings)
   * and no content. The SDK reads both as data, whole or as the one chunk of a stream. The request is
   * settled as failed, at no cost, so the usage shows no tokens.
   */
  answerFailure(failure: unknown): boolean {
    const block = googleBlock(failure);
    if (!block || this.res.headersSent) return false;
    const body: GeminiResponse = {};
    if (block.promptFeedback) body.promptFeedback = block.promptFeedback;
    else if (block.candidate) {
      const { index, finishReason, safetyRatings } = block.candidate;
      body.candidates = [{ finishReason, index, ...(safetyRatings ? { safetyRatings } : {}) }];
    } else return false;
    body.usageMetadata = { promptTokenCount: 0, candidatesTokenCount: 0, totalTokenCount: 0 };
    body.modelVersion = this.requestedModel;
    if (this.format === 'json') {
      this.sendJson(body);
      return true;
    }
    this.openStream({});
    const json = JSON.stringify(body);
    this.res.write(this.format === 'sse' ? `data: ${json}\r\n\r\n` : `${json}]`);
    this.res.end();
    return true;
  }

  private stream(): GeminiStreamTranslator {
    // startStream always runs first; a missing translator is a bug in the pipeline, not a tenant error.
    if (!this.translator) throw new Error('the Gemini stream was not started');
    return this.translator;
  }

  private async write(element: unknown): Promise<void> {
    if (this.gone.signal.aborted || this.res.writableEnded) return;
    const json = JSON.stringify(element);
    const text = this.format === 'sse' ? `data: ${json}\r\n\r\n` : `${this.elements > 0 ? ',\r\n' : ''}${json}`;
    this.elements += 1;
    if (this.res.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.gone.signal.removeEventListener('abort', done);
        resolve();
      };
      this.res.on('drain', done);
      this.gone.signal.addEventListener('abort', done, { once: true });
    });
  }
}

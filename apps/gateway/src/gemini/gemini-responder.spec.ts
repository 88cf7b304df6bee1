import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { ApiError } from '@app/common';
import { UpstreamError, emptyUsage, type ChatCompletionChunk, type ModelSpec } from '@app/providers';
import { GeminiResponder, geminiModelName } from './gemini-responder';
import { parseModelAction } from './gemini.service';

/** Just enough of Express's Response to watch what is written. */
class FakeResponse extends EventEmitter {
  statusCode = 0;
  headers: Record<string, string> = {};
  written: string[] = [];
  json_: unknown;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  socket = { setNoDelay: () => undefined };
  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }
  flushHeaders(): void {
    this.headersSent = true;
  }
  json(body: unknown): void {
    this.json_ = body;
    this.headersSent = true;
    this.writableEnded = true;
  }
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
}

const flash = { id: 'google/gemini-2.5-flash', provider: 'google' } as ModelSpec;
const chunk = (content: string | null, finish: ChatCompletionChunk['choices'][0]['finish_reason'] = null): ChatCompletionChunk => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'google/gemini-2.5-flash',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});
const usage = { ...emptyUsage(), textInput: 3, textOutput: 4 };

async function stream(format: 'sse' | 'json-array', end: { complete: boolean; error?: ApiError }, withUsage = true): Promise<FakeResponse> {
  const res = new FakeResponse();
  const responder = new GeminiResponder(res as unknown as Response, format, 'gemini-2.5-flash');
  responder.startStream({ 'X-Switchyard-Fallback-Level': '0' }, flash);
  await responder.sendChunk(chunk('Hel'));
  await responder.sendChunk({ ...chunk('lo', 'stop'), usage: { prompt_tokens: 99, completion_tokens: 99, total_tokens: 198 } });
  if (withUsage) await responder.sendUsage(chunk(null), usage);
  await responder.endStream(end);
  return res;
}

describe('GeminiResponder', () => {
  it('writes Server-Sent Events, the last one with finishReason and the settled usage', async () => {
    const res = await stream('sse', { complete: true });
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['x-switchyard-fallback-level']).toBe('0');
    expect(res.written.every((w) => w.startsWith('data: ') && w.endsWith('\r\n\r\n'))).toBe(true);
    const events = res.written.map((w) => JSON.parse(w.slice(6)));
    expect(events.map((e) => e.candidates?.[0]?.content?.parts?.[0]?.text)).toEqual(['Hel', 'lo', '']);
    expect(events[2].candidates[0].finishReason).toBe('STOP');
    expect(events[2].usageMetadata).toMatchObject({ promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 });
    expect(events.every((e) => e.modelVersion === 'gemini-2.5-flash')).toBe(true);
    expect(res.writableEnded).toBe(true);
  });

  it('writes one JSON array without alt=sse, ending an upstream failure with Google\'s error object', async () => {
    const error = new ApiError(502, 'server_error', 'upstream broke', 'upstream_error');
    const res = await stream('json-array', { complete: false, error }, false);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.written.join(''));
    expect(body).toHaveLength(3);
    expect(body[2]).toEqual({ error: { code: 502, message: 'upstream broke', status: 'UNAVAILABLE' } });
  });

  it('ends a stream cut short by the tenant without a clean-looking last chunk', async () => {
    const res = await stream('sse', { complete: false }, false);
    const events = res.written.map((w) => JSON.parse(w.slice(6)));
    expect(events.some((e) => e.usageMetadata !== undefined)).toBe(false);
  });

  it('answers a blocked prompt with promptFeedback, a withheld answer with its finishReason, and nothing else', () => {
    const blocked = new GeminiResponder(new FakeResponse() as unknown as Response, 'sse', 'gemini-2.5-flash');
    const res = new FakeResponse();
    const responder = new GeminiResponder(res as unknown as Response, 'sse', 'gemini-2.5-flash');
    expect(responder.answerFailure(new UpstreamError({ kind: 'content_policy', provider: 'google', status: 200, upstreamCode: 'SAFETY', message: 'The upstream provider blocked the prompt (SAFETY)' }))).toBe(true);
    expect(res.json_).toMatchObject({ promptFeedback: { blockReason: 'SAFETY' }, modelVersion: 'gemini-2.5-flash' });

    const withheld = new FakeResponse();
    new GeminiResponder(withheld as unknown as Response, 'sse', 'm').answerFailure(
      new UpstreamError({ kind: 'content_policy', provider: 'google', status: 200, upstreamCode: 'RECITATION', message: 'The upstream provider withheld the answer (RECITATION)' }),
    );
    expect(withheld.json_).toMatchObject({ candidates: [{ finishReason: 'RECITATION', index: 0 }] });

    expect(blocked.answerFailure(new UpstreamError({ kind: 'content_policy', provider: 'openai', status: 400, message: 'policy' }))).toBe(false);
    expect(blocked.answerFailure(new UpstreamError({ kind: 'upstream_server', provider: 'google', status: 500 }))).toBe(false);
  });
});

describe('parseModelAction and geminiModelName', () => {
  it('splits on the last colon and knows two methods', () => {
    expect(parseModelAction('openai/gpt-4o-mini:streamGenerateContent')).toEqual({ model: 'openai/gpt-4o-mini', method: 'streamGenerateContent' });
    expect(parseModelAction('gemini-2.5-flash:generateContent')).toEqual({ model: 'gemini-2.5-flash', method: 'generateContent' });
    for (const bad of ['gemini-2.5-flash', 'gemini-2.5-flash:countTokens', ':generateContent', 'gemini-2.5-flash:']) {
      expect(() => parseModelAction(bad)).toThrow(expect.objectContaining({ status: 404 }));
    }
  });

  it('names Google models without their prefix, others with it', () => {
    expect(geminiModelName(flash)).toBe('gemini-2.5-flash');
    expect(geminiModelName({ id: 'openai/gpt-4o-mini', provider: 'openai' })).toBe('openai/gpt-4o-mini');
  });
});

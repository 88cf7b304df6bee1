import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { ApiError } from '@app/common';
import { GOOGLE_FIELDS, UpstreamError, emptyUsage, type ChatCompletion, type ChatCompletionChunk, type ModelSpec } from '@app/providers';
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
  write(text: string): boolean {
    this.written.push(text);
    this.headersSent = true;
    return true;
  }
  /** a JSON answer arrives whole in `end` */
  end(text?: string): void {
    if (text !== undefined) this.json_ = JSON.parse(text);
    this.headersSent = true;
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

  const ratings = [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }];
  const blockedPrompt = (): UpstreamError => {
    const error = new UpstreamError({ kind: 'content_policy', provider: 'google', status: 200, upstreamCode: 'SAFETY', message: 'The upstream provider blocked the prompt (SAFETY)' });
    return Object.assign(error, { [GOOGLE_FIELDS]: { promptFeedback: { blockReason: 'SAFETY', safetyRatings: ratings } } });
  };

  it('answers a blocked prompt with promptFeedback and its ratings, a withheld answer with its finishReason, and nothing else', () => {
    const res = new FakeResponse();
    expect(new GeminiResponder(res as unknown as Response, 'json', 'gemini-2.5-flash').answerFailure(blockedPrompt())).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(res.json_).toEqual({
      promptFeedback: { blockReason: 'SAFETY', safetyRatings: ratings },
      usageMetadata: { promptTokenCount: 0, candidatesTokenCount: 0, totalTokenCount: 0 },
      modelVersion: 'gemini-2.5-flash',
    });

    const withheld = new FakeResponse();
    const recitation = Object.assign(
      new UpstreamError({ kind: 'content_policy', provider: 'google', status: 200, upstreamCode: 'RECITATION', message: 'The upstream provider withheld the answer (RECITATION)' }),
      { [GOOGLE_FIELDS]: { candidate: { index: 0, finishReason: 'RECITATION', safetyRatings: ratings } } },
    );
    expect(new GeminiResponder(withheld as unknown as Response, 'json', 'm').answerFailure(recitation)).toBe(true);
    expect(withheld.json_).toMatchObject({ candidates: [{ finishReason: 'RECITATION', index: 0, safetyRatings: ratings }] });
    expect((withheld.json_ as { promptFeedback?: unknown }).promptFeedback).toBeUndefined();
  });

  it("answers an image job's verdict the same way, with the job's headers", () => {
    const res = new FakeResponse();
    const responder = new GeminiResponder(res as unknown as Response, 'json', 'gemini-2.5-flash-image');
    expect(responder.answerBlock({ promptFeedback: { blockReason: 'SAFETY' } }, { 'X-Switchyard-Job-Id': 'j1' })).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-switchyard-job-id']).toBe('j1');
    expect(res.json_).toEqual({
      promptFeedback: { blockReason: 'SAFETY' },
      usageMetadata: { promptTokenCount: 0, candidatesTokenCount: 0, totalTokenCount: 0 },
      modelVersion: 'gemini-2.5-flash-image',
    });
    // Nothing more once an answer has gone out.
    expect(responder.answerBlock({ promptFeedback: { blockReason: 'SAFETY' } })).toBe(false);
  });

  it("reads Google's verdict from the error, not from its message", () => {
    const responder = new GeminiResponder(new FakeResponse() as unknown as Response, 'json', 'gemini-2.5-flash');
    // The same words without the verdict: another provider, or an answer that was not a 200.
    expect(responder.answerFailure(new UpstreamError({ kind: 'content_policy', provider: 'google', status: 200, upstreamCode: 'SAFETY', message: 'The upstream provider blocked the prompt (SAFETY)' }))).toBe(false);
    expect(responder.answerFailure(new UpstreamError({ kind: 'content_policy', provider: 'openai', status: 400, message: 'policy' }))).toBe(false);
    expect(responder.answerFailure(new UpstreamError({ kind: 'upstream_server', provider: 'google', status: 500 }))).toBe(false);
  });

  it.each([
    ['sse', /^text\/event-stream/],
    ['json-array', /^application\/json/],
  ] as const)('answers a blocked prompt on a %s stream as its one chunk', (format, contentType) => {
    const res = new FakeResponse();
    expect(new GeminiResponder(res as unknown as Response, format, 'gemini-2.5-flash').answerFailure(blockedPrompt())).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(contentType);
    expect(res.json_).toBeUndefined();
    const text = res.written.join('');
    const chunks = format === 'sse' ? [JSON.parse(text.replace(/^data: /, ''))] : JSON.parse(text);
    expect(format === 'sse' ? text.endsWith('\r\n\r\n') : Array.isArray(chunks)).toBe(true);
    expect(chunks).toEqual([expect.objectContaining({ promptFeedback: { blockReason: 'SAFETY', safetyRatings: ratings }, modelVersion: 'gemini-2.5-flash' })]);
    expect(chunks[0].candidates).toBeUndefined();
    expect(res.writableEnded).toBe(true);
  });

  it('streams the prompt feedback and ratings a Google chunk carried, through the copies the pipeline makes', async () => {
    const res = new FakeResponse();
    const responder = new GeminiResponder(res as unknown as Response, 'sse', 'gemini-2.5-flash');
    responder.startStream({}, flash);
    const first: ChatCompletionChunk = { ...chunk('Hi'), [GOOGLE_FIELDS]: { promptFeedback: { safetyRatings: ratings } } };
    first.choices[0][GOOGLE_FIELDS] = { safetyRatings: ratings };
    await responder.sendChunk({ ...first, model: flash.id });
    await responder.sendChunk(chunk(' there', 'stop'));
    await responder.sendUsage(chunk(null), usage);
    await responder.endStream({ complete: true });
    const events = res.written.map((w) => JSON.parse(w.slice(6)));
    expect(events[0]).toMatchObject({ promptFeedback: { safetyRatings: ratings }, candidates: [{ safetyRatings: ratings }] });
    expect(events.slice(1).some((e) => e.promptFeedback !== undefined)).toBe(false);
    expect(events[events.length - 1].candidates[0]).toMatchObject({ finishReason: 'STOP', safetyRatings: ratings });
  });

  it('writes the safety ratings, prompt feedback and thought signatures a Google answer carried', () => {
    const res = new FakeResponse();
    const completion: ChatCompletion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'google/gemini-2.5-flash',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop', [GOOGLE_FIELDS]: { safetyRatings: ratings, textSignature: 'c2ln' } }],
      [GOOGLE_FIELDS]: { promptFeedback: { safetyRatings: ratings } },
    };
    new GeminiResponder(res as unknown as Response, 'json', 'gemini-2.5-flash').sendCompletion({ ...completion, model: flash.id }, usage, flash);
    expect(res.json_).toMatchObject({
      candidates: [{ content: { parts: [{ text: 'Hello', thoughtSignature: 'c2ln' }] }, safetyRatings: ratings }],
      promptFeedback: { safetyRatings: ratings },
    });
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

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelCapabilities, ModelSpec } from '../catalog/model-spec';
import type { SseEvent, UpstreamResponse } from '../adapter';
import { UpstreamError } from '../errors';
import { IMAGE_BASE64_FIELDS, liftBase64Strings } from '../http/lifted-base64';
import { SseParser } from '../http/sse-reader';
import { GOOGLE_FIELDS, type ChatCompletionChunk, type ChatCompletionRequest, type GoogleBlock } from '../types/chat';
import type { GeminiRequest, GeminiResponse, ImagenPredictRequest } from '../types/gemini';
import { imagePromptExtent, type ImageGenerationRequest } from '../types/images';
import { GoogleAdapter, type GeminiStreamState } from './google.adapter';
import { takesGeminiContents } from './gemini-image';
import { googleBlockOf } from './google-errors';
import { SKIP_SIGNATURE, signatureFromToolCallId, stripThoughtSignature } from './gemini-chat';

const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const ok = (name: string): UpstreamResponse => ({ status: 200, headers: {}, bodyText: fixture(name) });

const BASE_CAPS: ModelCapabilities = {
  chat: true,
  streaming: true,
  tools: true,
  vision: true,
  audioInput: true,
  jsonSchema: true,
  reasoning: true,
  webSearch: true,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
};

function spec(upstreamId: string, caps: Partial<ModelCapabilities> = {}): ModelSpec {
  return { id: `google/${upstreamId}`, provider: 'google', upstreamId, aliases: [], capabilities: { ...BASE_CAPS, ...caps }, price: null };
}

const FLASH = spec('gemini-2.5-flash');
const PRO3 = spec('gemini-3.1-pro-preview');
const FLASH3 = spec('gemini-3.5-flash');
const FLASH_IMAGE = spec('gemini-2.5-flash-image', { imageOutputViaChat: true, imageEditing: true, tools: false, streaming: false });
const IMAGEN = spec('imagen-4.0-generate-001', { chat: false, streaming: false, tools: false, imagesEndpoint: true });

const adapter = new GoogleAdapter();
const chat = adapter.chat;
const images = adapter.images;

function body<T>(req: { body: { kind: string; value?: unknown } }): T {
  expect(req.body.kind).toBe('json');
  return (req.body as { value: T }).value;
}

function sseEvents(name: string): SseEvent[] {
  const p = new SseParser();
  return [...p.push(fixture(name)), ...p.end()];
}

function runStream(model: ModelSpec, name: string): { chunks: ChatCompletionChunk[]; state: GeminiStreamState } {
  const state = chat.createStreamState(model, { model: model.id, messages: [] }) as GeminiStreamState;
  const chunks: ChatCompletionChunk[] = [];
  for (const ev of sseEvents(name)) chunks.push(...chat.parseStreamEvent(ev, state));
  chunks.push(...chat.finishStream(state));
  return { chunks, state };
}

describe('GoogleAdapter chat request', () => {
  const req: ChatCompletionRequest = {
    model: 'google/gemini-2.5-flash',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture, and the weather there?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?x=1' } },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a__thought__c2ln', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a__thought__c2ln', content: '{"temp":21}' },
      { role: 'tool', tool_call_id: 'call_b', content: '10:00' },
    ],
    tools: [
      { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false } } },
      { type: 'function', function: { name: 'get_time' } },
    ],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } } } },
    max_tokens: 300,
    stop: 'END',
    temperature: 0.4,
    top_p: 0.9,
    n: 2,
    reasoning_effort: 'medium',
    web_search_options: {},
  };

  it('puts the key in x-goog-api-key and never in the URL', () => {
    const r = chat.buildRequest(FLASH, req, 'AIzaSECRET');
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(r.headers['x-goog-api-key']).toBe('AIzaSECRET');
    expect(r.path).not.toContain('AIzaSECRET');
    expect(r.stream).toBe(false);
    const s = chat.buildStreamRequest(FLASH, req, 'AIzaSECRET');
    expect(s.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(s.stream).toBe(true);
    expect(s.path).not.toContain('key=');
  });

  it('translates roles, parts, tools and generation settings', () => {
    const g = body<GeminiRequest>(chat.buildRequest(FLASH, req, 'k'));
    expect(g.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Answer in English.' }] });
    expect(g.contents.map((c) => c.role)).toEqual(['user', 'model', 'user']);
    expect(g.contents[0].parts).toEqual([
      { text: 'What is in this picture, and the weather there?' },
      { inlineData: { mimeType: 'image/png', data: 'AAAA' } },
      { fileData: { fileUri: 'https://example.com/cat.webp?x=1', mimeType: 'image/webp' } },
    ]);
    expect(g.contents[1].parts).toEqual([
      { functionCall: { name: 'get_weather', args: { city: 'Lisbon' } }, thoughtSignature: 'c2ln' },
      { functionCall: { name: 'get_time', args: {} } },
    ]);
    // both results of the batch in one user turn, matched to the calls' names
    expect(g.contents[2].parts).toEqual([
      { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
      { functionResponse: { name: 'get_time', response: { output: '10:00' } } },
    ]);
    expect(g.generationConfig).toMatchObject({
      temperature: 0.4,
      topP: 0.9,
      maxOutputTokens: 300,
      stopSequences: ['END'],
      candidateCount: 2,
      responseMimeType: 'application/json',
      responseJsonSchema: { type: 'object', properties: { a: { type: 'string' } } },
      thinkingConfig: { thinkingBudget: 8192, includeThoughts: true },
    });
    expect(g.generationConfig?.responseModalities).toBeUndefined();
    expect(g.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_weather', description: 'Weather by city', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false } },
          { name: 'get_time' },
        ],
      },
      { googleSearch: {} },
    ]);
    expect(g.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } });
  });

  it('maps tool_choice strings and gives a signature-less first call the documented placeholder', () => {
    const base: ChatCompletionRequest = {
      model: 'x',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_x', content: 'done' },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
    };
    for (const [choice, mode] of [['auto', 'AUTO'], ['none', 'NONE'], ['required', 'ANY']] as const) {
      const g = body<GeminiRequest>(chat.buildRequest(FLASH, { ...base, tool_choice: choice }, 'k'));
      expect(g.toolConfig).toEqual({ functionCallingConfig: { mode } });
    }
    const g = body<GeminiRequest>(chat.buildRequest(PRO3, base, 'k'));
    expect(g.contents[1].parts[0].thoughtSignature).toBe(SKIP_SIGNATURE);
  });

  it('uses thinking levels on Gemini 3 and a zero budget for reasoning_effort none on 2.5', () => {
    const msg: ChatCompletionRequest = { model: 'x', messages: [{ role: 'user', content: 'hi' }] };
    expect(body<GeminiRequest>(chat.buildRequest(PRO3, { ...msg, reasoning_effort: 'high' }, 'k')).generationConfig?.thinkingConfig).toEqual({ thinkingLevel: 'high', includeThoughts: true });
    expect(body<GeminiRequest>(chat.buildRequest(PRO3, { ...msg, reasoning_effort: 'minimal' }, 'k')).generationConfig?.thinkingConfig).toEqual({ thinkingLevel: 'low', includeThoughts: true });
    expect(body<GeminiRequest>(chat.buildRequest(FLASH, { ...msg, reasoning_effort: 'none' }, 'k')).generationConfig?.thinkingConfig).toEqual({ thinkingBudget: 0 });
    expect(body<GeminiRequest>(chat.buildRequest(FLASH, msg, 'k')).generationConfig).toBeUndefined();
  });

  it('asks image models for text and image output', () => {
    const g = body<GeminiRequest>(chat.buildRequest(FLASH_IMAGE, { model: 'x', messages: [{ role: 'user', content: 'draw' }] }, 'k'));
    expect(g.generationConfig?.responseModalities).toEqual(['TEXT', 'IMAGE']);
  });

  it('refuses a tool result that answers no known call', () => {
    const bad: ChatCompletionRequest = { model: 'x', messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] };
    expect(() => chat.buildRequest(FLASH, bad, 'k')).toThrow(expect.objectContaining({ kind: 'invalid_request' }));
  });
});

describe('GoogleAdapter chat response', () => {
  it('turns text, thoughts and every usage dimension into the canonical answer', () => {
    const { completion, usage } = chat.parseResponse(FLASH, ok('generate-content-text.json'), { model: 'x', messages: [] });
    expect(completion.id).toBe('chatcmpl-mR8uaPqFAvW2nvgPq6mZ8Qc');
    expect(completion.model).toBe('gemini-2.5-flash');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0].message.content).toBe('Grey waves fold and break — salt wind carries gull voices.');
    expect(completion.choices[0].message.reasoning_content).toBe('The user wants a haiku about the sea.');
    expect(completion.choices[0].finish_reason).toBe('stop');
    // prompt 1200 = 1000 cached + 129 uncached image (258 - 129 cached) + 71 text; output 40 text + 300 thoughts
    expect(usage).toEqual({ textInput: 71, cachedInput: 1000, imageInput: 129, audioInput: 0, textOutput: 40, reasoningOutput: 300, imageOutput: 0, images: 0 });
    expect(completion.usage).toMatchObject({ prompt_tokens: 1200, completion_tokens: 340, total_tokens: 1540 });
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(1000);
    expect(completion.usage?.completion_tokens_details?.reasoning_tokens).toBe(300);
  });

  it('turns function calls into tool_calls carrying the thought signature in the id', () => {
    const { completion } = chat.parseResponse(PRO3, ok('generate-content-function-call.json'), { model: 'x', messages: [] });
    const choice = completion.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls = choice.message.tool_calls ?? [];
    expect(calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['get_weather', { city: 'Lisbon', unit: 'celsius' }],
      ['get_time', { tz: 'Europe/Lisbon' }],
    ]);
    expect(signatureFromToolCallId(calls[0].id)).toBe('CiQBVKhc7sig+AbC/1==');
    // ids stay usable as tool ids by other providers of a fallback chain
    for (const c of calls) expect(c.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(stripThoughtSignature(calls[0].id)).toMatch(/^call_[0-9a-f]{24}$/);
    expect(signatureFromToolCallId(calls[1].id)).toBeUndefined();
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);

    // the next turn carries the signature back upstream
    const next = body<GeminiRequest>(
      chat.buildRequest(PRO3, { model: 'x', messages: [{ role: 'user', content: 'go' }, { role: 'assistant', content: null, tool_calls: calls }] }, 'k'),
    );
    expect(next.contents[1].parts[0].thoughtSignature).toBe('CiQBVKhc7sig+AbC/1==');
    expect(next.contents[1].parts[1].thoughtSignature).toBeUndefined();
  });

  it('returns generated images as image_url parts and counts image output tokens apart', () => {
    const { completion, usage } = chat.parseResponse(FLASH_IMAGE, ok('generate-content-image.json'), { model: 'x', messages: [] });
    const content = completion.choices[0].message.content;
    expect(Array.isArray(content)).toBe(true);
    const parts = content as Array<{ type: string; text?: string; image_url?: { url: string } }>;
    expect(parts[0]).toEqual({ type: 'text', text: 'Here is your otter wearing a top hat!' });
    expect(parts[1].type).toBe('image_url');
    expect(parts[1].image_url?.url.startsWith('data:image/png;base64,iVBORw0KGgo')).toBe(true);
    expect(completion.choices[0].message.images).toHaveLength(1);
    expect(usage).toEqual({ textInput: 12, cachedInput: 0, imageInput: 0, audioInput: 0, textOutput: 10, reasoningOutput: 0, imageOutput: 1290, images: 0 });
    expect(completion.usage?.completion_tokens_details?.image_tokens).toBe(1290);
  });

  it('classifies a blocked prompt and an image-safety stop as content_policy', () => {
    for (const [model, name] of [[FLASH, 'generate-content-prompt-blocked.json'], [FLASH_IMAGE, 'generate-content-image-safety.json']] as const) {
      let caught: unknown;
      try {
        chat.parseResponse(model, ok(name), { model: 'x', messages: [] });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(UpstreamError);
      expect((caught as UpstreamError).kind).toBe('content_policy');
      expect((caught as UpstreamError).retryable).toBe(false);
    }
  });

  it('classifies an image model answering without an image as no_image, even with text', () => {
    for (const name of ['generate-content-no-image.json', 'generate-content-text.json']) {
      expect(() => chat.parseResponse(FLASH_IMAGE, ok(name), { model: 'x', messages: [] })).toThrow(expect.objectContaining({ kind: 'no_image', retryable: true }));
    }
  });

  it('treats an error object in a 200 body and a body without candidates as failures', () => {
    const err = { status: 200, headers: {}, bodyText: fixture('error-resource-exhausted.json') };
    expect(() => chat.parseResponse(FLASH, err, { model: 'x', messages: [] })).toThrow(expect.objectContaining({ kind: 'rate_limit' }));
    const empty = { status: 200, headers: {}, bodyText: '{"modelVersion":"gemini-2.5-flash"}' };
    expect(() => chat.parseResponse(FLASH, empty, { model: 'x', messages: [] })).toThrow(expect.objectContaining({ kind: 'malformed_response' }));
  });
});

describe('GoogleAdapter chat stream', () => {
  it('streams role, thoughts, text and the finish reason, and keeps the last usage', () => {
    const { chunks, state } = runStream(FLASH, 'stream-text.sse');
    const deltas = chunks.flatMap((c) => c.choices);
    expect(deltas[0].delta.role).toBe('assistant');
    expect(deltas.map((d) => d.delta.reasoning_content ?? '').join('')).toBe('Thinking about tides');
    expect(deltas.map((d) => d.delta.content ?? '').join('')).toBe('Waves return.');
    expect(deltas.filter((d) => d.finish_reason !== null).map((d) => d.finish_reason)).toEqual(['stop']);
    expect(chunks.every((c) => c.id === 'chatcmpl-sse-1' && c.model === 'gemini-2.5-flash')).toBe(true);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(state.done).toBe(true);
    expect(state.finished).toBe(true);
    expect(state.usage).toEqual({ textInput: 12, cachedInput: 8, imageInput: 0, audioInput: 0, textOutput: 3, reasoningOutput: 30, imageOutput: 0, images: 0 });
    expect(state.outputChars).toBe('Thinking about tides'.length + 'Waves return.'.length);
  });

  it('streams a whole function call as one tool_calls delta', () => {
    const { chunks } = runStream(PRO3, 'stream-function-call.sse');
    const d = chunks[0].choices[0];
    expect(d.finish_reason).toBe('tool_calls');
    expect(d.delta.tool_calls).toHaveLength(1);
    const tc = d.delta.tool_calls?.[0];
    expect(tc?.index).toBe(0);
    expect(tc?.function).toEqual({ name: 'get_weather', arguments: '{"city":"Oslo"}' });
    expect(signatureFromToolCallId(tc?.id ?? '')).toBe('c2lnLTE=');
  });

  it('with several candidates, is complete only when each has finished', () => {
    const state = chat.createStreamState(FLASH, { model: 'x', messages: [], n: 2 });
    const ev = (candidates: unknown[]): SseEvent => ({ data: JSON.stringify({ candidates }) });
    const first = chat.parseStreamEvent(ev([{ index: 0, content: { role: 'model', parts: [{ text: 'A' }] }, finishReason: 'STOP' }, { index: 1, content: { role: 'model', parts: [{ text: 'B' }] } }]), state);
    expect(first[0].choices.map((c) => [c.index, c.delta.content, c.finish_reason])).toEqual([[0, 'A', 'stop'], [1, 'B', null]]);
    expect(state.finished).toBe(false);
    chat.parseStreamEvent(ev([{ index: 1, content: { role: 'model', parts: [{ text: '!' }] }, finishReason: 'MAX_TOKENS' }]), state);
    expect(state.finished).toBe(true);
    chat.finishStream(state);
    expect(state.done).toBe(true);
  });

  it('throws the classified error of an error event inside the stream', () => {
    const state = chat.createStreamState(FLASH, { model: 'x', messages: [] });
    const [first, second] = sseEvents('stream-error.sse');
    expect(chat.parseStreamEvent(first, state)[0].choices[0].delta.content).toBe('Sure');
    let caught: unknown;
    try {
      chat.parseStreamEvent(second, state);
    } catch (e) {
      caught = e;
    }
    expect((caught as UpstreamError).kind).toBe('upstream_server');
    expect((caught as UpstreamError).retryable).toBe(true);
  });

  it('throws content_policy when the stream opens with a blocked prompt', () => {
    const state = chat.createStreamState(FLASH, { model: 'x', messages: [] });
    const ev = { data: JSON.stringify(JSON.parse(fixture('generate-content-prompt-blocked.json'))) };
    expect(() => chat.parseStreamEvent(ev, state)).toThrow(expect.objectContaining({ kind: 'content_policy' }));
  });
});

/** What a thrown error carries for the Gemini-native route, or nothing. */
function blockOf(e: unknown): GoogleBlock | undefined {
  return (e as { [GOOGLE_FIELDS]?: GoogleBlock })[GOOGLE_FIELDS];
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('GoogleAdapter: what only Google has a place for', () => {
  it('sends topK, safetySettings and cachedContent when the request carries them, and nothing otherwise', () => {
    const safetySettings = [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' }];
    const sent = body<GeminiRequest>(
      chat.buildRequest(FLASH, { model: 'x', messages: [{ role: 'user', content: 'hi' }], top_k: 40, google: { safetySettings, cachedContent: 'cachedContents/abc' } }, 'k'),
    );
    expect(sent.generationConfig?.topK).toBe(40);
    expect(sent.safetySettings).toEqual(safetySettings);
    expect(sent.cachedContent).toBe('cachedContents/abc');
    const plain = body<GeminiRequest>(chat.buildRequest(FLASH, { model: 'x', messages: [{ role: 'user', content: 'hi' }] }, 'k'));
    expect(plain).not.toHaveProperty('safetySettings');
    expect(plain).not.toHaveProperty('cachedContent');
    expect(plain).not.toHaveProperty('generationConfig');
  });

  it('keeps safety ratings, prompt feedback and the text and thought signatures beside the answer, out of its JSON', () => {
    const { completion } = chat.parseResponse(FLASH3, ok('generate-content-signed.json'), { model: 'x', messages: [] });
    const google = JSON.parse(fixture('generate-content-signed.json')) as GeminiResponse;
    expect(completion.choices[0].message.content).toBe('High tide is at noon.');
    expect(completion.choices[0][GOOGLE_FIELDS]).toEqual({
      safetyRatings: google.candidates?.[0].safetyRatings,
      textSignature: 'dGV4dC1zaWc=',
      thoughtSignature: 'dGhvdWdodC1zaWc=',
    });
    expect(completion[GOOGLE_FIELDS]).toEqual({ promptFeedback: { safetyRatings: google.promptFeedback?.safetyRatings } });
    // The OpenAI-shaped route writes the completion as JSON: none of it shows.
    const json = JSON.stringify(completion);
    for (const word of ['safetyRatings', 'Signature', 'dGV4dC1zaWc', 'promptFeedback']) expect(json).not.toContain(word);
    // An answer without any (the text fixture's ratings are its only extra) has only what it had.
    const plain = chat.parseResponse(FLASH, ok('generate-content-text.json'), { model: 'x', messages: [] }).completion;
    expect(plain.choices[0][GOOGLE_FIELDS]).toEqual({ safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }] });
    expect(plain[GOOGLE_FIELDS]).toBeUndefined();
  });

  it('sends signatures back on the parts they came on: thought, text and function call', () => {
    const sent = body<GeminiRequest>(
      chat.buildRequest(
        FLASH3,
        {
          model: 'x',
          messages: [
            { role: 'user', content: 'tide?' },
            {
              role: 'assistant',
              content: 'Let me check.',
              tool_calls: [
                { id: 'call_0', type: 'function', function: { name: 'tides', arguments: '{}' }, [GOOGLE_FIELDS]: { thoughtSignature: 'ZmMtc2ln' } },
                { id: 'call_1', type: 'function', function: { name: 'moon', arguments: '{}' } },
              ],
              [GOOGLE_FIELDS]: { thoughtSignature: 'dGV4dC1zaWc=', signedThought: { text: 'Plan.', thoughtSignature: 'dGhvdWdodC1zaWc=' } },
            },
            { role: 'tool', tool_call_id: 'call_0', content: '{"high":"12:00"}' },
            { role: 'tool', tool_call_id: 'call_1', content: 'full' },
            { role: 'assistant', content: '', [GOOGLE_FIELDS]: { thoughtSignature: 'ZW1wdHk=' } },
            { role: 'user', content: 'thanks' },
          ],
        },
        'k',
      ),
    );
    expect(sent.contents[1]).toEqual({
      role: 'model',
      parts: [
        { text: 'Plan.', thought: true, thoughtSignature: 'dGhvdWdodC1zaWc=' },
        { text: 'Let me check.', thoughtSignature: 'dGV4dC1zaWc=' },
        { functionCall: { name: 'tides', args: {} }, thoughtSignature: 'ZmMtc2ln' },
        { functionCall: { name: 'moon', args: {} } },
      ],
    });
    // a turn whose text was empty had its signature on an empty part
    expect(sent.contents[3]).toEqual({ role: 'model', parts: [{ text: '', thoughtSignature: 'ZW1wdHk=' }] });
  });

  it('throws a blocked prompt with its blockReason and ratings, keeping the message the chat route shows', () => {
    const google = JSON.parse(fixture('generate-content-prompt-blocked.json')) as GeminiResponse;
    const error = thrown(() => chat.parseResponse(FLASH, ok('generate-content-prompt-blocked.json'), { model: 'x', messages: [] }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toBe('google: The upstream provider blocked the prompt (PROHIBITED_CONTENT)');
    expect(blockOf(error)).toEqual({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT', safetyRatings: google.promptFeedback?.safetyRatings } });

    const streamed = thrown(() => chat.parseStreamEvent({ data: fixture('generate-content-prompt-blocked.json') }, chat.createStreamState(FLASH, { model: 'x', messages: [] })));
    expect(blockOf(streamed)).toEqual(blockOf(error));
  });

  it('throws an answer the filters withheld with that candidate\'s reason and ratings', () => {
    const ratings = [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }];
    const res = { status: 200, headers: {}, bodyText: JSON.stringify({ candidates: [{ finishReason: 'SAFETY', index: 0, safetyRatings: ratings }] }) };
    const error = thrown(() => chat.parseResponse(FLASH, res, { model: 'x', messages: [] }));
    expect((error as UpstreamError).kind).toBe('content_policy');
    expect(blockOf(error)).toEqual({ candidate: { index: 0, finishReason: 'SAFETY', safetyRatings: ratings } });
    const image = thrown(() => chat.parseResponse(FLASH_IMAGE, ok('generate-content-image-safety.json'), { model: 'x', messages: [] }));
    expect(blockOf(image)).toEqual({ candidate: { index: 0, finishReason: 'IMAGE_SAFETY' } });
  });

  it('streams ratings and a late signature on the next choice of their candidate, without adding a chunk', () => {
    const { chunks } = runStream(FLASH3, 'stream-signed-text.sse');
    const choices = chunks.flatMap((c) => c.choices);
    // "High tide", " is at noon.", then the finish: the signature-only event adds nothing of its own
    expect(choices.map((c) => [c.delta.content ?? null, c.finish_reason])).toEqual([
      ['High tide', null],
      [' is at noon.', null],
      [null, 'stop'],
    ]);
    expect(choices[0][GOOGLE_FIELDS]).toEqual({ safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }] });
    expect(choices[1][GOOGLE_FIELDS]).toBeUndefined();
    expect(choices[2][GOOGLE_FIELDS]).toEqual({ textSignature: 'dGV4dC1zaWc=', safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'LOW' }] });
    expect(chunks[0][GOOGLE_FIELDS]).toEqual({ promptFeedback: { safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }] } });
    expect(chunks.slice(1).every((c) => c[GOOGLE_FIELDS] === undefined)).toBe(true);
    expect(JSON.stringify(chunks)).not.toMatch(/safetyRatings|Signature|promptFeedback/);
  });

  it('reads a cache name Google does not know as the tenant\'s invalid request, not the gateway\'s credentials', () => {
    const res = { status: 403, headers: {}, bodyText: JSON.stringify({ error: { code: 403, message: 'CachedContent not found (or permission denied)', status: 'PERMISSION_DENIED' } }) };
    const error = adapter.classifyError(res, []);
    expect(error.kind).toBe('invalid_request');
    expect(error.message).toContain('CachedContent not found');
    const other = { status: 403, headers: {}, bodyText: JSON.stringify({ error: { code: 403, message: 'The caller does not have permission', status: 'PERMISSION_DENIED' } }) };
    expect(adapter.classifyError(other, []).kind).toBe('auth');
  });

  it('bills the cached tokens a cache read reports as cached input', () => {
    const bodyText = JSON.stringify({
      candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 3010, cachedContentTokenCount: 3000, candidatesTokenCount: 2, totalTokenCount: 3012, cacheTokensDetails: [{ modality: 'TEXT', tokenCount: 3000 }] },
    });
    const { usage } = chat.parseResponse(FLASH, { status: 200, headers: {}, bodyText }, { model: 'x', messages: [], google: { cachedContent: 'cachedContents/abc' } });
    expect(usage).toMatchObject({ cachedInput: 3000, textInput: 10, textOutput: 2 });
  });
});

describe('GoogleAdapter images', () => {
  it('sends Imagen a predict call with sampleCount, aspect ratio, 2K size and mime type', () => {
    const r = images.buildRequest(IMAGEN, { prompt: 'a lighthouse', n: 3, size: '2816x1536', outputFormat: 'jpeg', outputCompression: 80 }, 'AIzaKEY');
    expect(r.path).toBe('/v1beta/models/imagen-4.0-generate-001:predict');
    expect(r.headers).toEqual({ 'x-goog-api-key': 'AIzaKEY' });
    const b = body<ImagenPredictRequest>(r);
    expect(b).toEqual({
      instances: [{ prompt: 'a lighthouse' }],
      parameters: {
        sampleCount: 3,
        includeRaiReason: true,
        aspectRatio: '16:9',
        imageSize: '2K',
        outputOptions: { mimeType: 'image/jpeg', compressionQuality: 80 },
      },
    });
  });

  it('maps 1K sizes to aspect ratios without an image size, and defaults sampleCount to 1', () => {
    const cases: Array<[string, string]> = [
      ['1024x1024', '1:1'],
      ['896x1280', '3:4'],
      ['1280x896', '4:3'],
      ['768x1408', '9:16'],
      ['1408x768', '16:9'],
      ['1792x1024', '16:9'],
      ['1024x1792', '9:16'],
    ];
    for (const [size, ratio] of cases) {
      const b = body<ImagenPredictRequest>(images.buildRequest(IMAGEN, { prompt: 'p', size }, 'k'));
      expect(b.parameters.aspectRatio).toBe(ratio);
      expect(b.parameters.imageSize).toBeUndefined();
      expect(b.parameters.sampleCount).toBe(1);
    }
  });

  it('returns every delivered Imagen image and bills per image', () => {
    const result = images.parseResponse(IMAGEN, ok('imagen-predict.json'), { prompt: 'p', n: 3 });
    expect(result.images).toHaveLength(2);
    expect(result.images[0].mimeType).toBe('image/png');
    expect(result.images[0].data.subarray(0, 4).toString('hex')).toBe('89504e47');
    expect(result.usage.images).toBe(2);
    expect(result.usage.textInput + result.usage.textOutput + result.usage.imageOutput).toBe(0);
  });

  it('classifies an all-filtered Imagen answer as content_policy and an empty one as no_image', () => {
    expect(() => images.parseResponse(IMAGEN, ok('imagen-predict-all-filtered.json'), { prompt: 'p' })).toThrow(expect.objectContaining({ kind: 'content_policy' }));
    expect(() => images.parseResponse(IMAGEN, { status: 200, headers: {}, bodyText: '{}' }, { prompt: 'p' })).toThrow(expect.objectContaining({ kind: 'no_image' }));
  });

  it('generates and edits with Gemini image models through generateContent', () => {
    const input = Buffer.from('iVBORw0KGgo=', 'base64');
    const r = images.buildEditRequest?.(FLASH_IMAGE, { prompt: 'make it blue', size: '1344x768', inputImages: [{ data: input, mimeType: 'image/png' }] }, 'k');
    expect(r?.path).toBe('/v1beta/models/gemini-2.5-flash-image:generateContent');
    const g = body<GeminiRequest>(r as NonNullable<typeof r>);
    expect(g.contents).toEqual([{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: input.toString('base64') } }, { text: 'make it blue' }] }]);
    expect(g.generationConfig).toEqual({ responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '16:9' } });

    const pro = spec('gemini-3-pro-image-preview', { imageOutputViaChat: true });
    const g2 = body<GeminiRequest>(images.buildRequest(pro, { prompt: 'p', quality: '4K', size: '1024x1024' }, 'k'));
    expect(g2.generationConfig?.imageConfig).toEqual({ aspectRatio: '1:1', imageSize: '4K' });

    const result = images.parseResponse(FLASH_IMAGE, ok('generate-content-image.json'), { prompt: 'p' });
    expect(result.images).toHaveLength(1);
    expect(result.text).toBe('Here is your otter wearing a top hat!');
    expect(result.usage.imageOutput).toBe(1290);
    expect(result.usage.images).toBe(0);
    expect(result.upstreamModel).toBe('gemini-2.5-flash-image');
    expect(() => images.parseResponse(FLASH_IMAGE, ok('generate-content-no-image.json'), { prompt: 'p' })).toThrow(expect.objectContaining({ kind: 'no_image' }));
    expect(() => images.parseResponse(FLASH_IMAGE, ok('generate-content-image-safety.json'), { prompt: 'p' })).toThrow(expect.objectContaining({ kind: 'content_policy' }));
  });

  it('sends a Gemini-native request whole: earlier turns, the prompt\'s parts in order, system instruction, safety settings, sampling', () => {
    const red = Buffer.from('red otter png');
    const photo = Buffer.from('photo png');
    const req: ImageGenerationRequest = {
      prompt: 'Be playful.\n\nNow make it blue\nand add a hat',
      n: 1,
      aspectRatio: '4:3',
      inputImages: [{ mimeType: 'image/png', data: photo }],
      gemini: {
        history: [
          { role: 'user', parts: [{ text: 'Draw a red otter' }] },
          { role: 'model', parts: [{ text: 'Here it is' }, { inlineData: { mimeType: 'image/png', data: red.toString('base64') }, thoughtSignature: 'c2ln' }] },
        ],
        promptParts: [{ text: 'Now make it blue' }, { inputImage: 0 }, { text: 'and add a hat' }],
        systemInstruction: { parts: [{ text: 'Be playful.' }] },
        safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
        sampling: { temperature: 1, topP: 0.9, topK: 32, seed: 7, maxOutputTokens: 4096, stopSequences: ['END'], presencePenalty: 0.1, frequencyPenalty: 0.2 },
        responseModalities: ['IMAGE'],
      },
    };
    const g = body<GeminiRequest>(images.buildRequest(FLASH_IMAGE, req, 'k'));
    expect(g).toEqual({
      contents: [
        { role: 'user', parts: [{ text: 'Draw a red otter' }] },
        { role: 'model', parts: [{ text: 'Here it is' }, { inlineData: { mimeType: 'image/png', data: red.toString('base64') }, thoughtSignature: 'c2ln' }] },
        { role: 'user', parts: [{ text: 'Now make it blue' }, { inlineData: { mimeType: 'image/png', data: photo.toString('base64') } }, { text: 'and add a hat' }] },
      ],
      systemInstruction: { parts: [{ text: 'Be playful.' }] },
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
      generationConfig: {
        temperature: 1,
        topP: 0.9,
        topK: 32,
        seed: 7,
        maxOutputTokens: 4096,
        stopSequences: ['END'],
        presencePenalty: 0.1,
        frequencyPenalty: 0.2,
        responseModalities: ['IMAGE'],
        imageConfig: { aspectRatio: '4:3' },
      },
    });
    // The system instruction goes as one; the prompt's text is not sent again beside the parts.
    expect(JSON.stringify(g.contents)).not.toContain('Be playful');
    // The worst case counts the earlier turns' text and images too.
    expect(imagePromptExtent(req)).toEqual({ textBytes: Buffer.byteLength(req.prompt) + 'Draw a red otter'.length + 'Here it is'.length, images: 2 });
    expect(imagePromptExtent({ prompt: 'abc', inputImages: [{ mimeType: 'image/png', data: photo }] })).toEqual({ textBytes: 3, images: 1 });
  });

  it('takes the Gemini request whole only on Gemini image models; others get the prompt', () => {
    expect(takesGeminiContents(FLASH_IMAGE)).toBe(true);
    expect(takesGeminiContents(IMAGEN)).toBe(false);
    expect(takesGeminiContents({ ...FLASH_IMAGE, id: 'openai/gpt-image-1', provider: 'openai' })).toBe(false);
  });

  it('keeps the text and images of an answer in the order Google sent them, with their signatures, and its safety ratings', () => {
    const google = JSON.parse(fixture('generate-content-image.json')) as GeminiResponse;
    const [text, image] = google.candidates?.[0].content?.parts ?? [];
    const reordered = {
      ...google,
      candidates: [{ content: { role: 'model', parts: [{ ...image, thoughtSignature: 'aW1n' }, text, { text: ' Enjoy.', thoughtSignature: '' }] }, finishReason: 'STOP', index: 0 }],
    };
    const result = images.parseResponse(FLASH_IMAGE, { status: 200, headers: {}, bodyText: JSON.stringify(reordered) }, { prompt: 'p' });
    expect(result.parts).toEqual([{ image: 0, thoughtSignature: 'aW1n' }, { text: text.text }, { text: ' Enjoy.' }]);
    expect(result.text).toBe(`${text.text} Enjoy.`);
    expect(images.parseResponse(FLASH_IMAGE, ok('generate-content-image.json'), { prompt: 'p' }).parts).toEqual([{ text: text.text }, { image: 0 }]);
    const ratings = [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }];
    const rated = { ...google, candidates: [{ ...google.candidates?.[0], safetyRatings: ratings }] };
    expect(images.parseResponse(FLASH_IMAGE, { status: 200, headers: {}, bodyText: JSON.stringify(rated) }, { prompt: 'p' }).safetyRatings).toEqual(ratings);
    expect(result.safetyRatings).toBeUndefined();
  });

  it('throws an image the filters withheld with Google\'s verdict, keeping its message', () => {
    const error = thrown(() => images.parseResponse(FLASH_IMAGE, ok('generate-content-image-safety.json'), { prompt: 'p' }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toBe('google: The upstream provider withheld the image (IMAGE_SAFETY)');
    expect(googleBlockOf(error)).toEqual({ candidate: { index: 0, finishReason: 'IMAGE_SAFETY' } });
    const blocked = thrown(() => images.parseResponse(FLASH_IMAGE, ok('generate-content-prompt-blocked.json'), { prompt: 'p' }));
    expect(googleBlockOf(blocked)?.promptFeedback?.blockReason).toBe('PROHIBITED_CONTENT');
    expect(googleBlockOf(new UpstreamError({ kind: 'content_policy', provider: 'openai' }))).toBeUndefined();
  });

  it('refuses to edit with Imagen', () => {
    expect(() => images.buildRequest(IMAGEN, { prompt: 'p', inputImages: [{ data: Buffer.from('x'), mimeType: 'image/png' }] }, 'k')).toThrow(
      expect.objectContaining({ kind: 'invalid_request' }),
    );
  });
});

describe('GoogleAdapter.classifyError', () => {
  const res = (status: number, name: string, headers: Record<string, string> = {}): UpstreamResponse => ({ status, headers, bodyText: fixture(name) });

  it('reads RESOURCE_EXHAUSTED as a rate limit with the RetryInfo delay', () => {
    const e = adapter.classifyError(res(429, 'error-resource-exhausted.json'), []);
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(37_000);
    expect(e.upstreamCode).toBe('RESOURCE_EXHAUSTED');
    expect(e.retryable).toBe(true);
  });

  it('reads an invalid key (400 API_KEY_INVALID) and PERMISSION_DENIED as auth', () => {
    expect(adapter.classifyError(res(400, 'error-api-key-invalid.json'), []).kind).toBe('auth');
    expect(adapter.classifyError(res(403, 'error-permission-denied.json'), []).kind).toBe('auth');
  });

  it('reads other INVALID_ARGUMENT as the tenant\'s invalid request', () => {
    const e = adapter.classifyError(res(400, 'error-invalid-argument.json'), []);
    expect(e.kind).toBe('invalid_request');
    expect(e.fallbackAllowed).toBe(false);
    expect(e.message).toContain('contents is not specified');
  });

  it('reads UNAVAILABLE and INTERNAL as retryable server faults, and an HTML page by status', () => {
    const unavailable = { status: 503, headers: {}, bodyText: '{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}' };
    expect(adapter.classifyError(unavailable, []).kind).toBe('upstream_server');
    const internal = { status: 500, headers: {}, bodyText: '{"error":{"code":500,"message":"boom","status":"INTERNAL"}}' };
    expect(adapter.classifyError(internal, []).retryable).toBe(true);
    const html = { status: 502, headers: {}, bodyText: '<html>Bad Gateway</html>' };
    expect(adapter.classifyError(html, []).kind).toBe('upstream_server');
  });

  it('never repeats the provider key in the tenant-facing message', () => {
    const leaky = { status: 400, headers: {}, bodyText: '{"error":{"code":400,"message":"bad key AIzaSyD-secret-key-123456","status":"INVALID_ARGUMENT"}}' };
    const e = adapter.classifyError(leaky, ['AIzaSyD-secret-key-123456']);
    expect(e.message).not.toContain('AIzaSyD-secret-key-123456');
    expect(String(e.detail)).not.toContain('AIzaSyD-secret-key-123456');
  });
});

describe('GoogleImages with image payloads lifted out of the body by the HTTP client', () => {
  const lifted = (name: string): UpstreamResponse => {
    const { text, lifted: map } = liftBase64Strings(Buffer.from(fixture(name)), IMAGE_BASE64_FIELDS, 1);
    expect(map.size).toBeGreaterThan(0);
    return { status: 200, headers: {}, bodyText: text, lifted: map };
  };

  it.each([
    ['imagen-predict.json', IMAGEN],
    ['generate-content-image.json', FLASH_IMAGE],
  ])('reads the same images from %s as from its whole text', (name, model) => {
    const whole = images.parseResponse(model, ok(name), { prompt: 'p' });
    const split = images.parseResponse(model, lifted(name), { prompt: 'p' });
    expect(split.images.map((i) => i.data.toString('base64'))).toEqual(whole.images.map((i) => i.data.toString('base64')));
    expect(split.images.map((i) => i.mimeType)).toEqual(whole.images.map((i) => i.mimeType));
    expect(split.usage).toEqual(whole.usage);
    expect(split.text).toEqual(whole.text);
    expect(split.parts).toEqual(whole.parts);
  });
});

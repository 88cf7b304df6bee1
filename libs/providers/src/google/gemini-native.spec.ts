import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GenerateContentResponse } from '@google/genai';
import type { ModelCapabilities, ModelSpec } from '../catalog/model-spec';
import { SseParser } from '../http/sse-reader';
import { AnthropicAdapter } from '../anthropic/anthropic.adapter';
import { GOOGLE_FIELDS, type AssistantMessage, type ChatCompletion, type ChatCompletionChunk } from '../types/chat';
import type { GeminiRequest, GeminiResponse, GeminiStreamChunk } from '../types/gemini';
import type { NormalizedUsage } from '../types/usage';
import { buildGeminiRequest, newToolCallId } from './gemini-chat';
import { GeminiNativeRequestError, GeminiStreamTranslator, chatResponseToGemini, geminiRequestToChat, openApiSchemaToJsonSchema } from './gemini-native';
import { normalizeGeminiUsage } from './gemini-usage';
import { GoogleAdapter } from './google.adapter';

const fixture = (dir: string, name: string): string => readFileSync(join(__dirname, '..', dir, 'fixtures', name), 'utf8');

const CAPS: ModelCapabilities = {
  chat: true,
  streaming: true,
  tools: true,
  vision: true,
  audioInput: true,
  jsonSchema: true,
  reasoning: true,
  webSearch: false,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
};
const FLASH: ModelSpec = { id: 'google/gemini-2.5-flash', provider: 'google', upstreamId: 'gemini-2.5-flash', aliases: [], capabilities: CAPS, price: null };
const FLASH3: ModelSpec = { ...FLASH, id: 'google/gemini-3.5-flash', upstreamId: 'gemini-3.5-flash' };
const CLAUDE: ModelSpec = { id: 'anthropic/claude-sonnet-4.6', provider: 'anthropic', upstreamId: 'claude-sonnet-4-6', aliases: [], capabilities: CAPS, price: null };

const REQUEST: GeminiRequest = {
  systemInstruction: { parts: [{ text: 'You are terse.' }, { text: 'Use metric units.' }] },
  contents: [
    {
      role: 'user',
      parts: [
        { text: 'What is the weather where this photo was taken?' },
        { inlineData: { mimeType: 'image/jpeg', data: '/9j/AAAA' } },
        { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      ],
    },
    {
      role: 'model',
      parts: [
        { text: 'Checking both.', thought: true },
        { functionCall: { name: 'get_weather', args: { city: 'Porto' } } },
        { functionCall: { name: 'get_weather', args: { city: 'Braga' } } },
      ],
    },
    {
      role: 'user',
      parts: [
        { functionResponse: { name: 'get_weather', response: { output: '19C' } } },
        { functionResponse: { name: 'get_weather', response: { temp: 17, sky: 'clear' } } },
      ],
    },
  ],
  generationConfig: {
    temperature: 0.2,
    topP: 0.9,
    topK: 40,
    maxOutputTokens: 512,
    candidateCount: 2,
    stopSequences: ['###'],
    responseMimeType: 'application/json',
    responseSchema: { type: 'OBJECT', properties: { city: { type: 'STRING', nullable: true }, temps: { type: 'ARRAY', items: { type: 'NUMBER' } } }, required: ['city'] },
    thinkingConfig: { thinkingBudget: 4096 },
  },
  tools: [
    { functionDeclarations: [{ name: 'get_weather', description: 'Weather by city', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } }] },
    { googleSearch: {} },
  ],
  toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
  safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
};

describe('geminiRequestToChat', () => {
  const chat = geminiRequestToChat(REQUEST, 'anthropic/claude-sonnet-4.6');

  it('maps system instruction, parts and roles to chat messages', () => {
    expect(chat.model).toBe('anthropic/claude-sonnet-4.6');
    expect(chat.messages[0]).toEqual({ role: 'system', content: 'You are terse.\nUse metric units.' });
    expect(chat.messages[1]).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'What is the weather where this photo was taken?' },
        { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/AAAA' } },
        { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
      ],
    });
    const assistant = chat.messages[2];
    expect(assistant.role).toBe('assistant');
    const calls = assistant.role === 'assistant' ? assistant.tool_calls ?? [] : [];
    expect(calls.map((c) => [c.function.name, c.function.arguments])).toEqual([
      ['get_weather', '{"city":"Porto"}'],
      ['get_weather', '{"city":"Braga"}'],
    ]);
    // results pair with the calls of the same name in order
    expect(chat.messages.slice(3)).toEqual([
      { role: 'tool', tool_call_id: calls[0].id, content: '19C' },
      { role: 'tool', tool_call_id: calls[1].id, content: '{"temp":17,"sky":"clear"}' },
    ]);
    expect(calls[0].id).not.toBe(calls[1].id);
  });

  it('maps generation settings, schema, tools and tool config', () => {
    expect(chat).toMatchObject({
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 512,
      n: 2,
      stop: ['###'],
      reasoning_effort: 'medium',
      web_search_options: {},
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    expect(chat.response_format).toEqual({
      type: 'json_schema',
      json_schema: {
        name: 'response',
        schema: { type: 'object', properties: { city: { type: ['string', 'null'] }, temps: { type: 'array', items: { type: 'number' } } }, required: ['city'] },
      },
    });
    expect(chat.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    ]);
  });

  it('maps thinking levels and budgets to reasoning_effort, and plain JSON mode to json_object', () => {
    const base: GeminiRequest = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
    expect(geminiRequestToChat({ ...base, generationConfig: { thinkingConfig: { thinkingLevel: 'HIGH' } } }, 'm').reasoning_effort).toBe('high');
    expect(geminiRequestToChat({ ...base, generationConfig: { thinkingConfig: { thinkingBudget: 0 } } }, 'm').reasoning_effort).toBe('none');
    expect(geminiRequestToChat({ ...base, generationConfig: { thinkingConfig: { thinkingBudget: -1 } } }, 'm').reasoning_effort).toBeUndefined();
    expect(geminiRequestToChat({ ...base, generationConfig: { responseMimeType: 'application/json' } }, 'm').response_format).toEqual({ type: 'json_object' });
    expect(geminiRequestToChat(base, 'm')).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('rejects what a chat request cannot carry, naming the field', () => {
    const video: GeminiRequest = { contents: [{ role: 'user', parts: [{ text: 'x' }, { inlineData: { mimeType: 'video/mp4', data: 'AA' } }] }] };
    let caught: unknown;
    try {
      geminiRequestToChat(video, 'm');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GeminiNativeRequestError);
    expect((caught as GeminiNativeRequestError).field).toBe('contents[0].parts[1]');
    expect(() => geminiRequestToChat({} as GeminiRequest, 'm')).toThrow(GeminiNativeRequestError);
    expect(() => geminiRequestToChat({ contents: [{ role: 'system' as 'user', parts: [{ text: 'x' }] }] }, 'm')).toThrow(GeminiNativeRequestError);
  });

  it('round-trips through the Google adapter back to the same Gemini contents', () => {
    const back = buildGeminiRequest(FLASH, chat);
    expect(back.systemInstruction).toEqual({ parts: [{ text: 'You are terse.\nUse metric units.' }] });
    const strip = (r: GeminiRequest): unknown =>
      r.contents.map((c) => ({
        role: c.role,
        parts: c.parts.filter((p) => !p.thought).map(({ thoughtSignature: _s, ...p }) => p),
      }));
    const expected = strip(REQUEST) as Array<{ role: string; parts: Array<Record<string, unknown>> }>;
    // audio comes back under the canonical MIME type of its format
    expected[0].parts[2] = { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } };
    expect(strip(back)).toEqual(expected);
    expect(back.generationConfig).toMatchObject({ temperature: 0.2, topP: 0.9, maxOutputTokens: 512, candidateCount: 2, stopSequences: ['###'], responseMimeType: 'application/json' });
    expect(back.toolConfig).toEqual(REQUEST.toolConfig);
  });

  it('converts OpenAPI-subset schemas recursively', () => {
    expect(openApiSchemaToJsonSchema({ type: 'ARRAY', items: { type: 'OBJECT', properties: { a: { type: 'INTEGER', nullable: true } }, propertyOrdering: ['a'] } })).toEqual({
      type: 'array',
      items: { type: 'object', properties: { a: { type: ['integer', 'null'] } } },
    });
  });

  it('carries topK, safetySettings and cachedContent beside the canonical fields, and the Google adapter sends them', () => {
    expect(chat.top_k).toBe(40);
    expect(chat.google).toEqual({ safetySettings: REQUEST.safetySettings });
    const cached = geminiRequestToChat({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], cachedContent: 'cachedContents/abc' }, 'm');
    expect(cached.google).toEqual({ cachedContent: 'cachedContents/abc' });
    const sent = buildGeminiRequest(FLASH, { ...chat, google: { ...chat.google, cachedContent: 'cachedContents/abc' } });
    expect(sent.generationConfig?.topK).toBe(40);
    expect(sent.safetySettings).toEqual(REQUEST.safetySettings);
    expect(sent.cachedContent).toBe('cachedContents/abc');
  });

  it("carries a model turn's thought signatures to the Google adapter, which sends them back on their parts", () => {
    const signed: GeminiRequest = {
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Porto and Braga?' }] },
        {
          role: 'model',
          parts: [
            { text: 'Planning the calls.', thought: true, thoughtSignature: 'dGhvdWdodA==' },
            { functionCall: { name: 'get_weather', args: { city: 'Porto' } }, thoughtSignature: 'ZmMtMQ==' },
            { functionCall: { name: 'get_weather', args: { city: 'Braga' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { output: '19C' } } },
            { functionResponse: { name: 'get_weather', response: { output: '17C' } } },
          ],
        },
        { role: 'model', parts: [{ text: 'Porto 19C, ' }, { text: 'Braga 17C.', thoughtSignature: 'dGV4dA==' }] },
        { role: 'user', parts: [{ text: 'Thanks!' }] },
      ],
    };
    const canonical = geminiRequestToChat(signed, 'google/gemini-3.5-flash');
    const turn = canonical.messages[1] as AssistantMessage;
    expect(turn[GOOGLE_FIELDS]).toEqual({ signedThought: { text: 'Planning the calls.', thoughtSignature: 'dGhvdWdodA==' } });
    expect(turn.tool_calls?.map((c) => c[GOOGLE_FIELDS])).toEqual([{ thoughtSignature: 'ZmMtMQ==' }, undefined]);
    expect((canonical.messages[4] as AssistantMessage)[GOOGLE_FIELDS]).toEqual({ thoughtSignature: 'dGV4dA==' });
    // Other providers get the request as JSON: no signature, and tool ids of their usual shape.
    expect(JSON.stringify(canonical)).not.toMatch(/Signature|dGV4dA|ZmMtMQ/);

    const sent = buildGeminiRequest(FLASH3, canonical);
    expect(sent.contents[1].parts).toEqual([
      { text: 'Planning the calls.', thought: true, thoughtSignature: 'dGhvdWdodA==' },
      { functionCall: { name: 'get_weather', args: { city: 'Porto' } }, thoughtSignature: 'ZmMtMQ==' },
      { functionCall: { name: 'get_weather', args: { city: 'Braga' } } },
    ]);
    expect(sent.contents[3].parts).toEqual([{ text: 'Porto 19C, Braga 17C.', thoughtSignature: 'dGV4dA==' }]);
  });
});

describe('chatResponseToGemini', () => {
  const usage: NormalizedUsage = { textInput: 70, cachedInput: 30, imageInput: 20, audioInput: 5, textOutput: 40, reasoningOutput: 12, imageOutput: 0, images: 0 };
  const completion: ChatCompletion = {
    id: 'chatcmpl-abc',
    object: 'chat.completion',
    created: 1,
    model: 'claude-sonnet-4-6',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'It is sunny.',
          reasoning_content: 'Look up first.',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Porto"}' } }],
        },
        finish_reason: 'tool_calls',
      },
      { index: 1, message: { role: 'assistant', content: 'Cut' }, finish_reason: 'length' },
    ],
  };

  it('builds candidates, finish reasons and Gemini usage semantics', () => {
    const g = chatResponseToGemini(completion, 'anthropic/claude-sonnet-4.6', usage);
    expect(g.modelVersion).toBe('anthropic/claude-sonnet-4.6');
    expect(g.responseId).toBe('chatcmpl-abc');
    expect(g.candidates?.[0]).toEqual({
      index: 0,
      finishReason: 'STOP',
      content: {
        role: 'model',
        parts: [{ text: 'Look up first.', thought: true }, { text: 'It is sunny.' }, { functionCall: { name: 'get_weather', args: { city: 'Porto' } } }],
      },
    });
    expect(g.candidates?.[1].finishReason).toBe('MAX_TOKENS');
    // prompt includes cached; thoughts are beside candidates; total is the sum of all
    expect(g.usageMetadata).toEqual({
      promptTokenCount: 125,
      candidatesTokenCount: 40,
      totalTokenCount: 177,
      cachedContentTokenCount: 30,
      thoughtsTokenCount: 12,
      promptTokensDetails: [
        { modality: 'TEXT', tokenCount: 100 },
        { modality: 'IMAGE', tokenCount: 20 },
        { modality: 'AUDIO', tokenCount: 5 },
      ],
      candidatesTokensDetails: [{ modality: 'TEXT', tokenCount: 40 }],
    });
    // what Google reports, Switchyard reads back as the same usage
    expect(normalizeGeminiUsage(g.usageMetadata)).toEqual(usage);
  });

  it('falls back to the OpenAI usage on the completion', () => {
    const g = chatResponseToGemini({ ...completion, usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14, completion_tokens_details: { reasoning_tokens: 1 } } }, 'm');
    expect(g.usageMetadata).toMatchObject({ promptTokenCount: 10, candidatesTokenCount: 3, thoughtsTokenCount: 1, totalTokenCount: 14 });
  });

  it('is read correctly by the official @google/genai response class', () => {
    const withCall = chatResponseToGemini({ ...completion, choices: [completion.choices[0]] }, 'm', usage);
    expect(Object.assign(new GenerateContentResponse(), withCall).functionCalls).toEqual([{ name: 'get_weather', args: { city: 'Porto' } }]);
    const textOnly = chatResponseToGemini({ ...completion, choices: [completion.choices[1]] }, 'm', usage);
    const sdk = Object.assign(new GenerateContentResponse(), textOnly);
    expect(sdk.text).toBe('Cut');
    expect(sdk.usageMetadata?.totalTokenCount).toBe(177);
  });

  it('round-trips a Gemini answer through the Google adapter without losing parts or usage', () => {
    const original = JSON.parse(fixture('google', 'generate-content-text.json')) as GeminiResponse;
    const { completion: c, usage: u } = new GoogleAdapter().chat.parseResponse(FLASH, { status: 200, headers: {}, bodyText: JSON.stringify(original) }, { model: 'x', messages: [] });
    const g = chatResponseToGemini(c, original.modelVersion ?? '', u);
    const text = (r: GeminiResponse, thought: boolean): string =>
      (r.candidates?.[0].content?.parts ?? []).filter((p) => Boolean(p.thought) === thought).map((p) => p.text ?? '').join('');
    expect(text(g, false)).toBe(text(original, false));
    expect(text(g, true)).toBe(text(original, true));
    expect(g.candidates?.[0].finishReason).toBe('STOP');
    const o = original.usageMetadata ?? {};
    expect(g.usageMetadata).toMatchObject({
      promptTokenCount: o.promptTokenCount,
      candidatesTokenCount: o.candidatesTokenCount,
      totalTokenCount: o.totalTokenCount,
      cachedContentTokenCount: o.cachedContentTokenCount,
      thoughtsTokenCount: o.thoughtsTokenCount,
    });
  });

  it("returns a Google answer's safety ratings, prompt feedback and thought signatures on the parts Google put them", () => {
    const original = JSON.parse(fixture('google', 'generate-content-signed.json')) as GeminiResponse;
    const { completion: c, usage: u } = new GoogleAdapter().chat.parseResponse(FLASH3, { status: 200, headers: {}, bodyText: JSON.stringify(original) }, { model: 'x', messages: [] });
    // the pipeline hands the responder a copy with the public model id
    const g = chatResponseToGemini({ ...c, model: 'google/gemini-3.5-flash' }, 'gemini-3.5-flash', u);
    expect(g.candidates?.[0].safetyRatings).toEqual(original.candidates?.[0].safetyRatings);
    expect(g.promptFeedback).toEqual(original.promptFeedback);
    expect(g.candidates?.[0].content?.parts).toEqual([
      { text: 'Checking the tide tables first.', thought: true, thoughtSignature: 'dGhvdWdodC1zaWc=' },
      { text: 'High tide is at noon.', thoughtSignature: 'dGV4dC1zaWc=' },
    ]);

    const calls = JSON.parse(fixture('google', 'generate-content-function-call.json')) as GeminiResponse;
    const withCalls = new GoogleAdapter().chat.parseResponse(FLASH3, { status: 200, headers: {}, bodyText: JSON.stringify(calls) }, { model: 'x', messages: [] });
    const back = chatResponseToGemini(withCalls.completion, 'gemini-3.5-flash', withCalls.usage);
    expect(back.candidates?.[0].content?.parts?.map((p) => p.thoughtSignature)).toEqual(calls.candidates?.[0].content?.parts?.map((p) => p.thoughtSignature));
  });

  it('gives answers from other providers no ratings, feedback or signatures', () => {
    const g = chatResponseToGemini(completion, 'anthropic/claude-sonnet-4.6', usage);
    expect(JSON.stringify(g)).not.toMatch(/safetyRatings|promptFeedback|thoughtSignature/);
  });

  it('returns generated images as inlineData', () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const img: ChatCompletion = {
      ...completion,
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: [{ type: 'text', text: 'Here.' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] } }],
    };
    const g = chatResponseToGemini(img, 'openai/gpt-image-1', { ...usage, imageOutput: 1290 });
    expect(g.candidates?.[0].content?.parts).toEqual([{ text: 'Here.' }, { inlineData: { mimeType: 'image/png', data: png } }]);
    expect(g.usageMetadata?.candidatesTokensDetails).toEqual([
      { modality: 'TEXT', tokenCount: 40 },
      { modality: 'IMAGE', tokenCount: 1290 },
    ]);
  });
});

describe('GeminiStreamTranslator', () => {
  function anthropicChunks(name: string): { chunks: ChatCompletionChunk[]; usage: NormalizedUsage | null } {
    const chat = new AnthropicAdapter().chat;
    const state = chat.createStreamState(CLAUDE, { model: 'x', messages: [] });
    const p = new SseParser();
    const chunks: ChatCompletionChunk[] = [];
    for (const ev of [...p.push(fixture('anthropic', name)), ...p.end()]) chunks.push(...chat.parseStreamEvent(ev, state));
    return { chunks, usage: state.usage };
  }

  it('streams text and thoughts as they come and ends with finishReason and usage together', () => {
    const { chunks, usage } = anthropicChunks('stream-text.sse');
    const t = new GeminiStreamTranslator('anthropic/claude-sonnet-4.6');
    const out: GeminiStreamChunk[] = [];
    for (const c of chunks) out.push(...t.push(c));
    out.push(...t.end(usage));
    expect(out.length).toBeGreaterThan(2);
    const parts = out.flatMap((c) => c.candidates?.[0]?.content?.parts ?? []);
    expect(parts.filter((p) => p.thought).map((p) => p.text).join('')).toBe('Short answer.');
    expect(parts.filter((p) => !p.thought).map((p) => p.text ?? '').join('')).toBe('Hello!');
    const last = out[out.length - 1];
    expect(last.candidates?.[0].finishReason).toBe('STOP');
    expect(last.usageMetadata).toMatchObject({ promptTokenCount: 325, cachedContentTokenCount: 300, candidatesTokenCount: 15, totalTokenCount: 340 });
    expect(out.slice(0, -1).every((c) => !c.usageMetadata && !c.candidates?.[0]?.finishReason)).toBe(true);
    expect(out.every((c) => c.modelVersion === 'anthropic/claude-sonnet-4.6' && c.responseId === 'chatcmpl-msg_stream1')).toBe(true);
    expect(t.end(usage)).toEqual([]);
  });

  it('assembles streamed tool-call arguments into whole functionCall parts', () => {
    const { chunks, usage } = anthropicChunks('stream-tool-use.sse');
    const t = new GeminiStreamTranslator('m');
    const out = [...chunks.flatMap((c) => t.push(c)), ...t.end(usage)];
    const last = out[out.length - 1];
    expect(last.candidates?.[0].content?.parts).toEqual([
      { functionCall: { name: 'get_weather', args: { location: 'San Francisco, CA' } } },
      { functionCall: { name: 'get_time', args: {} } },
    ]);
    expect(last.candidates?.[0].finishReason).toBe('STOP');
    expect(last.usageMetadata?.promptTokenCount).toBe(472);
    expect(last.usageMetadata?.candidatesTokenCount).toBe(89);
    const sdk = Object.assign(new GenerateContentResponse(), last);
    expect(sdk.functionCalls?.map((f) => f.name)).toEqual(['get_weather', 'get_time']);
  });

  it('streams ratings, prompt feedback and signatures where the Google adapter put them, and none for other providers', () => {
    const chat = new GoogleAdapter().chat;
    const state = chat.createStreamState(FLASH3, { model: 'x', messages: [] });
    const p = new SseParser();
    const chunks: ChatCompletionChunk[] = [];
    for (const ev of [...p.push(fixture('google', 'stream-signed-text.sse')), ...p.end()]) chunks.push(...chat.parseStreamEvent(ev, state));
    const t = new GeminiStreamTranslator('gemini-3.5-flash');
    const out = [...chunks.flatMap((c) => t.push(c)), ...t.end(state.usage)];
    const negligible = [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }];
    const low = [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'LOW' }];
    expect(out[0].promptFeedback).toEqual({ safetyRatings: negligible });
    expect(out.slice(1).every((c) => c.promptFeedback === undefined)).toBe(true);
    expect(out[0].candidates?.[0].safetyRatings).toEqual(negligible);
    const parts = out.flatMap((c) => c.candidates?.[0].content?.parts ?? []);
    expect(parts.map((x) => x.text).join('')).toBe('High tide is at noon.');
    expect(parts.filter((x) => x.thoughtSignature).map((x) => [x.text, x.thoughtSignature])).toEqual([['', 'dGV4dC1zaWc=']]);
    const last = out[out.length - 1];
    expect(last.candidates?.[0]).toMatchObject({ finishReason: 'STOP', safetyRatings: low });

    const calls = new GeminiStreamTranslator('m');
    const base = { id: 'c1', object: 'chat.completion.chunk' as const, created: 1, model: 'x' };
    calls.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: newToolCallId('c2lnLTE='), type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] });
    const [fin] = calls.end();
    expect(fin.candidates?.[0].content?.parts).toEqual([{ functionCall: { name: 'f', args: {} }, thoughtSignature: 'c2lnLTE=' }]);

    const { chunks: claude, usage } = anthropicChunks('stream-text.sse');
    const other = new GeminiStreamTranslator('anthropic/claude-sonnet-4.6');
    expect(JSON.stringify([...claude.flatMap((c) => other.push(c)), ...other.end(usage)])).not.toMatch(/safetyRatings|promptFeedback|thoughtSignature/);
  });

  it('emits the final chunk as soon as a usage chunk arrives', () => {
    const t = new GeminiStreamTranslator('m', 'r1');
    const base = { id: 'c1', object: 'chat.completion.chunk' as const, created: 1, model: 'x' };
    expect(t.push({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] })).toHaveLength(1);
    expect(t.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'length' }] })).toEqual([]);
    const fin = t.push({ ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
    expect(fin).toHaveLength(1);
    expect(fin[0].candidates?.[0].finishReason).toBe('MAX_TOKENS');
    expect(fin[0].usageMetadata).toMatchObject({ promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 });
    expect(t.end()).toEqual([]);
  });
});

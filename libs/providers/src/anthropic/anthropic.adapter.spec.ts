import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelCapabilities, ModelSpec } from '../catalog/model-spec';
import type { SseEvent, UpstreamResponse } from '../adapter';
import { UpstreamError } from '../errors';
import { SseParser } from '../http/sse-reader';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../types/chat';
import { toOpenAIUsage } from '../types/usage';
import { AnthropicAdapter, type AnthropicStreamState } from './anthropic.adapter';
import type { AnthropicRequest } from './anthropic.types';

const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const ok = (name: string): UpstreamResponse => ({ status: 200, headers: {}, bodyText: fixture(name) });

const CAPS: ModelCapabilities = {
  chat: true,
  streaming: true,
  tools: true,
  vision: true,
  audioInput: false,
  jsonSchema: true,
  reasoning: true,
  webSearch: false,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
  maxOutputTokens: 64_000,
};

const SONNET: ModelSpec = {
  id: 'anthropic/claude-sonnet-4.6',
  provider: 'anthropic',
  upstreamId: 'claude-sonnet-4-6',
  aliases: [],
  capabilities: CAPS,
  price: null,
};

const adapter = new AnthropicAdapter();
const chat = adapter.chat;

function body(model: ModelSpec, req: ChatCompletionRequest): AnthropicRequest {
  const r = chat.buildRequest(model, req, 'sk-ant-KEY');
  expect(r.body.kind).toBe('json');
  return (r.body as { value: AnthropicRequest }).value;
}

function events(name: string): SseEvent[] {
  const p = new SseParser();
  return [...p.push(fixture(name)), ...p.end()];
}

function runStream(name: string): { chunks: ChatCompletionChunk[]; state: AnthropicStreamState } {
  const state = chat.createStreamState(SONNET, { model: 'x', messages: [] });
  const chunks: ChatCompletionChunk[] = [];
  for (const ev of events(name)) chunks.push(...chat.parseStreamEvent(ev, state));
  chunks.push(...chat.finishStream(state));
  return { chunks, state };
}

const msg = (content: string): ChatCompletionRequest => ({ model: 'x', messages: [{ role: 'user', content }] });

describe('AnthropicAdapter request', () => {
  it('posts to /v1/messages with x-api-key and anthropic-version', () => {
    const r = chat.buildRequest(SONNET, msg('hi'), 'sk-ant-KEY');
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/messages');
    expect(r.headers).toEqual({ 'x-api-key': 'sk-ant-KEY', 'anthropic-version': '2023-06-01' });
    expect(r.stream).toBe(false);
    const s = chat.buildStreamRequest(SONNET, msg('hi'), 'sk-ant-KEY');
    expect(s.stream).toBe(true);
    expect((s.body as { value: AnthropicRequest }).value.stream).toBe(true);
  });

  it('translates system, images, tool calls, tool results, tools and tool_choice', () => {
    const b = body(SONNET, {
      model: 'x',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Use metric units.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Where is this?' },
            { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/AAAA' } },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: '{"temp":18}' },
        { role: 'user', content: 'Thanks' },
      ],
      tools: [
        { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } },
        { type: 'function', function: { name: 'noop' } },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
      stop: ['END', 'STOP'],
      temperature: 0.3,
      top_p: 0.8,
      top_k: 40,
      user: 'tenant-user-1',
    });
    expect(b.model).toBe('claude-sonnet-4-6');
    expect(b.system).toBe('Be brief.\n\nUse metric units.');
    expect(b.max_tokens).toBe(64_000);
    expect(b.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Where is this?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/AAAA' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } },
        ],
      },
      // the tool result and the following user text share one user turn
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '{"temp":18}' },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
    expect(b.tools).toEqual([
      { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } },
      { name: 'noop', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(b.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(b.stop_sequences).toEqual(['END', 'STOP']);
    expect(b.temperature).toBe(0.3);
    expect(b.top_p).toBe(0.8);
    expect(b.top_k).toBe(40);
    expect(b.metadata).toEqual({ user_id: 'tenant-user-1' });
    expect(b.thinking).toBeUndefined();
  });

  it('maps the other tool_choice forms', () => {
    const tools = [{ type: 'function' as const, function: { name: 'f' } }];
    expect(body(SONNET, { ...msg('x'), tools, tool_choice: 'auto' }).tool_choice).toEqual({ type: 'auto' });
    expect(body(SONNET, { ...msg('x'), tools, tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' });
    expect(body(SONNET, { ...msg('x'), tools, tool_choice: { type: 'function', function: { name: 'f' } } }).tool_choice).toEqual({ type: 'tool', name: 'f' });
    expect(body(SONNET, { ...msg('x'), tools }).tool_choice).toBeUndefined();
  });

  it('uses the request max_tokens, then the model limit', () => {
    expect(body(SONNET, { ...msg('x'), max_tokens: 100 }).max_tokens).toBe(100);
    expect(body(SONNET, { ...msg('x'), max_completion_tokens: 200, max_tokens: 100 }).max_tokens).toBe(200);
    const noLimit = { ...SONNET, capabilities: { ...CAPS, maxOutputTokens: undefined } };
    expect(body(noLimit, msg('x')).max_tokens).toBe(4096);
  });

  it('turns reasoning_effort into a thinking budget below max_tokens and drops temperature', () => {
    const b = body(SONNET, { ...msg('x'), reasoning_effort: 'medium', temperature: 0.2, top_p: 0.5, top_k: 40 });
    expect(b.thinking).toEqual({ type: 'enabled', budget_tokens: 8192 });
    expect(b.temperature).toBeUndefined();
    expect(b.top_k).toBeUndefined();
    expect(b.top_p).toBeUndefined();
    expect(body(SONNET, { ...msg('x'), reasoning_effort: 'high', max_tokens: 5000 }).thinking).toEqual({ type: 'enabled', budget_tokens: 4999 });
    // below the 1024-token minimum budget, thinking is left off rather than refused
    expect(body(SONNET, { ...msg('x'), reasoning_effort: 'high', max_tokens: 500 }).thinking).toBeUndefined();
    expect(body(SONNET, { ...msg('x'), reasoning_effort: 'none' }).thinking).toBeUndefined();
  });

  it('leaves thinking off inside a tool loop, where the signed thinking block cannot be replayed', () => {
    const b = body(SONNET, {
      model: 'x',
      reasoning_effort: 'low',
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 't1', content: 'sunny' },
      ],
      tools: [{ type: 'function', function: { name: 'w' } }],
    });
    expect(b.thinking).toBeUndefined();
  });

  it('asks for JSON through the system prompt, and refuses n > 1 and audio', () => {
    const b = body(SONNET, { ...msg('x'), response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object' } } } });
    expect(b.system).toContain('JSON');
    expect(b.system).toContain('{"type":"object"}');
    expect(() => body(SONNET, { ...msg('x'), n: 2 })).toThrow(expect.objectContaining({ kind: 'invalid_request' }));
    expect(() =>
      body(SONNET, { model: 'x', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }] }] }),
    ).toThrow(expect.objectContaining({ kind: 'invalid_request' }));
  });
});

describe('AnthropicAdapter response', () => {
  it('maps text and thinking blocks, and every usage dimension', () => {
    const { completion, usage } = chat.parseResponse(SONNET, ok('messages-text.json'), msg('x'));
    expect(completion.id).toBe('chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL');
    expect(completion.model).toBe('claude-sonnet-4-6');
    expect(completion.choices[0].message.content).toBe('Grey waves fold and break.');
    expect(completion.choices[0].message.reasoning_content).toBe('A haiku has three lines.');
    expect(completion.choices[0].finish_reason).toBe('stop');
    // input_tokens excludes cache reads and writes; cache writes are their own dimension, billed at cacheWrite
    expect(usage).toEqual({ textInput: 50, cachedInput: 1800, cacheWriteInput: 200, imageInput: 0, audioInput: 0, textOutput: 120, reasoningOutput: 0, imageOutput: 0, images: 0 });
    expect(completion.usage).toMatchObject({ prompt_tokens: 2050, completion_tokens: 120, total_tokens: 2170 });
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(1800);
  });

  it('maps tool_use blocks to tool_calls and stop_reason tool_use to tool_calls', () => {
    const { completion, usage } = chat.parseResponse(SONNET, ok('messages-tool-use.json'), msg('x'));
    const c = completion.choices[0];
    expect(c.finish_reason).toBe('tool_calls');
    expect(c.message.content).toBe("I'll check the weather.");
    expect(c.message.tool_calls).toEqual([
      { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
    ]);
    expect(usage.textInput).toBe(472);
    expect(usage.textOutput).toBe(91);
  });

  it('reads an empty refusal as content_policy', () => {
    expect(() => chat.parseResponse(SONNET, ok('messages-refusal.json'), msg('x'))).toThrow(expect.objectContaining({ kind: 'content_policy' }));
  });

  it('rejects a body that is not a message', () => {
    expect(() => chat.parseResponse(SONNET, { status: 200, headers: {}, bodyText: '<html>' }, msg('x'))).toThrow(expect.objectContaining({ kind: 'malformed_response' }));
  });
});

describe('AnthropicAdapter stream', () => {
  it('turns thinking and text deltas into chunks and reads the cumulative usage', () => {
    const { chunks, state } = runStream('stream-text.sse');
    const deltas = chunks.flatMap((c) => c.choices);
    expect(deltas[0].delta.role).toBe('assistant');
    expect(deltas.filter((d) => d.delta.role).length).toBe(1);
    expect(deltas.map((d) => d.delta.reasoning_content ?? '').join('')).toBe('Short answer.');
    expect(deltas.map((d) => d.delta.content ?? '').join('')).toBe('Hello!');
    expect(deltas.filter((d) => d.finish_reason).map((d) => d.finish_reason)).toEqual(['stop']);
    expect(chunks.every((c) => c.id === 'chatcmpl-msg_stream1' && c.model === 'claude-sonnet-4-6')).toBe(true);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(state.done).toBe(true);
    expect(state.finished).toBe(true);
    expect(state.usage).toEqual({ textInput: 25, cachedInput: 300, imageInput: 0, audioInput: 0, textOutput: 15, reasoningOutput: 0, imageOutput: 0, images: 0 });
    expect(state.outputChars).toBe('Short answer.'.length + 'Hello!'.length);
  });

  it('reads cache writes apart from input in a stream, from message_start and the cumulative message_delta', () => {
    const { chunks, state } = runStream('stream-cache-write.sse');
    expect(chunks.flatMap((c) => c.choices).map((d) => d.delta.content ?? '').join('')).toBe('Cached.');
    expect(state.usage).toEqual({ textInput: 12, cachedInput: 0, cacheWriteInput: 2048, imageInput: 0, audioInput: 0, textOutput: 4, reasoningOutput: 0, imageOutput: 0, images: 0 });
    // The tenant's usage still counts the written tokens as prompt tokens.
    expect(state.usage && toOpenAIUsage(state.usage)).toMatchObject({ prompt_tokens: 2060, completion_tokens: 4, total_tokens: 2064 });
  });

  it('streams tool calls with OpenAI indexes and argument fragments', () => {
    const { chunks, state } = runStream('stream-tool-use.sse');
    const tcs = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(tcs[0]).toEqual({ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } });
    const args = (i: number): string => tcs.filter((t) => t.index === i).map((t) => t.function?.arguments ?? '').join('');
    expect(JSON.parse(args(0))).toEqual({ location: 'San Francisco, CA' });
    expect(tcs.find((t) => t.index === 1)?.id).toBe('toolu_02');
    expect(JSON.parse(args(1))).toEqual({});
    const finish = chunks.flatMap((c) => c.choices).filter((d) => d.finish_reason);
    expect(finish.map((d) => d.finish_reason)).toEqual(['tool_calls']);
    expect(state.usage?.textInput).toBe(472);
    expect(state.usage?.textOutput).toBe(89);
  });

  it('leaves usage unknown until message_delta, so a cut stream is estimated rather than under-billed', () => {
    const state = chat.createStreamState(SONNET, msg('x'));
    const [start] = events('stream-text.sse');
    chat.parseStreamEvent(start, state);
    expect(state.usage).toBeNull();
  });

  it('throws a retryable error for an overloaded_error event', () => {
    const state = chat.createStreamState(SONNET, msg('x'));
    const [start, error] = events('stream-error.sse');
    chat.parseStreamEvent(start, state);
    let caught: unknown;
    try {
      chat.parseStreamEvent(error, state);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UpstreamError);
    expect((caught as UpstreamError).kind).toBe('upstream_server');
    expect((caught as UpstreamError).status).toBe(529);
    expect((caught as UpstreamError).retryable).toBe(true);
  });
});

describe('AnthropicAdapter.classifyError', () => {
  const res = (status: number, name: string, headers: Record<string, string> = {}): UpstreamResponse => ({ status, headers, bodyText: fixture(name) });

  it('reads 529 overloaded_error as a retryable server fault', () => {
    const e = adapter.classifyError(res(529, 'error-overloaded.json'), []);
    expect(e.kind).toBe('upstream_server');
    expect(e.retryable).toBe(true);
    expect(e.fallbackAllowed).toBe(true);
    expect(e.upstreamCode).toBe('overloaded_error');
  });

  it('reads rate_limit_error with retry-after, but a spend cap as an account problem', () => {
    const e = adapter.classifyError(res(429, 'error-rate-limit.json', { 'retry-after': '12' }), []);
    expect(e.kind).toBe('rate_limit');
    expect(e.retryAfterMs).toBe(12_000);
    const cap = adapter.classifyError(res(429, 'error-spend-limit.json'), []);
    expect(cap.kind).toBe('auth');
    expect(cap.retryable).toBe(false);
    expect(cap.fallbackAllowed).toBe(true);
  });

  it('separates the tenant\'s invalid request from the gateway\'s credentials and credit', () => {
    const bad = adapter.classifyError(res(400, 'error-invalid-request.json'), []);
    expect(bad.kind).toBe('invalid_request');
    expect(bad.message).toContain('roles must alternate');
    expect(adapter.classifyError(res(401, 'error-authentication.json'), []).kind).toBe('auth');
    expect(adapter.classifyError(res(400, 'error-credit-balance.json'), []).kind).toBe('auth');
  });

  it('masks the provider key in messages', () => {
    const body = '{"type":"error","error":{"type":"invalid_request_error","message":"bad header sk-ant-api03-abcdefghijkl"}}';
    const e = adapter.classifyError({ status: 400, headers: {}, bodyText: body }, ['sk-ant-api03-abcdefghijkl']);
    expect(e.message).not.toContain('sk-ant-api03-abcdefghijkl');
  });
});

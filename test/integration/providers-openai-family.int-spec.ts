/**
 * ProviderClient against the upstream simulator over real HTTP on loopback: the OpenAI family of
 * adapters end to end (request on the wire, parsing, streaming, usage) and every network fault the
 * client must turn into the right UpstreamError kind.
 */
import sharp from 'sharp';
import {
  type ChatCompletionRequest,
  type ChatStreamItem,
  type ModelCapabilities,
  type ModelSpec,
  type ProviderEndpoints,
  type ProviderId,
  ProviderClient,
  UpstreamError,
  totalInputTokens,
  totalOutputTokens,
} from '@app/providers';
import { type SimulatorHandle, simulatorBaseUrls, startSimulator } from '../../apps/simulator/src';

const KEYS: Record<string, string> = {
  openai: 'sk-int-openai-0123456789abcdef',
  xai: 'xai-int-0123456789abcdef',
  deepseek: 'sk-int-deepseek-0123456789',
  qwen: 'sk-int-qwen-0123456789',
  moonshot: 'sk-int-moonshot-0123456789',
  minimax: 'int-minimax-0123456789abcdef',
};

const CAPS: ModelCapabilities = {
  chat: true,
  streaming: true,
  tools: true,
  vision: true,
  audioInput: false,
  jsonSchema: true,
  reasoning: false,
  webSearch: false,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
};

function model(provider: ProviderId, upstreamId: string, caps: Partial<ModelCapabilities> = {}): ModelSpec {
  return { id: `${provider}/${upstreamId}`, provider, upstreamId, aliases: [], capabilities: { ...CAPS, ...caps }, price: null };
}

const hello: ChatCompletionRequest = {
  model: 'ignored',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Say hello to the integration test, please.' },
  ],
};

async function collect(stream: AsyncIterable<ChatStreamItem>): Promise<{ text: string; reasoning: string; items: ChatStreamItem[] }> {
  const items: ChatStreamItem[] = [];
  let text = '';
  let reasoning = '';
  for await (const item of stream) {
    items.push(item);
    if (item.type === 'chunk') {
      text += item.chunk.choices[0]?.delta.content ?? '';
      reasoning += item.chunk.choices[0]?.delta.reasoning_content ?? '';
    }
  }
  return { text, reasoning, items };
}

async function caught(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof UpstreamError) return e;
    throw e;
  }
  throw new Error('expected an UpstreamError');
}

describe('ProviderClient × simulator: OpenAI family', () => {
  let sim: SimulatorHandle;
  let client: ProviderClient;
  let endpoints: ProviderEndpoints;

  beforeAll(async () => {
    sim = await startSimulator({ host: '127.0.0.1', port: 0, streamChunkDelayMs: 0 });
    const urls = simulatorBaseUrls(sim.url);
    endpoints = {};
    for (const p of ['openai', 'xai', 'deepseek', 'qwen', 'moonshot', 'minimax'] as const) {
      endpoints[p] = { apiKey: KEYS[p], baseUrl: urls[p] };
    }
    client = new ProviderClient(endpoints, { timeouts: { connectMs: 2000, firstByteMs: 1500, idleMs: 1000 }, imageTimeouts: { firstByteMs: 10_000 } });
  });

  afterAll(async () => {
    await client.close();
    await sim.close();
  });

  beforeEach(() => sim.reset());

  describe('chat', () => {
    it('OpenAI: sends the canonical request with the key and returns content and usage', async () => {
      const m = model('openai', 'gpt-4o-mini');
      const { completion, usage } = await client.chat(m, { ...hello, max_tokens: 50 });
      expect(completion.object).toBe('chat.completion');
      expect(typeof completion.choices[0].message.content).toBe('string');
      expect((completion.choices[0].message.content as string).length).toBeGreaterThan(0);
      expect(totalInputTokens(usage)).toBeGreaterThan(0);
      expect(totalOutputTokens(usage)).toBeGreaterThan(0);
      expect(completion.usage?.prompt_tokens).toBe(totalInputTokens(usage));

      const [call] = sim.calls({ provider: 'openai' });
      expect(call.path).toContain('/chat/completions');
      expect(call.headers.authorization).toBe(`Bearer ${KEYS.openai}`);
      expect(call.model).toBe('gpt-4o-mini');
      expect(call.body).toMatchObject({ model: 'gpt-4o-mini', max_completion_tokens: 50 });
    });

    it('OpenAI: reasoning models report reasoning tokens separately from text output', async () => {
      const m = model('openai', 'o4-mini', { reasoning: true });
      const { usage } = await client.chat(m, { ...hello, reasoning_effort: 'high' });
      expect(usage.reasoningOutput).toBeGreaterThan(0);
      expect(usage.textOutput).toBeGreaterThan(0);
      expect(sim.calls()[0].body).toMatchObject({ reasoning_effort: 'high' });
    });

    it('OpenAI: tool calls come back canonical', async () => {
      const m = model('openai', 'gpt-4o-mini');
      const { completion } = await client.chat(m, {
        ...hello,
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
        tool_choice: 'required',
      });
      const calls = completion.choices[0].message.tool_calls ?? [];
      expect(calls.length).toBeGreaterThan(0);
      expect(calls[0].function.name).toBe('get_weather');
      expect(() => JSON.parse(calls[0].function.arguments) as unknown).not.toThrow();
      expect(completion.choices[0].finish_reason).toBe('tool_calls');
    });

    const family: [ProviderId, string, Partial<ModelCapabilities>][] = [
      ['xai', 'grok-4-fast-reasoning', { reasoning: true }],
      ['deepseek', 'deepseek-reasoner', { reasoning: true }],
      ['qwen', 'qwen-plus', { reasoning: true }],
      ['moonshot', 'kimi-k2-0905-preview', {}],
      ['minimax', 'MiniMax-M2', { reasoning: true }],
    ];

    it.each(family)('%s: non-streaming chat returns content and usage in its own dialect', async (provider, id, caps) => {
      const { completion, usage } = await client.chat(model(provider, id, caps), { ...hello, reasoning_effort: 'medium' });
      const content = completion.choices[0].message.content;
      expect(typeof content === 'string' && content.length > 0).toBe(true);
      // MiniMax thinks inside <think> tags unless asked to split; the adapter asks
      if (provider === 'minimax') expect(content).not.toContain('<think>');
      expect(totalInputTokens(usage)).toBeGreaterThan(0);
      expect(usage.textOutput).toBeGreaterThan(0);
      const call = sim.calls({ provider })[0];
      expect(call.headers.authorization).toBe(`Bearer ${KEYS[provider]}`);
      expect(call.model).toBe(id);
    });

    it.each(family)('%s: streaming chat ends with reported (not estimated) usage', async (provider, id, caps) => {
      const stream = await client.chatStream(model(provider, id, caps), { ...hello, stream: true, reasoning_effort: 'medium' });
      const { text, items } = await collect(stream);
      expect(text.length).toBeGreaterThan(0);
      const last = items.at(-1);
      expect(last?.type).toBe('usage');
      if (last?.type !== 'usage') return;
      expect(last.estimated).toBe(false);
      expect(totalInputTokens(last.usage)).toBeGreaterThan(0);
      expect(last.usage.textOutput).toBeGreaterThan(0);
      expect(last.chunk.choices).toEqual([]);
      expect(last.chunk.usage?.total_tokens).toBe(totalInputTokens(last.usage) + totalOutputTokens(last.usage));
      expect(sim.calls({ provider })[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    });

    it('DeepSeek reasoner streams its reasoning_content and bills reasoning tokens', async () => {
      const stream = await client.chatStream(model('deepseek', 'deepseek-reasoner', { reasoning: true }), { ...hello, stream: true });
      const { reasoning, items } = await collect(stream);
      expect(reasoning.length).toBeGreaterThan(0);
      const last = items.at(-1);
      expect(last?.type === 'usage' && last.usage.reasoningOutput).toBeGreaterThan(0);
    });

    it('OpenAI: stream usage matches the non-streaming usage of the same request', async () => {
      const m = model('openai', 'gpt-4o-mini');
      const plain = await client.chat(m, hello);
      const { items } = await collect(await client.chatStream(m, { ...hello, stream: true }));
      const last = items.at(-1);
      expect(last?.type === 'usage' && totalInputTokens(last.usage)).toBe(totalInputTokens(plain.usage));
    });
  });

  describe('images', () => {
    it('OpenAI gpt-image-1: honours output_format and size, and splits token usage', async () => {
      const m = model('openai', 'gpt-image-1', { chat: false, imagesEndpoint: true, imageEditing: true });
      const result = await client.generateImages(m, { prompt: 'a lighthouse at dawn', n: 2, size: '1024x1536', quality: 'low', outputFormat: 'jpeg', outputCompression: 70 });
      expect(result.images).toHaveLength(2);
      const meta = await sharp(result.images[0].data).metadata();
      expect(meta.format).toBe('jpeg');
      expect([meta.width, meta.height]).toEqual([1024, 1536]);
      expect(result.images[0].mimeType).toBe('image/jpeg');
      expect(result.usage.images).toBe(2);
      expect(result.usage.imageOutput).toBeGreaterThan(0);
      expect(result.usage.textInput).toBeGreaterThan(0);
      expect(sim.calls({ provider: 'openai' })[0].body).toMatchObject({ output_format: 'jpeg', output_compression: 70, quality: 'low', n: 2 });
    });

    it('OpenAI gpt-image-1: edits send the input image as multipart', async () => {
      const m = model('openai', 'gpt-image-1', { chat: false, imagesEndpoint: true, imageEditing: true });
      const png = await sharp({ create: { width: 64, height: 64, channels: 4, background: '#ff0000' } }).png().toBuffer();
      const result = await client.generateImages(m, { prompt: 'make it blue', inputImages: [{ data: png, mimeType: 'image/png' }] });
      expect(result.images.length).toBe(1);
      expect(result.usage.imageInput).toBeGreaterThan(0);
      const call = sim.calls({ provider: 'openai' })[0];
      expect(call.path).toContain('/images/edits');
      expect(JSON.stringify(call.body)).toContain('image/png');
    });

    it.each(['grok-imagine-image', 'grok-imagine-image-pro'])('xAI %s: returns decodable images billed per image', async (id) => {
      const m = model('xai', id, { chat: false, imagesEndpoint: true });
      const result = await client.generateImages(m, { prompt: 'a red fox', n: 2, size: '1024x1024' });
      expect(result.images).toHaveLength(2);
      const meta = await sharp(result.images[0].data).metadata();
      expect(meta.width).toBeGreaterThan(0);
      expect(result.usage.images).toBe(2);
      expect(sim.calls({ provider: 'xai' })[0].body).toMatchObject({ response_format: 'b64_json', aspect_ratio: '1:1' });
    });

    it('an image answer without an image is no_image', async () => {
      sim.script({ provider: 'openai', noImage: true });
      const err = await caught(client.generateImages(model('openai', 'gpt-image-1', { imagesEndpoint: true }), { prompt: 'x' }));
      expect(err.kind).toBe('no_image');
    });
  });

  describe('faults', () => {
    const m = model('openai', 'gpt-4o-mini');

    it('429 with Retry-After → rate_limit with retryAfterMs', async () => {
      sim.script({ provider: 'openai', status: 429, headers: { 'retry-after': '2' } });
      const err = await caught(client.chat(m, hello));
      expect(err.kind).toBe('rate_limit');
      expect(err.retryAfterMs).toBe(2000);
      expect(err.retryable).toBe(true);
    });

    it('500 → upstream_server; 401 → auth; 400 → invalid_request', async () => {
      sim.script({ provider: 'openai', status: 500 });
      expect((await caught(client.chat(m, hello))).kind).toBe('upstream_server');
      sim.script({ provider: 'openai', status: 401 });
      expect((await caught(client.chat(m, hello))).kind).toBe('auth');
      sim.script({ provider: 'openai', status: 400 });
      expect((await caught(client.chat(m, hello))).kind).toBe('invalid_request');
    });

    it('an HTML error page → upstream_server, without the page in the message', async () => {
      sim.script({ provider: 'openai', html: true, status: 502 });
      const err = await caught(client.chat(m, hello));
      expect(err.kind).toBe('upstream_server');
      expect(err.message).not.toMatch(/<html/i);
    });

    it('a truncated JSON body → malformed_response', async () => {
      sim.script({ provider: 'openai', truncate: true });
      expect((await caught(client.chat(m, hello))).kind).toBe('malformed_response');
    });

    it('a reset socket → connection', async () => {
      sim.script({ provider: 'openai', reset: true });
      expect((await caught(client.chat(m, hello))).kind).toBe('connection');
    });

    it('no first byte within the timeout → timeout', async () => {
      sim.script({ provider: 'openai', delayMs: 3000 });
      const started = Date.now();
      const err = await caught(client.chat(m, hello));
      expect(err.kind).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(2900);
    });

    it('a stream that stalls → timeout after the chunks already delivered', async () => {
      sim.script({ provider: 'openai', stallAfterChunks: 3 });
      const stream = await client.chatStream(m, { ...hello, stream: true });
      const got: ChatStreamItem[] = [];
      const err = await caught(
        (async () => {
          for await (const item of stream) got.push(item);
        })(),
      );
      expect(err.kind).toBe('timeout');
      expect(got.length).toBeGreaterThan(0);
      expect(stream.usageSoFar().estimated).toBe(true);
      expect(stream.usageSoFar().usage.textInput).toBeGreaterThan(0);
    });

    it('a stream whose socket resets mid-way → connection', async () => {
      sim.script({ provider: 'openai', resetAfterChunks: 2 });
      const stream = await client.chatStream(m, { ...hello, stream: true });
      const err = await caught(collect(stream));
      expect(err.kind).toBe('connection');
    });

    it('a stream cut short without its terminator → malformed_response', async () => {
      sim.script({ provider: 'openai', truncate: true });
      const stream = await client.chatStream(m, { ...hello, stream: true });
      expect((await caught(collect(stream))).kind).toBe('malformed_response');
    });

    it('an error object inside a 200 stream → classified error after the earlier chunks', async () => {
      sim.script({ provider: 'openai', streamErrorAfterChunks: 2 });
      const stream = await client.chatStream(m, { ...hello, stream: true });
      const got: ChatStreamItem[] = [];
      const err = await caught(
        (async () => {
          for await (const item of stream) got.push(item);
        })(),
      );
      expect(['upstream_server', 'rate_limit', 'invalid_request']).toContain(err.kind);
      expect(got.length).toBeGreaterThan(0);
    });

    it('a refused stream fails before any chunk, so the caller can still fall back', async () => {
      sim.script({ provider: 'openai', status: 503 });
      const err = await caught(client.chatStream(m, { ...hello, stream: true }));
      expect(err.kind).toBe('upstream_server');
      expect(err.fallbackAllowed).toBe(true);
    });

    it('a tenant disconnect aborts the upstream call', async () => {
      sim.script({ provider: 'openai', stallAfterChunks: 2 });
      const ac = new AbortController();
      const stream = await client.chatStream(m, { ...hello, stream: true }, { signal: ac.signal });
      const err = await caught(
        (async () => {
          for await (const item of stream) {
            if (item.type === 'chunk') ac.abort();
          }
        })(),
      );
      expect(err.kind).toBe('cancelled');
      expect(err.retryable).toBe(false);
      // the simulator sees the client go away
      await new Promise((r) => setTimeout(r, 100));
      expect(sim.calls({ provider: 'openai' })[0].aborted).toBe(true);
    });

    it('an abort before the answer starts → cancelled', async () => {
      sim.script({ provider: 'openai', delayMs: 1000 });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      expect((await caught(client.chat(m, hello, { signal: ac.signal }))).kind).toBe('cancelled');
    });

    it('a provider without a key is refused without a network call', async () => {
      const unconfigured = new ProviderClient({ ...endpoints, deepseek: { baseUrl: endpoints.deepseek!.baseUrl } });
      const err = await caught(unconfigured.chat(model('deepseek', 'deepseek-chat'), hello));
      expect(err.kind).toBe('auth');
      expect(err.message).toMatch(/not configured/);
      expect(sim.calls()).toHaveLength(0);
      await unconfigured.close();
    });

    it('a connection refused → connection, and no error text carries the key or base URL', async () => {
      const dead = new ProviderClient({ openai: { apiKey: KEYS.openai, baseUrl: 'http://127.0.0.1:9/openai/v1' } });
      const err = await caught(dead.chat(m, hello));
      expect(err.kind).toBe('connection');
      const visible = err.message + JSON.stringify(err);
      expect(visible).not.toContain(KEYS.openai);
      expect(visible).not.toContain('127.0.0.1');
      await dead.close();
    });

    it('upstream errors never show the provider key to the tenant', async () => {
      for (const status of [400, 401, 429, 500]) {
        sim.script({ provider: 'openai', status });
        const err = await caught(client.chat(m, hello));
        expect(err.message + JSON.stringify(err)).not.toContain(KEYS.openai);
        expect(err.detail ?? '').not.toContain(KEYS.openai);
      }
    });
  });
});

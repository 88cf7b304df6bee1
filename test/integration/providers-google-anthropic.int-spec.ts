/**
 * ProviderClient against the upstream simulator over real HTTP on loopback: the Google (Gemini, Gemini
 * image, Imagen) and Anthropic adapters end to end, and the Gemini-native translation fed by a real stream.
 */
import {
  type ChatCompletionRequest,
  type ChatStreamItem,
  type ModelCapabilities,
  type ModelSpec,
  type ProviderId,
  ProviderClient,
  UpstreamError,
} from '@app/providers';
import { GeminiStreamTranslator, geminiRequestToChat } from '../../libs/providers/src/google';
import { type SimulatorHandle, simulatorBaseUrls, startSimulator } from '../../apps/simulator/src';

const KEYS = { google: 'AIzaIntGoogle0123456789abcdef', anthropic: 'sk-ant-int-0123456789abcdef' };
const CAPS: ModelCapabilities = {
  chat: true, streaming: true, tools: true, vision: true, audioInput: false, jsonSchema: true, reasoning: true,
  webSearch: false, imageOutputViaChat: false, imagesEndpoint: false, imageEditing: false, maxOutputTokens: 8192,
};
const model = (provider: ProviderId, upstreamId: string, caps: Partial<ModelCapabilities> = {}): ModelSpec =>
  ({ id: `${provider}/${upstreamId}`, provider, upstreamId, aliases: [], capabilities: { ...CAPS, ...caps }, price: null });

const FLASH = model('google', 'gemini-2.5-flash');
const FLASH_IMAGE = model('google', 'gemini-2.5-flash-image', { imageOutputViaChat: true, streaming: false, tools: false });
const IMAGEN = model('google', 'imagen-4.0-generate-001', { chat: false, imagesEndpoint: true });
const SONNET = model('anthropic', 'claude-sonnet-4-6');
const hello: ChatCompletionRequest = { model: 'x', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello to the integration test.' }] };

async function collect(stream: AsyncIterable<ChatStreamItem>): Promise<{ text: string; items: ChatStreamItem[] }> {
  const items: ChatStreamItem[] = [];
  let text = '';
  for await (const item of stream) {
    items.push(item);
    if (item.type === 'chunk') for (const c of item.chunk.choices) text += c.delta.content ?? '';
  }
  return { text, items };
}

describe('Google and Anthropic adapters against the simulator', () => {
  let sim: SimulatorHandle;
  let client: ProviderClient;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, host: '127.0.0.1' });
    const urls = simulatorBaseUrls(sim.url);
    client = new ProviderClient({
      google: { apiKey: KEYS.google, baseUrl: urls.google },
      anthropic: { apiKey: KEYS.anthropic, baseUrl: urls.anthropic },
    });
  });
  afterAll(async () => {
    await client.close();
    await sim.close();
  });
  beforeEach(() => sim.reset());

  it('Gemini chat: key in the header only, text and usage back', async () => {
    const r = await client.chat(FLASH, hello);
    expect(typeof r.completion.choices[0].message.content).toBe('string');
    expect((r.completion.choices[0].message.content as string).length).toBeGreaterThan(0);
    expect(r.usage.textInput + r.usage.cachedInput).toBeGreaterThan(0);
    expect(r.usage.textOutput).toBeGreaterThan(0);
    const call = sim.calls()[0];
    expect(JSON.stringify(call)).toContain(':generateContent');
    expect(JSON.stringify(call)).not.toContain('key=');
  });

  it('Gemini stream: chunks, a finish reason and the reported usage', async () => {
    const stream = await client.chatStream(FLASH, hello);
    const { text, items } = await collect(stream);
    expect(text.length).toBeGreaterThan(0);
    const last = items[items.length - 1];
    expect(last.type).toBe('usage');
    if (last.type === 'usage') {
      expect(last.estimated).toBe(false);
      expect(last.usage.textOutput).toBeGreaterThan(0);
    }
  });

  it('Gemini image model through chat returns an image part', async () => {
    const r = await client.chat(FLASH_IMAGE, { model: 'x', messages: [{ role: 'user', content: 'Draw a harbour at dawn.' }] });
    expect(r.completion.choices[0].message.images?.length).toBe(1);
    expect(r.usage.imageOutput).toBeGreaterThan(0);
  });

  it('Imagen returns n images billed per image', async () => {
    const r = await client.generateImages(IMAGEN, { prompt: 'a lighthouse', n: 2, size: '1408x768' });
    expect(r.images).toHaveLength(2);
    expect(r.usage.images).toBe(2);
  });

  it('Anthropic chat and stream', async () => {
    const r = await client.chat(SONNET, hello);
    expect((r.completion.choices[0].message.content as string).length).toBeGreaterThan(0);
    expect(r.usage.textInput).toBeGreaterThan(0);
    const { text, items } = await collect(await client.chatStream(SONNET, hello));
    expect(text.length).toBeGreaterThan(0);
    const last = items[items.length - 1];
    expect(last.type === 'usage' && !last.estimated).toBe(true);
  });

  it('Anthropic tool call round trip', async () => {
    const req: ChatCompletionRequest = {
      model: 'x',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
      tool_choice: 'required',
    };
    const r = await client.chat(SONNET, req);
    const calls = r.completion.choices[0].message.tool_calls ?? [];
    expect(calls.length).toBeGreaterThan(0);
    const { text } = await collect(await client.chatStream(SONNET, req));
    expect(typeof text).toBe('string');
  });

  it('Gemini-native: a Gemini request served by Anthropic, streamed back as Gemini chunks', async () => {
    const chatReq = geminiRequestToChat({ contents: [{ role: 'user', parts: [{ text: 'Say hi.' }] }] }, 'anthropic/claude-sonnet-4.6');
    const stream = await client.chatStream(SONNET, chatReq);
    const t = new GeminiStreamTranslator('anthropic/claude-sonnet-4.6');
    const out = [];
    for await (const item of stream) {
      if (item.type === 'chunk') out.push(...t.push(item.chunk));
      else out.push(...t.end(item.usage));
    }
    const last = out[out.length - 1];
    expect(last.candidates?.[0].finishReason).toBe('STOP');
    expect(last.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
  });

  it('classifies scripted upstream faults', async () => {
    sim.script({ provider: 'anthropic', status: 529 });
    await expect(client.chat(SONNET, hello)).rejects.toMatchObject({ kind: 'upstream_server', status: 529, retryable: true });
    sim.script({ provider: 'google', status: 429, headers: { 'retry-after': '3' } });
    await expect(client.chat(FLASH, hello)).rejects.toMatchObject({ kind: 'rate_limit' });
    sim.script({ provider: 'google', noImage: true });
    await expect(client.chat(FLASH_IMAGE, { model: 'x', messages: [{ role: 'user', content: 'Draw a cat.' }] })).rejects.toMatchObject({ kind: 'no_image' });
    sim.script({ provider: 'google', path: ':predict', noImage: true });
    await expect(client.generateImages(IMAGEN, { prompt: 'p' })).rejects.toBeInstanceOf(UpstreamError);
  });

  it('throws the classified error of an error inside a 200 stream', async () => {
    for (const m of [SONNET, FLASH]) {
      sim.script({ provider: m.provider, streamErrorAfterChunks: 2 });
      const stream = await client.chatStream(m, hello);
      await expect(collect(stream)).rejects.toBeInstanceOf(UpstreamError);
    }
  });
});

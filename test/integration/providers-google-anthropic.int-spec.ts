/**
 * ProviderClient against the upstream simulator over real HTTP on loopback: the Google (Gemini, Gemini
 * image, Imagen) and Anthropic adapters end to end, and the Gemini-native translation fed by a real stream.
 */
import {
  GOOGLE_FIELDS,
  type ChatCompletionRequest,
  type ChatStreamItem,
  type ModelCapabilities,
  type ModelSpec,
  type ProviderId,
  ProviderClient,
  UpstreamError,
} from '@app/providers';
import { GeminiStreamTranslator, chatResponseToGemini, geminiRequestToChat } from '../../libs/providers/src/google';
import { type SimulatorHandle, simulatorBaseUrls, startSimulator } from '../../apps/simulator/src';

const KEYS = { google: 'AIzaIntGoogle0123456789abcdef', anthropic: 'sk-ant-int-0123456789abcdef' };
const CAPS: ModelCapabilities = {
  chat: true, streaming: true, tools: true, vision: true, audioInput: false, jsonSchema: true, reasoning: true,
  webSearch: false, imageOutputViaChat: false, imagesEndpoint: false, imageEditing: false, maxOutputTokens: 8192,
};
const model = (provider: ProviderId, upstreamId: string, caps: Partial<ModelCapabilities> = {}): ModelSpec =>
  ({ id: `${provider}/${upstreamId}`, provider, upstreamId, aliases: [], capabilities: { ...CAPS, ...caps }, price: null });

const FLASH = model('google', 'gemini-2.5-flash');
const FLASH3 = model('google', 'gemini-3.5-flash');
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

  it('Gemini-native on a Google model: safety settings out; ratings, signatures and a blocked prompt back, kept out of the JSON', async () => {
    const safetySettings = [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' }];
    const tools = [{ functionDeclarations: [{ name: 'get_tide', parameters: { type: 'OBJECT', properties: { port: { type: 'STRING' } } } }] }];
    const ask = geminiRequestToChat({ contents: [{ role: 'user', parts: [{ text: 'High tide in Porto?' }] }], safetySettings, tools }, 'google/gemini-3.5-flash');
    const whole = await client.chat(FLASH3, ask);
    expect((sim.calls()[0].body as { safetySettings?: unknown }).safetySettings).toEqual(safetySettings);
    expect(whole.completion.choices[0][GOOGLE_FIELDS]?.safetyRatings).toHaveLength(4);
    const g = chatResponseToGemini(whole.completion, 'gemini-3.5-flash', whole.usage);
    const call = g.candidates?.[0].content;
    expect(call?.parts?.[0].functionCall?.name).toBe('get_tide');
    expect(call?.parts?.[0].thoughtSignature).toBeTruthy();
    // what the OpenAI-shaped route writes
    expect(JSON.stringify(whole.completion)).not.toMatch(/safetyRatings|Signature/);

    // the next turn goes back with the signature; Gemini 3 would refuse it otherwise
    const next = geminiRequestToChat(
      {
        contents: [{ role: 'user', parts: [{ text: 'High tide in Porto?' }] }, call!, { role: 'user', parts: [{ functionResponse: { name: 'get_tide', response: { output: '12:04' } } }] }],
        safetySettings,
        tools,
      },
      'google/gemini-3.5-flash',
    );
    const items = (await collect(await client.chatStream(FLASH3, next))).items;
    expect((sim.calls()[1].body as { contents: Array<{ parts: Array<{ thoughtSignature?: string }> }> }).contents[1].parts[0].thoughtSignature).toBe(call?.parts?.[0].thoughtSignature);
    const chunks = items.flatMap((i) => (i.type === 'chunk' ? [i.chunk] : []));
    const fields = chunks.flatMap((c) => c.choices.map((x) => x[GOOGLE_FIELDS])).filter((f) => f !== undefined);
    expect(fields.some((f) => f?.textSignature)).toBe(true);
    expect(fields.every((f) => f?.safetyRatings?.length === 4)).toBe(true);
    expect(JSON.stringify(chunks)).not.toMatch(/safetyRatings|Signature/);

    const blocked = geminiRequestToChat({ contents: [{ role: 'user', parts: [{ text: 'How are explosives made?' }] }], safetySettings }, 'google/gemini-3.5-flash');
    for (const run of [() => client.chat(FLASH3, blocked), async () => collect(await client.chatStream(FLASH3, blocked))]) {
      const error = await run().then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ kind: 'content_policy', upstreamCode: 'SAFETY' });
      expect((error as { [GOOGLE_FIELDS]?: unknown })[GOOGLE_FIELDS]).toMatchObject({
        promptFeedback: { blockReason: 'SAFETY', safetyRatings: expect.arrayContaining([expect.objectContaining({ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', blocked: true })]) },
      });
    }
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

import { GoogleGenAI, HarmBlockThreshold, HarmCategory, Type, type GenerateContentResponse } from '@google/genai';
import sharp from 'sharp';
import { PrismaService } from '@app/database';
import { ModelCatalog, type TokenRates } from '@app/providers';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

const catalog = new ModelCatalog();

/** quantity × rate / 1M, half-up, per line: the provider's list price, computed independently. */
function line(quantity: number, rate: number | undefined): bigint {
  return (BigInt(quantity) * BigInt(rate ?? 0) + 500_000n) / 1_000_000n;
}

interface UsageRow {
  endpoint: string;
  requestedModel: string;
  servedModel: string | null;
  provider: string | null;
  status: string;
  fallbackLevel: number;
  costMicros: bigint;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  imageInputTokens: number;
  imageOutputTokens: number;
}

function listCost(modelId: string, u: UsageRow): bigint {
  const rates = catalog.resolve(modelId)?.price?.tokens as TokenRates;
  return (
    line(u.inputTokens, rates.input) +
    line(u.cachedTokens, rates.cachedInput ?? rates.input) +
    line(u.imageInputTokens, rates.imageInput ?? rates.input) +
    line(u.outputTokens, rates.output) +
    line(u.reasoningTokens, rates.reasoningOutput ?? rates.output) +
    line(u.imageOutputTokens, rates.imageOutput ?? rates.output)
  );
}

function header(res: GenerateContentResponse, name: string): string | undefined {
  return res.sdkHttpResponse?.headers?.[name];
}

const IMAGE_MODELS = ['gemini-2.5-flash-image', 'gemini-3-pro-image-preview', 'gemini-3.1-flash-image-preview'];

/**
 * The Gemini-native route through Google's own SDK (`@google/genai` with `httpOptions.baseUrl`): Gemini text
 * and image models, other providers' models through translation, Google's error envelope, billing at the
 * serving model's list price with one usage record per request.
 */
describe('POST /v1beta/models/{model}:generateContent through @google/genai', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let tenant: { tenantId: string; keyId: string; key: string };
  let ai: GoogleGenAI;

  /** The request's one usage record (written just after the answer left: the gateway's settlements are awaited first). */
  const usageRecord = async (id: string | undefined): Promise<UsageRow> => {
    expect(id).toBeDefined();
    await gw.settled();
    const rows = await prisma.usageRecord.findMany({ where: { id } });
    expect(rows).toHaveLength(1);
    return rows[0] as unknown as UsageRow;
  };

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(50);
    ai = new GoogleGenAI({ apiKey: tenant.key, httpOptions: { baseUrl: gw.url } });
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  it.each(['gemini-2.5-flash', 'google/gemini-2.5-flash'])('generates text from %s at its list price', async (model) => {
    const res = await ai.models.generateContent({ model, contents: 'Say hello in five words.', config: { maxOutputTokens: 256, temperature: 0.2 } });
    expect(res.text?.length).toBeGreaterThan(0);
    expect(res.modelVersion).toBe('gemini-2.5-flash');
    expect(res.candidates?.[0].finishReason).toBe('STOP');
    const u = res.usageMetadata!;
    expect(u.promptTokenCount).toBeGreaterThan(0);
    expect(u.candidatesTokenCount).toBeGreaterThan(0);
    expect(u.totalTokenCount).toBe((u.promptTokenCount ?? 0) + (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0));
    expect(u.promptTokensDetails?.[0]).toMatchObject({ modality: 'TEXT' });

    expect(header(res, 'x-switchyard-fallback-level')).toBe('0');
    expect(header(res, 'x-switchyard-fallback-model')).toBe('google/gemini-2.5-flash');
    const calls = gw.sim.calls({ provider: 'google' });
    expect(calls).toHaveLength(1);
    expect(calls[0].model).toBe('gemini-2.5-flash');
    expect((calls[0].body as any).generationConfig).toMatchObject({ maxOutputTokens: 256, temperature: 0.2 });
    expect(JSON.stringify(calls[0].headers)).not.toContain(tenant.key);

    const record = await usageRecord(header(res, 'x-request-id'));
    expect(record).toMatchObject({
      endpoint: '/v1beta/models/{model}:generateContent',
      requestedModel: model,
      servedModel: 'google/gemini-2.5-flash',
      provider: 'google',
      status: 'succeeded',
      fallbackLevel: 0,
    });
    expect(record.outputTokens + record.reasoningTokens).toBe((u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0));
    expect(record.costMicros).toBeGreaterThan(0n);
    expect(record.costMicros).toBe(listCost('google/gemini-2.5-flash', record));
    expect(header(res, 'x-switchyard-cost-usd')).toBe((Number(record.costMicros) / 1e6).toFixed(6));
  });

  it('streams text with generateContentStream, the last chunk carrying finishReason and usage', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Count from one to twenty in words.' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    const text = chunks.map((c) => c.text ?? '').join('');
    expect(text.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.modelVersion).toBe('gemini-2.5-flash');
    const last = chunks[chunks.length - 1];
    expect(last.candidates?.[0].finishReason).toBe('STOP');
    expect(last.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((c) => c.usageMetadata === undefined)).toBe(true);

    const requestId = chunks[0].sdkHttpResponse?.headers?.['x-request-id'];
    const record = await usageRecord(requestId);
    expect(record).toMatchObject({ endpoint: '/v1beta/models/{model}:streamGenerateContent', servedModel: 'google/gemini-2.5-flash', status: 'succeeded' });
    expect(record.outputTokens + record.reasoningTokens).toBe((last.usageMetadata?.candidatesTokenCount ?? 0) + (last.usageMetadata?.thoughtsTokenCount ?? 0));
    expect(record.costMicros).toBe(listCost('google/gemini-2.5-flash', record));
    const call = gw.sim.calls({ provider: 'google' })[0];
    expect(call.path).toContain(':streamGenerateContent');
  });

  it.each(['gemini-2.5-flash', 'openai/gpt-4o-mini'])('honours a system instruction and a JSON response schema on %s', async (model) => {
    const res = await ai.models.generateContent({
      model,
      contents: 'Describe a fictional person.',
      config: {
        systemInstruction: 'You answer with JSON only.',
        responseMimeType: 'application/json',
        responseSchema: {
          type: Type.OBJECT,
          properties: { name: { type: Type.STRING }, age: { type: Type.INTEGER } },
          required: ['name', 'age'],
        },
      },
    });
    const parsed = JSON.parse(res.text ?? '');
    expect(typeof parsed.name).toBe('string');
    expect(Number.isInteger(parsed.age)).toBe(true);

    const [call] = gw.sim.calls();
    const body = call.body as any;
    if (model.startsWith('openai/')) {
      expect(body.messages[0]).toEqual({ role: 'system', content: 'You answer with JSON only.' });
      expect(body.response_format.type).toBe('json_schema');
      expect(body.response_format.json_schema.schema.properties.age.type).toBe('integer');
    } else {
      expect(body.systemInstruction.parts[0].text).toBe('You answer with JSON only.');
      expect(body.generationConfig.responseMimeType).toBe('application/json');
      const schema = body.generationConfig.responseJsonSchema ?? body.generationConfig.responseSchema;
      expect(JSON.stringify(schema).toLowerCase()).toContain('"age":{"type":"integer"}');
    }
  });

  it.each([
    ['openai/gpt-4o-mini', 'openai'],
    ['anthropic/claude-sonnet-4.6', 'anthropic'],
  ])('serves %s through translation, whole and streamed, at its list price', async (model, provider) => {
    const res = await ai.models.generateContent({ model, contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }] });
    expect(res.text?.length).toBeGreaterThan(0);
    expect(res.modelVersion).toBe(model);
    expect(res.candidates?.[0].content?.role).toBe('model');
    expect(res.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
    expect(header(res, 'x-switchyard-fallback-model')).toBe(model);
    expect(gw.sim.calls({ provider })).toHaveLength(1);
    const record = await usageRecord(header(res, 'x-request-id'));
    expect(record).toMatchObject({ servedModel: model, provider, status: 'succeeded' });
    expect(record.costMicros).toBeGreaterThan(0n);
    expect(record.costMicros).toBe(listCost(model, record));

    const stream = await ai.models.generateContentStream({ model, contents: 'Count to ten.' });
    let text = '';
    let last: GenerateContentResponse | undefined;
    let first: GenerateContentResponse | undefined;
    for await (const chunk of stream) {
      first ??= chunk;
      last = chunk;
      text += chunk.text ?? '';
    }
    expect(text.length).toBeGreaterThan(0);
    expect(last?.candidates?.[0].finishReason).toBe('STOP');
    expect(last?.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0);
    const streamed = await usageRecord(first?.sdkHttpResponse?.headers?.['x-request-id']);
    expect(streamed).toMatchObject({ servedModel: model, status: 'succeeded', endpoint: '/v1beta/models/{model}:streamGenerateContent' });
    expect(streamed.costMicros).toBe(listCost(model, streamed));
  });

  it.each(IMAGE_MODELS)('generates a real image with %s through the image queue', async (model) => {
    const res = await ai.models.generateContent({ model, contents: 'A cute baby otter wearing a tiny top hat, watercolor style' });
    const parts = res.candidates?.[0].content?.parts ?? [];
    const images = parts.filter((p) => p.inlineData);
    expect(images).toHaveLength(1);
    expect(images[0].inlineData?.mimeType).toBe('image/png');
    const meta = await sharp(Buffer.from(images[0].inlineData!.data!, 'base64')).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(0);
    expect(meta.height).toBeGreaterThan(0);
    expect(res.modelVersion).toBe(model);
    expect(res.candidates?.[0].finishReason).toBe('STOP');
    expect(res.usageMetadata?.candidatesTokensDetails).toEqual(expect.arrayContaining([expect.objectContaining({ modality: 'IMAGE' })]));

    // responseModalities defaults to TEXT and IMAGE upstream.
    const [call] = gw.sim.calls({ provider: 'google' });
    expect((call.body as any).generationConfig.responseModalities).toEqual(['TEXT', 'IMAGE']);

    const requestId = header(res, 'x-request-id');
    expect(header(res, 'x-switchyard-job-id')).toBe(requestId);
    expect(header(res, 'x-switchyard-fallback-model')).toBe(`google/${model}`);
    const record = await usageRecord(requestId);
    expect(record).toMatchObject({ endpoint: '/v1beta/models/{model}:generateContent', servedModel: `google/${model}`, status: 'succeeded' });
    expect(record.imageOutputTokens).toBeGreaterThan(0);
    expect(record.costMicros).toBe(listCost(`google/${model}`, record));
    expect(header(res, 'x-switchyard-cost-usd')).toBe((Number(record.costMicros) / 1e6).toFixed(6));
  });

  it('follows imageConfig: a 16:9 image from google/gemini-3-pro-image-preview at 2K', async () => {
    const res = await ai.models.generateContent({
      model: 'google/gemini-3-pro-image-preview',
      contents: 'A wide mountain panorama',
      config: { imageConfig: { aspectRatio: '16:9', imageSize: '2K' }, responseModalities: ['IMAGE'] },
    });
    const parts = res.candidates?.[0].content?.parts ?? [];
    expect(parts.every((p) => p.inlineData)).toBe(true);
    const meta = await sharp(Buffer.from(parts[0].inlineData!.data!, 'base64')).metadata();
    expect(meta.width!).toBeGreaterThan(meta.height!);
    const [call] = gw.sim.calls({ provider: 'google' });
    expect((call.body as any).generationConfig.imageConfig).toEqual({ aspectRatio: '16:9', imageSize: '2K' });
  });

  it('edits an input image sent as inlineData', async () => {
    const input = await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
    const res = await ai.models.generateContent({
      model: 'gemini-2.5-flash-image',
      contents: [
        {
          role: 'user',
          parts: [{ inlineData: { mimeType: 'image/png', data: input.toString('base64') } }, { text: 'Make the background a beach scene.' }],
        },
      ],
    });
    const image = res.candidates?.[0].content?.parts?.find((p) => p.inlineData);
    expect((await sharp(Buffer.from(image!.inlineData!.data!, 'base64')).metadata()).format).toBe('png');
    const [call] = gw.sim.calls({ provider: 'google' });
    const sent = (call.body as any).contents[0].parts;
    expect(sent).toEqual(
      expect.arrayContaining([{ inlineData: { mimeType: 'image/png', data: input.toString('base64') } }, { text: 'Make the background a beach scene.' }]),
    );
    expect(res.usageMetadata?.promptTokensDetails).toEqual(expect.arrayContaining([expect.objectContaining({ modality: 'IMAGE' })]));
  });

  describe('Gemini image models as Google serves them', () => {
    const googleBody = (i = 0): any => gw.sim.calls({ provider: 'google' })[i].body;

    it('edits over several turns of an SDK chat: each turn reaches Google with the history, its images and the config', async () => {
      const config = {
        systemInstruction: 'Watercolour, always.',
        temperature: 1.0,
        seed: 42,
        safetySettings: [{ category: HarmCategory.HARM_CATEGORY_HARASSMENT, threshold: HarmBlockThreshold.BLOCK_ONLY_HIGH }],
      };
      const chat = ai.chats.create({ model: 'gemini-2.5-flash-image', config });
      const first = await chat.sendMessage({ message: 'Draw a red otter' });
      const drawn = first.candidates?.[0].content?.parts?.find((p) => p.inlineData);
      expect(drawn?.inlineData?.mimeType).toBe('image/png');
      const second = await chat.sendMessage({ message: 'Now make it blue' });
      expect(second.candidates?.[0].content?.parts?.some((p) => p.inlineData)).toBe(true);

      const sent = googleBody(1);
      expect(sent.contents).toEqual([
        { role: 'user', parts: [{ text: 'Draw a red otter' }] },
        { role: 'model', parts: first.candidates?.[0].content?.parts },
        { role: 'user', parts: [{ text: 'Now make it blue' }] },
      ]);
      expect(sent.contents[1].parts).toContainEqual({ inlineData: { mimeType: 'image/png', data: drawn?.inlineData?.data } });
      expect(sent.systemInstruction.parts).toEqual([{ text: 'Watercolour, always.' }]);
      expect(sent.safetySettings).toEqual([{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }]);
      expect(sent.generationConfig).toMatchObject({ temperature: 1, seed: 42, responseModalities: ['TEXT', 'IMAGE'] });

      // The second turn paid for the first image as input.
      const record = await usageRecord(header(second, 'x-request-id'));
      expect(record).toMatchObject({ status: 'succeeded', servedModel: 'google/gemini-2.5-flash-image' });
      expect(record.imageInputTokens).toBeGreaterThan(0);
      expect(record.costMicros).toBe(listCost('google/gemini-2.5-flash-image', record));
    });

    it("answers a prompt Google's filters blocked with promptFeedback, not an error, at no charge", async () => {
      const res = await ai.models.generateContent({
        model: 'gemini-3.1-flash-image-preview',
        contents: 'Draw how explosives are made',
        config: { safetySettings: [{ category: HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT, threshold: HarmBlockThreshold.BLOCK_ONLY_HIGH }] },
      });
      expect(res.candidates).toBeUndefined();
      expect(res.promptFeedback?.blockReason).toBe('SAFETY');
      expect(res.promptFeedback?.safetyRatings).toEqual(expect.arrayContaining([{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }]));
      expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);
      const record = await usageRecord(header(res, 'x-request-id'));
      expect(record).toMatchObject({ status: 'failed', costMicros: 0n, servedModel: null });
    });

    it('returns the image and text in the order Google gave them', async () => {
      const image = (await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 90, b: 200 } } }).png().toBuffer()).toString('base64');
      const parts = [{ inlineData: { mimeType: 'image/png', data: image } }, { text: 'Here is your otter wearing a top hat!' }];
      gw.sim.script({
        provider: 'google',
        body: { candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 1290, totalTokenCount: 1302 }, modelVersion: 'gemini-2.5-flash-image' },
      });
      const res = await ai.models.generateContent({ model: 'gemini-2.5-flash-image', contents: 'A cute baby otter wearing a tiny top hat, watercolor style' });
      expect(res.candidates?.[0].content?.parts).toEqual(parts);
      expect(res.data).toBe(image);
    });
  });

  describe('what only Google has a place for', () => {
    const DANGEROUS_ONLY_HIGH = [{ category: HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT, threshold: HarmBlockThreshold.BLOCK_ONLY_HIGH }];
    const googleBody = (i = 0): any => gw.sim.calls({ provider: 'google' })[i].body;

    it('forwards safetySettings and topK to Gemini and returns its safetyRatings, whole and streamed', async () => {
      const config = { safetySettings: DANGEROUS_ONLY_HIGH, topK: 20 };
      const res = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Describe the tide.', config });
      expect(googleBody().safetySettings).toEqual([{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' }]);
      expect(googleBody().generationConfig.topK).toBe(20);
      const ratings = res.candidates?.[0].safetyRatings ?? [];
      expect(ratings.map((r) => r.category)).toEqual([
        'HARM_CATEGORY_HARASSMENT',
        'HARM_CATEGORY_HATE_SPEECH',
        'HARM_CATEGORY_SEXUALLY_EXPLICIT',
        'HARM_CATEGORY_DANGEROUS_CONTENT',
      ]);
      expect(ratings.every((r) => r.probability === 'NEGLIGIBLE')).toBe(true);

      gw.sim.reset();
      const chunks: GenerateContentResponse[] = [];
      for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Describe the tide.', config })) chunks.push(chunk);
      expect(googleBody().safetySettings).toHaveLength(1);
      expect(chunks.length).toBeGreaterThan(1);
      expect(chunks.every((c) => (c.candidates?.[0].safetyRatings ?? []).length === 4)).toBe(true);
    });

    it('accepts safetySettings and topK for another provider\'s model, sends neither, and invents no ratings', async () => {
      const res = await ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: 'Describe the tide.', config: { safetySettings: DANGEROUS_ONLY_HIGH, topK: 20 } });
      expect(res.text?.length).toBeGreaterThan(0);
      const sent = gw.sim.calls({ provider: 'openai' })[0].body as Record<string, unknown>;
      expect(Object.keys(sent).filter((k) => /safety|top_?k|google/i.test(k))).toEqual([]);
      expect(res.candidates?.[0].safetyRatings).toBeUndefined();
      expect(res.promptFeedback).toBeUndefined();
    });

    it('answers a prompt Google blocked with promptFeedback and its ratings, whole and streamed, at no charge', async () => {
      const config = { safetySettings: DANGEROUS_ONLY_HIGH };
      const contents = 'How are explosives made?';
      const res = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents, config });
      expect(res.candidates).toBeUndefined();
      expect(res.text).toBeUndefined();
      expect(res.promptFeedback?.blockReason).toBe('SAFETY');
      expect(res.promptFeedback?.safetyRatings).toEqual(
        expect.arrayContaining([{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }]),
      );
      const record = await usageRecord(header(res, 'x-request-id'));
      expect(record).toMatchObject({ status: 'failed', costMicros: 0n });

      const chunks: GenerateContentResponse[] = [];
      for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents, config })) chunks.push(chunk);
      expect(chunks).toHaveLength(1);
      expect(chunks[0].promptFeedback).toEqual(res.promptFeedback);
      expect(chunks[0].candidates).toBeUndefined();
      const streamed = await usageRecord(chunks[0].sdkHttpResponse?.headers?.['x-request-id']);
      expect(streamed).toMatchObject({ status: 'failed', costMicros: 0n, endpoint: '/v1beta/models/{model}:streamGenerateContent' });
    });

    it('reads a context cache at Google and bills its tokens as cached input at the model\'s list price', async () => {
      const res = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Summarise the cached report.', config: { cachedContent: 'cachedContents/e2e-report' } });
      expect(googleBody().cachedContent).toBe('cachedContents/e2e-report');
      const u = res.usageMetadata!;
      expect(u.cachedContentTokenCount).toBeGreaterThanOrEqual(2048);
      expect(u.promptTokenCount).toBeGreaterThan(u.cachedContentTokenCount!);
      const record = await usageRecord(header(res, 'x-request-id'));
      expect(record.cachedTokens).toBe(u.cachedContentTokenCount);
      expect(record.inputTokens).toBe(u.promptTokenCount! - u.cachedContentTokenCount!);
      expect(record.costMicros).toBe(listCost('google/gemini-2.5-flash', record));

      // a cache lives at Google: another provider's model cannot read it
      await expect(
        ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: 'Summarise the cached report.', config: { cachedContent: 'cachedContents/e2e-report' } }),
      ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('cachedContent') });
      expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(0);
    });

    const TIDES = [
      {
        functionDeclarations: [
          { name: 'get_tide', description: 'High tide time for a port', parameters: { type: Type.OBJECT, properties: { port: { type: Type.STRING } }, required: ['port'] } },
        ],
      },
    ];
    const signed = (sig: string | undefined): boolean => typeof sig === 'string' && Buffer.from(sig, 'base64').toString().startsWith('sig:');

    it("returns Gemini 3's thought signatures and sends them back on the next turns, as the SDK's history holds them", async () => {
      const question = { role: 'user', parts: [{ text: 'When is high tide in Porto?' }] };
      const first = await ai.models.generateContent({ model: 'gemini-3.5-flash', contents: [question], config: { tools: TIDES } });
      const call = first.candidates?.[0].content;
      const callPart = call?.parts?.find((p) => p.functionCall);
      expect(callPart?.functionCall?.name).toBe('get_tide');
      expect(signed(callPart?.thoughtSignature)).toBe(true);

      const answer = { role: 'user', parts: [{ functionResponse: { name: 'get_tide', response: { output: '12:04' } } }] };
      const second = await ai.models.generateContent({ model: 'gemini-3.5-flash', contents: [question, call!, answer], config: { tools: TIDES } });
      expect(gw.sim.calls({ provider: 'google' })[1].status).toBe(200);
      expect(googleBody(1).contents[1].parts[0]).toEqual({ functionCall: callPart?.functionCall, thoughtSignature: callPart?.thoughtSignature });
      const reply = second.candidates?.[0].content;
      expect(second.text?.length).toBeGreaterThan(0);
      const textSignature = reply?.parts?.[reply.parts.length - 1].thoughtSignature;
      expect(signed(textSignature)).toBe(true);

      await ai.models.generateContent({ model: 'gemini-3.5-flash', contents: [question, call!, answer, reply!, { role: 'user', parts: [{ text: 'Thanks!' }] }], config: { tools: TIDES } });
      expect(googleBody(2).contents[3].parts).toEqual([{ text: second.text, thoughtSignature: textSignature }]);
    });

    it('streams the signature of a function call and of the last text', async () => {
      const chunks: GenerateContentResponse[] = [];
      for await (const c of await ai.models.generateContentStream({ model: 'gemini-3.5-flash', contents: 'When is high tide in Porto?', config: { tools: TIDES } })) chunks.push(c);
      const callParts = chunks.flatMap((c) => c.candidates?.[0].content?.parts ?? []).filter((p) => p.functionCall);
      expect(callParts).toHaveLength(1);
      expect(signed(callParts[0].thoughtSignature)).toBe(true);

      const text: GenerateContentResponse[] = [];
      for await (const c of await ai.models.generateContentStream({ model: 'gemini-3.5-flash', contents: 'Say something about tides.' })) text.push(c);
      const withSignature = text.flatMap((c) => c.candidates?.[0].content?.parts ?? []).filter((p) => p.thoughtSignature);
      expect(withSignature).toHaveLength(1);
      expect(withSignature[0].text?.length).toBeGreaterThan(0);
      expect(signed(withSignature[0].thoughtSignature)).toBe(true);
    });
  });

  describe("errors in Google's envelope", () => {
    const raw = async (path: string, init: { body?: string; headers?: Record<string, string> } = {}) => {
      const res = await fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goog-api-key': tenant.key, ...init.headers },
        body: init.body ?? JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: number; message: string; status: string } } };
    };

    it('answers an invalid key with 401 UNAUTHENTICATED', async () => {
      const bad = new GoogleGenAI({ apiKey: 'sk-sy-not-a-real-key-0000000000000000', httpOptions: { baseUrl: gw.url } });
      await expect(bad.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })).rejects.toMatchObject({
        status: 401,
        message: expect.stringContaining('UNAUTHENTICATED'),
      });
      expect(gw.sim.calls()).toHaveLength(0);
    });

    it('answers an unknown model with 404 NOT_FOUND', async () => {
      await expect(ai.models.generateContent({ model: 'gemini-0-imaginary', contents: 'hi' })).rejects.toMatchObject({
        status: 404,
        message: expect.stringContaining('NOT_FOUND'),
      });
      const { status, body } = await raw('/v1beta/models/gemini-0-imaginary:generateContent');
      expect(status).toBe(404);
      expect(body.error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
    });

    it('answers a malformed body with 400 INVALID_ARGUMENT', async () => {
      const invalidJson = await raw('/v1beta/models/gemini-2.5-flash:generateContent', { body: '{"contents": [' });
      expect(invalidJson).toEqual({ status: 400, body: { error: { code: 400, message: 'body must be valid JSON', status: 'INVALID_ARGUMENT' } } });
      await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [] }] })).rejects.toMatchObject({
        status: 400,
        message: expect.stringContaining('INVALID_ARGUMENT'),
      });
      const badPart = await raw('/v1beta/models/gemini-2.5-flash:generateContent', {
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png' } }] }] }),
      });
      expect(badPart.status).toBe(400);
      expect(badPart.body.error).toEqual({ code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining('contents[0].parts[0].inlineData.data') });
      expect(gw.sim.calls()).toHaveLength(0);
    });

    it('answers an exhausted balance with 402 PERMISSION_DENIED before any upstream call', async () => {
      const broke = await gw.newTenant(0);
      const poor = new GoogleGenAI({ apiKey: broke.key, httpOptions: { baseUrl: gw.url } });
      await expect(poor.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })).rejects.toMatchObject({
        status: 402,
        message: expect.stringContaining('PERMISSION_DENIED'),
      });
      await expect(poor.models.generateContent({ model: 'gemini-2.5-flash-image', contents: 'an otter' })).rejects.toMatchObject({ status: 402 });
      expect(gw.sim.calls()).toHaveLength(0);
      expect(await prisma.usageRecord.count({ where: { tenantId: broke.tenantId } })).toBe(0);
    });
  });

  it('accepts the key as x-goog-api-key, Bearer and ?key=, and never logs it', async () => {
    const body = JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] });
    const path = '/v1beta/models/gemini-2.5-flash:generateContent';
    const variants: [string, Record<string, string>][] = [
      [path, { 'x-goog-api-key': tenant.key }],
      [path, { authorization: `Bearer ${tenant.key}` }],
      [`${path}?key=${tenant.key}`, {}],
    ];
    for (const [url, headers] of variants) {
      const res = await fetch(`${gw.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      expect(res.status).toBe(200);
      expect(((await res.json()) as GenerateContentResponse).candidates?.[0].content?.parts?.[0].text).toBeTruthy();
    }
    // The SDK itself sends x-goog-api-key.
    await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    expect(gw.logs.lines.some((l) => l.includes(':generateContent'))).toBe(true);
    expect(gw.logs.text).not.toContain(tenant.key);
  });
});

import sharp from 'sharp';
import { PrismaService } from '@app/database';
import { ImageGenerationProcessor } from '../../apps/worker/src/image-generation.processor';
import { standaloneImageProcessor, startGateway, type TestGateway } from '../support/gateway';
import { waitUntil } from '../support/processes';

jest.setTimeout(120_000);

/** The simulator's control API over HTTP: what it is scripted to answer, and what it received. */
async function script(gw: TestGateway, rule: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${gw.sim.url}/_sim/rules`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  expect(res.status).toBe(201);
}

async function calls(gw: TestGateway, provider?: string): Promise<{ path: string; model: string | null; body: any }[]> {
  const res = await fetch(`${gw.sim.url}/_sim/calls${provider ? `?provider=${provider}` : ''}`);
  return (await res.json()) as { path: string; model: string | null; body: any }[];
}

async function post(gw: TestGateway, path: string, key: string, body: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'x-goog-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const png = (r: number, g: number, b: number): Promise<Buffer> =>
  sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g, b } } }).png().toBuffer();

const IMAGE_MODEL = '/v1beta/models/gemini-2.5-flash-image:generateContent';
const OTTER = { contents: [{ role: 'user', parts: [{ text: 'Draw a red otter' }] }] };
const RATINGS = [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', blocked: true }];

/** What Google's image model answers, with its parts in the order given. */
function answer(parts: unknown[]): Record<string, unknown> {
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata: {
      promptTokenCount: 10,
      candidatesTokenCount: 1300,
      totalTokenCount: 1310,
      candidatesTokensDetails: [
        { modality: 'TEXT', tokenCount: 10 },
        { modality: 'IMAGE', tokenCount: 1290 },
      ],
    },
    modelVersion: 'gemini-2.5-flash-image',
  };
}

/**
 * Gemini image models on `:generateContent` as Google's own API serves them, through the image queue: the
 * request reaches Google whole, a blocked prompt is answered as on text models, and the answer keeps Google's
 * order of text and images. Checked on the wire: what the simulator received (`/_sim/calls`) and what the
 * tenant got.
 */
describe('Gemini image models on the Gemini-native route', () => {
  let gw: TestGateway;
  let prisma: PrismaService;

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  const tenantState = async (tenantId: string) => {
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    return { balance: t.balanceMicros, reserved: t.reservedMicros };
  };

  it('sends Google the conversation with its images, the system instruction, safety settings and sampling fields, and returns its ratings', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const red = (await png(200, 30, 30)).toString('base64');
    const contents = [
      { role: 'user', parts: [{ text: 'Draw a red otter' }] },
      { role: 'model', parts: [{ text: 'Here is your otter.' }, { inlineData: { mimeType: 'image/png', data: red }, thoughtSignature: 'c2lnLW9mLXRoZS1pbWFnZQ==' }] },
      { role: 'user', parts: [{ text: 'Now make it blue' }] },
    ];
    const request = {
      contents,
      systemInstruction: { parts: [{ text: 'Watercolour, always.' }] },
      safetySettings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' }],
      generationConfig: {
        temperature: 1.0,
        topP: 0.95,
        topK: 40,
        seed: 1234,
        maxOutputTokens: 8192,
        stopSequences: ['THE END'],
        responseModalities: ['TEXT', 'IMAGE'],
        imageConfig: { aspectRatio: '4:3' },
      },
    };
    const res = await post(gw, IMAGE_MODEL, key, request);
    expect(res.status).toBe(200);
    expect(res.body.candidates[0].content.parts.some((p: any) => p.inlineData?.mimeType === 'image/png')).toBe(true);
    // With safety settings Google rates the answer; the ratings come back on the candidate.
    expect(res.body.candidates[0].safetyRatings.map((r: any) => r.category)).toEqual([
      'HARM_CATEGORY_HARASSMENT',
      'HARM_CATEGORY_HATE_SPEECH',
      'HARM_CATEGORY_SEXUALLY_EXPLICIT',
      'HARM_CATEGORY_DANGEROUS_CONTENT',
    ]);

    const [call] = await calls(gw, 'google');
    expect(call.path).toContain('gemini-2.5-flash-image:generateContent');
    expect(call.body.contents).toEqual(contents);
    expect(call.body.systemInstruction).toEqual({ parts: [{ text: 'Watercolour, always.' }] });
    expect(call.body.safetySettings).toEqual(request.safetySettings);
    // Every field as sent: the sampling fields, the modalities and the image config.
    expect(call.body.generationConfig).toEqual(request.generationConfig);
    // The system instruction is sent once, as itself, not folded into the prompt.
    expect(JSON.stringify(call.body.contents)).not.toContain('Watercolour');

    // The earlier image is billed as input, and the job keeps the request it ran.
    const requestId = res.headers.get('x-request-id') as string;
    await gw.settled();
    const record = await prisma.usageRecord.findUniqueOrThrow({ where: { id: requestId } });
    expect(record).toMatchObject({ status: 'succeeded', servedModel: 'google/gemini-2.5-flash-image' });
    expect(record.imageInputTokens).toBeGreaterThan(0);
    const job = await prisma.imageJob.findUniqueOrThrow({ where: { id: requestId } });
    expect((job.request as any).gemini.history).toEqual(contents.slice(0, 2));
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n - record.costMicros, reserved: 0n });
  });

  it('defaults responseModalities to TEXT and IMAGE, and sends only what was asked', async () => {
    const { key } = await gw.newTenant(5);
    expect((await post(gw, IMAGE_MODEL, key, OTTER)).status).toBe(200);
    const [call] = await calls(gw, 'google');
    expect(call.body).toEqual({ contents: OTTER.contents, generationConfig: { responseModalities: ['TEXT', 'IMAGE'] } });
  });

  it('answers a prompt Google blocked as it does on text models: 200 with promptFeedback, billed the same (failed, no charge, nothing held)', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const blocked = { promptFeedback: { blockReason: 'SAFETY', safetyRatings: RATINGS }, usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } };

    await script(gw, { provider: 'google', body: blocked });
    const text = await post(gw, '/v1beta/models/gemini-2.5-flash:generateContent', key, OTTER);
    await script(gw, { provider: 'google', body: blocked });
    const image = await post(gw, IMAGE_MODEL, key, OTTER);

    for (const res of [text, image]) {
      expect(res.status).toBe(200);
      expect(res.body.promptFeedback).toEqual({ blockReason: 'SAFETY', safetyRatings: RATINGS });
      expect(res.body.candidates).toBeUndefined();
      expect(res.body.usageMetadata).toEqual({ promptTokenCount: 0, candidatesTokenCount: 0, totalTokenCount: 0 });
    }
    expect(image.body.modelVersion).toBe('gemini-2.5-flash-image');
    // Neither retried nor fallen back: one upstream call each.
    expect(await calls(gw, 'google')).toHaveLength(2);

    await gw.settled();
    const [textRecord, imageRecord] = await Promise.all(
      [text, image].map((r) => prisma.usageRecord.findUniqueOrThrow({ where: { id: r.headers.get('x-request-id') as string } })),
    );
    const settled = (r: typeof textRecord) => ({ status: r.status, costMicros: r.costMicros, servedModel: r.servedModel, attempts: r.attempts, error: r.error });
    expect(settled(imageRecord)).toEqual(settled(textRecord));
    expect(settled(imageRecord)).toEqual({ status: 'failed', costMicros: 0n, servedModel: null, attempts: 1, error: 'google: The upstream provider blocked the prompt (SAFETY)' });
    expect(await prisma.ledgerEntry.count({ where: { usageId: { in: [textRecord.id, imageRecord.id] } } })).toBe(0);
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n, reserved: 0n });

    const jobId = image.headers.get('x-switchyard-job-id') as string;
    expect(jobId).toBe(imageRecord.id);
    const job = await prisma.imageJob.findUniqueOrThrow({ where: { id: jobId } });
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'content_policy_violation', block: { promptFeedback: { blockReason: 'SAFETY', safetyRatings: RATINGS } } });

    // The chat route answers the same refusal in OpenAI's way, as before.
    await script(gw, { provider: 'google', body: blocked });
    const chat = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'google/gemini-2.5-flash-image', messages: [{ role: 'user', content: 'Draw a red otter' }] }),
    });
    expect(chat.status).toBe(400);
    expect(((await chat.json()) as any).error.code).toBe('content_policy_violation');
  });

  it('answers an image Google withheld with its finishReason, as Google does', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    await script(gw, { provider: 'google', body: { candidates: [{ finishReason: 'IMAGE_SAFETY', index: 0 }], usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } } });
    const res = await post(gw, IMAGE_MODEL, key, OTTER);
    expect(res.status).toBe(200);
    expect(res.body.candidates).toEqual([{ finishReason: 'IMAGE_SAFETY', index: 0 }]);
    await gw.settled();
    expect(await prisma.usageRecord.findUniqueOrThrow({ where: { id: res.headers.get('x-request-id') as string } })).toMatchObject({ status: 'failed', costMicros: 0n });
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n, reserved: 0n });
  });

  it('keeps the order Google gave the text and images, with their signatures, on this route and on chat', async () => {
    const { key } = await gw.newTenant(5);
    const image = (await png(30, 30, 200)).toString('base64');
    const parts = [{ inlineData: { mimeType: 'image/png', data: image }, thoughtSignature: 'aW1hZ2Utc2ln' }, { text: 'Here is your blue otter!' }];

    await script(gw, { provider: 'google', body: answer(parts) });
    const native = await post(gw, IMAGE_MODEL, key, OTTER);
    expect(native.status).toBe(200);
    expect(native.body.candidates[0].content.parts).toEqual(parts);

    await script(gw, { provider: 'google', body: answer(parts) });
    const chat = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'google/gemini-2.5-flash-image', messages: [{ role: 'user', content: 'Draw a blue otter' }] }),
    });
    expect(chat.status).toBe(200);
    const message = ((await chat.json()) as any).choices[0].message;
    expect(message.content).toEqual([
      { type: 'image_url', image_url: { url: `data:image/png;base64,${image}` } },
      { type: 'text', text: 'Here is your blue otter!' },
    ]);
    expect(message.images).toEqual([message.content[0]]);
  });

  it.each([
    ['earlier turns for a model that takes a prompt only', '/v1beta/models/openai/gpt-image-1:generateContent', { contents: [...OTTER.contents, { role: 'model', parts: [{ text: 'ok' }] }, { role: 'user', parts: [{ text: 'Now make it blue' }] }] }, 'contents[0]'],
    ['a sampling field for a model that takes a prompt only', '/v1beta/models/openai/gpt-image-1:generateContent', { ...OTTER, generationConfig: { temperature: 1 } }, 'generationConfig.temperature'],
    ['safety settings for a model that takes a prompt only', '/v1beta/models/openai/gpt-image-1:generateContent', { ...OTTER, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] }, 'safetySettings'],
    ['a file reference in an earlier turn', IMAGE_MODEL, { contents: [{ role: 'user', parts: [{ fileData: { fileUri: 'https://example.com/otter.png', mimeType: 'image/png' } }] }, { role: 'model', parts: [{ text: 'ok' }] }, { role: 'user', parts: [{ text: 'Now make it blue' }] }] }, 'contents[0].parts[0]'],
    ['audio in an earlier turn', IMAGE_MODEL, { contents: [{ role: 'user', parts: [{ text: 'hum' }, { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } }] }, { role: 'user', parts: [{ text: 'Draw the tune' }] }] }, 'contents[0].parts[1].inlineData.mimeType'],
    ['a model turn after the prompt', IMAGE_MODEL, { contents: [...OTTER.contents, { role: 'model', parts: [{ text: 'Sure' }] }] }, 'contents[1].role'],
    ['an earlier image that is not base64', IMAGE_MODEL, { contents: [{ role: 'model', parts: [{ inlineData: { mimeType: 'image/png', data: 'not base64!' } }] }, ...OTTER.contents] }, 'contents[0].parts[0].inlineData.data'],
    ['a thinking level', IMAGE_MODEL, { ...OTTER, generationConfig: { thinkingConfig: { thinkingLevel: 'HIGH' } } }, 'generationConfig.thinkingConfig'],
    ['a temperature of the wrong type', IMAGE_MODEL, { ...OTTER, generationConfig: { temperature: 'hot' } }, 'generationConfig.temperature'],
    ['a stop sequence of the wrong type', IMAGE_MODEL, { ...OTTER, generationConfig: { stopSequences: [1] } }, 'generationConfig.stopSequences[0]'],
    ['an unknown safety category', IMAGE_MODEL, { ...OTTER, safetySettings: [{ category: 'VIOLENCE', threshold: 'BLOCK_NONE' }] }, 'safetySettings[0].category'],
  ])('refuses %s with 400 naming it, before anything is reserved, queued or sent', async (_what, path, body, field) => {
    const { key, tenantId } = await gw.newTenant(5);
    const res = await post(gw, path, key, body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining(field) } });
    expect(await calls(gw)).toHaveLength(0);
    expect(await prisma.imageJob.count({ where: { tenantId } })).toBe(0);
    expect(await prisma.usageRecord.count({ where: { tenantId } })).toBe(0);
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n, reserved: 0n });
  });

  it('gives a model that takes a prompt only the one user content, the system instruction in its prompt, as before', async () => {
    const { key } = await gw.newTenant(5);
    const res = await post(gw, '/v1beta/models/openai/gpt-image-1:generateContent', key, {
      ...OTTER,
      systemInstruction: { parts: [{ text: 'Pencil sketch.' }] },
      generationConfig: { responseModalities: ['IMAGE'] },
    });
    expect(res.status).toBe(200);
    const [call] = await calls(gw, 'openai');
    expect(call.body.prompt).toBe('Pencil sketch.\n\nDraw a red otter');
  });
});

/**
 * The worker in another process: the waiting request reads the finished job back from its row and the image
 * store, and a job queued by the gateway before these fields were kept runs as it did.
 */
describe('Gemini image jobs read back from their row', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let processor: ImageGenerationProcessor;

  beforeAll(async () => {
    gw = await startGateway({ WORKER_IN_PROCESS: 'false', IMAGE_SYNC_TIMEOUT_MS: '60000' });
    prisma = gw.app.get(PrismaService);
    processor = standaloneImageProcessor(gw.app);
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  /** Posts, waits for the job's row, lets `before` change it, runs the job in "another process", and returns the answer. */
  async function runElsewhere(key: string, tenantId: string, body: unknown, before?: (jobId: string) => Promise<void>) {
    const answer = post(gw, IMAGE_MODEL, key, body);
    const job = await waitUntil('the job row', async () => (await prisma.imageJob.findFirst({ where: { tenantId } })) ?? undefined, 20_000, 50);
    await before?.(job.id);
    expect(await processor.run(job.id)).toBe('succeeded');
    return { jobId: job.id, res: await answer };
  }

  it('answers in the order Google gave the text and images when the job is read back', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const image = (await png(30, 160, 30)).toString('base64');
    const parts = [{ inlineData: { mimeType: 'image/png', data: image } }, { text: 'A green otter.', thoughtSignature: 'dGV4dC1zaWc=' }];
    await script(gw, { provider: 'google', body: answer(parts) });
    const { jobId, res } = await runElsewhere(key, tenantId, OTTER);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-job-id')).toBe(jobId);
    expect(res.body.candidates[0].content.parts).toEqual(parts);
    const row = await prisma.imageJob.findUniqueOrThrow({ where: { id: jobId } });
    expect((row.result as any).parts).toEqual([{ image: 0 }, { text: 'A green otter.', thoughtSignature: 'dGV4dC1zaWc=' }]);
  });

  it('runs a job whose row was written before a request kept its Gemini fields, as it ran then', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const input = (await png(90, 90, 90)).toString('base64');
    const body = {
      systemInstruction: { parts: [{ text: 'Sys' }] },
      contents: [{ role: 'user', parts: [{ text: 'Add a hat' }, { inlineData: { mimeType: 'image/png', data: input } }] }],
    };
    const { res } = await runElsewhere(key, tenantId, body, async (jobId) => {
      // What the gateway wrote for this request before: no `gemini`, the system instruction in the prompt.
      const old = { requestedModel: 'gemini-2.5-flash-image', responseFormat: 'b64_json', prompt: 'Sys\n\nAdd a hat', n: 1, inputImages: [{ mimeType: 'image/png', data: input }] };
      await prisma.imageJob.update({ where: { id: jobId }, data: { request: old } });
    });
    expect(res.status).toBe(200);
    expect(res.body.candidates[0].content.parts.some((p: any) => p.inlineData)).toBe(true);
    const [call] = await calls(gw, 'google');
    expect(call.body).toEqual({
      contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: input } }, { text: 'Sys\n\nAdd a hat' }] }],
      generationConfig: { responseModalities: ['TEXT', 'IMAGE'] },
    });
  });
});

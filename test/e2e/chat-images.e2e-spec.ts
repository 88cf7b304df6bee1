import OpenAI from 'openai';
import sharp from 'sharp';
import { PrismaService } from '@app/database';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

type Part = { type: string; text?: string; image_url?: { url: string } };

async function decode(dataUrl: string): Promise<{ format?: string; width?: number; height?: number }> {
  const m = /^data:image\/(png|jpeg|webp);base64,(.+)$/.exec(dataUrl);
  expect(m).not.toBeNull();
  const meta = await sharp(Buffer.from(m![2], 'base64')).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}

/**
 * Image generation through chat (seeds 000 and 002): the answer is a chat.completion whose content holds
 * the text and the images as data-URI image_url parts, also listed in message.images; the work runs through
 * the image queue, so it is billed once, at the serving model's price, under the request id.
 */
describe('image models on POST /v1/chat/completions (openai SDK)', () => {
  let gw: TestGateway;
  let client: OpenAI;
  let tenant: { tenantId: string; keyId: string; key: string };
  beforeAll(async () => {
    gw = await startGateway();
    tenant = await gw.newTenant(20);
    client = new OpenAI({ apiKey: tenant.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => gw?.close());

  it('returns text and a real image from a Gemini image model', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'google/gemini-2.5-flash-image', messages: [{ role: 'user', content: 'Draw a watercolour of a foggy harbor at dawn.' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('google/gemini-2.5-flash-image');
    const content = data.choices[0].message.content as unknown as Part[];
    const images = content.filter((p) => p.type === 'image_url');
    expect(images).toHaveLength(1);
    expect(content.some((p) => p.type === 'text' && (p.text ?? '').length > 0)).toBe(true);
    expect((data.choices[0].message as unknown as { images: Part[] }).images).toEqual(images);
    const img = await decode(images[0].image_url!.url);
    expect(img.format).toBe('png');
    expect(img.width).toBeGreaterThan(0);

    const requestId = response.headers.get('x-request-id')!;
    expect(response.headers.get('x-switchyard-fallback-level')).toBe('0');
    expect(response.headers.get('x-switchyard-fallback-model')).toBe('google/gemini-2.5-flash-image');
    const usage = await gw.app.get(PrismaService).usageRecord.findUniqueOrThrow({ where: { id: requestId } });
    expect(usage).toMatchObject({ endpoint: 'chat.completions', servedModel: 'google/gemini-2.5-flash-image', status: 'succeeded' });
    expect(usage.imageOutputTokens).toBeGreaterThan(0);
    expect(response.headers.get('x-switchyard-cost-usd')).toBe((Number(usage.costMicros) / 1e6).toFixed(6));
  });

  it('keeps the order the model gave its image and text: content[0] is the image when Gemini answers image first', async () => {
    const png = (await sharp({ create: { width: 32, height: 32, channels: 3, background: '#884422' } }).png().toBuffer()).toString('base64');
    gw.sim.script({
      provider: 'google',
      body: {
        candidates: [{ content: { role: 'model', parts: [{ inlineData: { mimeType: 'image/png', data: png } }, { text: 'A serene landscape.' }] }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 1290, totalTokenCount: 1302 },
      },
    });
    const data = await client.chat.completions.create({
      model: 'google/gemini-3.1-flash-image-preview',
      messages: [{ role: 'user', content: 'A serene mountain landscape at sunset, oil painting style' }],
    });
    const content = data.choices[0].message.content as unknown as Part[];
    // As the public contract's example reads it: .choices[0].message.content[0].image_url.url
    expect(content[0].image_url?.url).toBe(`data:image/png;base64,${png}`);
    expect(content[1]).toEqual({ type: 'text', text: 'A serene landscape.' });
  });

  it('returns two real images from a GPT image model when n is 2', async () => {
    const data = await client.chat.completions.create({
      model: 'openai/gpt-image-1-mini',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'A cute baby otter wearing a tiny top hat, watercolor style' }] }],
      n: 2,
    });
    const content = data.choices[0].message.content as unknown as Part[];
    const images = content.filter((p) => p.type === 'image_url');
    expect(images).toHaveLength(2);
    for (const part of images) {
      const img = await decode(part.image_url!.url);
      expect(img).toMatchObject({ format: 'png', width: 1024, height: 1024 });
    }
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('edits an input image given as a data URL in the last user message', async () => {
    const input = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).png().toBuffer();
    const data = await client.chat.completions.create({
      model: 'google/gemini-3.1-flash-image-preview',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${input.toString('base64')}` } }, { type: 'text', text: 'Make the sky orange.' }] }],
    });
    const call = gw.sim.calls({ provider: 'google' }).at(-1)!;
    const parts = (call.body as { contents: { parts: { inlineData?: { data: string } }[] }[] }).contents.at(-1)!.parts;
    expect(parts.some((p) => p.inlineData?.data === input.toString('base64'))).toBe(true);
    expect((data.choices[0].message.content as unknown as Part[]).some((p) => p.type === 'image_url')).toBe(true);
  });

  it('refuses an http(s) input image URL for an image model with 400', async () => {
    await expect(
      client.chat.completions.create({
        model: 'google/gemini-2.5-flash-image',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }, { type: 'text', text: 'edit' }] }],
      }),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_image_url' });
  });
});

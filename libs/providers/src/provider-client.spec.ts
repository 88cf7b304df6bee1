import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProviderClient, estimateUsage } from './provider-client';
import { testModel } from './testing/adapter-harness';
import { UpstreamError } from './errors';

describe('ProviderClient (no network)', () => {
  it('refuses an unconfigured provider with an auth error that names no secret', async () => {
    const client = new ProviderClient({ openai: { baseUrl: 'http://127.0.0.1:1/v1' } });
    for (const call of [
      () => client.chat(testModel('openai', 'gpt-4o-mini'), { model: 'x', messages: [] }),
      () => client.chatStream(testModel('openai', 'gpt-4o-mini'), { model: 'x', messages: [] }),
      () => client.generateImages(testModel('openai', 'gpt-image-1'), { prompt: 'x' }),
      () => client.chat(testModel('xai', 'grok-4'), { model: 'x', messages: [] }),
    ]) {
      const err: unknown = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).kind).toBe('auth');
      expect((err as UpstreamError).message).toMatch(/not configured/);
    }
    expect(client.isConfigured('openai')).toBe(false);
    await client.close();
  });

  it('refuses an edit on a provider that cannot edit before any call', async () => {
    const client = new ProviderClient({ xai: { apiKey: 'xai-k', baseUrl: 'http://127.0.0.1:1/v1' } });
    const err: unknown = await client
      .generateImages(testModel('xai', 'grok-imagine-image'), { prompt: 'x', inputImages: [{ data: Buffer.from('x'), mimeType: 'image/png' }] })
      .catch((e: unknown) => e);
    expect((err as UpstreamError).kind).toBe('invalid_request');
    await client.close();
  });
});

describe('ProviderClient.generateImages', () => {
  it('takes the images of a large answer straight from its bytes, JSON escapes and all, and the rest from its text', async () => {
    const png = (n: number) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(n)]);
    const images = [png(400_000), png(300_000)];
    const answer = JSON.stringify({
      created: 1,
      data: images.map((img, i) => ({ b64_json: img.toString('base64'), revised_prompt: `take ${i}` })),
      usage: { input_tokens: 10, output_tokens: 4000, input_tokens_details: { text_tokens: 10, image_tokens: 0 } },
    }).replace(/\//g, '\\/');
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new ProviderClient({ openai: { apiKey: 'sk-test', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` } });
    try {
      const result = await client.generateImages(testModel('openai', 'gpt-image-1'), { prompt: 'x', n: 2 });
      expect(result.images.map((i) => i.data.equals(images[result.images.indexOf(i)]))).toEqual([true, true]);
      expect(result.images.map((i) => i.revisedPrompt)).toEqual(['take 0', 'take 1']);
      expect(result.usage).toMatchObject({ textInput: 10, imageOutput: 4000, images: 2 });
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('estimateUsage', () => {
  it('estimates text input from the request and output from streamed characters', () => {
    const usage = estimateUsage(
      { model: 'x', messages: [{ role: 'system', content: 'abcd' }, { role: 'user', content: [{ type: 'text', text: 'efghijkl' }, { type: 'image_url', image_url: { url: 'data:' } }] }] },
      { outputChars: 9 },
    );
    expect(usage).toMatchObject({ textInput: 3, textOutput: 3, cachedInput: 0, reasoningOutput: 0 });
  });
});

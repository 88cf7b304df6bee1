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

describe('estimateUsage', () => {
  it('estimates text input from the request and output from streamed characters', () => {
    const usage = estimateUsage(
      { model: 'x', messages: [{ role: 'system', content: 'abcd' }, { role: 'user', content: [{ type: 'text', text: 'efghijkl' }, { type: 'image_url', image_url: { url: 'data:' } }] }] },
      { outputChars: 9 },
    );
    expect(usage).toMatchObject({ textInput: 3, textOutput: 3, cachedInput: 0, reasoningOutput: 0 });
  });
});

import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { request } from 'undici';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(60_000);

/** Every model the seed documents name; each must be listed with a price. */
const SEED_MODELS = [
  'openai/gpt-image-1', 'openai/gpt-image-1-mini', 'openai/gpt-image-1.5', 'openai/gpt-image-2',
  'google/imagen-4.0-fast-generate-001', 'google/imagen-4.0-generate-001', 'google/imagen-4.0-ultra-generate-001',
  'grok/grok-imagine-image', 'grok/grok-imagine-image-pro',
  'google/gemini-2.5-flash-image', 'google/gemini-3-pro-image-preview', 'google/gemini-3.1-flash-image-preview',
  'openai/gpt-4o-mini', 'anthropic/claude-sonnet-4.6', 'google/gemini-2.5-flash',
];

describe('models, through the official SDKs', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    gw = await startGateway();
    ({ key } = await gw.newTenant(1));
  });
  afterAll(async () => gw?.close());

  it('lists every seed model with capabilities and a list price (openai SDK)', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1` });
    const ids: string[] = [];
    const byId = new Map<string, any>();
    for await (const m of client.models.list()) {
      ids.push(m.id);
      byId.set(m.id, m);
    }
    expect(ids).toEqual(expect.arrayContaining(SEED_MODELS));
    for (const id of SEED_MODELS) {
      const m = byId.get(id);
      expect(m.pricing).not.toBeNull();
      expect(m.pricing.source).toMatch(/^https:\/\//);
      expect(m.pricing.tokens ?? m.pricing.per_image).toBeDefined();
    }
    expect(byId.get('google/imagen-4.0-generate-001').capabilities.images_endpoint).toBe(true);
    expect(byId.get('google/gemini-2.5-flash-image').capabilities.images_endpoint).toBe(false);
    expect(byId.get('google/gemini-2.5-flash-image').capabilities.image_output_via_chat).toBe(true);

    // Retired seed models stay listed, with the shutdown their provider announced.
    for (const id of ['openai/gpt-image-1', 'google/imagen-4.0-generate-001', 'google/gemini-2.5-flash-image']) {
      expect(byId.get(id).deprecation).toMatchObject({ shutdown: expect.stringMatching(/^\d{4}-\d\d-\d\d$/), source: expect.stringMatching(/^https:\/\//) });
    }
    expect(byId.get('openai/gpt-image-2').deprecation).toBeUndefined();
    // Prompt-length bands and time-of-day rates are listed with the price.
    expect(byId.get('google/gemini-2.5-pro').pricing.tokens.long_context).toEqual([{ threshold_tokens: 200_000, input: '2.50', output: '15.00' }]);
    expect(byId.get('deepseek/deepseek-flash').pricing.tokens.time_of_day[0]).toMatchObject({ label: 'off-peak', input: '0.15' });

    const one = await client.models.retrieve('openai/gpt-4o-mini');
    expect(one.id).toBe('openai/gpt-4o-mini');
    expect((one as unknown as { deprecation?: { shutdown?: string } }).deprecation?.shutdown).toBe('2027-01-14');
    await expect(client.models.retrieve('openai/no-such-model')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it("lists only a restricted key's allowed models", async () => {
    const restricted = await gw.newTenant(1, { allowed_models: ['gpt-4o-mini', 'google/gemini-2.5-flash'] });
    const client = new OpenAI({ apiKey: restricted.key, baseURL: `${gw.url}/v1` });
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['google/gemini-2.5-flash', 'openai/gpt-4o-mini']);
    await expect(client.models.retrieve('anthropic/claude-sonnet-4.6')).rejects.toMatchObject({ status: 404 });
  });

  it("lists models in Google's shape (@google/genai SDK)", async () => {
    const ai = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gw.url } });
    const names: string[] = [];
    for await (const m of await ai.models.list()) names.push(m.name ?? '');
    expect(names).toEqual(expect.arrayContaining(['models/gemini-2.5-flash', 'models/gemini-2.5-flash-image', 'models/openai/gpt-4o-mini']));
    expect(names).not.toContain('models/imagen-4.0-generate-001');
    const one = await ai.models.get({ model: 'gemini-2.5-flash' });
    expect(one.name).toBe('models/gemini-2.5-flash');
    expect(one.supportedActions ?? (one as any).supportedGenerationMethods).toBeDefined();
  });

  it("answers a bad key on /v1beta in Google's envelope, and on /v1 in OpenAI's", async () => {
    const beta = await request(`${gw.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'sk-sy-wrong' } });
    expect(beta.statusCode).toBe(401);
    expect(await beta.body.json()).toEqual({ error: { code: 401, message: 'Invalid API key.', status: 'UNAUTHENTICATED' } });
    const v1 = await request(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer sk-sy-wrong' } });
    expect(v1.statusCode).toBe(401);
    expect(await v1.body.json()).toEqual({ error: { message: 'Invalid API key.', type: 'authentication_error', param: null, code: 'invalid_api_key' } });
  });
});

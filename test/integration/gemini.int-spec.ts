import { request } from 'node:http';
import { PrismaService } from '@app/database';
import { ModelCatalog, type ModelSpec } from '@app/providers';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(60_000);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Posts with node:http so the body is read exactly as written (SSE, JSON arrays, error chunks). */
function post(url: string, path: string, key: string, body: unknown, opts: { abortAfterBytes?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', headers: { 'x-goog-api-key': key, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (piece: string) => {
        text += piece;
        if (opts.abortAfterBytes !== undefined && text.length >= opts.abortAfterBytes) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', (e) => (opts.abortAfterBytes !== undefined ? undefined : reject(e)));
    });
    req.on('error', (e) => (opts.abortAfterBytes !== undefined ? undefined : reject(e)));
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const HELLO = { contents: [{ role: 'user', parts: [{ text: 'Count from one to twenty.' }] }] };

function sseEvents(text: string): any[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((e) => e.trim() !== '')
    .map((e) => {
      expect(e.startsWith('data: ')).toBe(true);
      return JSON.parse(e.slice('data: '.length));
    });
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const until = Date.now() + 5_000;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The Gemini-native route on the wire: stream formats, faults, refusals, limits and fallback. */
describe('Gemini-native route on the wire', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let tenant: { tenantId: string; keyId: string; key: string };

  const records = async (requestId: string | string[] | undefined) => {
    await gw.settled(); // usage records are written just after the answer leaves
    return prisma.usageRecord.findMany({ where: { id: String(requestId) } });
  };

  beforeAll(async () => {
    gw = await startGateway({ CHAT_ATTEMPT_TIMEOUT_MS: '1500' });
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(20);
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  it('streams one JSON array, element by element, without alt=sse', async () => {
    const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent', tenant.key, HELLO);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const chunks = JSON.parse(res.text) as any[];
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.map((c) => c.candidates?.[0]?.content?.parts?.[0]?.text ?? '').join('').length).toBeGreaterThan(0);
    expect(chunks[chunks.length - 1].usageMetadata.totalTokenCount).toBeGreaterThan(0);
    expect(chunks[chunks.length - 1].candidates[0].finishReason).toBe('STOP');
    const [record] = await records(res.headers['x-request-id']);
    expect(record.status).toBe('succeeded');
  });

  it('streams Server-Sent Events with alt=sse, and runs other providers the same way', async () => {
    const res = await post(gw.url, '/v1beta/models/anthropic/claude-sonnet-4.6:streamGenerateContent?alt=sse', tenant.key, HELLO);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['x-switchyard-fallback-model']).toBe('anthropic/claude-sonnet-4.6');
    const events = sseEvents(res.text);
    expect(events.length).toBeGreaterThan(2);
    for (const e of events) expect(e.modelVersion).toBe('anthropic/claude-sonnet-4.6');
    expect(events[events.length - 1].usageMetadata.candidatesTokenCount).toBeGreaterThan(0);
    expect(gw.sim.calls({ provider: 'anthropic' })).toHaveLength(1);
  });

  it("ends a stream that fails upstream after the first chunk with Google's error object, billed as partial", async () => {
    gw.sim.script({ provider: 'google', streamErrorAfterChunks: 2 });
    const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', tenant.key, HELLO);
    expect(res.status).toBe(200);
    const events = sseEvents(res.text);
    expect(events.length).toBeGreaterThanOrEqual(2);
    const last = events[events.length - 1];
    expect(last.error).toMatchObject({ code: expect.any(Number), status: expect.any(String), message: expect.any(String) });
    expect(Object.keys(last.error).sort()).toEqual(['code', 'message', 'status']);
    expect(events.slice(0, -1).every((e) => e.error === undefined)).toBe(true);
    const rows = await records(res.headers['x-request-id']);
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe('partial');

    gw.sim.script({ provider: 'google', streamErrorAfterChunks: 2 });
    const array = await post(gw.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent', tenant.key, HELLO);
    const elements = JSON.parse(array.text) as any[];
    expect(elements[elements.length - 1].error.status).toBeDefined();
  });

  it('bills a tenant that leaves mid-stream for what was produced, and cancels the upstream', async () => {
    gw.sim.script({ provider: 'google', chunkDelayMs: 100 });
    const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', tenant.key, HELLO, { abortAfterBytes: 1 });
    const rows = await eventually(() => records(res.headers['x-request-id']), (r) => r.length === 1);
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe('partial');
    const [call] = await eventually(async () => gw.sim.calls({ provider: 'google' }), (c) => c[0]?.finishedAt !== undefined);
    expect(call.aborted).toBe(true);
  });

  it("answers a prompt Google blocked as Google does: 200 with promptFeedback, nothing charged", async () => {
    gw.sim.script({ provider: 'google', body: { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 } } });
    const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', tenant.key, HELLO);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text);
    expect(body.promptFeedback).toEqual({ blockReason: 'SAFETY' });
    expect(body.candidates).toBeUndefined();
    const [record] = await eventually(() => records(res.headers['x-request-id']), (r) => r.length === 1);
    expect(record.status).toBe('failed');
    expect(record.costMicros).toBe(0n);

    // The chat route answers the same refusal in OpenAI's way, as before.
    gw.sim.script({ provider: 'google', body: { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', blocked: true }] } } });
    const chat = await post(gw.url, '/v1/chat/completions', tenant.key, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status).toBe(400);
    expect(JSON.parse(chat.text)).toEqual({
      error: { message: 'google: The upstream provider blocked the prompt (SAFETY)', type: 'invalid_request_error', param: null, code: 'content_policy_violation' },
    });
  });

  it("serves a cachedContent request by the model named, without falling back, and answers Google's unknown cache as the tenant's 400", async () => {
    const spec = gw.app.get(ModelCatalog).resolve('google/gemini-2.5-flash') as ModelSpec;
    const configured = spec.fallbacks;
    spec.fallbacks = ['google/gemini-2.5-flash-lite', 'openai/gpt-4o-mini'];
    try {
      gw.sim.script({ provider: 'google', status: 503, times: Infinity });
      const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', tenant.key, { ...HELLO, cachedContent: 'cachedContents/abc' });
      expect(res.status).toBe(502);
      expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(0);
      const google = gw.sim.calls({ provider: 'google' });
      expect(new Set(google.map((c) => c.model))).toEqual(new Set(['gemini-2.5-flash']));
      expect(google.every((c) => (c.body as { cachedContent?: string }).cachedContent === 'cachedContents/abc')).toBe(true);
    } finally {
      spec.fallbacks = configured;
    }
    gw.sim.reset();
    // The Gemini API names caches `cachedContents/{id}`; it does not know a Vertex AI name.
    const unknown = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', tenant.key, { ...HELLO, cachedContent: 'projects/p/cachedContents/abc' });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining('CachedContent not found') });
    const [record] = await eventually(() => records(unknown.headers['x-request-id']), (r) => r.length === 1);
    expect(record).toMatchObject({ status: 'failed', costMicros: 0n });
  });

  it('falls back along the model\'s configured fallbacks and bills the serving model', async () => {
    const spec = gw.app.get(ModelCatalog).resolve('google/gemini-2.5-flash') as ModelSpec;
    const configured = spec.fallbacks;
    spec.fallbacks = ['openai/gpt-4o-mini'];
    try {
      gw.sim.script({ provider: 'google', status: 503, times: Infinity });
      const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', tenant.key, HELLO);
      expect(res.status).toBe(200);
      expect(res.headers['x-switchyard-fallback-level']).toBe('1');
      expect(res.headers['x-switchyard-fallback-model']).toBe('openai/gpt-4o-mini');
      expect(JSON.parse(res.text).modelVersion).toBe('openai/gpt-4o-mini');
      const [record] = await records(res.headers['x-request-id']);
      expect(record).toMatchObject({ servedModel: 'openai/gpt-4o-mini', fallbackLevel: 1, status: 'succeeded' });
      expect(record.attempts).toBeGreaterThan(1);
    } finally {
      spec.fallbacks = configured;
    }
  });

  it.each([
    [503, 502, 'UNAVAILABLE'],
    [500, 502, 'UNAVAILABLE'],
  ])('answers an upstream %i (after retries) with %i %s and a failed usage record', async (upstream, status, name) => {
    gw.sim.script({ provider: 'google', status: upstream, times: Infinity });
    const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', tenant.key, HELLO);
    expect(res.status).toBe(status);
    const body = JSON.parse(res.text);
    expect(body.error).toMatchObject({ code: status, status: name });
    expect(res.text).not.toContain(gw.sim.url);
    const rows = await records(res.headers['x-request-id']);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'failed', costMicros: 0n });
  });

  it('answers an upstream that does not answer in time with 504 DEADLINE_EXCEEDED', async () => {
    gw.sim.script({ provider: 'google', delayMs: 5_000, times: Infinity });
    const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', tenant.key, HELLO);
    expect(res.status).toBe(504);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 504, status: 'DEADLINE_EXCEEDED' });
  });

  it('answers a rate-limited key with 429 RESOURCE_EXHAUSTED and rate-limit headers', async () => {
    const limited = await gw.newTenant(5, { rpm_limit: 1 });
    const first = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', limited.key, HELLO);
    expect(first.status).toBe(200);
    expect(Object.keys(first.headers).some((h) => h.startsWith('x-ratelimit'))).toBe(true);
    const second = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', limited.key, HELLO);
    expect(second.status).toBe(429);
    expect(JSON.parse(second.text).error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
    expect(second.headers['retry-after']).toBeDefined();
  });

  it('answers a model the key may not use with 403 PERMISSION_DENIED', async () => {
    const restricted = await gw.newTenant(5, { allowed_models: ['openai/gpt-4o-mini'] });
    const res = await post(gw.url, '/v1beta/models/gemini-2.5-flash:generateContent', restricted.key, HELLO);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED' });
    const ok = await post(gw.url, '/v1beta/models/openai/gpt-4o-mini:generateContent', restricted.key, HELLO);
    expect(ok.status).toBe(200);
  });

  it.each([
    ['an unknown method', '/v1beta/models/gemini-2.5-flash:countTokens', HELLO, 404, 'NOT_FOUND'],
    ['no method', '/v1beta/models/gemini-2.5-flash', HELLO, 404, 'NOT_FOUND'],
    ['cachedContent for another provider\'s model', '/v1beta/models/openai/gpt-4o-mini:generateContent', { ...HELLO, cachedContent: 'cachedContents/abc' }, 400, 'INVALID_ARGUMENT'],
    ['cachedContent for an image model', '/v1beta/models/gemini-2.5-flash-image:generateContent', { ...HELLO, cachedContent: 'cachedContents/abc' }, 400, 'INVALID_ARGUMENT'],
    ['cachedContent beside a system instruction', '/v1beta/models/gemini-2.5-flash:generateContent', { ...HELLO, cachedContent: 'cachedContents/abc', systemInstruction: { parts: [{ text: 'x' }] } }, 400, 'INVALID_ARGUMENT'],
    ['a malformed cache name', '/v1beta/models/gemini-2.5-flash:generateContent', { ...HELLO, cachedContent: 'abc' }, 400, 'INVALID_ARGUMENT'],
    ['an unknown safety threshold', '/v1beta/models/gemini-2.5-flash:generateContent', { ...HELLO, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_MOST' }] }, 400, 'INVALID_ARGUMENT'],
    ['a stream from an image model', '/v1beta/models/gemini-2.5-flash-image:streamGenerateContent?alt=sse', HELLO, 400, 'INVALID_ARGUMENT'],
    ['an imageSize the model lacks', '/v1beta/models/gemini-2.5-flash-image:generateContent', { ...HELLO, generationConfig: { imageConfig: { imageSize: '4K' } } }, 400, 'INVALID_ARGUMENT'],
    ['an unknown aspect ratio', '/v1beta/models/gemini-2.5-flash-image:generateContent', { ...HELLO, generationConfig: { imageConfig: { aspectRatio: '7:3' } } }, 400, 'INVALID_ARGUMENT'],
    ['IMAGE output from a text model', '/v1beta/models/gemini-2.5-flash:generateContent', { ...HELLO, generationConfig: { responseModalities: ['TEXT', 'IMAGE'] } }, 400, 'INVALID_ARGUMENT'],
    ['an Imagen model', '/v1beta/models/imagen-4.0-generate-001:generateContent', HELLO, 400, 'INVALID_ARGUMENT'],
    ['a PDF part for a translated model', '/v1beta/models/openai/gpt-4o-mini:generateContent', { contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } }] }] }, 400, 'INVALID_ARGUMENT'],
    ['an empty contents list', '/v1beta/models/gemini-2.5-flash:generateContent', { contents: [] }, 400, 'INVALID_ARGUMENT'],
  ])('refuses %s before any upstream call or charge', async (_what, path, body, status, name) => {
    const before = await prisma.usageRecord.count({ where: { tenantId: tenant.tenantId } });
    const res = await post(gw.url, path, tenant.key, body);
    expect(res.status).toBe(status);
    expect(JSON.parse(res.text)).toEqual({ error: { code: status, status: name, message: expect.any(String) } });
    expect(gw.sim.calls()).toHaveLength(0);
    expect(await prisma.usageRecord.count({ where: { tenantId: tenant.tenantId } })).toBe(before);
  });

  it('writes exactly one usage record per request that reached an upstream', async () => {
    const ids: string[] = [];
    for (const path of [
      '/v1beta/models/gemini-2.5-flash:generateContent',
      '/v1beta/models/openai/gpt-4o-mini:streamGenerateContent?alt=sse',
      '/v1beta/models/gemini-3.1-flash-image-preview:generateContent',
    ]) {
      const res = await post(gw.url, path, tenant.key, HELLO);
      expect(res.status).toBe(200);
      ids.push(String(res.headers['x-request-id']));
    }
    await gw.settled();
    const rows = await prisma.usageRecord.findMany({ where: { id: { in: ids } } });
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(gw.sim.calls()).toHaveLength(3);
  });
});

import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway';

/**
 * Tenant isolation: tenant A gets 404 for tenant B's image jobs and usage records, whatever ids, spellings or
 * query parameters it sends, and the answer is the one a non-existent id gets; a signed image link opens
 * only the image it was signed for; every admin route refuses tenant keys (403) and missing tokens (401).
 */

jest.setTimeout(120_000);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const HELLO = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello?' }] };

describe('tenant isolation', () => {
  let gw: TestGateway;
  let a: { tenantId: string; keyId: string; key: string };
  let b: { tenantId: string; keyId: string; key: string };
  /** B's traffic: an image job with two images, an async job, a chat request, a Gemini-native request */
  const bIds = { job: '', asyncJob: '', chat: '', gemini: '', imageUrls: [] as string[] };
  let aImageUrl = '';

  async function call(path: string, init: { key?: string; body?: unknown; method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.key) headers.authorization = `Bearer ${init.key}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const r = await request(`${gw.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  }

  /** the answer with the id asked for blanked out, so answers for different ids compare */
  function shape(res: Answer, id: string): { status: number; body: string } {
    return { status: res.status, body: res.text.split(id.slice(0, 100)).join('<id>') };
  }

  beforeAll(async () => {
    gw = await startGateway();
    a = await gw.newTenant(10);
    b = await gw.newTenant(10);

    const images = await call('/v1/images/generations', { key: b.key, body: { model: 'openai/gpt-image-1', prompt: 'A kite', n: 2, size: '1024x1024' } });
    expect(images.status).toBe(200);
    bIds.job = String(images.headers['x-switchyard-job-id']);
    bIds.imageUrls = (JSON.parse(images.text) as { data: { url: string }[] }).data.map((d) => d.url);
    expect(bIds.imageUrls).toHaveLength(2);
    const later = await call('/v1/images/generations', { key: b.key, body: { model: 'grok/grok-imagine-image', prompt: 'A boat' }, headers: { prefer: 'respond-async' } });
    expect(later.status).toBe(202);
    bIds.asyncJob = (JSON.parse(later.text) as { id: string }).id;
    const chat = await call('/v1/chat/completions', { key: b.key, body: HELLO });
    expect(chat.status).toBe(200);
    bIds.chat = String(chat.headers['x-request-id']);
    const gemini = await call('/v1beta/models/gemini-2.5-flash:generateContent', { key: b.key, body: { contents: [{ parts: [{ text: 'Hello?' }] }] } });
    expect(gemini.status).toBe(200);
    bIds.gemini = String(gemini.headers['x-request-id']);

    const mine = await call('/v1/images/generations', { key: a.key, body: { model: 'openai/gpt-image-1', prompt: 'A kite', size: '1024x1024' } });
    expect(mine.status).toBe(200);
    aImageUrl = (JSON.parse(mine.text) as { data: { url: string }[] }).data[0].url;
    expect((await call('/v1/chat/completions', { key: a.key, body: HELLO })).status).toBe(200);
    // B's own view works, so the 404s below are about who asks.
    expect((await call(`/v1/images/generations/${bIds.job}`, { key: b.key })).status).toBe(200);
    expect((await call(`/v1/usage/${bIds.chat}`, { key: b.key })).status).toBe(200);
    expect((await call(`/v1/usage/${bIds.gemini}`, { key: b.key })).status).toBe(200);
  });
  afterAll(async () => gw?.close());

  /** ways of naming B's id, and query parameters that try to widen the scope */
  function attempts(id: string): string[] {
    return [
      id,
      id.toUpperCase(),
      `${id}?tenant_id=${b.tenantId}`,
      `${id}?tenantId=${b.tenantId}&api_key_id=${b.keyId}`,
      `${encodeURIComponent(` ${id}`)}`,
      `${id}%00`,
    ];
  }

  it("gives 404 for B's image jobs, whatever the spelling or query, exactly as for an id that does not exist", async () => {
    for (const id of [bIds.job, bIds.asyncJob]) {
      const missing = randomUUID();
      const baseline = shape(await call(`/v1/images/generations/${missing}`, { key: a.key }), missing);
      expect(baseline.status).toBe(404);
      for (const path of attempts(id)) {
        const res = await call(`/v1/images/generations/${path}`, { key: a.key });
        expect(res.status).toBe(404);
        expect(res.text).not.toContain(b.tenantId);
        expect(res.text).not.toContain('"status":"succeeded"');
      }
      expect(shape(await call(`/v1/images/generations/${id}`, { key: a.key }), id)).toEqual(baseline);
    }
    // A second key in the URL is refused whatever the id: the same 400 for B's job as for one that does not exist.
    const secondKey = `?key=${encodeURIComponent(b.key.slice(0, 12))}`;
    const forMissing = await call(`/v1/images/generations/${randomUUID()}${secondKey}`, { key: a.key });
    const forB = await call(`/v1/images/generations/${bIds.job}${secondKey}`, { key: a.key });
    expect([forB.status, JSON.parse(forB.text).error.code]).toEqual([400, 'conflicting_api_keys']);
    expect(JSON.parse(forB.text)).toEqual(JSON.parse(forMissing.text));
    for (const odd of ["' OR '1'='1", '../../admin', '%2e%2e%2fadmin', 'x'.repeat(5000)]) {
      expect((await call(`/v1/images/generations/${encodeURIComponent(odd)}`, { key: a.key })).status).toBe(404);
    }
  });

  it("gives 404 for B's usage records, whatever the spelling or query, exactly as for an id that does not exist", async () => {
    for (const id of [bIds.chat, bIds.gemini, bIds.job]) {
      const missing = randomUUID();
      const baseline = shape(await call(`/v1/usage/${missing}`, { key: a.key }), missing);
      expect(baseline.status).toBe(404);
      for (const path of attempts(id)) {
        const res = await call(`/v1/usage/${path}`, { key: a.key });
        expect(res.status).toBe(404);
        expect(res.text).not.toContain(b.keyId);
      }
      expect(shape(await call(`/v1/usage/${id}`, { key: a.key }), id)).toEqual(baseline);
    }
    for (const odd of ["' OR '1'='1", 'x'.repeat(5000)]) {
      expect((await call(`/v1/usage/${encodeURIComponent(odd)}`, { key: a.key })).status).toBe(404);
    }
  });

  it("never widens A's usage totals to B's, whatever query parameters it sends", async () => {
    const own = await call('/v1/usage?group_by=key', { key: a.key });
    expect(own.status).toBe(200);
    expect(own.text).toContain(a.keyId);
    for (const q of [`tenant_id=${b.tenantId}`, `tenantId=${b.tenantId}`, `api_key_id=${b.keyId}`, `key_id=${b.keyId}`]) {
      const res = await call(`/v1/usage?group_by=key&${q}`, { key: a.key });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual(JSON.parse(own.text));
      expect(res.text).not.toContain(b.keyId);
    }
    const total = JSON.parse((await call('/v1/usage', { key: a.key })).text) as Record<string, unknown>;
    const totalWithB = JSON.parse((await call(`/v1/usage?tenant_id=${b.tenantId}`, { key: a.key })).text) as Record<string, unknown>;
    expect(totalWithB).toEqual(total);
  });

  it('opens an image only with the link signed for it: another image id, or a signature moved to it, is refused', async () => {
    const [first, second] = bIds.imageUrls.map((u) => new URL(u));
    expect((await call(first.pathname + first.search)).status).toBe(200);
    const ids = [first, second, new URL(aImageUrl)].map((u) => u.pathname.split('/').pop() ?? '');
    // B's first signature on B's second image, and on A's image.
    for (const target of ids.slice(1)) {
      const res = await call(`/v1/images/files/${target}${first.search}`);
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toContain('application/json');
    }
    // A's signature on B's image.
    expect((await call(`/v1/images/files/${ids[0]}${new URL(aImageUrl).search}`)).status).toBe(403);
    // No signature, or only an API key, opens nothing.
    expect((await call(`/v1/images/files/${ids[0]}`, { key: a.key })).status).toBe(403);
    expect((await call(`/v1/images/files/${ids[0]}`, { key: b.key })).status).toBe(403);
  });

  describe('admin routes', () => {
    /** every admin operation of the OpenAPI document, with its path parameters filled in */
    async function adminOperations(): Promise<{ method: string; path: string }[]> {
      const doc = JSON.parse((await call('/docs-json')).text) as { paths: Record<string, Record<string, unknown>> };
      const ops: { method: string; path: string }[] = [];
      for (const [template, methods] of Object.entries(doc.paths)) {
        if (!template.startsWith('/admin')) continue;
        const path = template.replace('{id}', a.tenantId).replace(/\{[^}]+\}/g, 'openai/gpt-4o-mini');
        for (const method of Object.keys(methods)) ops.push({ method: method.toUpperCase(), path: method === 'delete' ? `/admin/keys/${a.keyId}` : path });
      }
      return ops;
    }

    it('are all found in the OpenAPI document', async () => {
      const ops = await adminOperations();
      expect(ops.map((o) => `${o.method} ${o.path.split('/').slice(0, 3).join('/')}`)).toEqual(
        expect.arrayContaining(['POST /admin/tenants', 'GET /admin/tenants', 'DELETE /admin/keys', 'PUT /admin/prices']),
      );
    });

    it('refuse a tenant key with 403 as Bearer, with 401 as x-goog-api-key or ?key= (never read there), and a missing token with 401, changing nothing', async () => {
      const ops = await adminOperations();
      let probe = 0;
      for (const { method, path } of ops) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : { name: 'mallory', amount_usd: 100, credit_usd: 100 };
        // Each probe from its own address, so the wrong-credential throttle does not answer for the route.
        const from = { 'x-forwarded-for': `198.51.100.${++probe}` };
        const none = await call(path, { method, body, headers: from });
        expect({ route: `${method} ${path}`, status: none.status }).toEqual({ route: `${method} ${path}`, status: 401 });
        const res = await call(path, { method, body, headers: { authorization: `Bearer ${a.key}`, ...from } });
        expect({ route: `${method} ${path}`, status: res.status }).toEqual({ route: `${method} ${path}`, status: 403 });
        expect(JSON.parse(res.text).error.type).toBe('permission_error');
        const goog = await call(path, { method, body, headers: { 'x-goog-api-key': a.key, ...from } });
        expect({ route: `${method} ${path}`, status: goog.status }).toEqual({ route: `${method} ${path}`, status: 401 });
        const query = await call(`${path}${path.includes('?') ? '&' : '?'}key=${a.key}`, { method, body, headers: from });
        expect(query.status).toBe(401);
      }
      // Nothing happened: A's key still works, A's balance is what it was, no tenant named mallory exists.
      expect((await call('/v1/balance', { key: a.key })).status).toBe(200);
      const tenant = await gw.admin(`/admin/tenants/${a.tenantId}`);
      expect(tenant.body.name).not.toBe('mallory');
      expect(JSON.stringify((await gw.admin(`/admin/tenants/${a.tenantId}/keys`)).body)).not.toContain('mallory');
      expect(ADMIN_TOKEN).not.toBe(a.key);
    });
  });
});

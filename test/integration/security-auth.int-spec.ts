import { request } from 'undici';
import { PrismaService } from '@app/database';
import { AuthFailureThrottle, KeyResolver } from '@app/tenancy';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway';

/**
 * Authentication answers that reveal nothing and cannot be used to guess: an unknown and a revoked key get
 * the same answer on every route, in every place a key can be sent; a burst of invalid credentials from one
 * address is refused with 429 before any key lookup, while keys known to be valid keep working.
 *
 * A key past its `expires_at` is refused exactly like an unknown one, from the moment it expires, whatever
 * this replica's cache held.
 *
 * Each test that trips the throttle comes from its own address (`X-Forwarded-For`, trusted from loopback),
 * so the rest of the file is not throttled.
 */

jest.setTimeout(120_000);

type Via = 'bearer' | 'goog' | 'query';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const HELLO = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello?' }] };
const ROUTES: { method: 'GET' | 'POST'; path: string; body?: unknown }[] = [
  { method: 'POST', path: '/v1/chat/completions', body: HELLO },
  { method: 'POST', path: '/v1/images/generations', body: { model: 'openai/gpt-image-1', prompt: 'A kite' } },
  { method: 'POST', path: '/v1beta/models/gemini-2.5-flash:generateContent', body: { contents: [{ parts: [{ text: 'Hello?' }] }] } },
  { method: 'GET', path: '/v1/images/generations/00000000-0000-4000-8000-000000000000' },
  { method: 'GET', path: '/v1/usage' },
  { method: 'GET', path: '/v1/balance' },
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/v1beta/models' },
];

describe('authentication', () => {
  let gw: TestGateway;
  let nextAddress = 10;
  /** a client address of its own for each test that trips the throttle */
  const freshAddress = () => `203.0.113.${nextAddress++}`;

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => gw?.close());
  afterEach(() => jest.restoreAllMocks());

  async function call(
    path: string,
    init: { key?: string; via?: Via; body?: unknown; method?: string; from?: string } = {},
  ): Promise<Answer> {
    const { key, via = 'bearer', body } = init;
    const headers: Record<string, string> = {};
    let url = `${gw.url}${path}`;
    if (key && via === 'bearer') headers.authorization = `Bearer ${key}`;
    if (key && via === 'goog') headers['x-goog-api-key'] = key;
    if (key && via === 'query') url += `${path.includes('?') ? '&' : '?'}key=${encodeURIComponent(key)}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (init.from) headers['x-forwarded-for'] = init.from;
    const r = await request(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  }

  /** what a client can compare between two answers: status, body, and which headers came */
  function visible(a: Answer) {
    const names = Object.keys(a.headers).filter((h) => !['date', 'x-request-id', 'content-length', 'keep-alive', 'connection'].includes(h)).sort();
    return { status: a.status, body: JSON.parse(a.text) as unknown, headers: names };
  }

  describe('an unknown and a revoked key', () => {
    let revoked: string;
    beforeAll(async () => {
      const t = await gw.newTenant(5);
      // Used once first, so the revoked key is one the gateway knew and cached as valid.
      expect((await call('/v1/balance', { key: t.key })).status).toBe(200);
      expect((await gw.admin(`/admin/keys/${t.keyId}`, { method: 'DELETE' })).status).toBe(204);
      revoked = t.key;
    });

    it.each(ROUTES.flatMap((r) => (['bearer', 'goog', 'query'] as const).map((via) => [r.method, r.path, via, r.body] as const)))(
      '%s %s with the key as %s: the same 401',
      async (method, path, via, body) => {
        const from = freshAddress();
        const unknown = await call(path, { key: `sk-sy-${'0'.repeat(40)}`, via, body, method, from });
        const gone = await call(path, { key: revoked, via, body, method, from });
        expect(unknown.status).toBe(401);
        expect(visible(gone)).toEqual(visible(unknown));
        const parsed = JSON.parse(unknown.text) as { error: Record<string, unknown> };
        if (path.startsWith('/v1beta')) expect(parsed.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
        else expect(parsed.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
        expect(gw.sim.calls()).toEqual([]);
      },
    );
  });

  describe('no credential', () => {
    const sent: [string, Record<string, string>][] = [
      ['nothing', {}],
      ['an empty Bearer', { authorization: 'Bearer ' }],
      ['Basic credentials', { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` }],
      ['an empty x-goog-api-key', { 'x-goog-api-key': '' }],
    ];
    it.each(ROUTES.flatMap((r) => sent.map(([what, headers]) => [r.method, r.path, what, headers, r.body] as const)))(
      '%s %s with %s: 401 missing_api_key with a Bearer challenge, not an invalid key',
      async (method, path, _what, headers, body) => {
        const r = await request(`${gw.url}${path}`, {
          method,
          headers: { ...headers, 'x-forwarded-for': freshAddress(), ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const parsed = JSON.parse(await r.body.text()) as { error: Record<string, unknown> };
        expect(r.statusCode).toBe(401);
        expect(r.headers['www-authenticate']).toBe('Bearer realm="switchyard"');
        if (path.startsWith('/v1beta')) expect(parsed.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
        else expect(parsed.error).toMatchObject({ type: 'invalid_request_error', code: 'missing_api_key' });
        expect(String(parsed.error.message)).toContain('Missing API key');
        expect(gw.sim.calls()).toEqual([]);
      },
    );

    it('challenges an invalid key as an invalid token, and a missing admin token as missing', async () => {
      const invalid = await call('/v1/balance', { key: `sk-sy-${'1'.repeat(40)}`, from: freshAddress() });
      expect(invalid.headers['www-authenticate']).toBe('Bearer realm="switchyard", error="invalid_token"');
      const admin = await call('/admin/tenants/00000000-0000-4000-8000-000000000000', { from: freshAddress() });
      expect(admin.status).toBe(401);
      expect(admin.headers['www-authenticate']).toBe('Bearer realm="switchyard"');
      expect(JSON.parse(admin.text).error).toMatchObject({ code: 'missing_api_key' });
    });
  });

  describe('where a credential may travel', () => {
    it('takes the admin token only from the Authorization header, never from x-goog-api-key or the URL', async () => {
      const { tenantId } = await gw.newTenant(1);
      const path = `/admin/tenants/${tenantId}`;
      expect((await call(path, { key: ADMIN_TOKEN, via: 'bearer', from: freshAddress() })).status).toBe(200);
      for (const via of ['goog', 'query'] as const) {
        const res = await call(path, { key: ADMIN_TOKEN, via, from: freshAddress() });
        expect({ via, status: res.status }).toEqual({ via, status: 401 });
        expect(JSON.parse(res.text).error.message).toContain('Authorization: Bearer');
      }
    });

    it('refuses two different keys in one request with 400 in the route\'s envelope, and accepts the same key twice', async () => {
      const a = await gw.newTenant(1);
      const b = await gw.newTenant(1);
      const send = (path: string, headers: Record<string, string>, query = '') =>
        request(`${gw.url}${path}${query}`, { method: 'GET', headers: { ...headers, 'x-forwarded-for': freshAddress() } }).then(async (r) => ({
          status: r.statusCode,
          body: JSON.parse(await r.body.text()) as { error?: Record<string, unknown> },
        }));
      const both = { authorization: `Bearer ${a.key}`, 'x-goog-api-key': b.key };
      const openai = await send('/v1/balance', both);
      expect(openai.status).toBe(400);
      expect(openai.body.error).toMatchObject({ type: 'invalid_request_error', code: 'conflicting_api_keys' });
      const gemini = await send('/v1beta/models', { 'x-goog-api-key': a.key }, `?key=${encodeURIComponent(b.key)}`);
      expect(gemini.status).toBe(400);
      expect(gemini.body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
      expect((await send('/v1/balance', { authorization: `Bearer ${a.key}`, 'x-goog-api-key': a.key })).status).toBe(200);
      expect(gw.sim.calls()).toEqual([]);
    });
  });

  describe('a burst of invalid keys from one address', () => {
    it('gets 401 twenty times, then 429 with Retry-After for a minute on every route, without a key lookup', async () => {
      const from = freshAddress();
      const lookups = jest.spyOn(gw.app.get(KeyResolver), 'resolve');
      for (let i = 0; i < 20; i++) {
        expect((await call('/v1/balance', { key: `sk-sy-guess${String(i).padStart(36, '0')}`, from })).status).toBe(401);
      }
      expect(lookups).toHaveBeenCalledTimes(20);

      const refused = await call('/v1/chat/completions', { key: 'sk-sy-guess-twenty-one', body: HELLO, from });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(55);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(JSON.parse(refused.text).error).toMatchObject({ code: 'too_many_auth_failures', type: 'rate_limit_error' });
      const google = await call('/v1beta/models/gemini-2.5-flash:generateContent', { key: 'guess', via: 'query', body: { contents: [] }, from });
      expect(google.status).toBe(429);
      expect(JSON.parse(google.text)).toEqual({ error: { code: 429, message: expect.any(String), status: 'RESOURCE_EXHAUSTED' } });
      expect((await call('/v1/images/generations', { key: 'guess', via: 'goog', body: {}, from })).status).toBe(429);
      expect(lookups).toHaveBeenCalledTimes(20); // nothing reached the key lookup (or the database)
      expect(gw.sim.calls()).toEqual([]);

      // Another address is not affected.
      expect((await call('/v1/balance', { key: 'sk-sy-guess-elsewhere', from: freshAddress() })).status).toBe(401);
    });

    it('does not count requests that send no key at all', async () => {
      const from = freshAddress();
      for (let i = 0; i < 30; i++) expect((await call('/v1/balance', { from })).status).toBe(401);
      expect((await call('/v1/balance', { key: 'sk-sy-first-real-guess', from })).status).toBe(401);
    });

    it('keeps serving keys this gateway knows to be valid from that address, but not a key it has not seen', async () => {
      const busy = await gw.newTenant(5);
      const fresh = await gw.newTenant(5);
      expect((await call('/v1/chat/completions', { key: busy.key, body: HELLO, from: freshAddress() })).status).toBe(200);

      const from = freshAddress();
      for (let i = 0; i < 20; i++) await call('/v1/balance', { key: `sk-sy-nat-guess-${i}`, from });
      expect((await call('/v1/balance', { key: 'sk-sy-nat-guess-more', from })).status).toBe(429);

      // A client behind the same address (NAT, office proxy) whose key the gateway served recently…
      expect((await call('/v1/chat/completions', { key: busy.key, via: 'query', body: HELLO, from })).status).toBe(200);
      // …a valid key the gateway has not served yet waits out the block like any guess (decided without a lookup)…
      expect((await call('/v1/balance', { key: fresh.key, from })).status).toBe(429);
      expect((await call('/v1/balance', { key: fresh.key, from: freshAddress() })).status).toBe(200);
      expect((await call('/v1/balance', { key: fresh.key, from })).status).toBe(200);
      // …and a revoked key stops at once even there.
      expect((await gw.admin(`/admin/keys/${busy.keyId}`, { method: 'DELETE' })).status).toBe(204);
      expect((await call('/v1/balance', { key: busy.key, from })).status).not.toBe(200);
    });

    it('lifts the block once the cooling-off period is over', async () => {
      const from = freshAddress();
      const throttle = gw.app.get(AuthFailureThrottle);
      for (let i = 0; i < 20; i++) await call('/v1/balance', { key: `sk-sy-slow-guess-${i}`, from });
      expect((await call('/v1/balance', { key: 'sk-sy-slow-guess-x', from })).status).toBe(429);
      const later = Date.now() + throttle.blockMs + 1000;
      jest.spyOn(Date, 'now').mockImplementation(() => later);
      expect((await call('/v1/balance', { key: 'sk-sy-slow-guess-y', from })).status).toBe(401);
    });

    it('applies to wrong admin tokens too, and then refuses even the right one from that address', async () => {
      const from = freshAddress();
      const { tenantId } = await gw.newTenant(1);
      const admin = (token: string, ip = from) => call(`/admin/tenants/${tenantId}`, { key: token, via: 'bearer', from: ip });
      expect((await admin(ADMIN_TOKEN)).status).toBe(200);
      for (let i = 0; i < 20; i++) expect((await admin(`not-the-admin-token-${i}`)).status).toBe(403);
      const refused = await admin(ADMIN_TOKEN);
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBeDefined();
      expect((await admin(ADMIN_TOKEN, freshAddress())).status).toBe(200);
    });
  });

  describe('a key with expires_at', () => {
    const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

    it('works until expires_at, then gets the unknown key\'s 401 at once, also from a cache filled before, and is billed no more', async () => {
      const prisma = gw.app.get(PrismaService);
      const expiresAt = new Date(Date.now() + 3_000);
      const t = await gw.newTenant(5, { expires_at: expiresAt.toISOString() });
      const listed = await gw.admin(`/admin/tenants/${t.tenantId}/keys`);
      expect(listed.body.data.map((k: { id: string; expires_at: string | null }) => [k.id, k.expires_at])).toEqual([[t.keyId, expiresAt.toISOString()]]);

      // Before expires_at: served and billed; the first request fills this replica's cache for KEY_CACHE_TTL_MS.
      const cacheFilledAfter = Date.now();
      expect((await call('/v1/chat/completions', { key: t.key, body: HELLO, from: freshAddress() })).status).toBe(200);
      for (const via of ['bearer', 'goog', 'query'] as const) expect((await call('/v1/balance', { key: t.key, via, from: freshAddress() })).status).toBe(200);
      await gw.settled();
      expect(await prisma.usageRecord.count({ where: { apiKeyId: t.keyId } })).toBe(1);
      const upstreamCalls = gw.sim.calls().length;
      expect(Date.now()).toBeLessThan(expiresAt.getTime()); // reached in time, or the test would prove nothing

      await sleepUntil(expiresAt.getTime() + 1);
      const first = await call('/v1/chat/completions', { key: t.key, body: HELLO, from: freshAddress() });
      // Still within the life of the entry cached before expiry: a cache bounded only by its TTL would have let it in.
      expect(Date.now()).toBeLessThan(cacheFilledAfter + gw.config.KEY_CACHE_TTL_MS);
      expect(first.status).toBe(401);
      for (const route of ROUTES) {
        for (const via of ['bearer', 'goog', 'query'] as const) {
          const from = freshAddress();
          const unknown = await call(route.path, { key: `sk-sy-${'0'.repeat(40)}`, via, body: route.body, method: route.method, from });
          const expired = await call(route.path, { key: t.key, via, body: route.body, method: route.method, from });
          expect({ route: route.path, via, ...visible(expired) }).toEqual({ route: route.path, via, ...visible(unknown) });
          expect(expired.status).toBe(401);
        }
      }
      expect(await gw.app.get(KeyResolver).resolve(t.key)).toBeNull();

      // No upstream call and no usage record after expires_at.
      await gw.settled();
      expect(gw.sim.calls().length).toBe(upstreamCalls);
      expect(await prisma.usageRecord.count({ where: { apiKeyId: t.keyId } })).toBe(1);
      expect(await prisma.usageRecord.count({ where: { apiKeyId: t.keyId, createdAt: { gte: expiresAt } } })).toBe(0);
      expect(await prisma.reservation.count({ where: { apiKeyId: t.keyId } })).toBe(0);
    });

    it('is no longer known to be valid once expired: a throttled address gets 429 for it, as for any guess', async () => {
      const expiresAt = new Date(Date.now() + 2_500);
      const t = await gw.newTenant(1, { expires_at: expiresAt.toISOString() });
      const from = freshAddress();
      expect((await call('/v1/balance', { key: t.key, from })).status).toBe(200);
      for (let i = 0; i < 20; i++) await call('/v1/balance', { key: `sk-sy-expiry-guess-${i}`, from });
      expect((await call('/v1/balance', { key: t.key, from })).status).toBe(200); // known valid: still served from there
      expect(Date.now()).toBeLessThan(expiresAt.getTime());
      await sleepUntil(expiresAt.getTime() + 1);
      const lookups = jest.spyOn(gw.app.get(KeyResolver), 'resolve');
      const expired = await call('/v1/balance', { key: t.key, from });
      const guess = await call('/v1/balance', { key: 'sk-sy-expiry-guess-more', from });
      expect(expired.status).toBe(429);
      const shape = (a: Answer) => ({ status: a.status, code: JSON.parse(a.text).error.code, headers: visible(a).headers });
      expect(shape(expired)).toEqual(shape(guess));
      expect(lookups).not.toHaveBeenCalled();
    });

    it('refuses an expires_at that is not in the future, or not an ISO 8601 time, with 400 naming it, and issues no key', async () => {
      const { tenantId } = await gw.newTenant(1);
      for (const expires_at of [new Date(Date.now() - 1_000).toISOString(), '2020-01-01T00:00:00Z', 'tomorrow', '2027-13-01T00:00:00Z', '2031-W05', '2031-152', 1_900_000_000, '']) {
        const r = await gw.admin(`/admin/tenants/${tenantId}/keys`, { body: { name: 'late', expires_at } });
        expect({ expires_at, status: r.status }).toEqual({ expires_at, status: 400 });
        expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'expires_at' });
      }
      const keys = await gw.admin(`/admin/tenants/${tenantId}/keys`);
      expect(keys.body.data.map((k: { name: string | null; expires_at: string | null }) => [k.name, k.expires_at])).toEqual([[null, null]]);
      // null is how a listing shows "never", and means it when sent
      const open = await gw.admin(`/admin/tenants/${tenantId}/keys`, { body: { name: 'open', expires_at: null } });
      expect(open.status).toBe(201);
      expect(open.body.expires_at).toBeNull();
    });
  });
});

import { request } from 'undici';
import { AuthFailureThrottle, KeyResolver } from '@app/tenancy';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway';

/**
 * Authentication answers that reveal nothing and cannot be used to guess: an unknown and a revoked key get
 * the same answer on every route, in every place a key can be sent; a burst of invalid credentials from one
 * address is refused with 429 before any key lookup, while keys known to be valid keep working.
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
});

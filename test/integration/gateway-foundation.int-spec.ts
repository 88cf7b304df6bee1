import { Readable } from 'node:stream';
import { request } from 'undici';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { PrismaService } from '@app/database';
import { AdminAuditService, hashApiKey, KeyResolver } from '@app/tenancy';
import { MAINTENANCE_QUEUE, PURGE_EXPIRED_IMAGES_JOB, RECONCILE_IMAGE_JOBS_JOB, SWEEP_RESERVATIONS_JOB } from '@app/queue';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(60_000);

describe('gateway foundation', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => gw?.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    request(`${gw.url}${path}`, { method: 'GET', headers }).then(async (r) => ({ status: r.statusCode, headers: r.headers, text: await r.body.text() }));
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    request(`${gw.url}${path}`, { method: 'POST', headers, body }).then(async (r) => ({ status: r.statusCode, headers: r.headers, text: await r.body.text() }));

  describe('health', () => {
    it('is live and ready, naming the mode', async () => {
      expect((await get('/health/live')).status).toBe(200);
      const ready = await get('/health/ready');
      expect(ready.status).toBe(200);
      const body = JSON.parse(ready.text);
      expect(body.checks).toEqual({ database: 'ok', queue: 'ok' });
      expect(body.mode).toContain(gw.config.databaseMode === 'postgres' ? 'Postgres (DATABASE_URL)' : 'PGlite');
    });

    it('puts X-Request-Id on every response, including errors', async () => {
      const ok = await get('/health/live');
      const notFound = await get('/v1/nope');
      expect(ok.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(notFound.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(ok.headers['x-request-id']).not.toBe(notFound.headers['x-request-id']);
    });

    it('keeps an id the client sent only for correlation: echoed, logged and in the usage record, never as our id', async () => {
      const { key } = await gw.newTenant(5);
      const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const chat = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
      // The same client id on many requests (a retrying client, a proxy that reuses ids): each request keeps its own id and record.
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => post('/v1/chat/completions', chat, { ...auth, ...(i % 2 ? { 'x-client-request-id': 'client-7' } : { 'x-request-id': 'client-7' }) })),
      );
      const ids = answers.map((a) => a.headers['x-request-id'] as string);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(new Set(ids).size).toBe(20);
      for (const a of answers) expect(a.headers['x-client-request-id']).toBe('client-7');
      await gw.settled();
      for (const id of ids) {
        const record = await get(`/v1/usage/${id}`, { authorization: `Bearer ${key}` });
        expect(JSON.parse(record.text)).toMatchObject({ id, client_request_id: 'client-7', status: 'succeeded' });
      }
      // an image job carries it to its usage record too (written by the worker)
      const image = await post('/v1/images/generations', JSON.stringify({ model: 'grok/grok-imagine-image', prompt: 'A kite' }), {
        ...auth,
        'x-client-request-id': 'client-image-1',
      });
      expect(image.status).toBe(200);
      const imageRecord = await get(`/v1/usage/${image.headers['x-request-id'] as string}`, { authorization: `Bearer ${key}` });
      expect(JSON.parse(imageRecord.text)).toMatchObject({ client_request_id: 'client-image-1', endpoint: '/v1/images/generations' });
      // the access log line names both ids
      await new Promise((r) => setTimeout(r, 300));
      const line = gw.logs.lines.map((l) => JSON.parse(l) as { req?: { id?: string; clientRequestId?: string } }).find((l) => l.req?.id === ids[0]);
      expect(line?.req?.clientRequestId).toBe('client-7');
      // without one, nothing is echoed or stored
      const plain = await post('/v1/chat/completions', chat, auth);
      expect(plain.headers['x-client-request-id']).toBeUndefined();
      await gw.settled();
      expect(JSON.parse((await get(`/v1/usage/${plain.headers['x-request-id'] as string}`, { authorization: `Bearer ${key}` })).text).client_request_id).toBeNull();
    });

    it('refuses a client request id that is too long or not printable ASCII with 400, before anything is spent', async () => {
      const { key } = await gw.newTenant(5);
      const chat = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
      const calls = gw.sim.calls().length;
      for (const [header, value] of [
        ['x-client-request-id', 'x'.repeat(513)],
        ['x-client-request-id', 'caf\u00e9'],
        ['x-request-id', 'tab\there'],
      ] as const) {
        const r = await post('/v1/chat/completions', chat, { authorization: `Bearer ${key}`, 'content-type': 'application/json', [header]: value });
        expect({ header, status: r.status }).toEqual({ header, status: 400 });
        expect(JSON.parse(r.text).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_client_request_id' });
        expect(r.headers['x-request-id']).toBeTruthy();
      }
      const gemini = await post('/v1beta/models/gemini-2.5-flash:generateContent', '{}', { 'x-goog-api-key': key, 'content-type': 'application/json', 'x-client-request-id': 'x'.repeat(600) });
      expect(JSON.parse(gemini.text).error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
      expect(gw.sim.calls().length).toBe(calls);
      expect(JSON.parse((await get('/v1/balance', { authorization: `Bearer ${key}` })).text).balance_usd).toBe(5);
    });

    it('exposes Prometheus metrics', async () => {
      await get('/health/live');
      const m = await get('/metrics');
      expect(m.status).toBe(200);
      expect(m.text).toContain('switchyard_http_requests_total');
      expect(m.text).toContain('switchyard_http_request_duration_seconds_bucket');
      expect(m.text).toMatch(/switchyard_queue_jobs\{queue="maintenance"/);
    });
  });

  describe('admin API', () => {
    it('refuses a missing token (401), a wrong token and a tenant key (403)', async () => {
      const { key } = await gw.newTenant(1);
      expect((await gw.admin('/admin/tenants', { body: { name: 'x' }, token: null })).status).toBe(401);
      expect((await gw.admin('/admin/tenants', { body: { name: 'x' }, token: 'not-the-admin-token-at-all' })).status).toBe(403);
      const asTenant = await gw.admin('/admin/tenants', { body: { name: 'x' }, token: key });
      expect(asTenant.status).toBe(403);
      expect(asTenant.body.error.type).toBe('permission_error');
    });

    it('creates tenants, adds credit and issues keys shown only once', async () => {
      const t = await gw.admin('/admin/tenants', { body: { name: 'acme', credit_usd: 10.5 } });
      expect(t.status).toBe(201);
      expect(t.body).toMatchObject({ name: 'acme', balance_usd: 10.5 });
      const credit = await gw.admin(`/admin/tenants/${t.body.id}/credits`, { body: { amount_usd: 0.25, note: 'top-up' } });
      expect(credit).toEqual({ status: 200, body: { tenant_id: t.body.id, balance_usd: 10.75 } });

      const k = await gw.admin(`/admin/tenants/${t.body.id}/keys`, {
        body: { name: 'prod', rpm_limit: 60, images_per_minute: 5, spend_limit_usd: 2, allowed_models: ['openai/gpt-4o-mini'] },
      });
      expect(k.status).toBe(201);
      expect(k.body.key).toMatch(/^sk-sy-[0-9A-Za-z]{32,}$/);
      expect(k.body).toMatchObject({ name: 'prod', prefix: k.body.key.slice(0, 12), rpm_limit: 60, images_per_minute: 5, spend_limit_usd: 2, allowed_models: ['openai/gpt-4o-mini'] });

      const list = await gw.admin(`/admin/tenants/${t.body.id}/keys`);
      expect(list.status).toBe(200);
      expect(list.body.data).toHaveLength(1);
      expect(JSON.stringify(list.body)).not.toContain(k.body.key);

      // The ledger explains the balance.
      const prisma = gw.app.get(PrismaService);
      const entries = await prisma.ledgerEntry.findMany({ where: { tenantId: t.body.id } });
      expect(entries.map((e) => e.amountMicros).reduce((a, b) => a + b, 0n)).toBe(10_750_000n);
    });

    it('validates bodies and ids, naming the field', async () => {
      const bad = await gw.admin('/admin/tenants', { body: { name: 42 } });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'name' });
      const badCredit = await gw.admin('/admin/tenants', { body: { name: 'x', credit_usd: 1.0000001 } });
      expect(badCredit.status).toBe(400);
      expect(badCredit.body.error.param).toBe('credit_usd');
      const nul = await gw.admin('/admin/tenants', { body: { name: 'acme\u0000' } });
      expect(nul.status).toBe(400);
      expect(nul.body.error.param).toBe('name');
      expect((await gw.admin('/admin/tenants/not-a-uuid/keys')).status).toBe(404);
      expect((await gw.admin('/admin/tenants/00000000-0000-4000-8000-000000000000/keys', { body: {} })).status).toBe(404);
      expect((await gw.admin('/admin/keys/00000000-0000-4000-8000-000000000000', { method: 'DELETE' })).status).toBe(404);
    });

    describe('audit trail', () => {
      const prisma = () => gw.app.get(PrismaService);
      type Row = { id: string; object: string; at: string; action: string; actor: string; tenant_id: string | null; key_id: string | null; detail: any };
      const auditOf = async (query: string): Promise<Row[]> => {
        const r = await gw.admin(`/admin/audit${query}`);
        expect(r.status).toBe(200);
        return r.body.data as Row[];
      };

      it('writes one row per admin mutation, naming keys by id only, newest first', async () => {
        const t = await gw.admin('/admin/tenants', { body: { name: 'audited', credit_usd: 1.5 } });
        const id = t.body.id as string;
        expect((await gw.admin(`/admin/tenants/${id}/credits`, { body: { amount_usd: 0.25, note: 'top-up' } })).status).toBe(200);
        const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
        const k = await gw.admin(`/admin/tenants/${id}/keys`, { body: { name: 'prod', spend_limit_usd: 2, expires_at: expiresAt } });
        expect(k.status).toBe(201);
        expect(k.body.expires_at).toBe(expiresAt);
        expect((await gw.admin(`/admin/keys/${k.body.id}`, { method: 'DELETE' })).status).toBe(204);
        await new Promise((r) => setTimeout(r, 10)); // a later timestamp for the last row, whatever the clock's resolution
        expect((await gw.admin(`/admin/keys/${k.body.id}`, { method: 'DELETE' })).status).toBe(204);
        const price = await gw.admin('/admin/prices/openai/gpt-4o-mini', { method: 'PUT', body: { tokens: { input: 0.15, output: 0.6 }, source: 'audited' } });
        expect(price.status).toBe(200);

        const rows = await auditOf(`?tenant_id=${id}`);
        expect(rows.map((r) => r.action).sort()).toEqual(['key.create', 'key.revoke', 'key.revoke', 'tenant.create', 'tenant.credit']);
        expect(rows.map((r) => r.at)).toEqual(rows.map((r) => r.at).sort().reverse()); // newest first
        expect(rows[0]).toMatchObject({ action: 'key.revoke', detail: { already_revoked: true } });
        const by = (action: string) => rows.filter((r) => r.action === action);
        for (const r of rows) expect(r).toMatchObject({ object: 'admin_audit', actor: 'admin-token', tenant_id: id });
        expect(by('tenant.create')).toEqual([expect.objectContaining({ key_id: null, detail: { name: 'audited', credit_micros: '1500000' } })]);
        expect(by('tenant.credit')).toEqual([
          expect.objectContaining({ key_id: null, detail: { amount_micros: '250000', balance_micros: '1750000', note: 'top-up' } }),
        ]);
        expect(by('key.create')).toEqual([
          expect.objectContaining({
            key_id: k.body.id,
            detail: { name: 'prod', rpm_limit: null, images_per_minute: null, spend_limit_micros: '2000000', allowed_models: [], expires_at: expiresAt },
          }),
        ]);
        expect(by('key.revoke').map((r) => [r.key_id, r.detail.already_revoked])).toEqual([[k.body.id, true], [k.body.id, false]]);

        const priceRow = (await auditOf('?limit=200')).find((r) => r.action === 'price.set' && r.detail.price_id === price.body.id);
        expect(priceRow).toMatchObject({
          actor: 'admin-token',
          tenant_id: null,
          key_id: null,
          detail: { model: 'openai/gpt-4o-mini', version: price.body.version, rates: { tokens: { input: 150_000, output: 600_000 }, source: 'audited' } },
        });

        // Neither the key nor its hash anywhere in the table, nor in what the route answers.
        const dump = JSON.stringify(await prisma().$queryRawUnsafe<unknown[]>('SELECT row_to_json(t)::text AS j FROM admin_audit t'));
        expect(dump).toContain(k.body.id);
        expect(dump).not.toContain(k.body.key);
        expect(dump).not.toContain(k.body.key.slice(12));
        expect(dump).not.toContain(hashApiKey(k.body.key));
        expect(JSON.stringify(rows)).not.toContain(k.body.key.slice(12));
      });

      it('writes nothing for a refused mutation', async () => {
        const { tenantId } = await gw.newTenant(1);
        const before = await prisma().adminAudit.count();
        expect((await gw.admin('/admin/tenants', { body: { name: 42 } })).status).toBe(400);
        expect((await gw.admin('/admin/tenants', { body: { name: 'x' }, token: 'not-the-admin-token-at-all' })).status).toBe(403);
        expect((await gw.admin(`/admin/tenants/${tenantId}/credits`, { body: { amount_usd: -1 } })).status).toBe(400);
        expect((await gw.admin('/admin/tenants/00000000-0000-4000-8000-000000000000/credits', { body: { amount_usd: 1 } })).status).toBe(404);
        expect((await gw.admin(`/admin/tenants/${tenantId}/keys`, { body: { expires_at: '2001-01-01T00:00:00Z' } })).status).toBe(400);
        expect((await gw.admin('/admin/tenants/00000000-0000-4000-8000-000000000000/keys', { body: {} })).status).toBe(404);
        expect((await gw.admin('/admin/keys/00000000-0000-4000-8000-000000000000', { method: 'DELETE' })).status).toBe(404);
        expect((await gw.admin('/admin/prices/openai/no-such-model', { method: 'PUT', body: { tokens: { input: 1, output: 1 } } })).status).toBe(404);
        // a price's date is a calendar date: not a week date, a year alone, a date-time or 30 February
        for (const date of ['2026-W47', '2026', '2026-11-20T10:00:00Z', '2026-02-30']) {
          const res = await gw.admin('/admin/prices/openai/gpt-4o-mini', { method: 'PUT', body: { tokens: { input: 1, output: 1 }, date } });
          expect({ date, status: res.status, param: res.body.error?.param }).toEqual({ date, status: 400, param: 'date' });
        }
        expect(await prisma().adminAudit.count()).toBe(before);
      });

      it('makes no change whose audit row cannot be written (one transaction)', async () => {
        const { tenantId, keyId, key } = await gw.newTenant(1);
        const record = jest.spyOn(gw.app.get(AdminAuditService), 'record');
        try {
          record.mockRejectedValueOnce(new Error('audit table unavailable'));
          expect((await gw.admin('/admin/tenants', { body: { name: 'never-created' } })).status).toBe(500);
          expect(await prisma().tenant.count({ where: { name: 'never-created' } })).toBe(0);

          record.mockRejectedValueOnce(new Error('audit table unavailable'));
          expect((await gw.admin(`/admin/tenants/${tenantId}/keys`, { body: { name: 'never-issued' } })).status).toBe(500);
          expect((await gw.admin(`/admin/tenants/${tenantId}/keys`)).body.data.map((k: { name: string }) => k.name)).not.toContain('never-issued');

          record.mockRejectedValueOnce(new Error('audit table unavailable'));
          expect((await gw.admin(`/admin/keys/${keyId}`, { method: 'DELETE' })).status).toBe(500);
          expect((await prisma().apiKey.findUniqueOrThrow({ where: { id: keyId } })).revokedAt).toBeNull();
          expect((await get('/v1/balance', { authorization: `Bearer ${key}` })).status).toBe(200);

          // money and prices too: a credit (also a new tenant's initial one) and a price version
          const ledgerBefore = await prisma().ledgerEntry.count({ where: { tenantId } });
          record.mockRejectedValueOnce(new Error('audit table unavailable'));
          expect((await gw.admin(`/admin/tenants/${tenantId}/credits`, { body: { amount_usd: 5 } })).status).toBe(500);
          expect((await prisma().tenant.findUniqueOrThrow({ where: { id: tenantId } })).balanceMicros).toBe(1_000_000n);
          expect(await prisma().ledgerEntry.count({ where: { tenantId } })).toBe(ledgerBefore);

          record.mockRejectedValueOnce(new Error('audit table unavailable'));
          expect((await gw.admin('/admin/tenants', { body: { name: 'never-credited', credit_usd: 3 } })).status).toBe(500);
          expect(await prisma().tenant.count({ where: { name: 'never-credited' } })).toBe(0);

          const versions = await prisma().price.count({ where: { model: 'openai/gpt-4o-mini' } });
          record.mockRejectedValueOnce(new Error('audit table unavailable'));
          expect((await gw.admin('/admin/prices/openai/gpt-4o-mini', { method: 'PUT', body: { tokens: { input: 9, output: 9 } } })).status).toBe(500);
          expect(await prisma().price.count({ where: { model: 'openai/gpt-4o-mini' } })).toBe(versions);
        } finally {
          record.mockRestore();
        }
      });

      it('lists newest first, 50 by default and at most 200, optionally for one tenant', async () => {
        const { tenantId } = await gw.newTenant(1);
        for (let i = 0; i < 50; i++) expect((await gw.admin(`/admin/tenants/${tenantId}/credits`, { body: { amount_usd: 0.01 } })).status).toBe(200);
        const page = await auditOf(`?tenant_id=${tenantId.toUpperCase()}`);
        expect(page).toHaveLength(50);
        expect(page.every((r) => r.tenant_id === tenantId && r.action === 'tenant.credit')).toBe(true);
        const all = await auditOf(`?tenant_id=${tenantId}&limit=200`);
        expect(all.map((r) => r.action).slice(-2).sort()).toEqual(['key.create', 'tenant.create']);
        expect(all).toHaveLength(52);
        expect(all.slice(0, 50).map((r) => r.id)).toEqual(page.map((r) => r.id));
        expect(await auditOf('?limit=3')).toHaveLength(3);
        expect(await auditOf('?tenant_id=00000000-0000-4000-8000-000000000000')).toEqual([]);
        for (const [query, param] of [['?limit=0', 'limit'], ['?limit=201', 'limit'], ['?limit=ten', 'limit'], ['?limit=1.5', 'limit'], ['?tenant_id=acme', 'tenant_id']]) {
          const bad = await gw.admin(`/admin/audit${query}`);
          expect({ query, status: bad.status, param: bad.body.error?.param }).toEqual({ query, status: 400, param });
        }
      });
    });

    it('never stores a key in clear: every table dumped as text contains no issued key', async () => {
      const keys = [(await gw.newTenant(1)).key, (await gw.newTenant(2)).key];
      const prisma = gw.app.get(PrismaService);
      const tables = await prisma.$queryRaw<{ table_name: string }[]>`
        SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`;
      expect(tables.length).toBeGreaterThan(5);
      let dump = '';
      for (const { table_name } of tables) {
        const rows = await prisma.$queryRawUnsafe<unknown[]>(`SELECT row_to_json(t)::text AS j FROM "${table_name}" t`);
        dump += JSON.stringify(rows);
      }
      expect(dump).toContain(keys[0].slice(0, 12)); // the display prefix is there…
      for (const key of keys) expect(dump).not.toContain(key); // …the key is not
    });
  });

  describe('tenant authentication', () => {
    it('accepts the key as Bearer, x-goog-api-key and ?key=', async () => {
      const { key } = await gw.newTenant(3);
      for (const [path, headers] of [
        ['/v1/balance', { authorization: `Bearer ${key}` }],
        ['/v1/balance', { 'x-goog-api-key': key }],
        [`/v1/balance?key=${key}`, {}],
      ] as const) {
        const r = await get(path, headers);
        expect(r.status).toBe(200);
        expect(JSON.parse(r.text)).toEqual({ object: 'balance', balance_usd: 3, reserved_usd: 0, available_usd: 3 });
      }
    });

    it('gives an unknown and a revoked key the same 401, and a missing key a 401 that says it is missing', async () => {
      const { key, keyId } = await gw.newTenant(1);
      expect((await gw.admin(`/admin/keys/${keyId}`, { method: 'DELETE' })).status).toBe(204);
      const missing = await get('/v1/balance');
      const unknown = await get('/v1/balance', { authorization: `Bearer sk-sy-${'0'.repeat(40)}` });
      const revoked = await get('/v1/balance', { authorization: `Bearer ${key}` });
      expect(missing.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(revoked.status).toBe(401);
      expect(JSON.parse(revoked.text)).toEqual(JSON.parse(unknown.text));
      expect(JSON.parse(revoked.text).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
      expect(JSON.parse(missing.text).error).toMatchObject({ type: 'invalid_request_error', code: 'missing_api_key' });
    });

    it('stops honouring a key revoked elsewhere once the cache entry expires', async () => {
      const { key, keyId } = await gw.newTenant(1);
      expect((await get('/v1/balance', { authorization: `Bearer ${key}` })).status).toBe(200);
      // Another replica revokes the key: the database changes, this replica's cache does not know.
      await gw.app.get(PrismaService).apiKey.update({ where: { id: keyId }, data: { revokedAt: new Date() } });
      const resolver = gw.app.get(KeyResolver);
      expect(await resolver.resolve(key)).not.toBeNull(); // still cached…
      await new Promise((r) => setTimeout(r, gw.config.KEY_CACHE_TTL_MS + 50));
      expect(await resolver.resolve(key)).toBeNull(); // …and gone within KEY_CACHE_TTL_MS (≤ 5 s)
      expect((await get('/v1/balance', { authorization: `Bearer ${key}` })).status).toBe(401);
    });

    it('never logs a key, wherever it was sent', async () => {
      const { key } = await gw.newTenant(1);
      await get(`/v1/balance?key=${key}`);
      await get('/v1/balance', { 'x-goog-api-key': key });
      await get('/v1/balance', { authorization: `Bearer ${key}` });
      await get(`/v1/balance?key=sk-sy-${'unknown'.repeat(5)}`);
      await new Promise((r) => setTimeout(r, 50));
      expect(gw.logs.lines.some((l) => l.includes('/v1/balance'))).toBe(true);
      expect(gw.logs.text).not.toContain(key);
      expect(gw.logs.text).not.toContain('sk-sy-unknownunknown');
      expect(gw.logs.text).not.toContain(ADMIN_TOKEN);
    });
  });

  describe('error envelopes and bad input', () => {
    const json = { 'content-type': 'application/json' };

    it('answers unknown routes with JSON 404 in each family\'s envelope', async () => {
      const v1 = await get('/v1/does-not-exist');
      expect(v1.status).toBe(404);
      expect(v1.headers['content-type']).toContain('application/json');
      expect(JSON.parse(v1.text).error).toMatchObject({ type: 'invalid_request_error', code: 'unknown_route' });
      const beta = await get('/v1beta/does-not-exist?alt=sse&key=sk-sy-not-echoed');
      expect(beta.status).toBe(404);
      // The message names the route, never its query (which may carry a key).
      expect(JSON.parse(beta.text)).toEqual({ error: { code: 404, message: 'Unknown route: GET /v1beta/does-not-exist.', status: 'NOT_FOUND' } });
      const root = await get('/nothing-here');
      expect(root.status).toBe(404);
      expect(JSON.parse(root.text).error.code).toBe('unknown_route');
    });

    it('refuses malformed JSON with 400 in the route family\'s envelope', async () => {
      const v1 = await post('/admin/tenants', '{"name": ', { ...json, authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(v1.status).toBe(400);
      expect(JSON.parse(v1.text).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
      const beta = await post('/v1beta/models/gemini-2.5-flash:generateContent', '{"contents": [', json);
      expect(beta.status).toBe(400);
      expect(JSON.parse(beta.text)).toEqual({ error: { code: 400, message: 'body must be valid JSON', status: 'INVALID_ARGUMENT' } });
    });

    it('refuses a non-JSON content type with 415', async () => {
      const r = await post('/admin/tenants', 'name=acme', { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(r.status).toBe(415);
      expect(JSON.parse(r.text).error.code).toBe('unsupported_media_type');
      const beta = await post('/v1beta/models/x:generateContent', 'hello', { 'content-type': 'text/plain' });
      expect(beta.status).toBe(415);
      expect(JSON.parse(beta.text).error.status).toBe('INVALID_ARGUMENT');
    });

    it('refuses an oversize body with 413, with and without Content-Length', async () => {
      const big = Buffer.alloc(gw.config.BODY_LIMIT_BYTES + 1024, 0x61);
      const body = Buffer.concat([Buffer.from('{"name":"'), big, Buffer.from('"}')]);
      const withLength = await post('/admin/tenants', body, { ...json, authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(withLength.status).toBe(413);
      expect(JSON.parse(withLength.text).error.code).toBe('request_too_large');
      const chunked = await request(`${gw.url}/v1beta/models/x:generateContent`, {
        method: 'POST',
        headers: json,
        body: Readable.from(
          (function* () {
            for (let i = 0; i < 30; i++) yield Buffer.alloc(1024 * 1024, 0x61);
          })(),
        ),
      });
      expect(chunked.statusCode).toBe(413);
      expect(JSON.parse(await chunked.body.text()).error.status).toBe('INVALID_ARGUMENT');
    });

    it('never answers with HTML or a stack trace', async () => {
      const responses = await Promise.all([
        get('/v1/nope'),
        post('/admin/tenants', '[1,2', { ...json, authorization: `Bearer ${ADMIN_TOKEN}` }),
        post('/v1/balance', '{}', json),
      ]);
      for (const r of responses) {
        expect(r.headers['content-type']).toContain('application/json');
        expect(r.text).not.toMatch(/<html|at \w+ \(/i);
      }
    });
  });

  describe('queue', () => {
    it('runs the maintenance processor on this mode\'s queue backend, releasing an expired reservation', async () => {
      const { tenantId, keyId } = await gw.newTenant(1);
      const prisma = gw.app.get(PrismaService);
      await prisma.$transaction([
        prisma.reservation.create({ data: { id: 'req_orphan', tenantId, apiKeyId: keyId, amountMicros: 250_000n, expiresAt: new Date(Date.now() - 1000) } }),
        prisma.tenant.update({ where: { id: tenantId }, data: { reservedMicros: { increment: 250_000n } } }),
        prisma.apiKey.update({ where: { id: keyId }, data: { reservedMicros: { increment: 250_000n } } }),
      ]);
      const queue = gw.app.get<Queue>(getQueueToken(MAINTENANCE_QUEUE));
      const job = await queue.add(SWEEP_RESERVATIONS_JOB, {});
      const deadline = Date.now() + 30_000;
      while (!(await job.isCompleted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await job.isCompleted()).toBe(true);
      expect(await prisma.reservation.count({ where: { id: 'req_orphan' } })).toBe(0);
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).reservedMicros).toBe(0n);
      expect((await prisma.apiKey.findUniqueOrThrow({ where: { id: keyId } })).reservedMicros).toBe(0n);
    });

    it('runs the image-job reconciliation on the maintenance queue, and schedules every maintenance job', async () => {
      const queue = gw.app.get<Queue>(getQueueToken(MAINTENANCE_QUEUE));
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key).sort()).toEqual([PURGE_EXPIRED_IMAGES_JOB, RECONCILE_IMAGE_JOBS_JOB, SWEEP_RESERVATIONS_JOB].sort());
      const job = await queue.add(RECONCILE_IMAGE_JOBS_JOB, {});
      const deadline = Date.now() + 30_000;
      while (!(await job.isCompleted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await job.isCompleted()).toBe(true);
      const done = await queue.getJob(job.id!);
      expect(done?.returnvalue).toEqual({ finished: 0, requeued: 0, failedUnrun: 0, abandonedClaims: 0 });
    });
  });

  describe('OpenAPI', () => {
    it('serves Swagger UI at /docs and the document at /docs-json with both security schemes', async () => {
      const ui = await get('/docs');
      expect(ui.status).toBe(200);
      expect(ui.text).toContain('swagger-ui');
      const doc = JSON.parse((await get('/docs-json')).text);
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/admin/tenants', '/admin/tenants/{id}/keys', '/admin/keys/{id}', '/v1/balance']));
      expect(doc.components.securitySchemes).toMatchObject({
        bearer: { type: 'http', scheme: 'bearer' },
        'x-goog-api-key': { type: 'apiKey', in: 'header', name: 'x-goog-api-key' },
      });
      // the optional client request id is offered on the metered routes
      const params = (doc.paths['/v1/chat/completions'].post.parameters as { name: string; in: string }[]).map((p) => `${p.in}:${p.name}`);
      expect(params).toContain('header:X-Client-Request-Id');
    });
  });
});

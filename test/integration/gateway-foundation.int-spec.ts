import { Readable } from 'node:stream';
import { request } from 'undici';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { PrismaService } from '@app/database';
import { KeyResolver } from '@app/tenancy';
import { MAINTENANCE_QUEUE, RECONCILE_IMAGE_JOBS_JOB, SWEEP_RESERVATIONS_JOB } from '@app/queue';
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

    it('gives a missing, an unknown and a revoked key the same 401', async () => {
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
      const beta = await get('/v1beta/does-not-exist');
      expect(beta.status).toBe(404);
      expect(JSON.parse(beta.text)).toEqual({ error: { code: 404, message: expect.any(String), status: 'NOT_FOUND' } });
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

    it('runs the image-job reconciliation on the maintenance queue, and schedules both jobs', async () => {
      const queue = gw.app.get<Queue>(getQueueToken(MAINTENANCE_QUEUE));
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key).sort()).toEqual([RECONCILE_IMAGE_JOBS_JOB, SWEEP_RESERVATIONS_JOB].sort());
      const job = await queue.add(RECONCILE_IMAGE_JOBS_JOB, {});
      const deadline = Date.now() + 30_000;
      while (!(await job.isCompleted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await job.isCompleted()).toBe(true);
      const done = await queue.getJob(job.id!);
      expect(done?.returnvalue).toEqual({ finished: 0, requeued: 0, failedUnrun: 0 });
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
    });
  });
});

import OpenAI from 'openai';
import { PrismaService } from '@app/database';
import { chatReserveMicros, LedgerService } from '@app/billing';
import { ModelCatalog, type ChatCompletionRequest } from '@app/providers';
import { realPostgresUrl, realRedisUrl } from '../support/databases';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(180_000);

/**
 * Billing through the real HTTP route: concurrency against a small balance, exactly-once accounting under
 * upstream failures, the RPM limit across two gateway replicas, and the CSV export.
 */
describe('billing through POST /v1/chat/completions', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  const request: ChatCompletionRequest = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 50 };
  const post = (key: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });

  it('lets at most 3 of 100 concurrent requests reach the upstream when the balance covers 3; the rest get 402', async () => {
    const model = gw.app.get(ModelCatalog).resolve('openai/gpt-4o-mini')!;
    const worst = chatReserveMicros(model, request);
    // credit for three worst cases and a bit, but not a fourth
    const credit = (3n * worst + worst / 2n);
    const { tenantId, key } = await gw.newTenant(Number(credit) / 1e6);
    gw.sim.script({ provider: 'openai', delayMs: 8000, times: -1 }); // every reservation is made before any settles

    const responses = await Promise.all(Array.from({ length: 100 }, () => post(key)));
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 402)).toHaveLength(97);
    expect(gw.sim.calls({ provider: 'openai' }).length).toBeLessThanOrEqual(3);

    await gw.settled();
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    expect(t.balanceMicros).toBeGreaterThanOrEqual(0n);
    expect(t.reservedMicros).toBe(0n);
    expect(await prisma.reservation.count({ where: { tenantId } })).toBe(0);
  });

  it('lets at most 2 of 100 concurrent requests reach the upstream when the key spend limit covers 2; the rest get 402 spend_limit_exceeded', async () => {
    const model = gw.app.get(ModelCatalog).resolve('openai/gpt-4o-mini')!;
    const worst = chatReserveMicros(model, request);
    // The tenant could pay for thousands: the key's spend limit (two worst cases and a half) is what binds.
    const limit = 2n * worst + worst / 2n;
    const { tenantId, keyId, key } = await gw.newTenant(10, { spend_limit_usd: Number(limit) / 1e6 });
    const stored = await prisma.apiKey.findUniqueOrThrow({ where: { id: keyId } });
    expect(stored.spendLimitMicros).toBe(limit);
    gw.sim.script({ provider: 'openai', delayMs: 8000, times: -1 }); // every reservation is made before any settles

    const responses = await Promise.all(Array.from({ length: 100 }, () => post(key)));
    const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, id: r.headers.get('x-request-id')!, body: (await r.json()) as any })));
    const ok = bodies.filter((b) => b.status === 200);
    const refused = bodies.filter((b) => b.status === 402);
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(98);
    for (const r of refused) expect(r.body.error).toMatchObject({ type: 'insufficient_quota', code: 'spend_limit_exceeded' });
    // refused before any upstream call: the upstream saw only the admitted requests
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(ok.length);

    await gw.settled();
    const k = await prisma.apiKey.findUniqueOrThrow({ where: { id: keyId } });
    expect(k.spentMicros).toBeGreaterThan(0n);
    expect(k.spentMicros).toBeLessThanOrEqual(limit + worst);
    expect(k.reservedMicros).toBe(0n);
    expect(await prisma.reservation.count({ where: { OR: [{ tenantId }, { apiKeyId: keyId }] } })).toBe(0);
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    expect(t.reservedMicros).toBe(0n);

    // one usage record per successful response, none for the refusals; the key's spend is their sum
    const records = await prisma.usageRecord.findMany({ where: { tenantId } });
    expect(records.map((r) => r.id).sort()).toEqual(ok.map((r) => r.id).sort());
    for (const r of records) expect(r).toMatchObject({ status: 'succeeded', apiKeyId: keyId });
    const spent = records.reduce((a, r) => a + r.costMicros, 0n);
    expect(k.spentMicros).toBe(spent);
    expect(10_000_000n - t.balanceMicros).toBe(spent);
  });

  it('200 requests with the upstream failing 100 attempts: one usage record per response, Σ cost = Σ debits = balance change', async () => {
    const { tenantId, key } = await gw.newTenant(50);
    gw.sim.script({ provider: 'openai', status: 500, times: 100 });
    const statuses: number[] = [];
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const rs = await Promise.all(Array.from({ length: 20 }, () => post(key)));
      for (const r of rs) {
        statuses.push(r.status);
        ids.push(r.headers.get('x-request-id')!);
        await r.arrayBuffer();
      }
    }
    // A request whose first attempt and retry both fell in the failing 100 answers 502; every other one 200.
    expect(statuses.every((s) => s === 200 || s === 502)).toBe(true);
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(100);

    await gw.settled();
    const records = await prisma.usageRecord.findMany({ where: { tenantId } });
    expect(records).toHaveLength(200);
    expect(new Set(records.map((r) => r.id))).toEqual(new Set(ids));
    const byId = new Map(records.map((r) => [r.id, r]));
    ids.forEach((id, i) => {
      const rec = byId.get(id)!;
      if (statuses[i] === 200) expect(rec.status === 'succeeded' && rec.costMicros > 0n).toBe(true);
      else expect(rec).toMatchObject({ status: 'failed', costMicros: 0n });
    });
    // Failed attempts are recorded as attempts, never billed: succeeded calls = 200 responses.
    expect(gw.sim.calls({ provider: 'openai' }).filter((c) => c.status === 200)).toHaveLength(ok);
    const usageSum = records.reduce((a, r) => a + r.costMicros, 0n);
    const debits = await prisma.ledgerEntry.aggregate({ where: { tenantId, kind: 'debit' }, _sum: { amountMicros: true } });
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    expect(debits._sum.amountMicros).toBe(usageSum);
    expect(50_000_000n - t.balanceMicros).toBe(usageSum);
    expect(await gw.app.get(LedgerService).ledgerBalance(tenantId)).toBe(t.balanceMicros);
    expect(t.reservedMicros).toBe(0n);
  });

  it('exports usage records as CSV for the operator', async () => {
    const { tenantId, key } = await gw.newTenant(1);
    const r = await post(key);
    const requestId = r.headers.get('x-request-id')!;
    await r.arrayBuffer();
    const csv = await fetch(`${gw.url}/admin/tenants/${tenantId}/usage?format=csv`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toMatch(/^id,created_at,api_key_id,endpoint,requested_model,served_model/);
    expect(lines).toHaveLength(2);
    expect(lines[1].startsWith(`${requestId},`)).toBe(true);
    expect(lines[1]).toContain('openai/gpt-4o-mini');
  });

  it('reads usage windows given as dates and times without an offset, and refuses, in the route envelope, the ISO 8601 forms it cannot read', async () => {
    const { tenantId, key } = await gw.newTenant(1);
    await (await post(key)).arrayBuffer();
    await gw.settled();
    const usage = async (path: string, auth: string) => {
      const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${auth}` } });
      return { status: res.status, body: (await res.json()) as any };
    };
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const counted = await usage(`/v1/usage?from=${today}&to=${tomorrow}T00:00`, key);
    expect(counted.status).toBe(200);
    expect(counted.body).toMatchObject({ from: `${today}T00:00:00.000Z`, to: `${tomorrow}T00:00:00.000Z`, totals: { requests: 1 } });
    expect((await usage(`/v1/usage?from=${tomorrow}`, key)).body).toMatchObject({ totals: { requests: 0 } });
    // week and ordinal dates, an hour alone: ISO 8601 that no Date reads; refused before any query runs
    for (const [param, value] of [['from', '2026-W05'], ['to', '2026-305'], ['from', '2026-11-01T10'], ['to', '2026-02-30']]) {
      for (const [path, auth] of [[`/v1/usage?${param}=${value}`, key], [`/admin/tenants/${tenantId}/usage?${param}=${value}`, ADMIN_TOKEN]]) {
        const res = await usage(path, auth);
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param, message: expect.stringContaining('date-time') });
      }
    }
  });

  // Two replicas need one shared database and Redis: the real services.
  (realPostgresUrl && realRedisUrl ? it : it.skip)('a 10-request RPM limit across two gateway replicas sharing Redis lets exactly 10 through', async () => {
    const second = await startGateway({ DATABASE_URL: gw.config.DATABASE_URL as string, QUEUE_PREFIX: gw.config.QUEUE_PREFIX });
    try {
      const { key } = await gw.newTenant(5, { rpm_limit: 10 });
      const clients = [gw, second].map((g) => new OpenAI({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 }));
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) => clients[i % 2].chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused).toHaveLength(20);
      for (const r of refused) expect(r.reason).toMatchObject({ status: 429 });
    } finally {
      await second.close();
    }
  });
});

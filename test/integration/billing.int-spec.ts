import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ApiError, ConfigModule, loadConfig } from '@app/common';
import { DatabaseModule, PrismaService } from '@app/database';
import {
  BillingModule,
  BillingService,
  computeCost,
  LedgerService,
  PriceBook,
  ReservationSweeper,
  UsageService,
  type Reservation,
} from '@app/billing';
import { emptyUsage, ModelCatalog, ProvidersModule } from '@app/providers';
import { createTestDatabase, type TestDatabase } from '../support/databases';

jest.setTimeout(120_000);

/**
 * Billing against the real database of this run (PGlite embedded, or a fresh Postgres database when
 * DATABASE_URL is set): reservations under concurrency, exactly-once settlement, the ledger identity,
 * the sweeper, and prices at the catalog's list price.
 */
describe('billing', () => {
  let db: TestDatabase;
  let app: INestApplicationContext;
  let prisma: PrismaService;
  let billing: BillingService;
  let ledger: LedgerService;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ LOG_LEVEL: 'silent', ...db.env });
    @Module({ imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(), ProvidersModule, BillingModule] })
    class BillingTestModule {}
    app = await NestFactory.createApplicationContext(BillingTestModule, { logger: false });
    await app.init();
    prisma = app.get(PrismaService);
    billing = app.get(BillingService);
    ledger = app.get(LedgerService);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  async function tenant(creditMicros: bigint, spendLimitMicros: bigint | null = null) {
    const t = await prisma.tenant.create({ data: { name: `t-${randomUUID().slice(0, 6)}` } });
    if (creditMicros > 0n) await ledger.credit(t.id, creditMicros);
    const k = await prisma.apiKey.create({
      data: { tenantId: t.id, hash: randomUUID(), prefix: 'sk-sy-test', spendLimitMicros },
    });
    return { tenantId: t.id, keyId: k.id };
  }

  const state = async (tenantId: string, keyId: string) => {
    const [t, k, held] = await Promise.all([
      prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
      prisma.apiKey.findUniqueOrThrow({ where: { id: keyId } }),
      prisma.reservation.count({ where: { tenantId } }),
    ]);
    return { balance: t.balanceMicros, reserved: t.reservedMicros, keyReserved: k.reservedMicros, keySpent: k.spentMicros, held };
  };

  const settleInput = (costMicros: bigint) => ({
    endpoint: 'chat.completions',
    requestedModel: 'openai/gpt-4o-mini',
    servedModel: 'openai/gpt-4o-mini',
    provider: 'openai',
    fallbackLevel: 0,
    attempts: 1,
    status: 'succeeded' as const,
    latencyMs: 12,
    usage: { ...emptyUsage(), textInput: 10, textOutput: 20 },
    cost: { lines: [{ kind: 'text_input' as const, quantity: 10, unit: 'per_1m_tokens' as const, unitPriceMicros: 1, costMicros }], totalMicros: costMicros },
    priceId: null,
  });

  it('lets only as many of 100 concurrent reservations through as the balance covers, and never overdraws', async () => {
    const { tenantId, keyId } = await tenant(3_000_000n); // covers exactly 3 reservations of $1
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => billing.reserve(`req_${randomUUID()}`, { tenantId, keyId }, 1_000_000n)),
    );
    const ok = results.filter((r): r is PromiseFulfilledResult<Reservation> => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(3);
    expect(refused).toHaveLength(97);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(ApiError);
      expect(r.reason).toMatchObject({ status: 402, code: 'insufficient_balance' });
    }
    expect(await state(tenantId, keyId)).toMatchObject({ balance: 3_000_000n, reserved: 3_000_000n, keyReserved: 3_000_000n, held: 3 });

    // Each settles for less than it reserved: the difference is released, the balance stays ≥ 0.
    await Promise.all(ok.map((r) => billing.settle(r.value, settleInput(400_000n))));
    expect(await state(tenantId, keyId)).toEqual({ balance: 1_800_000n, reserved: 0n, keyReserved: 0n, keySpent: 1_200_000n, held: 0 });
  });

  it('refuses a reservation beyond the key spend limit with 402 and changes nothing', async () => {
    const { tenantId, keyId } = await tenant(10_000_000n, 1_500_000n);
    await billing.reserve('req_limit_1', { tenantId, keyId }, 1_000_000n);
    await expect(billing.reserve('req_limit_2', { tenantId, keyId }, 1_000_000n)).rejects.toMatchObject({ status: 402, code: 'spend_limit_exceeded' });
    expect(await state(tenantId, keyId)).toMatchObject({ reserved: 1_000_000n, keyReserved: 1_000_000n, held: 1 });
  });

  it('grows a reservation for a dearer fallback into the request\'s own, refusing with 402 what does not fit', async () => {
    const { tenantId, keyId } = await tenant(1_000_000n);
    const first = await billing.reserve(`req_${randomUUID()}`, { tenantId, keyId }, 200_000n);
    const grown = await billing.topUp(first, 700_000n);
    expect(grown.amountMicros).toBe(700_000n);
    // One reservation row, holding the larger amount: settle releases all of it at once.
    expect(await state(tenantId, keyId)).toMatchObject({ reserved: 700_000n, keyReserved: 700_000n, held: 1 });
    expect(await prisma.reservation.findMany({ where: { tenantId } })).toMatchObject([{ id: first.id, amountMicros: 700_000n }]);

    await expect(billing.topUp(grown, 1_500_000n)).rejects.toMatchObject({ status: 402, code: 'insufficient_balance' });
    expect(await state(tenantId, keyId)).toMatchObject({ reserved: 700_000n, held: 1 });

    await billing.settle(grown, settleInput(300_000n));
    expect(await state(tenantId, keyId)).toEqual({ balance: 700_000n, reserved: 0n, keyReserved: 0n, keySpent: 300_000n, held: 0 });
  });

  it('settles several requests of a tenant in one statement, each once, with totals per key', async () => {
    const { tenantId, keyId } = await tenant(5_000_000n);
    const k2 = await prisma.apiKey.create({ data: { tenantId, hash: randomUUID(), prefix: 'sk-sy-test2' } });
    const a = await billing.reserve(`req_${randomUUID()}`, { tenantId, keyId }, 1_000_000n);
    const b = await billing.reserve(`req_${randomUUID()}`, { tenantId, keyId }, 500_000n);
    const c = await billing.reserve(`req_${randomUUID()}`, { tenantId, keyId: k2.id }, 700_000n);
    await billing.settle(b, settleInput(100_000n)); // b is already settled: the batch must not bill it again

    const written = await billing.settleMany([
      { reservation: a, input: settleInput(300_000n) },
      { reservation: b, input: settleInput(100_000n) },
      { reservation: c, input: { ...settleInput(0n), status: 'failed' as const, cost: null, usage: null } },
    ]);
    expect(written).toEqual([true, false, true]);
    expect(await state(tenantId, keyId)).toEqual({ balance: 4_600_000n, reserved: 0n, keyReserved: 0n, keySpent: 400_000n, held: 0 });
    expect(await prisma.apiKey.findUniqueOrThrow({ where: { id: k2.id } })).toMatchObject({ reservedMicros: 0n, spentMicros: 0n });
    const records = await prisma.usageRecord.findMany({ where: { tenantId }, orderBy: { costMicros: 'asc' } });
    expect(records.map((r) => [r.id, r.status, r.costMicros])).toEqual(
      expect.arrayContaining([[a.id, 'succeeded', 300_000n], [b.id, 'succeeded', 100_000n], [c.id, 'failed', 0n]]),
    );
    expect(records).toHaveLength(3);
    const debits = await prisma.ledgerEntry.findMany({ where: { tenantId, kind: 'debit' } });
    expect(debits.map((d) => [d.usageId, d.amountMicros]).sort()).toEqual([[a.id, 300_000n], [b.id, 100_000n]].sort());
    await expect(billing.settleMany([{ reservation: a, input: settleInput(1n) }, { reservation: { ...c, tenantId: randomUUID() }, input: settleInput(1n) }])).rejects.toThrow(/one tenant/);
  });

  it('settles a request exactly once, however often settle runs', async () => {
    const { tenantId, keyId } = await tenant(5_000_000n);
    const r = await billing.reserve('req_once', { tenantId, keyId }, 1_000_000n);
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map(() => billing.settle(r, settleInput(250_000n))));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await prisma.usageRecord.count({ where: { id: 'req_once' } })).toBe(1);
    expect(await prisma.ledgerEntry.count({ where: { usageId: 'req_once' } })).toBe(1);
    expect(await state(tenantId, keyId)).toMatchObject({ balance: 4_750_000n, reserved: 0n, held: 0 });
  });

  it('records a failed request at no cost and releases its reservation', async () => {
    const { tenantId, keyId } = await tenant(5_000_000n);
    const r = await billing.reserve('req_failed', { tenantId, keyId }, 2_000_000n);
    await billing.settle(r, { ...settleInput(0n), status: 'failed', usage: null, cost: null, servedModel: null, error: 'upstream_error' });
    const u = await prisma.usageRecord.findUniqueOrThrow({ where: { id: 'req_failed' } });
    expect(u).toMatchObject({ status: 'failed', costMicros: 0n, error: 'upstream_error' });
    expect(await prisma.ledgerEntry.count({ where: { usageId: 'req_failed' } })).toBe(0);
    expect(await state(tenantId, keyId)).toMatchObject({ balance: 5_000_000n, reserved: 0n, held: 0 });
  });

  it('keeps balance = credits − debits through concurrent settlements and releases', async () => {
    const { tenantId, keyId } = await tenant(50_000_000n);
    await ledger.credit(tenantId, 1_234_567n, 'top-up');
    const work = Array.from({ length: 40 }, async (_, i) => {
      const r = await billing.reserve(`req_mix_${i}`, { tenantId, keyId }, 500_000n);
      if (i % 4 === 0) return billing.release(r);
      return billing.settle(r, settleInput(BigInt(1000 + i * 37)));
    });
    await Promise.all(work);
    const s = await state(tenantId, keyId);
    expect(await ledger.ledgerBalance(tenantId)).toBe(s.balance);
    const usage = await prisma.usageRecord.aggregate({ where: { tenantId }, _sum: { costMicros: true } });
    expect(51_234_567n - (usage._sum.costMicros ?? 0n)).toBe(s.balance);
    expect(s).toMatchObject({ reserved: 0n, keyReserved: 0n, held: 0 });
  });

  it('sweeps reservations orphaned by a crash back to the tenant and key, once', async () => {
    const { tenantId, keyId } = await tenant(5_000_000n);
    await billing.reserve('req_orphaned', { tenantId, keyId }, 1_000_000n, -1000); // already expired
    await billing.reserve('req_live', { tenantId, keyId }, 1_000_000n);
    const sweeper = app.get(ReservationSweeper);
    const released = await Promise.all([sweeper.releaseExpired(), sweeper.releaseExpired()]);
    expect(released.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(await state(tenantId, keyId)).toMatchObject({ reserved: 1_000_000n, keyReserved: 1_000_000n, held: 1 });
    // A late settle of the swept request still bills it once, without touching the reservation it no longer has.
    expect(await billing.settle({ id: 'req_orphaned', tenantId, keyId }, settleInput(100_000n))).toBe(true);
    expect(await state(tenantId, keyId)).toMatchObject({ balance: 4_900_000n, reserved: 1_000_000n });
  });

  it('bills a settlement that requires its hold only against that hold: never after the sweeper released it', async () => {
    const { tenantId, keyId } = await tenant(1_000_000n);
    const sweeper = app.get(ReservationSweeper);
    const job = await billing.reserve(`job_${randomUUID()}`, { tenantId, keyId }, 1_000_000n, -1000); // its hold lapsed
    await sweeper.releaseExpired();
    const other = await billing.reserve(`req_${randomUUID()}`, { tenantId, keyId }, 1_000_000n); // the money, spent again
    // Nothing is written: no usage record, no debit, the other request's hold untouched.
    expect(await billing.settle(job, { ...settleInput(1_000_000n), requireHold: true })).toBe(false);
    expect(await prisma.usageRecord.count({ where: { id: job.id } })).toBe(0);
    expect(await state(tenantId, keyId)).toEqual({ balance: 1_000_000n, reserved: 1_000_000n, keyReserved: 1_000_000n, keySpent: 0n, held: 1 });

    // Held again, it is billed once, and its hold replaced by the cost.
    await billing.release(other);
    const again = await billing.reserve(job.id, { tenantId, keyId }, 600_000n);
    expect(await billing.settle(again, { ...settleInput(600_000n), requireHold: true })).toBe(true);
    expect(await billing.settle(again, { ...settleInput(600_000n), requireHold: true })).toBe(false);
    expect(await state(tenantId, keyId)).toEqual({ balance: 400_000n, reserved: 0n, keyReserved: 0n, keySpent: 600_000n, held: 0 });
  });

  it('never bills a held settlement the sweeper releases at the same moment, and never both', async () => {
    for (let round = 0; round < 20; round++) {
      const { tenantId, keyId } = await tenant(1_000_000n);
      const r = await billing.reserve(`job_${randomUUID()}`, { tenantId, keyId }, 1_000_000n, -1000);
      const settle = () => billing.settle(r, { ...settleInput(700_000n), requireHold: true });
      const sweep = () => app.get(ReservationSweeper).releaseExpired();
      // sent in both orders, so each side gets to go first
      const [settled, swept] = round % 2 === 0 ? await Promise.all([settle(), sweep()]) : await Promise.all([sweep(), settle()]).then(([w, s]) => [s, w] as const);
      const s = await state(tenantId, keyId);
      // Either the settlement won (billed, its hold released by it) or the sweeper did (nothing billed): never a debit without its hold.
      expect(swept).toBe(settled ? 0 : 1);
      expect(s).toEqual(
        settled
          ? { balance: 300_000n, reserved: 0n, keyReserved: 0n, keySpent: 700_000n, held: 0 }
          : { balance: 1_000_000n, reserved: 0n, keyReserved: 0n, keySpent: 0n, held: 0 },
      );
    }
  });

  describe('prices', () => {
    it('seeds one version per priced catalog model, idempotently', async () => {
      const catalog = app.get(ModelCatalog);
      const priced = catalog.list().filter((m) => m.price);
      expect(await prisma.price.count()).toBe(priced.length);
      await (app.get(PriceBook) as unknown as { seedFromCatalog(): Promise<void> }).seedFromCatalog();
      expect(await prisma.price.count()).toBe(priced.length);
    });

    it('bills every price dimension at exactly the catalog list price', async () => {
      const book = app.get(PriceBook);
      const catalog = app.get(ModelCatalog);
      const mini = await book.get('openai/gpt-4o-mini');
      const listed = catalog.resolve('openai/gpt-4o-mini')!.price!.tokens!;
      const usage = { ...emptyUsage(), textInput: 123_456, cachedInput: 7_890, textOutput: 45_678 };
      const cost = computeCost(mini!.price, usage);
      const expected = (q: number, rate: number) => (BigInt(q) * BigInt(rate) + 500_000n) / 1_000_000n;
      expect(cost.lines).toEqual([
        expect.objectContaining({ kind: 'text_input', costMicros: expected(123_456, listed.input) }),
        expect.objectContaining({ kind: 'cached_input', costMicros: expected(7_890, listed.cachedInput ?? listed.input) }),
        expect.objectContaining({ kind: 'text_output', costMicros: expected(45_678, listed.output) }),
      ]);

      const gptImage = catalog.resolve('openai/gpt-image-1')!.price!.tokens!;
      const imgCost = computeCost((await book.get('openai/gpt-image-1'))!.price, { ...emptyUsage(), textInput: 50, imageOutput: 4160 });
      expect(imgCost.lines.find((l) => l.kind === 'image_output')).toMatchObject({ unitPriceMicros: gptImage.imageOutput, costMicros: expected(4160, gptImage.imageOutput!) });

      const imagen = catalog.resolve('google/imagen-4.0-generate-001')!.price!.perImage!;
      const perImage = computeCost((await book.get('google/imagen-4.0-generate-001'))!.price, { ...emptyUsage(), images: 3 });
      expect(perImage.totalMicros).toBe(3n * BigInt(imagen['*']['*']));
    });

    it('an operator override becomes a new version and survives catalog reseeding', async () => {
      const book = app.get(PriceBook);
      const before = await book.get('openai/gpt-4o-mini');
      const after = await book.setOverride('openai/gpt-4o-mini', { tokens: { input: 1, output: 2 }, source: 'contract', date: '2026-11-20' });
      expect(after.version).toBe(before!.version + 1);
      await (book as unknown as { seedFromCatalog(): Promise<void> }).seedFromCatalog();
      expect((await book.get('openai/gpt-4o-mini'))!.price.tokens).toEqual({ input: 1, output: 2 });
    });
  });

  it('never lets a query widen usage beyond the tenant', async () => {
    const a = await tenant(5_000_000n);
    const b = await tenant(5_000_000n);
    const rb = await billing.reserve('req_tenant_b', b, 1_000_000n);
    await billing.settle(rb, settleInput(300_000n));
    const usage = app.get(UsageService);
    await expect(usage.record(a.tenantId, 'req_tenant_b')).rejects.toMatchObject({ status: 404 });
    expect((await usage.summary(a.tenantId, { groupBy: 'model' })).totals.requests).toBe(0);
    expect((await usage.summary(b.tenantId, { groupBy: 'model' })).groups).toEqual([expect.objectContaining({ model: 'openai/gpt-4o-mini', requests: 1, cost_usd: 0.3 })]);
  });
});

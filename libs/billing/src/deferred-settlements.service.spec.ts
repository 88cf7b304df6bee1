import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/common';
import type { BillingService, Reservation, SettleInput } from './billing.service';
import { DeferredSettlements, fromSpoolJson, toSpoolJson } from './deferred-settlements.service';

const reservation: Reservation = { id: 'req-1', tenantId: 't-1', keyId: 'k-1', amountMicros: 9_000_000_000_000_001n };
const input: SettleInput = {
  endpoint: '/v1/chat/completions',
  requestedModel: 'openai/gpt-4o-mini',
  servedModel: 'openai/gpt-4o-mini',
  provider: 'openai',
  fallbackLevel: 0,
  attempts: 1,
  status: 'succeeded',
  latencyMs: 5,
  usage: null,
  cost: { lines: [{ kind: 'text_input', quantity: 10, unit: 'per_1m_tokens', unitPriceMicros: 150_000, costMicros: 12_345_678_901_234_567n }], totalMicros: 12_345_678_901_234_567n },
  priceId: null,
};

/** The database's side of settle: fails while `down`, records what was written. */
class Ledger {
  down = false;
  /** statements never answer (a database that hangs) */
  hung = false;
  written: { reservation: Reservation; input: SettleInput }[] = [];
  /** the size of every statement written */
  statements: number[] = [];
  asBilling(): BillingService {
    const settle = async (r: Reservation, i: SettleInput) => {
      if (this.down) throw new Error('connection refused');
      this.written.push({ reservation: r, input: i });
      return true;
    };
    return {
      settle: async (r: Reservation, i: SettleInput) => {
        this.statements.push(1);
        return settle(r, i);
      },
      settleMany: async (items: { reservation: Reservation; input: SettleInput }[]) => {
        await new Promise((resolve) => setTimeout(resolve, 5)); // a round trip, during which more arrive
        if (this.hung) await new Promise(() => undefined);
        if (this.down) throw new Error('connection refused');
        this.statements.push(items.length);
        return Promise.all(items.map((x) => settle(x.reservation, x.input)));
      },
    } as unknown as BillingService;
  }
}

describe('DeferredSettlements', () => {
  let dir: string;
  const spool = () => join(dir, 'unsettled');
  const make = (ledger: Ledger) => {
    const settlements = new DeferredSettlements(ledger.asBilling(), loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }));
    settlements.shutdownWaitMs = 100;
    return settlements;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-settle-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps money exact through the spool format', () => {
    expect(fromSpoolJson(toSpoolJson({ reservation, input }))).toEqual({ reservation, input });
  });

  it('writes at once when the database is up, leaving nothing spooled or in flight', async () => {
    const ledger = new Ledger();
    const settlements = make(ledger);
    await settlements.settle(reservation, input);
    expect(ledger.written).toEqual([{ reservation, input }]);
    expect(settlements.inFlight).toBe(0);
    expect(existsSync(spool())).toBe(false);
  });

  it('spools a settlement the database refused and writes it when the database is back, once', async () => {
    const ledger = new Ledger();
    ledger.down = true;
    const settlements = make(ledger);
    await settlements.settle(reservation, input); // resolves after the first (failed) attempt
    expect(ledger.written).toHaveLength(0);
    expect(settlements.inFlight).toBe(1);
    const files = readdirSync(spool());
    expect(files).toHaveLength(1);
    expect(fromSpoolJson(readFileSync(join(spool(), files[0]), 'utf8'))).toEqual({ reservation, input });

    ledger.down = false;
    await settlements.flush('t-1', 5_000);
    expect(ledger.written).toEqual([{ reservation, input }]);
    expect(settlements.inFlight).toBe(0);
    expect(readdirSync(spool())).toHaveLength(0);
  });

  it('writes the settlements of a tenant that arrive during a statement together in the next one', async () => {
    const ledger = new Ledger();
    const settlements = make(ledger);
    const of = (tenantId: string, i: number): Reservation => ({ ...reservation, id: `req-${tenantId}-${i}`, tenantId });
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => settlements.settle(of('t-1', i), input)),
      ...Array.from({ length: 2 }, (_, i) => settlements.settle(of('t-2', i), input)),
    ]);
    // Each tenant: the first alone, the rest together in the next statement; tenants never share one.
    expect(ledger.statements.sort()).toEqual([1, 1, 1, 5].sort());
    expect(ledger.written.map((w) => w.reservation.id).sort()).toEqual(
      [...Array.from({ length: 6 }, (_, i) => `req-t-1-${i}`), 'req-t-2-0', 'req-t-2-1'].sort(),
    );
    expect(settlements.inFlight).toBe(0);
  });

  it('retries each settlement of a failed statement on its own, once the database is back', async () => {
    const ledger = new Ledger();
    ledger.down = true;
    const settlements = make(ledger);
    const ids = ['a', 'b', 'c'].map((x) => ({ ...reservation, id: `req-${x}` }));
    await Promise.all(ids.map((r) => settlements.settle(r, input)));
    expect(readdirSync(spool()).sort()).toEqual(['req-a.json', 'req-b.json', 'req-c.json']);
    ledger.down = false;
    await settlements.flush(undefined, 5_000);
    expect(ledger.written.map((w) => w.reservation.id).sort()).toEqual(['req-a', 'req-b', 'req-c']);
    expect(readdirSync(spool())).toHaveLength(0);
  });

  it('flush waits for the named tenant only, and no longer than it is told', async () => {
    const ledger = new Ledger();
    ledger.down = true;
    const settlements = make(ledger);
    await settlements.settle(reservation, input);
    const started = Date.now();
    await settlements.flush('another-tenant', 5_000);
    expect(Date.now() - started).toBeLessThan(2_000); // not the 5 s it was allowed
    await settlements.flush('t-1', 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(settlements.inFlight).toBe(1);
    await settlements.beforeApplicationShutdown();
  });

  it('spools what is still unwritten at shutdown, and the next start replays it', async () => {
    const ledger = new Ledger();
    ledger.down = true;
    const first = make(ledger);
    await first.settle(reservation, input);
    await first.beforeApplicationShutdown();
    expect(readdirSync(spool())).toHaveLength(1);
    expect(ledger.written).toHaveLength(0);

    ledger.down = false;
    const next = make(ledger);
    await next.onApplicationBootstrap();
    await next.flush(undefined, 5_000);
    expect(ledger.written).toEqual([{ reservation, input }]);
    expect(readdirSync(spool())).toHaveLength(0);
  });

  it('waits at shutdown no later than the moment shutdownBy names, and spools what is unwritten by then', async () => {
    const ledger = new Ledger();
    ledger.hung = true;
    const settlements = make(ledger);
    settlements.shutdownWaitMs = 30_000;
    void settlements.settle(reservation, input); // its first attempt never comes back
    const started = Date.now();
    settlements.shutdownBy(started + 200);
    await settlements.beforeApplicationShutdown();
    expect(Date.now() - started).toBeLessThan(10_000); // the deadline, not the 30 s it would wait otherwise
    expect(readdirSync(spool())).toEqual(['req-1.json']);
  });

  it('leaves a spool file it cannot read in place and replays the others', async () => {
    mkdirSync(spool(), { recursive: true });
    writeFileSync(join(spool(), 'broken.json'), '{not json');
    writeFileSync(join(spool(), 'req-1.json'), toSpoolJson({ reservation, input }));
    const ledger = new Ledger();
    const settlements = make(ledger);
    await settlements.onApplicationBootstrap();
    await settlements.flush(undefined, 5_000);
    expect(ledger.written).toHaveLength(1);
    expect(readdirSync(spool())).toEqual(['broken.json']);
  });
});

import { Logger } from '@nestjs/common';
import { Prisma, type PrismaService } from '@app/database';
import type { RateLimitBackend, RateLimitConsumption, RateLimitCounter } from './rate-limit.types';

/**
 * Counters in `rate_limit_counters` when no Redis is configured (Postgres or the embedded PGlite). A check
 * is one `INSERT … ON CONFLICT DO UPDATE SET count = count + n RETURNING count` over all counters of the
 * request; the row lock serialises replicas, so each sees a distinct running total and exactly `limit`
 * units are admitted per window. A refused request gives its units back with the same statement and
 * negative costs (rows in the same order, so two statements never deadlock). Between the two statements a
 * concurrent request may see the refused units and be refused too: that errs towards refusing, never
 * towards admitting more than the limit.
 */
export class DatabaseRateLimitBackend implements RateLimitBackend {
  readonly name = 'database';
  private readonly logger = new Logger(DatabaseRateLimitBackend.name);
  private cleanedBefore = 0;
  private cleanup: Promise<void> = Promise.resolve();

  constructor(
    private readonly prisma: PrismaService,
    private readonly keyPrefix: string,
  ) {}

  counterKey(counter: Pick<RateLimitCounter, 'keyId' | 'kind'>): string {
    return `${this.keyPrefix}:${counter.keyId}:${counter.kind}`;
  }

  async consume(counters: RateLimitCounter[], windowStartMs: number, windowMs: number): Promise<RateLimitConsumption> {
    const keys = counters.map((c) => this.counterKey(c));
    const totals = await this.add(keys, counters.map((c) => c.cost), windowStartMs);
    const admitted = counters.every((c, i) => totals[i] <= c.limit);
    this.removeOldWindows(windowStartMs - windowMs);
    if (admitted) return { admitted, used: totals };
    await this.add(keys, counters.map((c) => -c.cost), windowStartMs).catch((e: unknown) => {
      // The refusal stands; the window merely stays stricter until it ends.
      this.logger.warn(`could not return refused rate-limit units: ${e instanceof Error ? e.message : String(e)}`);
    });
    return { admitted, used: totals.map((t, i) => t - counters[i].cost) };
  }

  /** waits for a running cleanup, so the database can be closed after this */
  async close(): Promise<void> {
    await this.cleanup;
  }

  private async add(keys: string[], amounts: number[], windowStartMs: number): Promise<number[]> {
    const windowStart = BigInt(windowStartMs);
    const values = Prisma.join(keys.map((key, i) => Prisma.sql`(${key}, ${windowStart}, ${amounts[i]})`));
    const rows = await this.prisma.$queryRaw<{ key: string; count: number }[]>`
      INSERT INTO rate_limit_counters AS c (key, window_start, count) VALUES ${values}
      ON CONFLICT (key, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
      RETURNING c.key, c.count`;
    const byKey = new Map(rows.map((r) => [r.key, Number(r.count)]));
    return keys.map((key) => {
      const count = byKey.get(key);
      if (count === undefined) throw new Error('the rate-limit upsert returned no row for a counter');
      return count;
    });
  }

  /**
   * Old windows are deleted by whichever replica first sees a new window: one statement per replica per
   * minute, off the request's path. The previous window is kept for replicas whose clocks run behind.
   */
  private removeOldWindows(beforeMs: number): void {
    if (beforeMs <= this.cleanedBefore) return;
    this.cleanedBefore = beforeMs;
    const before = BigInt(beforeMs);
    this.cleanup = this.cleanup
      .then(() => this.prisma.$executeRaw`DELETE FROM rate_limit_counters WHERE window_start < ${before}`)
      .then(
        () => undefined,
        (e: unknown) => this.logger.warn(`could not delete old rate-limit windows: ${e instanceof Error ? e.message : String(e)}`),
      );
  }
}

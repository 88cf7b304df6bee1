import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { AppConfig } from '@app/common';
import { BillingService, type Reservation, type SettleInput } from './billing.service';

/** Retry delays after a failed settle: doubling from the first, capped at the last. */
export const SETTLE_RETRY_FIRST_MS = 250;
export const SETTLE_RETRY_MAX_MS = 10_000;
/** How long a read of usage or balance waits for the tenant's settlements in flight. */
export const SETTLE_FLUSH_WAIT_MS = 2_000;
/** How long shutdown waits for settlements in flight before it writes the rest to the spool. */
export const SETTLE_SHUTDOWN_WAIT_MS = 5_000;

interface Pending {
  reservation: Reservation;
  input: SettleInput;
  done: Promise<void>;
  spooled: boolean;
}

interface Queued {
  entry: Pending;
  /** resolves the caller's wait: the first attempt was made */
  attempted: () => void;
  /** the settlement is written (or given up at shutdown, spooled) */
  finish: () => void;
}

interface Lane {
  queue: Queued[];
  writing: boolean;
}

/** The most settlements one statement writes. */
export const SETTLE_BATCH_MAX = 64;

interface SpoolEntry {
  reservation: Reservation;
  input: SettleInput;
}

/** JSON with bigints as `{"$bigint":"…"}`, so money survives the spool file exactly. */
export function toSpoolJson(entry: SpoolEntry): string {
  return JSON.stringify(entry, (_key, value: unknown) => (typeof value === 'bigint' ? { $bigint: value.toString() } : value));
}

export function fromSpoolJson(text: string): SpoolEntry {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && typeof (value as { $bigint?: unknown }).$bigint === 'string') {
      return BigInt((value as { $bigint: string }).$bigint);
    }
    return value;
  }) as SpoolEntry;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Settlement off the response's critical path, never lost. A route computes the cost (pure), answers, and
 * hands the settlement here; the request's handler still awaits the first attempt, so the request is not
 * done before its usage record is written or queued for retry.
 *
 * - A failed settle (the database away) is written to a spool file under `DATA_DIR/unsettled/` and retried
 *   with backoff until it succeeds; the reservation keeps the spend held meanwhile, so nothing is overspent.
 *   Settle is keyed by the request id, so a retry or a replay never bills twice.
 * - Shutdown waits a little for settlements in flight (at most `SETTLE_SHUTDOWN_WAIT_MS`, and not past the moment
 *   `shutdownBy` names) and spools the rest; the next start replays the spool.
 * - Reads of a tenant's usage or balance wait for that tenant's settlements in flight (`flush`), so a tenant
 *   that reads its usage right after an answer finds the record.
 */
@Injectable()
export class DeferredSettlements implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeferredSettlements.name);
  private readonly pending = new Map<string, Pending>();
  /** per tenant: settlements waiting for the statement being written */
  private readonly lanes = new Map<string, Lane>();
  private readonly spoolDir: string | null;
  private stopping = false;
  /** how long shutdown waits for settlements in flight before spooling them */
  shutdownWaitMs = SETTLE_SHUTDOWN_WAIT_MS;
  /** the latest moment (epoch ms) shutdown may wait until, when the process's grace period ends sooner */
  private shutdownDeadline: number | undefined;

  constructor(
    private readonly billing: BillingService,
    config: AppConfig,
  ) {
    // An in-memory database forgets its records on exit anyway: nothing to spool for.
    this.spoolDir = config.DATA_DIR === 'memory://' ? null : join(config.DATA_DIR, 'unsettled');
  }

  /**
   * Settles now, or with the tenant's next statement when one is being written (settlements that arrive
   * meanwhile go together, one statement and one commit for all: group commit). On failure each keeps
   * retrying in the background. Resolves after the first attempt.
   */
  async settle(reservation: Reservation, input: SettleInput): Promise<void> {
    let attempted!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
    let finished!: () => void;
    const entry: Pending = { reservation, input, spooled: false, done: new Promise<void>((resolve) => (finished = resolve)) };
    this.pending.set(reservation.id, entry);
    const finish = (): void => {
      this.pending.delete(reservation.id);
      finished();
    };
    let lane = this.lanes.get(reservation.tenantId);
    if (!lane) this.lanes.set(reservation.tenantId, (lane = { queue: [], writing: false }));
    lane.queue.push({ entry, attempted, finish });
    if (!lane.writing) void this.drain(reservation.tenantId, lane);
    await firstAttempt;
  }

  /** Writes a tenant's queued settlements, up to SETTLE_BATCH_MAX a statement, one statement at a time. */
  private async drain(tenantId: string, lane: Lane): Promise<void> {
    lane.writing = true;
    try {
      while (lane.queue.length > 0) {
        const batch = lane.queue.splice(0, SETTLE_BATCH_MAX);
        try {
          await this.billing.settleMany(batch.map((b) => ({ reservation: b.entry.reservation, input: b.entry.input })));
          for (const b of batch) {
            if (b.entry.spooled) await this.unspool(b.entry); // spooled by a shutdown that came first
            b.attempted();
            b.finish();
          }
        } catch (e) {
          // Each goes its own way from here: spooled, and retried alone with backoff.
          for (const b of batch) void this.run(b.entry, b.attempted, e).finally(b.finish);
        }
      }
    } finally {
      lane.writing = false;
      if (lane.queue.length === 0) this.lanes.delete(tenantId);
    }
  }

  /** Waits (boundedly) for the tenant's settlements in flight; all tenants' when none is named. */
  async flush(tenantId?: string, waitMs = SETTLE_FLUSH_WAIT_MS): Promise<void> {
    const waits = [...this.pending.values()].filter((p) => tenantId === undefined || p.reservation.tenantId === tenantId).map((p) => p.done);
    if (waits.length === 0) return;
    await Promise.race([Promise.all(waits), sleep(waitMs)]);
  }

  /** Settlements not yet written to the database. */
  get inFlight(): number {
    return this.pending.size;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.spoolDir) return;
    let files: string[];
    try {
      files = (await readdir(this.spoolDir)).filter((f) => f.endsWith('.json'));
    } catch {
      return; // no spool yet
    }
    if (files.length > 0) this.logger.log(`replaying ${files.length} spooled settlement(s) from ${this.spoolDir}`);
    for (const file of files) {
      let entry: SpoolEntry;
      try {
        entry = fromSpoolJson(await readFile(join(this.spoolDir, file), 'utf8'));
      } catch (e) {
        this.logger.error(`spooled settlement ${file} cannot be read (${(e as Error).message}); left in place`);
        continue;
      }
      if (this.pending.has(entry.reservation.id)) continue;
      const pending: Pending = { ...entry, spooled: true, done: Promise.resolve() };
      pending.done = this.run(pending, () => undefined).finally(() => this.pending.delete(entry.reservation.id));
      this.pending.set(entry.reservation.id, pending);
    }
  }

  /**
   * Shutdown waits for settlements in flight no later than `epochMs` (the process exits soon after; what is not
   * written by then is spooled for the next start rather than lost with the process).
   */
  shutdownBy(epochMs: number): void {
    this.shutdownDeadline = epochMs;
  }

  async beforeApplicationShutdown(): Promise<void> {
    const untilDeadline = this.shutdownDeadline === undefined ? this.shutdownWaitMs : this.shutdownDeadline - Date.now();
    await this.flush(undefined, Math.max(0, Math.min(this.shutdownWaitMs, untilDeadline)));
    this.stopping = true;
    const left = [...this.pending.values()];
    for (const p of left) await this.spool(p);
    if (left.length > 0) {
      this.logger.warn(`${left.length} settlement(s) not yet written at shutdown${this.spoolDir ? `; spooled to ${this.spoolDir} for the next start` : ''}`);
    }
  }

  /**
   * Settles one entry, retrying with backoff until it is written or the process stops. `failed`: the error of
   * a first attempt already made (a batch statement that failed).
   */
  private async run(entry: Pending, firstAttempt: () => void, failed?: unknown): Promise<void> {
    let delay = SETTLE_RETRY_FIRST_MS;
    for (let attempt = 1; ; attempt++) {
      let error = attempt === 1 ? failed : undefined;
      if (error === undefined) {
        try {
          await this.billing.settle(entry.reservation, entry.input);
          firstAttempt();
          if (entry.spooled) await this.unspool(entry);
          if (attempt > 1) this.logger.log(`usage ${entry.reservation.id} settled after ${attempt} attempts`);
          return;
        } catch (e) {
          error = e;
        }
      }
      if (attempt === 1 || attempt % 20 === 0) {
        this.logger.warn(`usage ${entry.reservation.id} could not be settled yet (attempt ${attempt}: ${(error as Error).message}); retrying`);
      }
      await this.spool(entry);
      firstAttempt();
      if (this.stopping) return;
      await sleep(delay);
      if (this.stopping) return;
      delay = Math.min(delay * 2, SETTLE_RETRY_MAX_MS);
    }
  }

  private async spool(entry: Pending): Promise<void> {
    if (entry.spooled || !this.spoolDir) return;
    try {
      await mkdir(this.spoolDir, { recursive: true });
      await writeFile(this.spoolFile(entry), toSpoolJson({ reservation: entry.reservation, input: entry.input }));
      entry.spooled = true;
    } catch (e) {
      this.logger.error(`usage ${entry.reservation.id} could not be spooled: ${(e as Error).message}`);
    }
  }

  private spoolFile(entry: Pending): string {
    return join(this.spoolDir ?? '', `${encodeURIComponent(entry.reservation.id)}.json`);
  }

  private async unspool(entry: Pending): Promise<void> {
    if (!this.spoolDir) return;
    await rm(this.spoolFile(entry), { force: true }).catch(() => undefined);
    entry.spooled = false;
  }
}

/**
 * What a process serving HTTP has in flight, for its shutdown (SIGTERM): every request until its response
 * closes (`RequestDrainMiddleware`), and every call that can be cut short, until it is settled (a chat call
 * registers a `cut` that ends its upstream call, settles what was used and tells the tenant).
 *
 * The shutdown (the gateway's `GatewayShutdown`) stops taking requests, waits for these to end by themselves
 * for most of `SHUTDOWN_GRACE_MS`, then cuts what is still running, and keeps the rest of the grace period
 * for the usage records to be written (`shutdownPlan`).
 */
import type { ServerResponse } from 'node:http';
import { Injectable, NestMiddleware } from '@nestjs/common';
import { ApiError } from '../errors/api-error';

/** The reason a call is cut short with: the process is shutting down and its grace period is running out. */
export class ShutdownCut extends Error {
  constructor() {
    super('The gateway is shutting down.');
    this.name = 'ShutdownCut';
  }
}

/** 503 `server_shutting_down`: a request refused, or cut short, because this process is stopping. */
export function shuttingDownError(cutShort: boolean): ApiError {
  const message = cutShort
    ? 'The gateway is shutting down and cut this request short; what was produced is billed. Send the request again.'
    : 'The gateway is shutting down and takes no new requests. Send the request again.';
  return new ApiError(503, 'server_error', message, 'server_shutting_down', null, { 'Retry-After': '1' });
}

/** The most of a grace period kept for writing usage records and closing, once requests are cut. */
export const SHUTDOWN_SETTLE_RESERVE_MS = 5_000;

/** When, counted from the signal, each step of a shutdown with `graceMs` happens (the process exits at `graceMs`). */
export interface ShutdownPlan {
  /** requests still running are cut: streams end with an error event, other calls answer 503, each settled */
  cutAtMs: number;
  /** connections of requests still not ended (a client that stopped reading) are closed */
  closeAtMs: number;
  /** usage records not written by then are spooled (`DATA_DIR/unsettled/`) for the next start */
  settledByMs: number;
}

/**
 * In-flight requests get all of the grace period but its last third (at most `SHUTDOWN_SETTLE_RESERVE_MS`);
 * that reserve is for the cut requests to settle and answer, for their usage records to be written, and for
 * the process to close its connections and exit before the grace period's hard exit.
 */
export function shutdownPlan(graceMs: number): ShutdownPlan {
  const reserve = Math.min(SHUTDOWN_SETTLE_RESERVE_MS, Math.floor(graceMs / 3));
  return {
    cutAtMs: graceMs - reserve,
    closeAtMs: graceMs - Math.floor(reserve / 2),
    settledByMs: graceMs - Math.floor(reserve / 4),
  };
}

interface Entry {
  cut?: (reason: ShutdownCut) => void;
  res?: ServerResponse;
}

@Injectable()
export class RequestDrain {
  private readonly entries = new Set<Entry>();
  private readonly idleWaiters = new Set<() => void>();
  private stopped = false;
  private cutReason: ShutdownCut | undefined;

  /** false once the shutdown began: new requests are refused */
  get accepting(): boolean {
    return !this.stopped;
  }

  /** requests and calls in flight */
  get size(): number {
    return this.entries.size;
  }

  /** HTTP requests in flight (each may also have a call tracked) */
  get requests(): number {
    let n = 0;
    for (const { res } of this.entries) if (res) n++;
    return n;
  }

  /**
   * Tracks a request (`res`) or a call that `cut` can end early, until the returned function is called. A
   * call tracked after the cut is cut at once.
   */
  track(cut?: (reason: ShutdownCut) => void, res?: ServerResponse): () => void {
    const entry: Entry = { cut, res };
    this.entries.add(entry);
    if (this.cutReason && cut) cut(this.cutReason);
    return () => {
      if (this.entries.delete(entry) && this.entries.size === 0) for (const wake of this.idleWaiters) wake();
    };
  }

  /** From now on requests are refused; answers not yet started close their connection when they end. */
  stopAccepting(): void {
    this.stopped = true;
    for (const { res } of this.entries) if (res && !res.headersSent) res.setHeader('Connection', 'close');
  }

  /** Cuts every call in flight (and any tracked later); returns how many were cut. */
  cut(): number {
    this.cutReason ??= new ShutdownCut();
    let cut = 0;
    for (const entry of [...this.entries]) {
      if (!entry.cut) continue;
      cut++;
      entry.cut(this.cutReason);
    }
    return cut;
  }

  /**
   * Closes the connections of the requests still open (a client that stopped reading holds its answer's
   * last writes, and with them the request's end); returns how many.
   */
  closeConnections(): number {
    let closed = 0;
    for (const { res } of this.entries) {
      if (!res || res.destroyed) continue;
      closed++;
      res.destroy();
    }
    return closed;
  }

  /** Resolves true once nothing is in flight, or false at `untilEpochMs`. */
  idle(untilEpochMs: number): Promise<boolean> {
    if (this.entries.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve(idle);
      };
      const wake = (): void => done(true);
      const timer = setTimeout(() => done(false), Math.max(0, untilEpochMs - Date.now()));
      this.idleWaiters.add(wake);
    });
  }
}

/**
 * Tracks every request for the shutdown, and refuses the ones that arrive once it began (on a connection the
 * client kept open) with 503 `server_shutting_down` and `Connection: close`, before anything is spent.
 */
@Injectable()
export class RequestDrainMiddleware implements NestMiddleware {
  constructor(private readonly drain: RequestDrain) {}

  use(_req: unknown, res: ServerResponse, next: () => void): void {
    if (!this.drain.accepting) {
      res.setHeader('Connection', 'close');
      throw shuttingDownError(false);
    }
    res.once('close', this.drain.track(undefined, res));
    next();
  }
}

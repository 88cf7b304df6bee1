import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { ApiError } from '@app/common';
import { CircuitBreaker, type CircuitAdmission, type CircuitState } from './circuit-breaker';
import { rateLimitExceeded, rateLimitHeaders } from './rate-limit-headers';
import { fixedWindow, RATE_LIMIT_WINDOW_MS } from './rate-limit-window';
import type {
  RateLimitBackend,
  RateLimitConsumption,
  RateLimitCounter,
  RateLimitDecision,
  RateLimitRequest,
  RateLimitResult,
  RateLimitSubject,
} from './rate-limit.types';

/**
 * How long a check may take. Redis answers in well under a millisecond, so 500 ms means it is gone. The
 * database gets longer: the embedded PGlite runs one statement at a time, so a burst queues checks behind
 * each other, and a database that slow is slowing every other step of the request anyway.
 */
export const RATE_LIMIT_TIMEOUT_MS = { redis: 500, database: 2000 } as const;
/** what a 503 from an unreachable rate-limit backend tells the client to wait */
export const RATE_LIMIT_OUTAGE_RETRY_AFTER_S = 2;
/** consecutive failed or timed-out checks after which the limiter stops asking its backend for a while */
export const RATE_LIMIT_BREAKER_FAILURES = 3;
/** how long it then answers 503 without asking: the Retry-After those 503s send, so a client that obeys it meets the probe */
export const RATE_LIMIT_BREAKER_OPEN_MS = RATE_LIMIT_OUTAGE_RETRY_AFTER_S * 1000;

export interface RateLimiterOptions {
  /** the longest a check may take before the request is answered 503 */
  timeoutMs?: number;
  now?: () => number;
  /** told when the circuit opens (true) and when it closes again (false); not per request */
  onCircuitChange?: (open: boolean) => void;
}

class RateLimitTimeout extends Error {
  constructor(ms: number) {
    super(`rate-limit check took longer than ${ms} ms`);
  }
}

/**
 * Per-key limits shared by every gateway replica: requests per minute and images per minute, counted on
 * the shared backend so N replicas together admit exactly the limit.
 *
 * When the backend cannot answer (Redis stopped or hung, database unreachable) the check fails within
 * `timeoutMs` with a 503: letting requests through unlimited would let one key exhaust upstream quotas and
 * spend during every outage, and waiting would tie up every request behind a dead connection.
 *
 * After `RATE_LIMIT_BREAKER_FAILURES` such failures in a row a circuit breaker opens: checks answer the same
 * 503 at once, without a call to the backend, for `RATE_LIMIT_BREAKER_OPEN_MS`; then one check probes the
 * backend (the others keep getting the 503 meanwhile) and its answer closes the circuit, or its failure opens
 * it again. No request is ever admitted unchecked.
 */
export class RateLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly breaker: CircuitBreaker;
  private readonly onCircuitChange: (open: boolean) => void;

  constructor(
    readonly backend: RateLimitBackend,
    options: RateLimiterOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? RATE_LIMIT_TIMEOUT_MS[backend.name];
    this.now = options.now ?? Date.now;
    this.breaker = new CircuitBreaker({ failures: RATE_LIMIT_BREAKER_FAILURES, openMs: RATE_LIMIT_BREAKER_OPEN_MS, now: this.now });
    this.onCircuitChange = options.onCircuitChange ?? (() => undefined);
  }

  /** `open` and `half-open`: checks are answered 503 without asking the backend (but for the one probe) */
  get circuitState(): CircuitState {
    return this.breaker.state;
  }

  /**
   * Counts the request against the key's limits; a refusal counts nothing. Throws the 503 of an outage, and
   * a RangeError for an image count that validation should already have refused.
   */
  async check(subject: RateLimitSubject, request: RateLimitRequest = {}): Promise<RateLimitDecision> {
    const images = request.images ?? 0;
    if (!Number.isInteger(images) || images < 0) throw new RangeError('images must be a non-negative integer');
    const counters: RateLimitCounter[] = [];
    if (subject.rpmLimit !== null) counters.push({ keyId: subject.keyId, kind: 'requests', cost: 1, limit: subject.rpmLimit });
    if (subject.imagesPerMinute !== null && images > 0) {
      counters.push({ keyId: subject.keyId, kind: 'images', cost: images, limit: subject.imagesPerMinute });
    }
    if (counters.length === 0) return { allowed: true, requests: null, images: null, headers: {} };

    const window = fixedWindow(this.now(), RATE_LIMIT_WINDOW_MS);
    const consumption = await this.consume(counters, window.startMs);
    let requests: RateLimitResult | null = null;
    let imageResult: RateLimitResult | null = null;
    for (const [i, c] of counters.entries()) {
      const used = consumption.used[i];
      const result: RateLimitResult = {
        allowed: consumption.admitted || used + c.cost <= c.limit,
        limit: c.limit,
        remaining: Math.max(0, c.limit - used),
        resetMs: window.resetMs,
      };
      if (c.kind === 'requests') requests = result;
      else imageResult = result;
    }
    return { allowed: consumption.admitted, requests, images: imageResult, headers: rateLimitHeaders(requests, imageResult) };
  }

  /** `check`, with a refusal thrown as the 429 the route renders; the returned headers belong on the response. */
  async enforce(subject: RateLimitSubject, request: RateLimitRequest = {}): Promise<RateLimitDecision> {
    const decision = await this.check(subject, request);
    if (!decision.allowed) throw rateLimitExceeded(decision, { requests: 1, images: request.images ?? 0 });
    return decision;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.backend.close();
  }

  private async consume(counters: RateLimitCounter[], windowStartMs: number): Promise<RateLimitConsumption> {
    const admission: CircuitAdmission = this.breaker.admit();
    if (admission === 'refuse') throw outage();
    let timer: NodeJS.Timeout | undefined;
    let pending: Promise<RateLimitConsumption> | undefined;
    try {
      pending = this.backend.consume(counters, windowStartMs, RATE_LIMIT_WINDOW_MS);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RateLimitTimeout(this.timeoutMs)), this.timeoutMs);
      });
      const consumption = await Promise.race([pending, timeout]);
      if (consumption.used.length !== counters.length) {
        throw new Error(`the backend answered ${consumption.used.length} counters for ${counters.length}`);
      }
      const change = this.breaker.succeeded(admission);
      if (change !== null) this.recovered(change === 'closed');
      return consumption;
    } catch (e) {
      // A late answer or failure of the abandoned call must not surface as an unhandled rejection.
      pending?.catch(() => undefined);
      const change = this.breaker.failed(admission);
      if (change === 'first' || change === 'opened') this.failing(change === 'opened', e);
      throw outage();
    } finally {
      clearTimeout(timer);
    }
  }

  /** logged once per outage: at its first failure, and when the circuit opens */
  private failing(opened: boolean, e: unknown): void {
    const cause = e instanceof Error ? e.message : String(e);
    if (!opened) {
      this.logger.warn(`rate-limit backend (${this.backend.name}) unavailable, answering 503: ${cause}`);
      return;
    }
    this.logger.warn(
      `rate-limit backend (${this.backend.name}) failed ${this.breaker.failures} checks in a row (last: ${cause}): circuit open, ` +
        `rate-limited requests answer 503 at once; one check probes the backend every ${RATE_LIMIT_BREAKER_OPEN_MS / 1000} s`,
    );
    this.onCircuitChange(true);
  }

  private recovered(closed: boolean): void {
    this.logger.log(`rate-limit backend (${this.backend.name}) answers again${closed ? ': circuit closed' : ''}`);
    if (closed) this.onCircuitChange(false);
  }
}

/** the answer to a check that could not be made: the backend failed, timed out, or the circuit is open */
function outage(): ApiError {
  return ApiError.unavailable('Rate limits cannot be checked right now, so the request was not processed. Please retry shortly.', RATE_LIMIT_OUTAGE_RETRY_AFTER_S);
}

import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { ApiError } from '@app/common';
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

export interface RateLimiterOptions {
  /** the longest a check may take before the request is answered 503 */
  timeoutMs?: number;
  now?: () => number;
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
 */
export class RateLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** one warning per outage, not one per refused request */
  private backendDown = false;

  constructor(
    readonly backend: RateLimitBackend,
    options: RateLimiterOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? RATE_LIMIT_TIMEOUT_MS[backend.name];
    this.now = options.now ?? Date.now;
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
    let timer: NodeJS.Timeout | undefined;
    const pending = this.backend.consume(counters, windowStartMs, RATE_LIMIT_WINDOW_MS);
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RateLimitTimeout(this.timeoutMs)), this.timeoutMs);
      });
      const consumption = await Promise.race([pending, timeout]);
      if (consumption.used.length !== counters.length) {
        throw new Error(`the backend answered ${consumption.used.length} counters for ${counters.length}`);
      }
      if (this.backendDown) {
        this.backendDown = false;
        this.logger.log(`rate-limit backend (${this.backend.name}) answers again`);
      }
      return consumption;
    } catch (e) {
      // A late answer or failure of the abandoned call must not surface as an unhandled rejection.
      pending.catch(() => undefined);
      if (!this.backendDown) {
        this.backendDown = true;
        this.logger.warn(`rate-limit backend (${this.backend.name}) unavailable, answering 503: ${e instanceof Error ? e.message : String(e)}`);
      }
      throw ApiError.unavailable('Rate limits cannot be checked right now, so the request was not processed. Please retry shortly.', RATE_LIMIT_OUTAGE_RETRY_AFTER_S);
    } finally {
      clearTimeout(timer);
    }
  }
}

import { Logger } from '@nestjs/common';
import { ApiError } from '@app/common';
import { RATE_LIMIT_BREAKER_FAILURES, RATE_LIMIT_BREAKER_OPEN_MS, RateLimiter } from './rate-limiter.service';
import type { RateLimitBackend, RateLimitConsumption, RateLimitCounter } from './rate-limit.types';

/** Counters in a Map with the backends' all-or-nothing semantics, recording every round trip. */
class MemoryBackend implements RateLimitBackend {
  readonly name = 'database';
  readonly counts = new Map<string, number>();
  readonly calls: { counters: RateLimitCounter[]; windowStartMs: number }[] = [];
  async consume(counters: RateLimitCounter[], windowStartMs: number): Promise<RateLimitConsumption> {
    this.calls.push({ counters, windowStartMs });
    const keys = counters.map((c) => `${c.keyId}:${c.kind}:${windowStartMs}`);
    const used = keys.map((k) => this.counts.get(k) ?? 0);
    const admitted = counters.every((c, i) => used[i] + c.cost <= c.limit);
    if (!admitted) return { admitted, used };
    keys.forEach((k, i) => this.counts.set(k, used[i] + counters[i].cost));
    return { admitted, used: used.map((u, i) => u + counters[i].cost) };
  }
  async close(): Promise<void> {}
}

const MINUTE = Date.UTC(2026, 0, 1, 12, 0);
const key = (rpmLimit: number | null, imagesPerMinute: number | null) => ({ keyId: 'key_1', rpmLimit, imagesPerMinute });

describe('RateLimiter', () => {
  let backend: MemoryBackend;
  let now: number;
  let limiter: RateLimiter;
  beforeEach(() => {
    backend = new MemoryBackend();
    now = MINUTE + 15_000;
    limiter = new RateLimiter(backend, { now: () => now });
  });

  it('makes no round trip for a key without limits, nor counts images for a key without an image limit', async () => {
    expect(await limiter.check(key(null, null), { images: 4 })).toEqual({ allowed: true, requests: null, images: null, headers: {} });
    expect(backend.calls).toHaveLength(0);
    const d = await limiter.check(key(5, null), { images: 4 });
    expect(backend.calls).toHaveLength(1);
    expect(backend.calls[0].counters.map((c) => c.kind)).toEqual(['requests']);
    expect(d.images).toBeNull();
    expect(Object.keys(d.headers).some((h) => h.endsWith('-images'))).toBe(false);
  });

  it('admits rpm_limit requests per window, refuses the next with the time left, and starts afresh in the next window', async () => {
    for (let i = 1; i <= 3; i++) {
      const d = await limiter.enforce(key(3, null));
      expect(d.requests).toEqual({ allowed: true, limit: 3, remaining: 3 - i, resetMs: 45_000 });
      expect(d.headers['x-ratelimit-remaining-requests']).toBe(String(3 - i));
      expect(d.headers['x-ratelimit-reset-requests']).toBe('45s');
    }
    const refused = await limiter.check(key(3, null));
    expect(refused).toMatchObject({ allowed: false, requests: { allowed: false, remaining: 0, resetMs: 45_000 } });
    expect(refused.headers['Retry-After']).toBe('45');
    await expect(limiter.enforce(key(3, null))).rejects.toMatchObject({ status: 429, code: 'rate_limit_exceeded', type: 'requests' });

    now = MINUTE + 60_000;
    expect((await limiter.enforce(key(3, null))).requests).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: 60_000 });
    expect(backend.calls.map((c) => c.windowStartMs)).toEqual([MINUTE, MINUTE, MINUTE, MINUTE, MINUTE, MINUTE + 60_000]);
  });

  it('counts the images a request asks for, and a refusal by the image limit costs no request slot', async () => {
    const first = await limiter.enforce(key(10, 5), { images: 3 });
    expect(first.images).toMatchObject({ allowed: true, limit: 5, remaining: 2 });
    expect(first.requests).toMatchObject({ remaining: 9 });
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit-images': '5', 'x-ratelimit-remaining-images': '2' });

    const err = await limiter.enforce(key(10, 5), { images: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 429, type: 'images', code: 'rate_limit_exceeded' });
    expect((err as ApiError).headers).toMatchObject({ 'x-ratelimit-remaining-images': '2', 'x-ratelimit-remaining-requests': '9' });

    expect((await limiter.enforce(key(10, 5), { images: 2 })).images).toMatchObject({ remaining: 0 });
    expect((await limiter.enforce(key(10, 5))).requests).toMatchObject({ remaining: 7 });
  });

  it('rejects a nonsensical image count as a programming error', async () => {
    await expect(limiter.check(key(1, 1), { images: -1 })).rejects.toThrow(RangeError);
    await expect(limiter.check(key(1, 1), { images: 1.5 })).rejects.toThrow(RangeError);
  });

  it('answers 503 with Retry-After, never admitting, when the backend fails', async () => {
    const failing = new RateLimiter({ name: 'redis', consume: () => Promise.reject(new Error('ECONNREFUSED')), close: async () => undefined });
    const err = await failing.enforce(key(10, null)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, code: 'service_unavailable', headers: { 'Retry-After': '2' } });
  });

  it('answers 503 within the timeout when the backend hangs', async () => {
    const hung = new RateLimiter({ name: 'redis', consume: () => new Promise(() => undefined), close: async () => undefined }, { timeoutMs: 50 });
    const started = Date.now();
    await expect(hung.check(key(10, null))).rejects.toMatchObject({ status: 503 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers 503 when the backend answers for the wrong number of counters', async () => {
    const broken = new RateLimiter({ name: 'redis', consume: async () => ({ admitted: true, used: [] }), close: async () => undefined });
    await expect(broken.check(key(10, 10), { images: 1 })).rejects.toMatchObject({ status: 503 });
  });

  it('closes its backend on shutdown', async () => {
    const close = jest.fn(async () => undefined);
    await new RateLimiter({ name: 'database', consume: backend.consume.bind(backend), close }).onApplicationShutdown();
    expect(close).toHaveBeenCalledTimes(1);
  });

  describe('circuit breaker', () => {
    /** A backend that answers, refuses, hangs, or holds each call until the test settles it; counting calls. */
    class FlakyBackend implements RateLimitBackend {
      readonly name = 'redis';
      mode: 'up' | 'down' | 'hung' | 'held' = 'up';
      calls = 0;
      readonly held: { answer(): void; fail(): void }[] = [];
      consume(counters: RateLimitCounter[]): Promise<RateLimitConsumption> {
        this.calls++;
        const answer = { admitted: true, used: counters.map((c) => c.cost) };
        if (this.mode === 'down') return Promise.reject(new Error('connect ECONNREFUSED'));
        if (this.mode === 'hung') return new Promise(() => undefined);
        if (this.mode === 'held') {
          return new Promise((resolve, reject) => this.held.push({ answer: () => resolve(answer), fail: () => reject(new Error('connection reset')) }));
        }
        return Promise.resolve(answer);
      }
      async close(): Promise<void> {}
    }

    let flaky: FlakyBackend;
    let changes: boolean[];
    let warn: jest.SpyInstance;
    let log: jest.SpyInstance;
    beforeEach(() => {
      flaky = new FlakyBackend();
      changes = [];
      limiter = new RateLimiter(flaky, { now: () => now, timeoutMs: 20, onCircuitChange: (open) => changes.push(open) });
      warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    });
    afterEach(() => jest.restoreAllMocks());

    const outage = { status: 503, code: 'service_unavailable', headers: { 'Retry-After': '2' } };
    async function refusedAtOnce(): Promise<void> {
      const calls = flaky.calls;
      await expect(limiter.enforce(key(10, null))).rejects.toMatchObject(outage);
      expect(flaky.calls).toBe(calls);
    }

    it('opens after 3 failures in a row: then answers the same 503 at once, without calling the backend', async () => {
      expect(RATE_LIMIT_BREAKER_FAILURES).toBe(3);
      flaky.mode = 'down';
      for (let i = 0; i < 3; i++) await expect(limiter.enforce(key(10, null))).rejects.toMatchObject(outage);
      expect(flaky.calls).toBe(3);
      expect(limiter.circuitState).toBe('open');
      flaky.mode = 'up'; // back, but the circuit does not ask until its open period is over
      for (let i = 0; i < 50; i++) await refusedAtOnce();
      now += RATE_LIMIT_BREAKER_OPEN_MS - 1;
      await refusedAtOnce();
      expect(changes).toEqual([true]);
    });

    it('counts timeouts as failures', async () => {
      flaky.mode = 'hung';
      for (let i = 0; i < 3; i++) await expect(limiter.check(key(10, null))).rejects.toMatchObject(outage);
      expect(limiter.circuitState).toBe('open');
      // open: none of the next twenty waits on the hung backend, so none of them reaches it
      for (let i = 0; i < 20; i++) await refusedAtOnce();
      expect(flaky.calls).toBe(3);
    });

    it('half-open: exactly one check probes the backend, the others get the 503 meanwhile; its success closes the circuit', async () => {
      // a timeout long enough for the probe to be still running while the others arrive
      limiter = new RateLimiter(flaky, { now: () => now, timeoutMs: 5000, onCircuitChange: (open) => changes.push(open) });
      flaky.mode = 'down';
      for (let i = 0; i < 3; i++) await limiter.check(key(10, null)).catch(() => undefined);
      now += RATE_LIMIT_BREAKER_OPEN_MS;
      flaky.mode = 'held';
      const checks = Array.from({ length: 5 }, () => limiter.check(key(10, null)).then((d) => d, (e: unknown) => e));
      const [probe, ...others] = checks;
      for (const o of await Promise.all(others)) expect(o).toMatchObject(outage);
      expect(flaky.calls).toBe(4);
      expect(limiter.circuitState).toBe('half-open');
      flaky.held[0].answer();
      expect(await probe).toMatchObject({ allowed: true });
      expect(limiter.circuitState).toBe('closed');
      expect(changes).toEqual([true, false]);

      flaky.mode = 'up';
      expect((await limiter.enforce(key(10, null))).allowed).toBe(true);
      expect(flaky.calls).toBe(5);
    });

    it('opens again when the probe fails, and probes again after another open period', async () => {
      flaky.mode = 'down';
      for (let i = 0; i < 3; i++) await limiter.check(key(10, null)).catch(() => undefined);
      now += RATE_LIMIT_BREAKER_OPEN_MS;
      await expect(limiter.check(key(10, null))).rejects.toMatchObject(outage); // the probe
      expect(flaky.calls).toBe(4);
      expect(limiter.circuitState).toBe('open');
      now += RATE_LIMIT_BREAKER_OPEN_MS - 1;
      await refusedAtOnce();

      now += 1;
      flaky.mode = 'up';
      expect((await limiter.enforce(key(10, null))).requests).toMatchObject({ remaining: 9 });
      expect(flaky.calls).toBe(5);
      expect(limiter.circuitState).toBe('closed');
      expect(changes).toEqual([true, false]);
    });

    it('logs an outage once each: first failure, circuit open, closed again; never per refused request', async () => {
      flaky.mode = 'down';
      for (let i = 0; i < 3; i++) await limiter.check(key(10, null)).catch(() => undefined);
      for (let i = 0; i < 20; i++) await limiter.check(key(10, null)).catch(() => undefined);
      for (let probe = 0; probe < 3; probe++) {
        now += RATE_LIMIT_BREAKER_OPEN_MS;
        await limiter.check(key(10, null)).catch(() => undefined);
      }
      now += RATE_LIMIT_BREAKER_OPEN_MS;
      flaky.mode = 'up';
      await limiter.check(key(10, null));
      for (let i = 0; i < 5; i++) await limiter.check(key(10, null));

      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
        expect.stringContaining('unavailable, answering 503: connect ECONNREFUSED'),
        expect.stringContaining('failed 3 checks in a row (last: connect ECONNREFUSED): circuit open'),
      ]);
      expect(log.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining('answers again: circuit closed')]);
      expect(changes).toEqual([true, false]);
    });

    it('stays closed through failures fewer than 3 in a row, as before', async () => {
      for (let round = 0; round < 3; round++) {
        flaky.mode = 'down';
        for (let i = 0; i < 2; i++) await expect(limiter.check(key(100, null))).rejects.toMatchObject(outage);
        flaky.mode = 'up';
        expect((await limiter.check(key(100, null))).allowed).toBe(true);
      }
      expect(limiter.circuitState).toBe('closed');
      expect(flaky.calls).toBe(9);
      expect(changes).toEqual([]);
    });
  });
});

import { ApiError } from '@app/common';
import { RateLimiter } from './rate-limiter.service';
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
});

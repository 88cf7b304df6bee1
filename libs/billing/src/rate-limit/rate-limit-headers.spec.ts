import { ApiError, openAiEnvelope, googleEnvelope } from '@app/common';
import { rateLimitExceeded, rateLimitHeaders } from './rate-limit-headers';
import type { RateLimitDecision, RateLimitResult } from './rate-limit.types';

const ok = (limit: number, remaining: number, resetMs: number): RateLimitResult => ({ allowed: true, limit, remaining, resetMs });
const refused = (limit: number, remaining: number, resetMs: number): RateLimitResult => ({ allowed: false, limit, remaining, resetMs });

function decision(requests: RateLimitResult | null, images: RateLimitResult | null): RateLimitDecision {
  const allowed = [requests, images].every((r) => r === null || r.allowed);
  return { allowed, requests, images, headers: rateLimitHeaders(requests, images) };
}

describe('rate-limit headers', () => {
  it('name each limit the way OpenAI does, and say nothing about absent limits', () => {
    expect(rateLimitHeaders(ok(60, 59, 1000), null)).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
    });
    expect(rateLimitHeaders(null, ok(10, 6, 360_000))).toEqual({
      'x-ratelimit-limit-images': '10',
      'x-ratelimit-remaining-images': '6',
      'x-ratelimit-reset-images': '6m0s',
    });
    expect(rateLimitHeaders(null, null)).toEqual({});
  });

  it('add Retry-After in whole seconds only when a limit refused', () => {
    expect(rateLimitHeaders(ok(10, 0, 400), ok(5, 0, 400))['Retry-After']).toBeUndefined();
    expect(rateLimitHeaders(refused(10, 0, 400), null)['Retry-After']).toBe('1');
    expect(rateLimitHeaders(refused(10, 0, 20_001), ok(5, 5, 20_001))['Retry-After']).toBe('21');
  });
});

describe('the 429 of a refused check', () => {
  it("is OpenAI's rate_limit_exceeded, typed by the limit that refused, carrying the headers", () => {
    const d = decision(refused(10, 0, 20_000), null);
    const e = rateLimitExceeded(d, { requests: 1, images: 0 });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(429);
    expect(openAiEnvelope.body(e)).toEqual({
      error: {
        message: 'Rate limit reached for requests per min (RPM) on this API key: Limit 10, Used 10, Requested 1. Please try again in 20s.',
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
    expect(googleEnvelope.body(e)).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
    expect(e.headers).toEqual({
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '20s',
      'Retry-After': '20',
    });
  });

  it('names the image limit when that one refused, with what is left of it', () => {
    const e = rateLimitExceeded(decision(ok(100, 90, 5_500), refused(10, 2, 5_500)), { requests: 1, images: 4 });
    expect(e.type).toBe('images');
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.param).toBeNull();
    expect(e.message).toBe('Rate limit reached for images per min (IPM) on this API key: Limit 10, Used 8, Requested 4. Please try again in 5.5s.');
    expect(e.headers['x-ratelimit-remaining-images']).toBe('2');
    expect(e.headers['Retry-After']).toBe('6');
  });

  it('tells a request that can never fit to shrink, naming n', () => {
    const e = rateLimitExceeded(decision(ok(100, 99, 30_000), refused(4, 4, 30_000)), { requests: 1, images: 5 });
    expect(e.status).toBe(429);
    expect(e.param).toBe('n');
    expect(e.message).toMatch(/^Request too large for images per min \(IPM\) on this API key: Limit 4, Requested 5\./);
  });

  it('reads a request limit of 0 as an ordinary refusal', () => {
    const e = rateLimitExceeded(decision(refused(0, 0, 1_000), null), { requests: 1, images: 0 });
    expect(e.param).toBeNull();
    expect(e.message).toMatch(/^Rate limit reached for requests per min \(RPM\) on this API key: Limit 0, Used 0, Requested 1\./);
  });
});

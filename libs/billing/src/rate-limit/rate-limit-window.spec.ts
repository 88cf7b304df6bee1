import { fixedWindow, formatResetDuration, retryAfterSeconds, RATE_LIMIT_WINDOW_MS } from './rate-limit-window';

describe('fixed rate-limit windows', () => {
  it('start on the minute and reset when the next one begins', () => {
    const minute = Date.UTC(2026, 0, 1, 12, 30);
    expect(fixedWindow(minute)).toEqual({ startMs: minute, resetMs: 60_000 });
    expect(fixedWindow(minute + 1)).toEqual({ startMs: minute, resetMs: 59_999 });
    expect(fixedWindow(minute + 59_999)).toEqual({ startMs: minute, resetMs: 1 });
    expect(fixedWindow(minute + 60_000)).toEqual({ startMs: minute + 60_000, resetMs: 60_000 });
  });

  it('give every instant of a window the same start, and resetMs always in 1..window', () => {
    const base = Date.UTC(2026, 0, 1);
    for (let t = base - 3 * RATE_LIMIT_WINDOW_MS; t < base + 3 * RATE_LIMIT_WINDOW_MS; t += 7_777) {
      const w = fixedWindow(t);
      expect(w.startMs % RATE_LIMIT_WINDOW_MS).toBe(0);
      expect(w.startMs).toBeLessThanOrEqual(t);
      expect(w.resetMs).toBeGreaterThanOrEqual(1);
      expect(w.resetMs).toBeLessThanOrEqual(RATE_LIMIT_WINDOW_MS);
      expect(w.startMs + RATE_LIMIT_WINDOW_MS - w.resetMs).toBe(t);
    }
  });

  it('support other window lengths', () => {
    expect(fixedWindow(12_345, 1000)).toEqual({ startMs: 12_000, resetMs: 655 });
  });
});

describe('Retry-After seconds', () => {
  it('round up and are never below 1', () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(59_999)).toBe(60);
    expect(retryAfterSeconds(60_000)).toBe(60);
  });
});

describe('x-ratelimit-reset-* durations in OpenAI (Go) notation', () => {
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [17_312, '17.312s'],
    [20_050, '20.05s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [90_000, '1m30s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
    [3_600_000, '1h0m0s'],
    [-5, '0s'],
    [1234.4, '1.234s'],
  ])('%p ms → %s', (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text);
  });
});

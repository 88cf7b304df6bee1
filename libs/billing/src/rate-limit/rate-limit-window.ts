/**
 * Fixed one-minute windows. A window is one counter per key and limit, so a check is a single atomic
 * increment on the shared backend (Redis or one SQL upsert) with nothing stored per request. The price is
 * that a client can spend a full limit at the end of one window and another at the start of the next; a
 * sliding log would cost one entry per request, and a weighted sliding counter cannot be done as one
 * conditional upsert in SQL, so both backends keep the same, simpler semantics.
 * Each replica's own (NTP-synchronised) clock names the window; the previous window's counters are kept a
 * little longer than it lasts, so a clock a few seconds behind still finds the right counter.
 */
export const RATE_LIMIT_WINDOW_MS = 60_000;

export interface FixedWindow {
  startMs: number;
  /** milliseconds until the window ends, in 1..windowMs */
  resetMs: number;
}

export function fixedWindow(nowMs: number, windowMs = RATE_LIMIT_WINDOW_MS): FixedWindow {
  const startMs = Math.floor(nowMs / windowMs) * windowMs;
  return { startMs, resetMs: startMs + windowMs - nowMs };
}

/** `Retry-After` is whole seconds; rounding up (and never 0) keeps a client that obeys it from being refused again. */
export function retryAfterSeconds(resetMs: number): number {
  return Math.max(1, Math.ceil(resetMs / 1000));
}

/**
 * A duration in OpenAI's `x-ratelimit-reset-*` format (Go's duration notation): `250ms`, `1s`, `17.5s`,
 * `6m0s`, `1h2m3s`. Clients written against OpenAI parse exactly this.
 */
export function formatResetDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const seconds = `${Math.floor(millis / 1000)}${millis % 1000 === 0 ? '' : `.${String(millis % 1000).padStart(3, '0').replace(/0+$/, '')}`}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/**
 * Money is integer micro-USD (1 USD = 1_000_000) everywhere inside Switchyard: in the database, in
 * arithmetic, in the ledger. USD decimals exist only at the API's edge.
 */
export const MICROS_PER_USD = 1_000_000n;

const DECIMAL = /^(\d+)(?:\.(\d{1,6}))?$/;

/** Parses a non-negative USD amount with at most 6 decimals, exactly (no float arithmetic). */
export function usdToMicros(value: number | string): bigint {
  const text = typeof value === 'number' ? numberToPlain(value) : value.trim();
  const m = DECIMAL.exec(text);
  if (!m) throw new RangeError(`not a USD amount with at most 6 decimals: ${String(value)}`);
  return BigInt(m[1]) * MICROS_PER_USD + BigInt((m[2] ?? '').padEnd(6, '0'));
}

function numberToPlain(n: number): string {
  if (!Number.isFinite(n) || n < 0) return 'invalid';
  // toString gives the shortest exact round-trip form; exponent forms only for tiny/huge values.
  const s = n.toString();
  return /e/i.test(s) ? n.toFixed(6).replace(/\.?0+$/, '') : s;
}

/** micro-USD → USD as a JS number (exact to the micro-dollar below $9e9), for API responses. */
export function microsToUsd(micros: bigint): number {
  return Number(micros) / 1e6;
}

/** micro-USD → "0.001234" (for headers and CSV, where a fixed decimal form is clearer). */
export function formatUsd(micros: bigint): string {
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const s = `${abs / MICROS_PER_USD}.${(abs % MICROS_PER_USD).toString().padStart(6, '0')}`;
  return neg ? `-${s}` : s;
}

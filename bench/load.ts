/**
 * The benchmark's load generator: an undici `Pool` with N keep-alive connections, in closed-loop (fixed
 * concurrency) or open-loop (fixed request rate) mode, with latency and time-to-first-byte histograms from
 * `perf_hooks.createHistogram`. Written here rather than taken from autocannon because undici (already a
 * dependency of the gateway) does all the HTTP work, and the few hundred lines below measure exactly what
 * the table reports (first body byte of an SSE stream, bodies fully read) without a new package.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { Pool } from 'undici';

/** One kind of request, fully described: the same object is sent every time. */
export interface RequestSpec {
  /** scheme://host:port */
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** JSON text */
  body: string;
}

export type LoadMode = { kind: 'closed'; concurrency: number } | { kind: 'rate'; perSecond: number };

export interface LoadOptions {
  spec: RequestSpec;
  mode: LoadMode;
  durationMs: number;
  /** sockets in the pool; defaults to the concurrency (closed) or 64 (rate) */
  connections?: number;
  /** a response whose status is not 2xx counts as an error */
  expectStatus?: (status: number) => boolean;
  /** answers shorter than this count as errors (a truncated image or stream) */
  minBodyBytes?: number;
}

export interface LatencyStats {
  /** milliseconds */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** completed requests, errors included */
  requests: number;
  errors: number;
  /** up to five distinct error descriptions */
  errorSamples: string[];
  durationMs: number;
  /** successful requests per second */
  perSecond: number;
  /** request sent → last body byte */
  latency: LatencyStats;
  /** request sent → first body byte */
  ttfb: LatencyStats;
  bytes: number;
  /** open-loop only: requests dispatched more than 5 ms after their slot (the generator could not keep up) */
  lateDispatches: number;
}

const NS_PER_MS = 1e6;

function stats(h: RecordableHistogram): LatencyStats {
  if (h.count === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  return {
    p50: h.percentile(50) / NS_PER_MS,
    p90: h.percentile(90) / NS_PER_MS,
    p99: h.percentile(99) / NS_PER_MS,
    max: h.max / NS_PER_MS,
    mean: h.mean / NS_PER_MS,
  };
}

class Recorder {
  readonly latency = createHistogram();
  readonly ttfb = createHistogram();
  requests = 0;
  errors = 0;
  bytes = 0;
  readonly errorSamples = new Set<string>();

  error(description: string): void {
    this.errors += 1;
    if (this.errorSamples.size < 5) this.errorSamples.add(description);
  }
}

async function once(pool: Pool, spec: RequestSpec, rec: Recorder, opts: LoadOptions): Promise<void> {
  const started = process.hrtime.bigint();
  try {
    const res = await pool.request({ path: spec.path, method: 'POST', headers: spec.headers, body: spec.body });
    let first = 0n;
    let bytes = 0;
    let head = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (first === 0n) first = process.hrtime.bigint();
      if (head.length < 300) head += chunk.subarray(0, 300).toString('utf8');
      bytes += chunk.length;
    }
    const ended = process.hrtime.bigint();
    rec.requests += 1;
    rec.bytes += bytes;
    const ok = opts.expectStatus ? opts.expectStatus(res.statusCode) : res.statusCode >= 200 && res.statusCode < 300;
    if (!ok) return rec.error(`HTTP ${res.statusCode}: ${head.slice(0, 200)}`);
    if (bytes < (opts.minBodyBytes ?? 1)) return rec.error(`short body (${bytes} bytes): ${head.slice(0, 200)}`);
    rec.latency.record(Math.max(1, Number(ended - started)));
    rec.ttfb.record(Math.max(1, Number((first === 0n ? ended : first) - started)));
  } catch (e) {
    rec.requests += 1;
    rec.error(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one load phase to completion; every request started is awaited, so nothing leaks into the next phase. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const { spec, mode } = opts;
  const connections = opts.connections ?? (mode.kind === 'closed' ? mode.concurrency : 64);
  const pool = new Pool(spec.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const rec = new Recorder();
  const start = performance.now();
  const endAt = start + opts.durationMs;
  let lateDispatches = 0;
  try {
    if (mode.kind === 'closed') {
      const worker = async (): Promise<void> => {
        while (performance.now() < endAt) await once(pool, spec, rec, opts);
      };
      await Promise.all(Array.from({ length: mode.concurrency }, worker));
    } else {
      // Slots at exact multiples of the interval; a timer wakes us about every millisecond and everything due is
      // sent, so a slow tick delays requests (counted as late) instead of dropping them.
      const interval = 1000 / mode.perSecond;
      const inFlight = new Set<Promise<void>>();
      let sent = 0;
      for (;;) {
        const now = performance.now();
        if (now >= endAt) break;
        while (start + sent * interval <= now) {
          if (now - (start + sent * interval) > 5) lateDispatches += 1;
          const p = once(pool, spec, rec, opts).finally(() => inFlight.delete(p));
          inFlight.add(p);
          sent += 1;
        }
        await sleep(Math.max(0, Math.min(1, start + sent * interval - performance.now())));
      }
      await Promise.all(inFlight);
    }
  } finally {
    await pool.close();
  }
  const durationMs = performance.now() - start;
  return {
    requests: rec.requests,
    errors: rec.errors,
    errorSamples: [...rec.errorSamples],
    durationMs,
    perSecond: ((rec.requests - rec.errors) * 1000) / durationMs,
    latency: stats(rec.latency),
    ttfb: stats(rec.ttfb),
    bytes: rec.bytes,
    lateDispatches,
  };
}

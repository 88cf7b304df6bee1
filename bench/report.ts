/**
 * Turns one run's results into the table the README shows (Markdown) and the same figures as JSON, with the
 * issue's targets checked against numbers measured in that run.
 */
import { SCENARIOS, TARGET_LABELS, type ScenarioName, type ScenarioResult, type ScenarioSettings, type TargetName, type TargetResults } from './scenarios';

export interface RunInfo {
  startedAt: string;
  node: string;
  cpus: number;
  /** /proc/loadavg 1-minute figure when measuring started and ended */
  loadAvgStart: number;
  loadAvgEnd: number;
  settings: ScenarioSettings;
  /** how the processes were placed, e.g. "load generator + simulator on core 0, server under test on core 1" */
  placement: string;
  notes: string[];
}

export interface Row {
  metric: string;
  unit: string;
  values: Partial<Record<TargetName, number | null>>;
  /** Switchyard ÷ bare forwarder */
  ratio: number | null;
  target: string;
}

export interface Check {
  what: string;
  measured: number | null;
  limit: number;
  unit: string;
  pass: boolean;
  /** measured − limit when over, for the README's "missed by" */
  over: number | null;
}

export interface BenchReport {
  run: RunInfo;
  rows: Row[];
  checks: Check[];
  results: Partial<Record<TargetName, TargetResults>>;
  soak?: SoakReport;
}

export interface SoakReport {
  seconds: number;
  ratePerSecond: number;
  requests: number;
  errors: number;
  /** [seconds since start, RSS MB] */
  rssSamples: Array<[number, number]>;
  rssStartMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  /** trend of the post-GC floor of RSS after the first fifth of the run, MB per minute */
  rssFloorSlopeMbPerMin: number;
  /** chat latency over the whole soak: a p99 that grows to seconds means the gateway fell behind */
  chatLatencyMs: { p50: number; p99: number };
}

const ORDER: TargetName[] = ['direct', 'nginx', 'bare', 'switchyard'];

type Pick = (r: TargetResults) => number | null;

/** a scenario left out of the run (`--scenarios`) reads as not measured */
function safe(pick: Pick, r: TargetResults): number | null {
  try {
    const v = pick(r);
    return v === undefined ? null : v;
  } catch {
    return null;
  }
}

function row(results: BenchReport['results'], metric: string, unit: string, pick: Pick, target = '', opts: { minusDirect?: boolean; skipDirect?: boolean } = {}): Row {
  const values: Row['values'] = {};
  const direct = results.direct ? safe(pick, results.direct) : null;
  for (const name of ORDER) {
    const r = results[name];
    if (!r) continue;
    if (opts.skipDirect && name === 'direct') {
      values[name] = null;
      continue;
    }
    const v = safe(pick, r);
    values[name] = v === null ? null : opts.minusDirect ? (direct === null ? null : v - direct) : v;
  }
  const sy = values.switchyard;
  const bare = values.bare;
  const ratio = typeof sy === 'number' && typeof bare === 'number' && bare > 0 ? sy / bare : null;
  return { metric, unit, values, ratio, target };
}

const errorCount = (r: TargetResults): number => SCENARIOS.reduce((n, s) => n + ((r[s] as ScenarioResult | undefined)?.errors ?? 0), 0);

const cpu = (s: ScenarioName): Pick => (r) => r[s].cpuMsPerRequest;

export function buildReport(run: RunInfo, results: BenchReport['results'], soak?: SoakReport): BenchReport {
  const s = run.settings;
  const rows: Row[] = [
    row(results, `chat throughput, ${s.throughputConnections} connections`, 'req/s', (r) => r.throughput.perSecond),
    row(results, 'chat latency p50, concurrency 1', 'ms', (r) => r.latencyC1.latency.p50),
    row(results, 'added p50, concurrency 1', 'ms', (r) => r.latencyC1.latency.p50, '≤ 0.5', { minusDirect: true }),
    row(results, 'added p99, concurrency 1', 'ms', (r) => r.latencyC1.latency.p99, '', { minusDirect: true }),
    row(results, `added p50, ${s.ratePerSecond} req/s`, 'ms', (r) => r.latencyRate.latency.p50, '', { minusDirect: true }),
    row(results, `added p99, ${s.ratePerSecond} req/s`, 'ms', (r) => r.latencyRate.latency.p99, '', { minusDirect: true }),
    row(results, `CPU per chat request, ${s.ratePerSecond} req/s`, 'ms', cpu('latencyRate'), '≤ 0.27 and ≤ 1.6× bare', { skipDirect: true }),
    row(results, `CPU per chat request, ${s.throughputConnections} connections`, 'ms', cpu('throughput'), '', { skipDirect: true }),
    row(results, `kernel share of that CPU, ${s.ratePerSecond} req/s`, '%', (r) => (r.latencyRate.kernelCpuShare === null ? null : r.latencyRate.kernelCpuShare * 100), '', { skipDirect: true }),
    row(results, `time to first SSE byte p50, concurrency ${s.sseConcurrency}`, 'ms', (r) => r.sse.ttfb.p50),
    row(results, 'added time to first SSE byte p50', 'ms', (r) => r.sse.ttfb.p50, '≤ 1.5', { minusDirect: true }),
    row(results, 'CPU per stream (20 chunks)', 'ms', cpu('sse'), '', { skipDirect: true }),
    row(results, `1.5 MB images, ${s.imageConnections} connections`, 'img/s', (r) => r.images.perSecond),
    row(results, 'CPU per 1.5 MB image', 'ms', cpu('images'), '≤ 3', { skipDirect: true }),
    row(results, `peak RSS, ${s.imageConnections} concurrent images`, 'MB', (r) => r.images.peakRssMb, '≤ 200', { skipDirect: true }),
    row(results, 'server CPU while idle', '% of a core', (r) => (r.idleCpuShare === null ? null : r.idleCpuShare * 100), '', { skipDirect: true }),
    row(results, 'errors (all scenarios)', 'count', errorCount, '0'),
  ];

  const sy = results.switchyard;
  const bare = results.bare;
  const check = (what: string, measured: number | null | undefined, limit: number, unit: string): Check => {
    const m = measured ?? null;
    const pass = m !== null && m <= limit;
    return { what, measured: m, limit, unit, pass, over: m !== null && !pass ? m - limit : null };
  };
  const direct = results.direct;
  const checks: Check[] = sy && SCENARIOS.every((n) => sy[n] !== undefined)
    ? [
        check('gateway CPU per small chat request', sy.latencyRate.cpuMsPerRequest, 0.27, 'ms'),
        check(
          'gateway CPU per chat request ÷ bare forwarder',
          sy.latencyRate.cpuMsPerRequest !== null && bare?.latencyRate.cpuMsPerRequest ? sy.latencyRate.cpuMsPerRequest / bare.latencyRate.cpuMsPerRequest : null,
          1.6,
          '×',
        ),
        check('added p50, concurrency 1', direct ? sy.latencyC1.latency.p50 - direct.latencyC1.latency.p50 : null, 0.5, 'ms'),
        check('added time to first SSE byte (p50)', direct ? sy.sse.ttfb.p50 - direct.sse.ttfb.p50 : null, 1.5, 'ms'),
        check('gateway CPU per 1.5 MB image', sy.images.cpuMsPerRequest, 3, 'ms'),
        check(`peak RSS at ${s.imageConnections} concurrent images`, sy.images.peakRssMb, 200, 'MB'),
        check('errors', errorCount(sy), 0, ''),
      ]
    : [];
  return { run, rows, checks, results, ...(soak ? { soak } : {}) };
}

function fmt(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (unit === 'req/s' || unit === 'count' || unit === 'MB') return v.toFixed(0);
  if (unit === '% of a core') return v.toFixed(1);
  if (unit === 'img/s') return v.toFixed(1);
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3);
}

export function toMarkdown(report: BenchReport): string {
  const present = ORDER.filter((n) => report.results[n]);
  const lines: string[] = [];
  const r = report.run;
  lines.push(`Measured ${r.startedAt} on ${r.cpus} cores, Node ${r.node}; ${r.placement}; load average ${r.loadAvgStart.toFixed(2)} at start, ${r.loadAvgEnd.toFixed(2)} at end.`);
  if (present.length > 0) {
    lines.push('');
    lines.push(`| metric | ${present.map((n) => TARGET_LABELS[n]).join(' | ')} | Switchyard ÷ bare | target |`);
    lines.push(`|---|${present.map(() => '--:').join('|')}|--:|---|`);
    for (const row of report.rows) {
      const cells = present.map((n) => fmt(row.values[n], row.unit));
      lines.push(`| ${row.metric} (${row.unit}) | ${cells.join(' | ')} | ${row.ratio === null ? '—' : `${row.ratio.toFixed(2)}×`} | ${row.target} |`);
    }
    if (report.checks.length > 0) {
      lines.push('');
      lines.push('| target | measured | limit | result |');
      lines.push('|---|--:|--:|---|');
      for (const c of report.checks) {
        const result = c.pass ? 'met' : c.measured === null ? 'not measured' : `missed by ${fmt(c.over, c.unit)} ${c.unit}`.trimEnd();
        lines.push(`| ${c.what} | ${fmt(c.measured, c.unit)} ${c.unit} | ${c.limit} ${c.unit} | ${result} |`);
      }
    }
  }
  if (report.soak) {
    const s = report.soak;
    lines.push('');
    lines.push(
      `Soak: ${s.seconds} s at ${s.ratePerSecond} req/s (chat, streams and images mixed), ${s.requests} requests, ${s.errors} errors; ` +
        `RSS ${s.rssStartMb.toFixed(0)} MB → ${s.rssEndMb.toFixed(0)} MB (max ${s.rssMaxMb.toFixed(0)} MB), ` +
        `trend of the post-GC floor ${s.rssFloorSlopeMbPerMin.toFixed(2)} MB/min; chat latency p50 ${s.chatLatencyMs.p50.toFixed(2)} ms, p99 ${s.chatLatencyMs.p99.toFixed(2)} ms.`,
    );
  }
  if (r.notes.length > 0) {
    lines.push('');
    for (const n of r.notes) lines.push(`- ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The benchmark's scenarios, run against each target back to back (direct to the simulator, nginx, the bare
 * NestJS forwarder, Switchyard): throughput at 50 connections, latency at concurrency 1 and at a fixed rate,
 * time to the first SSE byte, and 1.5 MB images at 8 connections. Where the server under test is a separate
 * process, its CPU time and RSS are read from /proc around each measured phase.
 */
import { runLoad, type LoadMode, type LoadOptions, type LoadResult, type RequestSpec } from './load';
import { cpuMs, cpuSplitMs, sampleRss } from './proc-stats';

export type TargetName = 'direct' | 'nginx' | 'bare' | 'switchyard';

export const TARGET_LABELS: Record<TargetName, string> = {
  direct: 'direct to simulator',
  nginx: 'nginx',
  bare: 'bare NestJS + undici',
  switchyard: 'Switchyard',
};

export interface BenchTarget {
  name: TargetName;
  /** the process that sits between client and simulator; absent for `direct`, or when it shares this process */
  pid?: number;
  chat: RequestSpec;
  stream: RequestSpec;
  image: RequestSpec;
}

export type ScenarioName = 'throughput' | 'latencyC1' | 'latencyRate' | 'sse' | 'images';

export interface ScenarioSettings {
  warmupMs: number;
  /** measured duration of each scenario */
  durationMs: Record<ScenarioName, number>;
  throughputConnections: number;
  ratePerSecond: number;
  sseConcurrency: number;
  imageConnections: number;
}

export const DEFAULT_SETTINGS: ScenarioSettings = {
  warmupMs: 1500,
  durationMs: { throughput: 6000, latencyC1: 6000, latencyRate: 6000, sse: 6000, images: 6000 },
  throughputConnections: 50,
  ratePerSecond: 400,
  sseConcurrency: 4,
  imageConnections: 8,
};

export interface ScenarioResult extends LoadResult {
  /** server CPU ms per completed request; null when the server is not a separate process */
  cpuMsPerRequest: number | null;
  /** the kernel's (system time's) share of that CPU: socket and file syscalls, as opposed to JavaScript */
  kernelCpuShare: number | null;
  /** highest RSS of the server while the scenario ran (MB); null when not measured */
  peakRssMb: number | null;
  /**
   * the measured phase on CLOCK_MONOTONIC in µs (`process.hrtime`), the clock of V8's CPU profiles in every
   * process: `--profile` summarises the gateway's samples of each phase on its own
   */
  windowUs: [number, number];
}

export type TargetResults = Record<ScenarioName, ScenarioResult> & {
  /** CPU the server used while idle, as a share of one core (background work: queue polling, timers) */
  idleCpuShare: number | null;
};

/** the smallest body each answer must have, so a truncated image or an empty stream counts as an error */
const MIN_BYTES: Record<ScenarioName, number> = { throughput: 50, latencyC1: 50, latencyRate: 50, sse: 200, images: 1_000_000 };

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function measure(target: BenchTarget, load: LoadOptions, withRss: boolean): Promise<ScenarioResult> {
  const pid = target.pid;
  const cpuBefore = pid !== undefined ? cpuSplitMs(pid) : null;
  const rss = pid !== undefined && withRss ? sampleRss(pid) : null;
  const startUs = monotonicUs();
  const result = await runLoad(load);
  const windowUs: [number, number] = [startUs, monotonicUs()];
  const peakRssMb = rss ? rss.stop() : null;
  if (pid === undefined || cpuBefore === null || result.requests === 0) return { ...result, cpuMsPerRequest: null, kernelCpuShare: null, peakRssMb, windowUs };
  const after = cpuSplitMs(pid);
  const user = after.user - cpuBefore.user;
  const system = after.system - cpuBefore.system;
  return { ...result, cpuMsPerRequest: (user + system) / result.requests, kernelCpuShare: user + system > 0 ? system / (user + system) : null, peakRssMb, windowUs };
}

function plan(target: BenchTarget, s: ScenarioSettings): Record<ScenarioName, { spec: RequestSpec; mode: LoadMode; rss: boolean }> {
  return {
    throughput: { spec: target.chat, mode: { kind: 'closed', concurrency: s.throughputConnections }, rss: false },
    latencyC1: { spec: target.chat, mode: { kind: 'closed', concurrency: 1 }, rss: false },
    latencyRate: { spec: target.chat, mode: { kind: 'rate', perSecond: s.ratePerSecond }, rss: false },
    sse: { spec: target.stream, mode: { kind: 'closed', concurrency: s.sseConcurrency }, rss: false },
    images: { spec: target.image, mode: { kind: 'closed', concurrency: s.imageConnections }, rss: true },
  };
}

export const SCENARIOS: ScenarioName[] = ['throughput', 'latencyC1', 'latencyRate', 'sse', 'images'];

/** Runs every scenario against one target: a warm-up of the same shape (discarded), then the measured phase. */
export async function runTarget(
  target: BenchTarget,
  settings: ScenarioSettings,
  log: (line: string) => void = () => undefined,
  only: readonly ScenarioName[] = SCENARIOS,
): Promise<TargetResults> {
  const phases = plan(target, settings);
  const out = { idleCpuShare: null } as TargetResults;
  if (target.pid !== undefined) {
    const before = cpuMs(target.pid);
    const idleMs = Math.min(2000, settings.warmupMs * 2);
    await new Promise((r) => setTimeout(r, idleMs));
    out.idleCpuShare = (cpuMs(target.pid) - before) / idleMs;
    log(`  ${TARGET_LABELS[target.name]} / idle: ${(out.idleCpuShare * 100).toFixed(1)}% of a core`);
  }
  for (const name of SCENARIOS.filter((n) => only.includes(n))) {
    const { spec, mode, rss } = phases[name];
    const base = { spec, mode, minBodyBytes: MIN_BYTES[name] };
    if (settings.warmupMs > 0) await runLoad({ ...base, durationMs: settings.warmupMs });
    out[name] = await measure(target, { ...base, durationMs: settings.durationMs[name] }, rss);
    const r = out[name];
    log(
      `  ${TARGET_LABELS[target.name]} / ${name}: ${r.requests} requests, ${r.errors} errors, ${r.perSecond.toFixed(0)}/s, ` +
        `p50 ${r.latency.p50.toFixed(3)} ms, ttfb p50 ${r.ttfb.p50.toFixed(3)} ms` +
        (r.cpuMsPerRequest !== null ? `, cpu ${r.cpuMsPerRequest.toFixed(3)} ms/req` : '') +
        (r.kernelCpuShare !== null ? ` (${(r.kernelCpuShare * 100).toFixed(0)}% kernel)` : '') +
        (r.peakRssMb !== null ? `, peak rss ${r.peakRssMb.toFixed(0)} MB` : '') +
        (r.errorSamples.length > 0 ? `\n    errors: ${r.errorSamples.join(' | ')}` : ''),
    );
  }
  return out;
}

// -------------------------------------------------------------------------------------------------------------
// Request shapes. The same small chat request everywhere; direct, nginx and the bare forwarder carry the
// upstream model id, Switchyard its catalog id.

const CHAT_MESSAGES = [{ role: 'user', content: 'Say hello in one short sentence.' }];
export const SIM_OPENAI_KEY = 'sk-sim-openai';
const IMAGE_PROMPT = 'a lighthouse on a cliff at dusk';

function json(origin: string, path: string, authorization: string, body: unknown): RequestSpec {
  return { origin, path, headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify(body) };
}

/** Requests straight to the simulator's OpenAI routes (also what nginx forwards unchanged). */
export function upstreamSpecs(origin: string): Pick<BenchTarget, 'chat' | 'stream' | 'image'> {
  const auth = `Bearer ${SIM_OPENAI_KEY}`;
  return {
    chat: json(origin, '/openai/v1/chat/completions', auth, { model: 'gpt-4o-mini', messages: CHAT_MESSAGES, max_tokens: 32 }),
    stream: json(origin, '/openai/v1/chat/completions', auth, { model: 'gpt-4o-mini', messages: CHAT_MESSAGES, max_tokens: 32, stream: true }),
    image: json(origin, '/openai/v1/images/generations', auth, { model: 'gpt-image-1', prompt: IMAGE_PROMPT, size: '1024x1024' }),
  };
}

/** Requests to the bare forwarder: OpenAI paths under /v1, upstream model ids, no key of its own. */
export function bareSpecs(origin: string): Pick<BenchTarget, 'chat' | 'stream' | 'image'> {
  const up = upstreamSpecs(origin);
  const strip = (s: RequestSpec, path: string): RequestSpec => ({ ...s, path, headers: { 'content-type': 'application/json' } });
  return { chat: strip(up.chat, '/v1/chat/completions'), stream: strip(up.stream, '/v1/chat/completions'), image: strip(up.image, '/v1/images/generations') };
}

/** Requests to Switchyard with a tenant key: the same work, plus auth, rate limit, reservation and settlement. */
export function switchyardSpecs(origin: string, tenantKey: string): Pick<BenchTarget, 'chat' | 'stream' | 'image'> {
  const auth = `Bearer ${tenantKey}`;
  return {
    chat: json(origin, '/v1/chat/completions', auth, { model: 'openai/gpt-4o-mini', messages: CHAT_MESSAGES, max_tokens: 32 }),
    stream: json(origin, '/v1/chat/completions', auth, { model: 'openai/gpt-4o-mini', messages: CHAT_MESSAGES, max_tokens: 32, stream: true }),
    image: json(origin, '/v1/images/generations', auth, { model: 'openai/gpt-image-1', prompt: IMAGE_PROMPT, size: '1024x1024', response_format: 'b64_json' }),
  };
}

/**
 * `npm run bench`: starts the upstream simulator, Switchyard (built, from dist/, on Postgres + Redis in a
 * fresh database), the bare NestJS forwarder and nginx as children; pins the load generator (this process)
 * and the simulator to core 0 and each server under test to core 1; runs every scenario against each
 * target back to back; and writes one table of figures measured in this run to bench/results/.
 *
 *   npm run bench                    the table (about 3 minutes)
 *   npm run bench -- --quick         shorter phases, for trying the harness
 *   npm run bench -- --profile       Switchyard under `node --cpu-prof`; writes results/profiled.* and a profile summary
 *   npm run bench -- --soak 600      Switchyard alone under a mixed load for 600 s, RSS sampled (results/soak.*)
 *   --targets direct,switchyard      only these columns;  --scenarios throughput,latencyC1  only these rows
 *   --keep                           keep the children's logs
 *
 * Environment: DATABASE_URL (any database on the server; a fresh one is created beside it) and REDIS_URL
 * default to the local services.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { gatewayEnvForSimulator } from '../apps/simulator/src/gateway-env';
import { createBenchTenant, scriptLargeImages } from './bench-setup';
import { containerAllocatorEnv, freePort, hasTaskset, NGINX_BINARY, pinSelf, startChild, waitForHttp, writeNginxConfig, type BenchChild } from './bench-processes';
import { runLoad, type LoadResult } from './load';
import { rssMb } from './proc-stats';
import { formatSummary, summarizeProfile, type CpuProfile } from './profile-summary';
import { buildReport, toMarkdown, type BenchReport, type SoakReport } from './report';
import {
  bareSpecs,
  DEFAULT_SETTINGS,
  runTarget,
  switchyardSpecs,
  upstreamSpecs,
  SCENARIOS,
  type BenchTarget,
  type ScenarioName,
  type ScenarioSettings,
  type TargetName,
  type TargetResults,
} from './scenarios';

interface Args {
  quick: boolean;
  profile: boolean;
  soakSeconds: number;
  targets: TargetName[];
  /** keep the work directory (children's logs, nginx config) after a successful run */
  keep: boolean;
  /** only these scenarios (e.g. to profile chat alone) */
  scenarios: ScenarioName[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, profile: false, soakSeconds: 0, targets: ['direct', 'nginx', 'bare', 'switchyard'], keep: false, scenarios: [...SCENARIOS] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--keep') args.keep = true;
    else if (a === '--soak') {
      args.soakSeconds = Number(argv[++i]);
      if (!Number.isFinite(args.soakSeconds) || args.soakSeconds <= 0) throw new Error('--soak expects a number of seconds');
    } else if (a === '--scenarios') {
      args.scenarios = (argv[++i] ?? '').split(',').filter(Boolean) as ScenarioName[];
    } else if (a === '--targets') {
      args.targets = (argv[++i] ?? '').split(',').filter(Boolean) as TargetName[];
    } else throw new Error(`unknown option ${a ?? ''}`);
  }
  return args;
}

function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'nest-cli.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (nest-cli.json) above the benchmark');
    dir = up;
  }
  return dir;
}

/** files a complete build has; a snapshot without them was taken while another build was rewriting dist/ */
const BUILD_MARKERS = ['apps/gateway/src/main.js', 'apps/gateway/src/bootstrap.js', 'apps/simulator/src/main.js', 'bench/bench/bare-forwarder.js', 'libs/database/src/index.js'];

function countFiles(dir: string): number {
  return readdirSync(dir, { recursive: true }).length;
}

/**
 * Copies dist/ into the run's work directory and runs every child from the copy: `npm run build` empties
 * dist/ first, so a build started elsewhere during a run would otherwise pull modules from under the
 * gateway. NODE_PATH lets the copy find the repository's node_modules.
 */
async function snapshotBuild(root: string, work: string): Promise<string> {
  const source = join(root, 'dist');
  const target = join(work, 'dist');
  for (let attempt = 1; ; attempt++) {
    rmSync(target, { recursive: true, force: true });
    const before = existsSync(source) ? countFiles(source) : 0;
    if (before > 0) cpSync(source, target, { recursive: true, filter: (src) => !src.includes('/results/') });
    const complete = before > 0 && BUILD_MARKERS.every((f) => existsSync(join(target, f))) && countFiles(source) === before;
    if (complete) return target;
    if (attempt >= 30) throw new Error('dist/ is incomplete (is a build running?); run `npm run build && tsc -p bench/tsconfig.json` and retry');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

const loadAvg = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const log = (line: string): void => void process.stdout.write(`${line}\n`);

function quickSettings(): ScenarioSettings {
  return { ...DEFAULT_SETTINGS, warmupMs: 500, durationMs: { throughput: 2000, latencyC1: 2000, latencyRate: 2000, sse: 2000, images: 2000 } };
}

interface Stack {
  simulator: BenchChild;
  simOrigin: string;
  gateway?: BenchChild;
  gatewayOrigin?: string;
  bare?: BenchChild;
  bareOrigin?: string;
  nginx?: BenchChild;
  nginxOrigin?: string;
  tenantKey?: string;
  profileDir?: string;
  cleanup: Array<() => Promise<void>>;
}

/** `cleanup` is the caller's, so what was started before a failure is still stopped (and the database dropped). */
async function startStack(root: string, build: string, args: Args, work: string, pinned: boolean, cleanup: Stack['cleanup']): Promise<Stack> {
  const node = process.execPath;
  // The production image's allocator settings (Dockerfile `ENV MALLOC_*`), for both Node servers.
  const allocatorEnv = containerAllocatorEnv(join(root, 'Dockerfile'));
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? work, NODE_PATH: join(root, 'node_modules') };
  const core = (n: number): number | null => (pinned ? n : null);
  const want = new Set(args.soakSeconds > 0 ? ['switchyard'] : args.targets);

  const simPort = await freePort();
  const simulator = startChild('simulator', core(0), node, [join(build, 'apps/simulator/src/main.js'), '--port', String(simPort), '--stream-chunks', '20', '--stream-chunk-delay-ms', '5'], baseEnv, work);
  cleanup.push(() => simulator.stop());
  const stack: Stack = { simulator, simOrigin: `http://127.0.0.1:${simPort}`, cleanup };
  await waitForHttp(simulator, `${stack.simOrigin}/_sim/health`);
  const imageBytes = await scriptLargeImages(stack.simOrigin);
  log(`simulator ${stack.simOrigin} (pid ${simulator.pid}); image answer ${(imageBytes / 1e6).toFixed(2)} MB`);

  if (want.has('switchyard')) {
    const serverUrl = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
    const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
    const dbName = `sy_bench_${randomBytes(5).toString('hex')}`;
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const dbUrl = new URL(serverUrl);
    dbUrl.pathname = `/${dbName}`;
    const prefix = `bench${randomBytes(4).toString('hex')}`;
    stack.cleanup.push(async () => {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
      const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      const keys = await redis.keys(`${prefix}:*`);
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
      redis.disconnect();
    });

    const port = await freePort();
    const adminToken = randomBytes(16).toString('hex');
    const nodeArgs: string[] = [];
    if (args.profile) {
      stack.profileDir = join(root, 'bench/results/profiles');
      mkdirSync(stack.profileDir, { recursive: true });
      // --cpu-prof writes its file on a clean exit; Nest re-raises SIGTERM after closing, so the profile is
      // ended through SIGUSR2 → process.exit instead.
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${stack.profileDir}`, '-r', join(build, 'bench/bench/exit-on-sigusr2.js'));
    }
    const gateway = startChild(
      'gateway',
      core(1),
      node,
      [...nodeArgs, join(build, 'apps/gateway/src/main.js')],
      {
        ...baseEnv,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: dbUrl.toString(),
        REDIS_URL: redisUrl,
        QUEUE_PREFIX: prefix,
        ADMIN_TOKEN: adminToken,
        LOG_LEVEL: 'info',
        DATA_DIR: join(work, 'data'),
        ...allocatorEnv,
        ...gatewayEnvForSimulator(stack.simOrigin),
      },
      work,
    );
    stack.gateway = gateway;
    stack.gatewayOrigin = `http://127.0.0.1:${port}`;
    stack.cleanup.unshift(() => gateway.stop(args.profile ? 'SIGUSR2' : 'SIGTERM', 30_000));
    await waitForHttp(gateway, `${stack.gatewayOrigin}/health/live`, 120_000);
    stack.tenantKey = (await createBenchTenant(stack.gatewayOrigin, adminToken)).key;
    log(`Switchyard ${stack.gatewayOrigin} (pid ${gateway.pid}), database ${dbName}, Redis prefix ${prefix}`);
  }

  if (want.has('bare')) {
    const port = await freePort();
    const bare = startChild('bare-forwarder', core(1), node, [join(build, 'bench/bench/bare-forwarder.js'), '--port', String(port), '--upstream', stack.simOrigin], { ...baseEnv, ...allocatorEnv }, work);
    stack.bare = bare;
    stack.bareOrigin = `http://127.0.0.1:${port}`;
    stack.cleanup.unshift(() => bare.stop());
    await waitForHttp(bare, `${stack.bareOrigin}/`);
    log(`bare forwarder ${stack.bareOrigin} (pid ${bare.pid})`);
  }

  if (want.has('nginx') && existsSync(NGINX_BINARY)) {
    const port = await freePort();
    const conf = writeNginxConfig(work, port, simPort);
    const nginx = startChild('nginx', core(1), NGINX_BINARY, ['-p', work, '-e', join(work, 'nginx-error.log'), '-c', conf, '-g', 'daemon off; master_process off;'], baseEnv, work);
    stack.nginx = nginx;
    stack.nginxOrigin = `http://127.0.0.1:${port}`;
    stack.cleanup.unshift(() => nginx.stop('SIGQUIT'));
    await waitForHttp(nginx, `${stack.nginxOrigin}/_sim/health`);
    log(`nginx ${stack.nginxOrigin} (pid ${nginx.pid})`);
  } else if (want.has('nginx')) {
    log(`nginx not found at ${NGINX_BINARY}: its column is left out`);
  }
  return stack;
}

function targetsOf(stack: Stack, wanted: TargetName[]): BenchTarget[] {
  const out: BenchTarget[] = [];
  for (const name of wanted) {
    if (name === 'direct') out.push({ name, ...upstreamSpecs(stack.simOrigin) });
    if (name === 'nginx' && stack.nginx && stack.nginxOrigin) out.push({ name, pid: stack.nginx.pid, ...upstreamSpecs(stack.nginxOrigin) });
    if (name === 'bare' && stack.bare && stack.bareOrigin) out.push({ name, pid: stack.bare.pid, ...bareSpecs(stack.bareOrigin) });
    if (name === 'switchyard' && stack.gateway && stack.gatewayOrigin && stack.tenantKey) {
      out.push({ name, pid: stack.gateway.pid, ...switchyardSpecs(stack.gatewayOrigin, stack.tenantKey) });
    }
  }
  return out;
}

/** Least-squares slope of y over x, in y per x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/** Switchyard alone under a steady mix (chat, streams, images), RSS sampled throughout. */
async function soak(target: BenchTarget, seconds: number): Promise<SoakReport> {
  const pid = target.pid;
  if (pid === undefined) throw new Error('soak needs the gateway as a separate process');
  // Well under one core's capacity, so a rising RSS means retained memory, not a backlog of queued requests.
  const rates = { chat: 60, stream: 5, image: 1 };
  const samples: Array<[number, number]> = [];
  const started = Date.now();
  const every = Math.max(1000, Math.round((seconds * 1000) / 120));
  samples.push([0, rssMb(pid)]);
  const timer = setInterval(() => samples.push([(Date.now() - started) / 1000, rssMb(pid)]), every);
  const durationMs = seconds * 1000;
  let results: LoadResult[];
  try {
    results = await Promise.all([
      runLoad({ spec: target.chat, mode: { kind: 'rate', perSecond: rates.chat }, durationMs }),
      runLoad({ spec: target.stream, mode: { kind: 'rate', perSecond: rates.stream }, durationMs, minBodyBytes: 200 }),
      runLoad({ spec: target.image, mode: { kind: 'rate', perSecond: rates.image }, durationMs, minBodyBytes: 1_000_000 }),
    ]);
  } finally {
    clearInterval(timer);
  }
  samples.push([(Date.now() - started) / 1000, rssMb(pid)]);
  // RSS saws up and down with each major GC, so the trend is read from the floor: the lowest sample of each
  // of six windows after the first fifth (start-up growth), fitted with least squares.
  const settled = samples.filter(([t]) => t >= seconds / 5);
  const windowSize = Math.max(1, Math.ceil(settled.length / 6));
  const floors: Array<[number, number]> = [];
  for (let i = 0; i < settled.length; i += windowSize) {
    const win = settled.slice(i, i + windowSize);
    floors.push(win.reduce((lo, p) => (p[1] < lo[1] ? p : lo)));
  }
  for (const r of results) if (r.errorSamples.length > 0) log(`  soak errors: ${r.errorSamples.join(' | ')}`);
  return {
    seconds,
    ratePerSecond: rates.chat + rates.stream + rates.image,
    requests: results.reduce((n, r) => n + r.requests, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    rssSamples: samples.map(([t, mb]) => [Math.round(t * 10) / 10, Math.round(mb * 10) / 10]),
    rssStartMb: samples[0]?.[1] ?? NaN,
    rssEndMb: samples[samples.length - 1]?.[1] ?? NaN,
    rssMaxMb: Math.max(...samples.map(([, mb]) => mb)),
    rssFloorSlopeMbPerMin: slope(floors) * 60,
    chatLatencyMs: { p50: results[0]?.latency.p50 ?? NaN, p99: results[0]?.latency.p99 ?? NaN },
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const resultsDir = join(root, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const pinned = hasTaskset() && cpus().length >= 2 && pinSelf(0);
  const placement = pinned
    ? 'load generator and simulator on core 0, server under test on core 1 (taskset)'
    : 'processes not pinned (taskset missing or fewer than 2 cores): figures are noisier';
  const settings = args.quick ? quickSettings() : DEFAULT_SETTINGS;
  const startedAt = new Date().toISOString();
  const loadAvgStart = loadAvg();
  log(`Switchyard benchmark ${startedAt}; load average ${loadAvgStart}; ${placement}; work dir ${work}`);

  let stack: Stack | undefined;
  const cleanup: Stack['cleanup'] = [];
  let report: BenchReport | undefined;
  let name = 'latest';
  try {
    const build = await snapshotBuild(root, work);
    stack = await startStack(root, build, args, work, pinned, cleanup);
    if (args.soakSeconds > 0) {
      const [target] = targetsOf(stack, ['switchyard']);
      if (!target) throw new Error('Switchyard did not start');
      log(`soak: ${args.soakSeconds} s`);
      const soakReport = await soak(target, args.soakSeconds);
      name = 'soak';
      report = buildReport(
        { startedAt, node: process.version, cpus: cpus().length, loadAvgStart, loadAvgEnd: loadAvg(), settings, placement, notes: [] },
        {},
        soakReport,
      );
    } else {
      const results: Partial<Record<TargetName, TargetResults>> = {};
      for (const target of targetsOf(stack, args.targets)) {
        log(`${target.name}:`);
        results[target.name] = await runTarget(target, settings, log, args.scenarios);
      }
      const notes = [
        'Added figures are the target minus direct-to-simulator in the same run; CPU is the server process\'s utime+stime from /proc over the measured phase ÷ requests completed.',
        'Switchyard runs as `npm start` would in production mode: built from dist/, Postgres + Redis, worker in-process (its image-job work is counted), access log at info to a file; both Node servers with the production image\'s allocator settings (Dockerfile `ENV MALLOC_…`).',
      ];
      if (args.profile) {
        name = 'profiled';
        notes.push('Profiled run (`node --cpu-prof` on the gateway): absolute Switchyard figures include the profiler\'s overhead.');
      }
      report = buildReport({ startedAt, node: process.version, cpus: cpus().length, loadAvgStart, loadAvgEnd: loadAvg(), settings, placement, notes }, results);
    }
  } finally {
    for (const step of cleanup) await step().catch((e: unknown) => log(`cleanup: ${e instanceof Error ? e.message : String(e)}`));
  }

  if (stack?.profileDir) {
    const files = readdirSync(stack.profileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(stack!.profileDir!, f));
    const newest = files.sort().pop();
    if (newest) {
      // One summary per measured phase of Switchyard's (start-up and warm-ups left out), then the whole profile.
      const profile = JSON.parse(readFileSync(newest, 'utf8')) as CpuProfile;
      const phases = SCENARIOS.flatMap((name) => {
        const r = report?.results.switchyard?.[name];
        return r ? [`== ${name} (measured phase only) ==\n${formatSummary(summarizeProfile(profile, 25, r.windowUs))}`] : [];
      });
      const summary = [...phases, `== the whole profile (start-up and warm-ups included) ==\n${formatSummary(summarizeProfile(profile))}`].join('\n');
      writeFileSync(join(resultsDir, 'profile-summary.txt'), `profile ${resolve(newest)}\n\n${summary}`);
      log(`\n${summary}`);
    }
  }
  if (report) {
    const md = toMarkdown(report);
    writeFileSync(join(resultsDir, `${name}.md`), md);
    writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    log(`\n${md}\nwritten to bench/results/${name}.md and ${name}.json`);
  }
  if (args.keep) log(`logs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

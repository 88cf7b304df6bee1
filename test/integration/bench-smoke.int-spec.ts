import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBareForwarder, type BareForwarderHandle } from '../../bench/bare-forwarder';
import { createBenchTenant, scriptLargeImages } from '../../bench/bench-setup';
import { containerAllocatorEnv, freePort, NGINX_BINARY, startChild, waitForHttp, writeNginxConfig, type BenchChild } from '../../bench/bench-processes';
import { buildReport, toMarkdown } from '../../bench/report';
import {
  bareSpecs,
  runTarget,
  SCENARIOS,
  switchyardSpecs,
  upstreamSpecs,
  type BenchTarget,
  type ScenarioSettings,
  type TargetName,
  type TargetResults,
} from '../../bench/scenarios';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

/** The benchmark's scenarios with tiny durations: proves every one completes without errors, measures nothing. */
const TINY: ScenarioSettings = {
  warmupMs: 0,
  durationMs: { throughput: 300, latencyC1: 300, latencyRate: 300, sse: 400, images: 600 },
  throughputConnections: 8,
  ratePerSecond: 50,
  sseConcurrency: 2,
  imageConnections: 2,
};

describe('benchmark harness (smoke)', () => {
  let gw: TestGateway;
  let bare: BareForwarderHandle;
  let nginx: BenchChild | undefined;
  let nginxOrigin: string | undefined;
  let work: string;
  let tenantKey: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'switchyard-bench-smoke-'));
    // The gateway in this process, on whatever database and queue the suite was started with.
    gw = await startGateway();
    await scriptLargeImages(gw.sim.url);
    tenantKey = (await createBenchTenant(gw.url, ADMIN_TOKEN)).key;
    bare = await startBareForwarder({ upstreamOrigin: gw.sim.url });
    if (existsSync(NGINX_BINARY)) {
      const port = await freePort();
      const simPort = Number(new URL(gw.sim.url).port);
      const conf = writeNginxConfig(work, port, simPort);
      nginx = startChild('nginx', null, NGINX_BINARY, ['-p', work, '-e', join(work, 'nginx-error.log'), '-c', conf, '-g', 'daemon off; master_process off;'], { PATH: process.env.PATH ?? '/usr/bin:/bin' }, work);
      nginxOrigin = `http://127.0.0.1:${port}`;
      await waitForHttp(nginx, `${nginxOrigin}/_sim/health`, 10_000);
    }
  });

  afterAll(async () => {
    await nginx?.stop('SIGQUIT');
    await bare?.close();
    await gw?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs every scenario against every target without an error', async () => {
    const targets: BenchTarget[] = [
      { name: 'direct', ...upstreamSpecs(gw.sim.url) },
      ...(nginx && nginxOrigin ? [{ name: 'nginx' as const, pid: nginx.pid, ...upstreamSpecs(nginxOrigin) }] : []),
      { name: 'bare', ...bareSpecs(bare.url) },
      { name: 'switchyard', ...switchyardSpecs(gw.url, tenantKey) },
    ];
    const results: Partial<Record<TargetName, TargetResults>> = {};
    for (const target of targets) results[target.name] = await runTarget(target, TINY);

    for (const target of targets) {
      for (const scenario of SCENARIOS) {
        const r = results[target.name]![scenario];
        expect({ target: target.name, scenario, requests: r.requests > 0, errors: r.errorSamples }).toEqual({ target: target.name, scenario, requests: true, errors: [] });
        expect(r.errors).toBe(0);
      }
    }
    // the image answers really were the 1.5 MB bodies, through the gateway too
    expect(results.switchyard!.images.bytes / results.switchyard!.images.requests).toBeGreaterThan(1_400_000);
    // nginx is a separate process: its CPU is read from /proc
    if (nginx) expect(results.nginx!.throughput.cpuMsPerRequest).not.toBeNull();

    const report = buildReport(
      { startedAt: new Date().toISOString(), node: process.version, cpus: 2, loadAvgStart: 0, loadAvgEnd: 0, settings: TINY, placement: 'smoke', notes: [] },
      results,
    );
    const markdown = toMarkdown(report);
    expect(markdown).toContain('| chat throughput, 8 connections (req/s) |');
    expect(report.checks.find((c) => c.what === 'errors')?.pass).toBe(true);
  });
});

describe('benchmark setup', () => {
  it("runs its servers with the production image's allocator settings, read from the Dockerfile", () => {
    expect(containerAllocatorEnv(join(__dirname, '../../Dockerfile'))).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' });
  });
});

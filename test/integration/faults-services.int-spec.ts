import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { RATE_LIMIT_BREAKER_FAILURES, RATE_LIMIT_TIMEOUT_MS } from '@app/billing';
import { startSimulator, type SimulatorHandle } from '../../apps/simulator/src';
import { gatewayEnvForSimulator } from '../../apps/simulator/src/gateway-env';
import {
  canRunPrivateServices,
  freePort,
  PrivatePostgres,
  PrivateRedis,
  sleep,
  startChildGateway,
  startChildWorker,
  systemEnv,
  waitUntil,
  workerHttpUrl,
  type ChildApp,
  type SystemEnv,
} from '../support/processes';

/**
 * The gateway and a separate worker as real processes (from the build output) on a Redis and a Postgres
 * of this file's own, which the tests stop, pause and start again; and the processes themselves killed,
 * restarted and sent SIGTERM. The upstream is the simulator, in this process.
 */
jest.setTimeout(120_000);

const ADMIN_TOKEN = 'faults-admin-token-0123456789abcdef';
const GRACE_MS = 8_000;
const IMAGE_MODEL = 'google/imagen-4.0-fast-generate-001';
const IMAGE_PRICE_MICROS = 20_000n;
const hello = [{ role: 'user', content: 'Hello?' }];

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  ms: number;
}

// Without redis-server and initdb (a bare embedded checkout) these cannot run; every machine of the project has both.
const describeWithServices = canRunPrivateServices ? describe : describe.skip;

describeWithServices('faults in Redis, Postgres and the processes', () => {
  let redis: PrivateRedis;
  let pg: PrivatePostgres;
  let sim: SimulatorHandle;
  let env: SystemEnv;
  let port: number;
  let gateway: ChildApp;
  let worker: ChildApp;
  let base: string;

  async function call(path: string, init: { key?: string; body?: unknown; headers?: Record<string, string>; method?: string } = {}): Promise<Answer> {
    const started = Date.now();
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // SSE or empty
    }
    return { status: res.status, headers: res.headers, body, ms: Date.now() - started };
  }

  const chat = (key: string, extra: Record<string, unknown> = {}) => call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', messages: hello, ...extra } });
  const image = (key: string, headers: Record<string, string> = {}) =>
    call('/v1/images/generations', { key, body: { model: IMAGE_MODEL, prompt: 'A lighthouse', response_format: 'b64_json' }, headers });

  async function newTenant(creditUsd: number, keyOptions: Record<string, unknown> = {}): Promise<{ tenantId: string; key: string }> {
    const t = await call('/admin/tenants', { key: ADMIN_TOKEN, body: { name: `faults-${Date.now()}`, credit_usd: creditUsd } });
    if (t.status !== 201) throw new Error(`tenant: ${t.status} ${JSON.stringify(t.body)}`);
    return { tenantId: t.body.id, key: await newKey(t.body.id, keyOptions) };
  }
  async function newKey(tenantId: string, keyOptions: Record<string, unknown> = {}): Promise<string> {
    const k = await call(`/admin/tenants/${tenantId}/keys`, { key: ADMIN_TOKEN, body: keyOptions });
    if (k.status !== 201) throw new Error(`key: ${k.status} ${JSON.stringify(k.body)}`);
    return k.body.key;
  }

  /** one query on a connection of its own, so a Postgres restart in between costs nothing */
  async function sql<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: env.DATABASE_URL });
    await c.connect();
    try {
      return (await c.query<T>(text, params)).rows;
    } finally {
      await c.end();
    }
  }
  const jobStatuses = async (ids: string[]) =>
    new Map((await sql<{ id: string; status: string }>('SELECT id::text, status FROM image_jobs WHERE id = ANY($1::uuid[])', [ids])).map((r) => [r.id, r.status]));
  /** usage records and ledger debits per id, and what the tenant still has reserved */
  async function books(tenantId: string, ids: string[]) {
    const usage = await sql<{ id: string; n: string; cost: string; status: string }>(
      'SELECT id, count(*) OVER (PARTITION BY id)::text AS n, cost_micros::text AS cost, status FROM usage_records WHERE id = ANY($1)', [ids]);
    const debits = await sql<{ usage_id: string; n: string }>('SELECT usage_id, count(*)::text AS n FROM ledger_entries WHERE usage_id = ANY($1) GROUP BY usage_id', [ids]);
    const [tenant] = await sql<{ reserved: string; balance: string }>('SELECT reserved_micros::text AS reserved, balance_micros::text AS balance FROM tenants WHERE id = $1', [tenantId]);
    const held = await sql<{ n: string }>('SELECT count(*)::text AS n FROM reservations WHERE tenant_id = $1', [tenantId]);
    return {
      usage: new Map(usage.map((u) => [u.id, { count: Number(u.n), cost: BigInt(u.cost), status: u.status }])),
      debits: new Map(debits.map((d) => [d.usage_id, Number(d.n)])),
      reserved: BigInt(tenant.reserved),
      balance: BigInt(tenant.balance),
      reservations: Number(held[0].n),
    };
  }

  /** Waits until the request's usage record is written (once), and returns the books as they are then. */
  async function recorded(tenantId: string, id: string, what: string) {
    return waitUntil(what, async () => {
      const b = await books(tenantId, [id]);
      return b.usage.get(id)?.count === 1 ? b : undefined;
    }, 30_000, 250);
  }

  async function submitAsync(key: string, n: number): Promise<string[]> {
    const answers = await Promise.all(Array.from({ length: n }, () => image(key, { prefer: 'respond-async' })));
    for (const a of answers) expect(a.status).toBe(202);
    return answers.map((a) => a.body.id as string);
  }

  async function waitAllFinal(ids: string[], timeoutMs: number): Promise<Map<string, string>> {
    return waitUntil(`${ids.length} jobs to finish`, async () => {
      const statuses = await jobStatuses(ids);
      return ids.every((id) => statuses.get(id) === 'succeeded' || statuses.get(id) === 'failed') ? statuses : undefined;
    }, timeoutMs, 200);
  }

  /** every job succeeded, with exactly one usage record and one debit at the list price; nothing held */
  async function expectChargedOnce(tenantId: string, ids: string[]): Promise<void> {
    const statuses = await jobStatuses(ids);
    for (const id of ids) expect(statuses.get(id)).toBe('succeeded');
    const b = await books(tenantId, ids);
    for (const id of ids) {
      expect(b.usage.get(id)).toEqual({ count: 1, cost: IMAGE_PRICE_MICROS, status: 'succeeded' });
      expect(b.debits.get(id)).toBe(1);
    }
    expect(b.reserved).toBe(0n);
    expect(b.reservations).toBe(0);
  }

  const startGatewayProcess = async () => {
    gateway = await startChildGateway(env, port);
  };
  const startWorkerProcess = async () => {
    worker = await startChildWorker(env);
  };
  const ready = () => call('/health/ready');

  beforeAll(async () => {
    [redis, pg, sim] = await Promise.all([PrivateRedis.start(), PrivatePostgres.start(), startSimulator()]);
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = systemEnv(
      { DATABASE_URL: pg.url, REDIS_URL: redis.url, ADMIN_TOKEN },
      { ...gatewayEnvForSimulator(sim.url), SHUTDOWN_GRACE_MS: String(GRACE_MS), KEY_CACHE_TTL_MS: '5000', IMAGE_SYNC_TIMEOUT_MS: '30000' },
    );
    // The gateway migrates the database first; the worker then finds it ready.
    await startGatewayProcess();
    await startWorkerProcess();
  });

  afterAll(async () => {
    await Promise.all([gateway?.close(), worker?.close()]);
    await Promise.all([sim?.close(), redis?.close(), pg?.close()]);
    if (env) rmSync(env.DATA_DIR, { recursive: true, force: true });
  });

  beforeEach(() => sim.reset());

  it('with Redis stopped: rate-limited chat and images answer 503 at once, readiness fails; afterwards every accepted job finishes, charged once', async () => {
    const { tenantId, key } = await newTenant(10);
    const limitedKey = await newKey(tenantId, { rpm_limit: 1000 });
    // Slow generations, more than a worker runs at once: some jobs are running and some waiting when Redis goes.
    sim.script({ provider: 'google', path: ':predict', delayMs: 2_500, times: 10 });
    const accepted = await submitAsync(key, 10);
    await waitUntil('the worker to start jobs', () => (sim.calls({ provider: 'google' }).length >= 8 ? true : undefined), 10_000);

    await redis.stop();
    const limited = await chat(limitedKey);
    expect(limited.status).toBe(503);
    expect(limited.body.error.code).toBe('service_unavailable');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.ms).toBeLessThan(1_500);

    // Nothing on the way of an unlimited chat request needs Redis.
    expect((await chat(key)).status).toBe(200);

    const refused = await image(key);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('service_unavailable');
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(refused.ms).toBeLessThan(3_000);
    const refusedId = refused.headers.get('x-switchyard-job-id') ?? refused.headers.get('x-request-id');

    const notReady = await ready();
    expect(notReady.status).toBe(503);
    expect(notReady.body.checks.queue).not.toBe('ok');
    expect(notReady.ms).toBeLessThan(3_000);
    // the separate worker says so too, on its own port
    const workerNotReady = await fetch(`${workerHttpUrl(worker)}/health/ready`);
    expect(workerNotReady.status).toBe(503);
    expect(((await workerNotReady.json()) as any).checks.queue).not.toBe('ok');

    await sleep(1_000);
    await redis.start();
    // No process was restarted: the worker reconnects by itself and runs what was waiting.
    await waitAllFinal(accepted, 45_000);
    await expectChargedOnce(tenantId, accepted);
    expect(gateway.running && worker.running).toBe(true);

    // The refused request was neither queued nor charged.
    if (refusedId) expect((await books(tenantId, [refusedId])).usage.size).toBe(0);
    await waitUntil('readiness', async () => ((await ready()).status === 200 ? true : undefined), 15_000, 250);
    expect((await image(key)).status).toBe(200);
    expect((await chat(limitedKey)).status).toBe(200);
  });

  it('a separate worker serves its own health and metrics, which count the upstream failures of its image jobs', async () => {
    const at = workerHttpUrl(worker);
    expect(await (await fetch(`${at}/health/live`)).json()).toEqual({ status: 'ok' });
    const readyNow = await fetch(`${at}/health/ready`);
    expect(readyNow.status).toBe(200);
    expect(await readyNow.json()).toMatchObject({ status: 'ok', checks: { database: 'ok', queue: 'ok' }, mode: expect.stringContaining('Redis') });
    const failures = async (base: string): Promise<number> => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return [...text.matchAll(/^switchyard_upstream_errors_total\{provider="google",kind="[a-z_]+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await failures(at);

    // the upstream fails the first attempt; the worker retries, and the tenant gets its image
    const { key } = await newTenant(10);
    sim.script({ provider: 'google', path: ':predict', status: 500, times: 1 });
    expect((await image(key)).status).toBe(200);

    expect(await failures(at)).toBe(before + 1);
    // the gateway never called that upstream: only the worker's metrics can show it
    expect(await failures(base)).toBe(0);
    const text = await (await fetch(`${at}/metrics`)).text();
    expect(text).toMatch(/^switchyard_queue_jobs\{queue="image-generation",state="waiting"\} \d+$/m);
    expect(text).toMatch(/^switchyard_process_cpu_seconds_total /m);

    // a second worker given the same port stops at once, saying why, before its processors start
    const taken = new URL(at).port;
    const failure = await startChildWorker(env, { WORKER_HTTP_PORT: taken }).then(
      (w) => w.close().then(() => 'started'),
      (e: Error) => e.message,
    );
    expect(failure).toContain('worker exited during boot');
    expect(failure).toContain(`EADDRINUSE`);
    expect(failure).toContain(`WORKER_HTTP_PORT=${taken}: one port per worker process on a host`);
    expect(worker.running).toBe(true);
  });

  it('a gateway started while Redis is down answers images 503 within its bound instead of hanging, and serves them once Redis is up', async () => {
    const { key } = await newTenant(10);
    await redis.stop();
    const otherPort = await freePort();
    const other = await startChildGateway(env, otherPort);
    try {
      const at = (path: string) => `http://127.0.0.1:${otherPort}${path}`;
      const ask = async () => {
        const started = Date.now();
        const res = await fetch(at('/v1/images/generations'), {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: IMAGE_MODEL, prompt: 'A lighthouse', response_format: 'b64_json' }),
          signal: AbortSignal.timeout(30_000),
        });
        return { status: res.status, body: (await res.json()) as any, ms: Date.now() - started };
      };
      const refused = await ask();
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('service_unavailable');
      expect(refused.ms).toBeLessThan(8_000);

      await redis.start();
      await waitUntil('the second gateway to queue an image', async () => ((await ask()).status === 200 ? true : undefined), 30_000, 500);
    } finally {
      await other.close();
      if (!redis.running) await redis.start();
    }
  });

  it('with Redis hung (SIGSTOP): rate-limited chat, images and readiness answer 503 within their bounds, and all recover', async () => {
    const { tenantId, key } = await newTenant(10);
    const limitedKey = await newKey(tenantId, { rpm_limit: 1000 });
    expect((await image(key)).status).toBe(200);

    redis.pause();
    try {
      const [limited, refused, notReady] = await Promise.all([chat(limitedKey), image(key), ready()]);
      expect(limited.status).toBe(503);
      expect(limited.ms).toBeLessThan(1_500);
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('service_unavailable');
      expect(refused.ms).toBeLessThan(4_000);
      expect(notReady.status).toBe(503);
      expect(notReady.ms).toBeLessThan(4_000);
    } finally {
      redis.resume();
    }
    const after = await image(key);
    expect(after.status).toBe(200);
    expect((await chat(limitedKey)).status).toBe(200);
    await waitUntil('readiness', async () => ((await ready()).status === 200 ? true : undefined), 15_000, 250);
  });

  it('with Redis hung (SIGSTOP): after a few rate-limit checks time out the circuit opens and the rest of 20 requests answer 503 at once; it closes within seconds of Redis resuming', async () => {
    const { tenantId } = await newTenant(10);
    const limitedKey = await newKey(tenantId, { rpm_limit: 1000 });
    expect((await chat(limitedKey)).status).toBe(200);
    const breakerGauge = async () => Number(/^switchyard_rate_limit_breaker_open (\d+)$/m.exec(String((await call('/metrics')).body))?.[1]);
    expect(await breakerGauge()).toBe(0);
    // the gateway's log lines since the pause, by their own time (lines are written in batches, so an earlier
    // test's last lines may still arrive after this point)
    const pausedAt = Date.now();
    const logged = (what: string) =>
      gateway.lines.filter((l) => l.includes(what) && (JSON.parse(l) as { time: number }).time >= pausedAt);

    redis.pause();
    const answers: Answer[] = [];
    let gaugeWhilePaused: number;
    try {
      for (let i = 0; i < 20; i++) answers.push(await chat(limitedKey));
      gaugeWhilePaused = await breakerGauge();
    } finally {
      redis.resume();
    }
    for (const a of answers) {
      expect(a.status).toBe(503);
      expect(a.body.error.code).toBe('service_unavailable');
      expect(a.headers.get('retry-after')).toBe('2');
    }
    // the first checks wait out the command timeout; then the circuit is open and nothing waits
    const timeout = RATE_LIMIT_TIMEOUT_MS.redis;
    for (const a of answers.slice(0, RATE_LIMIT_BREAKER_FAILURES)) {
      expect(a.ms).toBeGreaterThanOrEqual(timeout * 0.8);
      expect(a.ms).toBeLessThan(timeout * 3);
    }
    const fast = answers.slice(RATE_LIMIT_BREAKER_FAILURES).map((a) => a.ms);
    expect(fast).toHaveLength(20 - RATE_LIMIT_BREAKER_FAILURES);
    // none waits out the timeout (the counter below proves none reached Redis); a bound well under the timeout,
    // not a latency target, so a loaded machine cannot fail it
    for (const ms of fast) expect(ms).toBeLessThan(timeout * 0.8);
    expect(gaugeWhilePaused).toBe(1);

    // resumed: the next probe (at most the open period away) closes the circuit; meanwhile 503, never anything else
    const resumed = Date.now();
    const statuses: number[] = [];
    const served = await waitUntil('a rate-limited request to be served again', async () => {
      const a = await chat(limitedKey);
      statuses.push(a.status);
      return a.status === 200 ? a : undefined;
    }, 5_000, 100);
    expect(Date.now() - resumed).toBeLessThan(5_000);
    expect(statuses.every((s) => s === 503 || s === 200)).toBe(true);
    // Commands sent to the paused Redis ran when it resumed: the key's counter shows the 17 refused requests
    // sent none (used: the request before, the checks that timed out, at most a failed probe, this one; 22
    // without the circuit). A minute boundary during the pause could only lower the count.
    const used = 1000 - Number(served.headers.get('x-ratelimit-remaining-requests'));
    expect(used).toBeLessThanOrEqual(1 + RATE_LIMIT_BREAKER_FAILURES + 2);
    for (let i = 0; i < 3; i++) expect((await chat(limitedKey)).status).toBe(200);
    expect(await breakerGauge()).toBe(0);

    // one line when it opened and one when it closed, not one per refused request (log lines are batched)
    await waitUntil('the circuit-closed log line', () => (logged('circuit closed').length > 0 ? true : undefined), 5_000, 50);
    expect(logged('circuit open')).toHaveLength(1);
    expect(logged('circuit closed')).toHaveLength(1);
    expect(logged('rate-limit backend (redis)')).toHaveLength(3); // first failure, open, closed
  });

  it('with Postgres stopped: 503, never 401, also for a key still in the cache and on reads; afterwards every 200 has its usage record', async () => {
    const { tenantId, key } = await newTenant(10);
    const otherKey = await newKey(tenantId);
    expect((await chat(key)).status).toBe(200); // the key is now in the resolver's cache

    const jobId = (await image(key)).headers.get('x-switchyard-job-id') as string;
    expect(jobId).toBeTruthy();

    await pg.stop();
    const [cached, uncached, refusedImage, notReady] = await Promise.all([chat(key), chat(otherKey), image(key), ready()]);
    // Reads with the cached key: the outage is a 503 to retry on every route, not a 500.
    const [balance, usage, job, admin] = await Promise.all([
      call('/v1/balance', { key }),
      call('/v1/usage', { key }),
      call(`/v1/images/generations/${jobId}`, { key }),
      call(`/admin/tenants/${tenantId}/keys`, { key: ADMIN_TOKEN }),
    ]);
    for (const a of [cached, uncached, refusedImage, balance, usage, job, admin]) {
      expect(a.status).toBe(503);
      expect(a.body.error.code).toBe('service_unavailable');
      expect(a.headers.get('retry-after')).toBeTruthy();
      expect(a.ms).toBeLessThan(8_000);
    }
    expect(notReady.status).toBe(503);
    expect(notReady.body.checks.database).not.toBe('ok');

    // Requests keep coming while the database is away and after it returns (bounded: 40 requests at most).
    const answers: Answer[] = [];
    const load = (async () => {
      for (let i = 0; i < 40; i++) {
        answers.push(await chat(i % 2 === 0 ? key : otherKey));
        if (answers.length >= 6 && answers.slice(-3).every((a) => a.status === 200)) return;
        await sleep(100);
      }
    })();
    await sleep(1_000);
    await pg.start();
    await load;
    await waitUntil('readiness', async () => ((await ready()).status === 200 ? true : undefined), 20_000, 250);
    for (let i = 0; i < 3; i++) answers.push(await chat(key));

    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
    const ok = answers.filter((a) => a.status === 200).map((a) => a.headers.get('x-request-id') as string);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    // A usage record is written just after its answer (deferred settlement): wait for the last ones.
    const b = await waitUntil('the usage records of every 200', async () => {
      const now = await books(tenantId, ok);
      return ok.every((id) => now.usage.get(id)?.count === 1) && now.reserved === 0n ? now : undefined;
    }, 10_000, 100);
    for (const id of ok) expect(b.usage.get(id)?.count).toBe(1);
    expect(b.reserved).toBe(0n);
    expect(gateway.running && worker.running).toBe(true);
  });

  it('with Postgres lost while the upstream answers: the tenant still gets its 200, and the usage record is written when Postgres is back, across a gateway restart too', async () => {
    const { tenantId, key } = await newTenant(10);
    expect((await chat(key)).status).toBe(200); // the key is now in the resolver's cache
    const settledOnce = (id: string) => async () => {
      const b = await books(tenantId, [id]);
      return b.usage.get(id)?.count === 1 && b.debits.get(id) === 1 ? b : undefined;
    };
    /** a chat request whose upstream answers slowly; resolves once the upstream has it (so it was reserved) */
    const slowChat = async () => {
      sim.reset();
      sim.script({ provider: 'openai', path: 'chat/completions', delayMs: 3_000, times: 1 });
      const answer = chat(key);
      await waitUntil('the upstream call', () => (sim.calls({ provider: 'openai' }).length > 0 ? true : undefined), 5_000, 20);
      return answer;
    };

    try {
      // Postgres goes away after the reservation, during the upstream call, and returns while the gateway runs.
      const first = await slowChat();
      await pg.stop();
      const a = await first;
      expect(a.status).toBe(200);
      expect(a.body.choices[0].message.content).toBeTruthy();
      await pg.start();
      const idA = a.headers.get('x-request-id') as string;
      const booksA = await waitUntil('the first usage record', settledOnce(idA), 30_000, 250);
      expect(booksA.usage.get(idA)?.status).toBe('succeeded');

      // Again, but the gateway is stopped before Postgres returns: the settlement is spooled, the next start writes it.
      const second = await slowChat();
      await pg.stop();
      const b = await second;
      expect(b.status).toBe(200);
      gateway.kill('SIGTERM');
      await gateway.exited;
      await pg.start();
      await startGatewayProcess();
      const idB = b.headers.get('x-request-id') as string;
      const booksB = await waitUntil('the spooled usage record', settledOnce(idB), 30_000, 250);
      expect(booksB.usage.get(idB)?.status).toBe('succeeded');
      expect(booksB.reserved).toBe(0n);
      expect(booksB.reservations).toBe(0);
    } finally {
      // Whatever failed above, the next tests get their Postgres and gateway back.
      if (!pg.running) await pg.start();
      if (!gateway.running) await startGatewayProcess();
    }
  });

  it('with Postgres lost while a stream runs: the stream ends with [DONE], and its usage record is written when Postgres is back', async () => {
    const { tenantId, key } = await newTenant(10);
    expect((await chat(key)).status).toBe(200); // the key is now in the resolver's cache
    sim.reset();
    sim.script({ provider: 'openai', path: 'chat/completions', chunkDelayMs: 250, times: 1 });
    try {
      const streamed = call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', messages: hello, stream: true } });
      await waitUntil('the upstream call', () => (sim.calls({ provider: 'openai' }).length > 0 ? true : undefined), 5_000, 20);
      await pg.stop();
      const res = await streamed;
      expect(pg.running).toBe(false); // the stream ended while Postgres was away
      expect(res.status).toBe(200);
      expect(String(res.body).trim().endsWith('data: [DONE]')).toBe(true);
      await pg.start();
      const id = res.headers.get('x-request-id') as string;
      const settled = await recorded(tenantId, id, 'the stream\'s usage record');
      expect(settled.usage.get(id)?.status).toBe('succeeded');
      expect(settled.debits.get(id)).toBe(1);
      expect(settled.reserved).toBe(0n);
    } finally {
      if (!pg.running) await pg.start();
    }
  });

  it('with Postgres lost while the upstream fails: the tenant gets the 502, and the failed record is written when Postgres is back', async () => {
    const { tenantId, key } = await newTenant(10);
    expect((await chat(key)).status).toBe(200); // the key is now in the resolver's cache
    sim.reset();
    sim.script({ provider: 'openai', path: 'chat/completions', status: 500, delayMs: 1_500, times: -1 });
    try {
      const failing = chat(key);
      await waitUntil('the upstream call', () => (sim.calls({ provider: 'openai' }).length > 0 ? true : undefined), 5_000, 20);
      await pg.stop();
      const res = await failing;
      expect(pg.running).toBe(false); // the chain failed while Postgres was away
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_error');
      await pg.start();
      const id = res.headers.get('x-request-id') as string;
      const settled = await recorded(tenantId, id, 'the failed usage record');
      expect(settled.usage.get(id)).toMatchObject({ status: 'failed', cost: 0n });
      expect(settled.reserved).toBe(0n);
      expect(settled.reservations).toBe(0);
    } finally {
      sim.reset();
      if (!pg.running) await pg.start();
    }
  });

  it('kill -9 of the worker mid-job: a new worker finishes every job, each charged once', async () => {
    const { tenantId, key } = await newTenant(10);
    sim.script({ provider: 'google', path: ':predict', delayMs: 3_000, times: 3 });
    const accepted = await submitAsync(key, 3);
    await waitUntil('the worker to start the jobs', () => (sim.calls({ provider: 'google' }).length >= 3 ? true : undefined), 10_000);

    worker.kill('SIGKILL');
    await worker.exited;
    await startWorkerProcess();
    await waitAllFinal(accepted, 60_000);
    await expectChargedOnce(tenantId, accepted);
  });

  it('a restart of every process with jobs queued: each job runs once it is back, charged once', async () => {
    const { tenantId, key } = await newTenant(10);
    await worker.close();
    const accepted = await submitAsync(key, 4);
    expect([...(await jobStatuses(accepted)).values()].every((s) => s === 'queued')).toBe(true);

    await gateway.close();
    await startGatewayProcess();
    await startWorkerProcess();
    await waitAllFinal(accepted, 30_000);
    await expectChargedOnce(tenantId, accepted);
    const job = await call(`/v1/images/generations/${accepted[0]}`, { key });
    expect(job.body.status).toBe('succeeded');
  });

  it('SIGTERM on the gateway: requests in flight finish within the grace period, then it exits', async () => {
    const { tenantId, key } = await newTenant(10);
    sim.script({ provider: 'openai', path: 'chat/completions', delayMs: 1_500, times: 1 });
    sim.script({ provider: 'anthropic', chunkDelayMs: 200, times: 1 });
    const slow = chat(key);
    const streamed = call('/v1/chat/completions', { key, body: { model: 'anthropic/claude-sonnet-4.6', messages: hello, stream: true } });
    await waitUntil('both upstream calls', () => (sim.calls().length >= 2 ? true : undefined), 5_000, 20);

    const signalled = Date.now();
    gateway.kill('SIGTERM');
    const [a, b] = await Promise.all([slow, streamed]);
    expect(a.status).toBe(200);
    expect(a.body.choices[0].message.content).toBeTruthy();
    expect(b.status).toBe(200);
    expect(String(b.body).trim().endsWith('data: [DONE]')).toBe(true);

    const exit = await gateway.exited;
    expect(Date.now() - signalled).toBeLessThan(GRACE_MS);
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    const books1 = await books(tenantId, [a.headers.get('x-request-id') as string, b.headers.get('x-request-id') as string]);
    expect([...books1.usage.values()].map((u) => u.status)).toEqual(['succeeded', 'succeeded']);
    expect(books1.reserved).toBe(0n);
    await startGatewayProcess();
  });

  it('SIGTERM with a stream and a call longer than the grace period: the stream ends with an error event (never [DONE]), the call gets 503, both are billed for what they used before the process exits, and nothing stays held', async () => {
    const { tenantId, key } = await newTenant(10);
    const graceMs = 3_000;
    const shortPort = await freePort();
    const short = await startChildGateway(env, shortPort, { SHUTDOWN_GRACE_MS: String(graceMs) });
    const shortBase = `http://127.0.0.1:${shortPort}`;
    try {
      // a stream of ~12 events a second apart, and an answer a minute away: both far longer than the grace period
      sim.script({ provider: 'openai', path: 'chat/completions', chunkDelayMs: 1_000, times: 1 });
      sim.script({ provider: 'anthropic', delayMs: 60_000, times: 1 });
      const streamed = await fetch(`${shortBase}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: hello, stream: true }),
        signal: AbortSignal.timeout(60_000),
      });
      expect(streamed.status).toBe(200);
      const reader = (streamed.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      const events = () => text.split('\n\n').map((e) => e.trim()).filter((e) => e.startsWith('data: ')).map((e) => e.slice('data: '.length));
      while (events().length < 3) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended early: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
      const slow = fetch(`${shortBase}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'anthropic/claude-sonnet-4.6', messages: hello }),
        signal: AbortSignal.timeout(60_000),
      });
      await waitUntil('the slow upstream call', () => (sim.calls({ provider: 'anthropic' }).length > 0 ? true : undefined), 10_000, 20);

      short.kill('SIGTERM');
      // no new request is taken from here on
      await waitUntil('the gateway to stop accepting', async () => {
        const status = await fetch(`${shortBase}/health/live`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status, () => 'refused');
        return status === 200 ? undefined : status;
      }, 5_000, 50);

      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      const got = events();
      expect(got).not.toContain('[DONE]');
      const last = JSON.parse(got[got.length - 1]);
      expect(last.error).toMatchObject({ type: 'server_error', code: 'server_shutting_down' });
      const content = got.slice(0, -1).map((e) => JSON.parse(e));
      expect(content.length).toBeGreaterThanOrEqual(3);
      expect(content.every((c) => c.error === undefined)).toBe(true);

      const cut = await slow;
      expect(cut.status).toBe(503);
      expect(((await cut.json()) as any).error).toMatchObject({ type: 'server_error', code: 'server_shutting_down' });

      // it exits on its own (Nest's shutdown, not the grace period's hard exit with code 1)
      const exit = await short.exited;
      expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
      // both upstream calls were cancelled rather than left running
      expect(sim.calls({ provider: 'openai' }).every((c) => c.aborted)).toBe(true);
      expect(sim.calls({ provider: 'anthropic' }).every((c) => c.aborted)).toBe(true);

      // the usage records are in the database already: written before the process exited, not spooled for a next start
      const streamId = streamed.headers.get('x-request-id') as string;
      const slowId = cut.headers.get('x-request-id') as string;
      const b = await books(tenantId, [streamId, slowId]);
      expect(b.usage.get(streamId)).toMatchObject({ count: 1, status: 'partial' });
      expect(b.usage.get(streamId)?.cost).toBeGreaterThan(0n);
      expect(b.usage.get(slowId)).toMatchObject({ count: 1, status: 'partial' });
      expect(b.usage.get(slowId)?.cost).toBeGreaterThan(0n);
      expect([b.debits.get(streamId), b.debits.get(slowId)]).toEqual([1, 1]);
      expect({ reserved: b.reserved, reservations: b.reservations }).toEqual({ reserved: 0n, reservations: 0 });
      const [tokens] = await sql<{ output: number; input: number }>('SELECT output_tokens AS output, input_tokens AS input FROM usage_records WHERE id = $1', [streamId]);
      expect(tokens.output).toBeGreaterThan(0);
      const [prompt] = await sql<{ output: number; input: number }>('SELECT output_tokens AS output, input_tokens AS input FROM usage_records WHERE id = $1', [slowId]);
      expect(prompt).toMatchObject({ output: 0, input: expect.any(Number) });
      expect(prompt.input).toBeGreaterThan(0);
    } finally {
      await short.close();
    }
  });

  it('SIGTERM on the worker: its active job finishes within the grace period, then it exits', async () => {
    const { tenantId, key } = await newTenant(10);
    sim.script({ provider: 'google', path: ':predict', delayMs: 2_000, times: 1 });
    const [id] = await submitAsync(key, 1);
    await waitUntil('the worker to start the job', () => (sim.calls({ provider: 'google' }).length >= 1 ? true : undefined), 10_000, 20);

    const signalled = Date.now();
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    expect(Date.now() - signalled).toBeLessThan(GRACE_MS);
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    // finished by the worker that was told to stop, not by a successor
    await expectChargedOnce(tenantId, [id]);
    expect(sim.calls({ provider: 'google' })).toHaveLength(1);
  });
});

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Redis from 'ioredis';
import { ApiError, CommonModule, ConfigModule, loadConfig } from '@app/common';
import { findMigrationsDir, loadMigrations, PgDatabase, PGliteDatabase, PrismaService, runMigrations, type SqlDatabase } from '@app/database';
import {
  createRateLimiter,
  DatabaseRateLimitBackend,
  RateLimiter,
  RateLimitModule,
  RedisRateLimitBackend,
  type RateLimitDecision,
  type RateLimitSubject,
} from '@app/billing';
import { createPostgresDatabase, realPostgresUrl, realRedisUrl } from '../support/databases';

jest.setTimeout(60_000);

// The Redis and Postgres suites run when the suite is started with REDIS_URL / DATABASE_URL (CI runs
// `npm test` once embedded and once against the real services); the PGlite suite always runs.
const REDIS_URL = realRedisUrl ?? '';
const POSTGRES_URL = realPostgresUrl ?? '';
const PREFIX = `sy-rl-test-${randomBytes(4).toString('hex')}`;

/** the middle of a minute, so a test never straddles two windows; each test moves to its own minute */
let minute = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;
function clock(): { now: () => number; advance(ms: number): void } {
  let t = (minute += 10 * 60_000);
  return { now: () => t, advance: (ms) => (t += ms) };
}

function newKey(rpmLimit: number | null, imagesPerMinute: number | null): RateLimitSubject {
  return { keyId: `key_${randomBytes(6).toString('hex')}`, rpmLimit, imagesPerMinute };
}

/** runs `count` checks at once, alternating between the replicas */
async function burst(replicas: RateLimiter[], count: number, subject: RateLimitSubject, images = 0): Promise<RateLimitDecision[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => replicas[i % replicas.length].check(subject, { images })));
}

interface Replicas {
  /** two limiters, as two gateway replicas, sharing one backend */
  replicas: [RateLimiter, RateLimiter];
  close(): Promise<void>;
}

function sharedBackendSuite(label: string, open: (now: () => number) => Promise<Replicas>) {
  describe(`rate limits on ${label}`, () => {
    it('admits exactly rpm_limit of 40 concurrent requests from two replicas, then again in the next window', async () => {
      const time = clock();
      const { replicas, close } = await open(time.now);
      try {
        const key = newKey(10, null);
        const decisions = await burst(replicas, 40, key);
        const admitted = decisions.filter((d) => d.allowed);
        expect(admitted).toHaveLength(10);
        // every admitted request saw its own place in the window
        expect(admitted.map((d) => d.requests?.remaining).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        const refused = decisions.filter((d) => !d.allowed);
        expect(refused.every((d) => d.requests?.remaining === 0 && d.headers['Retry-After'] === '30')).toBe(true);
        expect(refused[0].headers).toMatchObject({ 'x-ratelimit-limit-requests': '10', 'x-ratelimit-reset-requests': '30s' });

        const err = await replicas[1].enforce(key).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect(err).toMatchObject({ status: 429, type: 'requests', code: 'rate_limit_exceeded' });

        // refused requests used nothing up: the next window admits a full limit again
        time.advance(60_000);
        const next = await burst(replicas, 40, key);
        expect(next.filter((d) => d.allowed)).toHaveLength(10);
        // and another key never shared this one's counter
        expect((await replicas[0].enforce(newKey(10, null))).requests?.remaining).toBe(9);
      } finally {
        await close();
      }
    });

    it('counts the images a request asks for, and only for admitted requests', async () => {
      const time = clock();
      const { replicas, close } = await open(time.now);
      try {
        const key = newKey(100, 10);
        expect((await replicas[0].enforce(key, { images: 4 })).images).toMatchObject({ allowed: true, remaining: 6 });
        expect((await replicas[1].enforce(key, { images: 4 })).images).toMatchObject({ allowed: true, remaining: 2 });
        const refused = await replicas[0].enforce(key, { images: 4 }).catch((e: unknown) => e);
        expect(refused).toMatchObject({ status: 429, type: 'images', code: 'rate_limit_exceeded' });
        expect((refused as ApiError).headers).toMatchObject({ 'x-ratelimit-remaining-images': '2', 'x-ratelimit-limit-images': '10' });
        // the refused request took neither images nor a request slot
        const fits = await replicas[1].enforce(key, { images: 2 });
        expect(fits.images).toMatchObject({ remaining: 0 });
        expect(fits.requests).toMatchObject({ remaining: 97 });
        // a chat request (no images) is not held back by the exhausted image limit
        expect((await replicas[0].enforce(key)).allowed).toBe(true);

        // under concurrency: 3 images each against a limit of 10 → exactly 3 requests fit
        const other = newKey(100, 10);
        const decisions = await burst(replicas, 20, other, 3);
        expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
        expect((await replicas[0].check(other)).requests?.remaining).toBe(100 - 3 - 1);
      } finally {
        await close();
      }
    });
  });
}

// ---- Redis ----------------------------------------------------------------------------------------------

/** the production wiring: what the module's factory builds from AppConfig, with the production timeouts */
const config = (env: Record<string, string> = {}) => loadConfig({ QUEUE_PREFIX: PREFIX, DATA_DIR: 'memory://', ...env });
const KEY_PREFIX = `${PREFIX}:rate-limit`;

async function redisReplicas(url: string, now: () => number): Promise<Replicas> {
  const replicas = [0, 1].map(() => createRateLimiter(config({ REDIS_URL: url }), {} as PrismaService, { now })) as [RateLimiter, RateLimiter];
  for (const r of replicas) expect(await (r.backend as RedisRateLimitBackend).waitUntilReady(5000)).toBe(true);
  return { replicas, close: async () => void (await Promise.all(replicas.map((r) => r.onApplicationShutdown()))) };
}

if (REDIS_URL) {
sharedBackendSuite('Redis', (now) => redisReplicas(REDIS_URL, now));

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('rate limits on Redis: keys', () => {
  it('live under the configured prefix, one per key, limit and window, and expire by themselves', async () => {
    const time = clock();
    const { replicas, close } = await redisReplicas(REDIS_URL, time.now);
    const redis = new Redis(REDIS_URL);
    try {
      const key = newKey(5, 5);
      await replicas[0].enforce(key, { images: 2 });
      const windowStart = Math.floor(time.now() / 60_000) * 60_000;
      const names = (await redis.keys(`${KEY_PREFIX}:{${key.keyId}}:*`)).sort();
      expect(names).toEqual([`${KEY_PREFIX}:{${key.keyId}}:images:${windowStart}`, `${KEY_PREFIX}:{${key.keyId}}:requests:${windowStart}`]);
      expect(await redis.get(names[0])).toBe('2');
      const ttl = await redis.pttl(names[1]);
      expect(ttl).toBeGreaterThan(60_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
    } finally {
      await redis.quit();
      await close();
    }
  });

  it('are found by the factory: REDIS_URL set → Redis, under QUEUE_PREFIX', async () => {
    const queuePrefix = `${PREFIX}-factory`;
    const limiter = createRateLimiter(loadConfig({ REDIS_URL, QUEUE_PREFIX: queuePrefix, DATA_DIR: 'memory://' }), {} as PrismaService);
    const redis = new Redis(REDIS_URL);
    try {
      expect(limiter.backend).toBeInstanceOf(RedisRateLimitBackend);
      expect(await (limiter.backend as RedisRateLimitBackend).waitUntilReady(5000)).toBe(true);
      const key = newKey(3, null);
      await limiter.enforce(key);
      expect(await redis.keys(`${queuePrefix}:rate-limit:{${key.keyId}}:requests:*`)).toHaveLength(1);
    } finally {
      await redis.quit();
      await limiter.onApplicationShutdown();
    }
  });
});

describe('RateLimitModule', () => {
  @Global()
  @Module({ providers: [{ provide: PrismaService, useValue: {} }], exports: [PrismaService] })
  class NoDatabaseModule {}

  it('provides a RateLimiter on Redis that opens its own connection and closes it on shutdown', async () => {
    const cfg = config({ REDIS_URL, QUEUE_PREFIX: `${PREFIX}-module` });
    const moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(cfg), CommonModule, NoDatabaseModule, RateLimitModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const redis = new Redis(REDIS_URL);
    const ownConnections = async () =>
      (String(await redis.call('CLIENT', 'LIST')).match(new RegExp(`name=${PREFIX}-module:rate-limit `, 'g')) ?? []).length;
    try {
      const limiter = app.get(RateLimiter);
      expect(limiter.backend.name).toBe('redis');
      expect((await limiter.enforce(newKey(5, null))).requests?.remaining).toBe(4);
      expect(await ownConnections()).toBe(1);
      await app.close();
      for (let i = 0; i < 20 && (await ownConnections()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await ownConnections()).toBe(0);
    } finally {
      await app.close();
      await redis.quit();
    }
  });
});

// ---- a private Redis that stops, hangs and comes back ------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

class PrivateRedis {
  private readonly dir = mkdtempSync(join(tmpdir(), 'sy-rl-redis-'));
  private pid = 0;
  constructor(readonly port: number) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const pidFile = join(this.dir, 'redis.pid');
    rmSync(pidFile, { force: true });
    execFileSync('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--dir', this.dir, '--pidfile', pidFile, '--logfile', join(this.dir, 'redis.log')]);
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    this.pid = Number(readFileSync(pidFile, 'utf8').trim());
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => 50 });
    await probe.connect();
    await probe.quit();
  }
  signal(sig: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): void {
    if (this.pid) process.kill(this.pid, sig);
  }
  async stop(): Promise<void> {
    if (!this.pid) return;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(this.pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    this.pid = 0;
  }
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('rate limits when Redis fails', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = new PrivateRedis(await freePort());
    await server.start();
  });
  afterAll(async () => server?.destroy());

  async function timed(p: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
    const started = Date.now();
    const error = await p.then(() => null, (e: unknown) => e);
    return { error, ms: Date.now() - started };
  }

  it('answers a fast 503 while Redis is stopped or hung, never admitting, and recovers when it is back', async () => {
    const limiter = createRateLimiter(config({ REDIS_URL: server.url }), {} as PrismaService);
    try {
      expect(await (limiter.backend as RedisRateLimitBackend).waitUntilReady(5000)).toBe(true);
      const key = newKey(10, null);
      expect((await limiter.enforce(key)).allowed).toBe(true);

      // stopped: the connection is refused, the check fails at once
      await server.stop();
      for (let i = 0; i < 3; i++) {
        const { error, ms } = await timed(limiter.enforce(key));
        expect(error).toBeInstanceOf(ApiError);
        expect(error).toMatchObject({ status: 503, code: 'service_unavailable' });
        expect(Number((error as ApiError).headers['Retry-After'])).toBeGreaterThanOrEqual(1);
        expect(ms).toBeLessThan(1000);
      }

      // back (empty): the limiter reconnects by itself; its circuit, open after the three failures above,
      // asks Redis again every RATE_LIMIT_BREAKER_OPEN_MS
      await server.start();
      let back: RateLimitDecision | null = null;
      for (let i = 0; i < 100 && !back; i++) {
        back = await limiter.enforce(key).catch(() => null);
        if (!back) await new Promise((r) => setTimeout(r, 100));
      }
      expect(back?.requests?.remaining).toBe(9);

      // hung: the connection stays open but nothing answers; the command timeout bounds the check
      server.signal('SIGSTOP');
      try {
        const { error, ms } = await timed(limiter.enforce(key));
        expect(error).toMatchObject({ status: 503, code: 'service_unavailable' });
        expect(ms).toBeGreaterThanOrEqual(400);
        expect(ms).toBeLessThan(1500);
      } finally {
        server.signal('SIGCONT');
      }
    } finally {
      await limiter.onApplicationShutdown();
    }
  });
});
}

// ---- the database: Postgres and PGlite -----------------------------------------------------------------

async function databaseReplicas(dbs: SqlDatabase[], now: () => number): Promise<Replicas & { prisma: PrismaService[] }> {
  const prisma = dbs.map((db) => new PrismaService(db));
  const replicas = prisma.map((p) => createRateLimiter(config(), p, { now })) as [RateLimiter, RateLimiter];
  for (const r of replicas) expect(r.backend).toBeInstanceOf(DatabaseRateLimitBackend);
  return {
    replicas,
    prisma,
    close: async () => {
      await Promise.all(replicas.map((r) => r.onApplicationShutdown()));
      await Promise.all(prisma.map((p) => p.$disconnect()));
    },
  };
}

function databaseSuite(label: string, openDatabases: () => Promise<{ dbs: SqlDatabase[]; cleanup(): Promise<void> }>) {
  describe(label, () => {
    let dbs: SqlDatabase[];
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ dbs, cleanup } = await openDatabases());
    });
    afterAll(async () => cleanup?.());

    sharedBackendSuite(label, (now) => databaseReplicas(dbs, now));

    it('deletes windows older than the previous one once a replica sees a new window', async () => {
      const time = clock();
      const { replicas, close } = await databaseReplicas(dbs, time.now);
      try {
        const key = newKey(5, 5);
        const first = Math.floor(time.now() / 60_000) * 60_000;
        const rows = () =>
          dbs[0].query<{ window_start: string }>(`SELECT window_start::text FROM rate_limit_counters WHERE key LIKE $1 ORDER BY 1`, [`${KEY_PREFIX}:${key.keyId}:%`]);
        await replicas[0].enforce(key, { images: 1 });
        time.advance(60_000);
        await replicas[0].enforce(key);
        expect((await rows()).map((r) => Number(r.window_start))).toEqual([first, first, first + 60_000]);
        time.advance(60_000);
        await replicas[0].enforce(key);
        await replicas[0].onApplicationShutdown(); // waits for the cleanup
        expect((await rows()).map((r) => Number(r.window_start))).toEqual([first + 60_000, first + 120_000]);
      } finally {
        await close();
      }
    });

    it('is chosen by the factory without REDIS_URL, keyed under QUEUE_PREFIX', async () => {
      const prisma = new PrismaService(dbs[0]);
      const limiter = createRateLimiter(loadConfig({ QUEUE_PREFIX: `${PREFIX}-factory`, DATA_DIR: 'memory://' }), prisma);
      try {
        expect(limiter.backend).toBeInstanceOf(DatabaseRateLimitBackend);
        const key = newKey(2, null);
        await limiter.enforce(key);
        await limiter.enforce(key);
        await expect(limiter.enforce(key)).rejects.toMatchObject({ status: 429 });
        const [row] = await dbs[0].query<{ count: number }>('SELECT count FROM rate_limit_counters WHERE key = $1', [`${PREFIX}-factory:rate-limit:${key.keyId}:requests`]);
        expect(row.count).toBe(2);
      } finally {
        await limiter.onApplicationShutdown();
        await prisma.$disconnect();
      }
    });
  });
}

if (POSTGRES_URL) {
databaseSuite('Postgres', async () => {
  const created = await createPostgresDatabase(POSTGRES_URL);
  const first = new PgDatabase(created.url);
  await runMigrations(first, loadMigrations(findMigrationsDir()));
  // a second pool on the same database, as a second gateway replica has
  const second = new PgDatabase(created.url);
  return {
    dbs: [first, second],
    cleanup: async () => {
      await first.close();
      await second.close();
      await created.drop();
    },
  };
});
}

databaseSuite('PGlite', async () => {
  // the embedded database is one process by design; its "replicas" are two Prisma clients on it
  const db = await PGliteDatabase.open('memory://');
  await runMigrations(db, loadMigrations(findMigrationsDir()));
  return { dbs: [db, db], cleanup: () => db.close() };
});

/**
 * Private services and real processes for fault tests: a Redis and a Postgres of the test's own, on free
 * loopback ports, that a test may stop, pause (SIGSTOP) and start again without touching the shared
 * servers; and the gateway and worker run from the build output as child processes, so that a test can
 * kill -9 them, send SIGTERM, or restart them.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');

export const GATEWAY_MAIN = join(ROOT, 'dist/apps/gateway/src/main.js');
export const WORKER_MAIN = join(ROOT, 'dist/apps/worker/src/main.js');

function onPath(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** the directory holding initdb, pg_ctl and postgres: on PATH, else Debian's /usr/lib/postgresql/<version>/bin */
function findPostgresBin(): string | undefined {
  const initdb = onPath('initdb');
  if (initdb && onPath('pg_ctl')) return resolve(initdb, '..');
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(base, v, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return undefined;
}

export const redisServerBinary = onPath('redis-server');
export const postgresBinDir = findPostgresBin();
/** true when this machine can run private services (every development and CI machine here can) */
export const canRunPrivateServices = redisServerBinary !== undefined && postgresBinDir !== undefined;

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => res(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

/**
 * A Redis on a free port with its data in a temporary folder. Persistence is on (append-only file,
 * fsync on every write) as BullMQ asks of a production Redis, so jobs accepted before a stop are still
 * there after a start.
 */
export class PrivateRedis {
  private pid = 0;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<PrivateRedis> {
    if (!redisServerBinary) throw new Error('redis-server is not installed');
    const redis = new PrivateRedis(await freePort(), mkdtempSync(join(tmpdir(), 'sy-redis-')));
    await redis.start();
    return redis;
  }

  async start(): Promise<void> {
    const pidfile = join(this.dir, 'redis.pid');
    rmSync(pidfile, { force: true });
    await run(redisServerBinary as string, [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--save', '',
      '--appendonly', 'yes',
      '--appendfsync', 'always',
      '--daemonize', 'yes',
      '--pidfile', pidfile,
      '--logfile', join(this.dir, 'redis.log'),
    ]);
    this.pid = await waitUntil('the private Redis pid file', () => (existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8').trim()) || undefined : undefined), 5_000, 20);
    await waitUntil('the private Redis to answer', async () => ((await this.cli('PING')) === 'PONG' ? true : undefined), 5_000, 50);
  }

  async cli(...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(this.port), ...args], { timeout: 3_000 });
    return stdout.trim();
  }

  /** stops the server (SIGTERM: Redis flushes its append-only file and exits) */
  async stop(): Promise<void> {
    if (!this.pid || !processAlive(this.pid)) return;
    process.kill(this.pid, 'SIGCONT');
    process.kill(this.pid, 'SIGTERM');
    await waitUntil('the private Redis to exit', () => (processAlive(this.pid) ? undefined : true), 10_000, 20);
  }

  get running(): boolean {
    return this.pid !== 0 && processAlive(this.pid);
  }

  /** a hung server: connections stay open, nothing answers */
  pause(): void {
    process.kill(this.pid, 'SIGSTOP');
  }

  resume(): void {
    process.kill(this.pid, 'SIGCONT');
  }

  async close(): Promise<void> {
    if (this.pid && processAlive(this.pid)) {
      process.kill(this.pid, 'SIGCONT');
      process.kill(this.pid, 'SIGKILL');
      await waitUntil('the private Redis to die', () => (processAlive(this.pid) ? undefined : true), 5_000, 20).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Postgres

/** A Postgres cluster of its own on a free port (trust auth, fsync off), initialised in a temporary folder. */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(): Promise<PrivatePostgres> {
    if (!postgresBinDir) throw new Error('initdb / pg_ctl are not installed');
    const dir = mkdtempSync(join(tmpdir(), 'sy-pg-'));
    const pg = new PrivatePostgres(await freePort(), dir);
    // Postgres refuses to run as root; as root, the cluster belongs to the postgres user.
    if (process.getuid?.() === 0) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      chownSync(dir, uid, gid);
    }
    await pg.asOwner(`${join(postgresBinDir, 'initdb')} -D ${dir}/data -U postgres -A trust --no-sync -E UTF8 >${dir}/initdb.log 2>&1`);
    await pg.start();
    return pg;
  }

  private async asOwner(command: string): Promise<void> {
    if (process.getuid?.() === 0) await run('su', ['postgres', '-s', '/bin/sh', '-c', command], { timeout: 60_000 });
    else await run('sh', ['-c', command], { timeout: 60_000 });
  }

  private pgCtl(args: string): Promise<void> {
    return this.asOwner(`${join(postgresBinDir as string, 'pg_ctl')} -D ${this.dir}/data ${args}`);
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
    await this.pgCtl(`-o "${options}" -l ${this.dir}/postgres.log -w -t 30 start`);
  }

  /** stops at once: every connection is cut, as when the server crashes or its host goes away */
  async stop(): Promise<void> {
    await this.pgCtl('-m immediate -w stop');
  }

  /** whether the server is up (its postmaster.pid names a live process) */
  get running(): boolean {
    const file = join(this.dir, 'data', 'postmaster.pid');
    return existsSync(file) && processAlive(this.pid);
  }

  /** the postmaster's pid, for SIGSTOP / SIGCONT */
  get pid(): number {
    return Number(readFileSync(join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  async close(): Promise<void> {
    await this.pgCtl('-m immediate -w stop').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The gateway or the worker, from the build output, in a process of its own. */
export class ChildApp {
  readonly lines: string[] = [];
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let partial = '';
    const collect = (chunk: Buffer): void => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        res(this.exitStatus);
      });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  get logs(): string {
    return this.lines.join('\n');
  }

  /** starts `main` with exactly `env` (plus PATH), and waits for its ready line */
  static async start(name: string, main: string, env: Record<string, string>, ready: RegExp, timeoutMs = 30_000): Promise<ChildApp> {
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const app = new ChildApp(name, child);
    let outcome: 'ready' | 'exited';
    try {
      // (an exit is returned, not thrown: waitUntil would take a thrown error for "not yet" until its timeout)
      outcome = await waitUntil(`${name} to be ready`, () => {
        if (app.lines.some((l) => ready.test(l))) return 'ready' as const;
        return app.running ? undefined : ('exited' as const);
      }, timeoutMs, 50);
    } catch (e) {
      app.kill('SIGKILL');
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${app.logs.slice(-3000)}`);
    }
    if (outcome === 'exited') {
      await app.exited;
      throw new Error(`${name} exited during boot:\n${app.logs.slice(-3000)}`);
    }
    return app;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL unless it already exited, and wait for it */
  async close(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

/** The environment a gateway and its separate worker share. */
export interface SystemEnv {
  DATABASE_URL: string;
  REDIS_URL?: string;
  DATA_DIR: string;
  QUEUE_PREFIX: string;
  ADMIN_TOKEN: string;
  IMAGE_URL_SECRET: string;
  [name: string]: string | undefined;
}

export interface SystemServices {
  DATABASE_URL: string;
  REDIS_URL?: string;
  ADMIN_TOKEN: string;
}

export function systemEnv(base: SystemServices, extra: Record<string, string> = {}): SystemEnv {
  return {
    QUEUE_PREFIX: `f${randomBytes(4).toString('hex')}`,
    IMAGE_URL_SECRET: randomBytes(24).toString('hex'),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'sy-data-')),
    LOG_LEVEL: 'info',
    ...base,
    ...extra,
  };
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export async function startChildGateway(env: SystemEnv, port: number, extra: Record<string, string> = {}): Promise<ChildApp> {
  return ChildApp.start(
    'gateway',
    GATEWAY_MAIN,
    definedOnly({ ...env, HOST: '127.0.0.1', PORT: String(port), WORKER_IN_PROCESS: 'false', ...extra }),
    /Switchyard gateway listening on/,
  );
}

/** A separate worker; its health and metrics on a free port (`workerHttpUrl`) unless `extra` names one. */
export async function startChildWorker(env: SystemEnv, extra: Record<string, string> = {}): Promise<ChildApp> {
  return ChildApp.start('worker', WORKER_MAIN, definedOnly({ WORKER_HTTP_PORT: '0', ...env, ...extra }), /worker ready/);
}

/** Where a separate worker serves its health and metrics, from its ready line. */
export function workerHttpUrl(worker: ChildApp): string {
  const url = /health and metrics on (http:\/\/\S+)/.exec(worker.logs)?.[1];
  if (!url) throw new Error(`the worker did not say where it serves health and metrics:\n${worker.logs.slice(-2000)}`);
  return url;
}

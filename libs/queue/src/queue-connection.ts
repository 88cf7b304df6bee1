import {
  createPostgresBackend,
  createRedisBackend,
  DEFAULT_SCHEMA,
  isPgPool,
  isRedisInstance,
  runMigrations,
  setDefaultBackendFactory,
  type BackendFactory,
  type RedisOptions as QueueRedisOptions,
} from 'bullmq';
import type { AppConfig } from '@app/common';
import { PGliteDatabase, type SqlDatabase } from '@app/database';

/**
 * BullMQ runs on Redis in production and on its Postgres backend when no Redis is configured (on the real
 * Postgres, or on the embedded PGlite through a pg.Pool look-alike). The processors and producers are the
 * same in every mode; only the connection differs. The backend is chosen per queue from the connection's
 * shape, so one process can hold queues of both kinds (the test suite does).
 */
interface PostgresConnectionConfig {
  connectionString: string;
  schema: string;
  migrate: boolean;
}

function isPostgresConnection(c: unknown): boolean {
  return isPgPool(c) || (typeof c === 'object' && c !== null && 'connectionString' in c);
}

/**
 * How long a producer command (adding a job, counting jobs for readiness) may wait on a Redis that is
 * connected but not answering (hung, or paused) before it fails.
 */
export const PRODUCER_COMMAND_TIMEOUT_MS = 2000;

/** Reconnect quickly after an outage: a worker picks jobs up again within about this long of Redis returning. */
const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * Producers (a `Queue`: the gateway adding image jobs, readiness checks) fail fast when Redis is away: no
 * offline queue, so a command while disconnected fails at once instead of holding the tenant's request
 * until Redis returns (and then adding a job the tenant was already told failed); one retry after a
 * dropped connection; and a bound on each command for a Redis that accepts connections but never answers.
 * Workers (a backend with a blocking connection) keep the defaults: they wait and resume on their own.
 */
export function producerRedisOptions(base: QueueRedisOptions): QueueRedisOptions {
  return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS };
}

function isProducer(options: Parameters<BackendFactory>[2]): boolean {
  return !options?.blocking && !options?.withBlockingConnection;
}

const chooseBackend: BackendFactory = (name, opts, options) => {
  if (isPostgresConnection(opts.connection)) return createPostgresBackend(name, opts as never, options);
  // Only options are rewritten; a client instance someone passed in is theirs to configure.
  if (isProducer(options) && !isRedisInstance(opts.connection)) {
    return createRedisBackend(name, { ...opts, connection: producerRedisOptions(opts.connection as QueueRedisOptions) }, options);
  }
  return createRedisBackend(name, opts, options);
};

setDefaultBackendFactory(chooseBackend);

export function redisOptionsFromUrl(url: string): QueueRedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // Workers need unlimited retries on their blocking connection; producers fail fast instead (above).
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, MAX_RECONNECT_DELAY_MS),
  };
}

export type QueueConnection = QueueRedisOptions | PostgresConnectionConfig | ReturnType<PGliteDatabase['asPgPool']>;

/** The connection for BullMQ; on Postgres its own tables are created (or upgraded) first. */
export async function queueConnection(config: AppConfig, db: SqlDatabase): Promise<QueueConnection> {
  if (config.REDIS_URL) return redisOptionsFromUrl(config.REDIS_URL);
  if (db instanceof PGliteDatabase) {
    const pool = db.asPgPool();
    const session = await pool.connect();
    try {
      await runMigrations(session, DEFAULT_SCHEMA);
      // BullMQ names its tables and functions unqualified and expects a pool it is given to search its schema.
      // PGlite is one session shared with Prisma, so the queue's schema is searched after the application's
      // (no names are shared between the two).
      await session.query(`SET search_path TO public, ${DEFAULT_SCHEMA}`);
    } finally {
      session.release();
    }
    return pool;
  }
  return {
    connectionString: config.DATABASE_URL as string,
    schema: `${config.QUEUE_PREFIX.replace(/-/g, '_')}_queue`,
    migrate: true,
  };
}

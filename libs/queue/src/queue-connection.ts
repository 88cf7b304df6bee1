import {
  createPostgresBackend,
  createRedisBackend,
  DEFAULT_SCHEMA,
  isPgPool,
  runMigrations,
  setDefaultBackendFactory,
  type BackendFactory,
} from 'bullmq';
import type { RedisOptions } from 'ioredis';
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

const chooseBackend: BackendFactory = (name, opts, options) =>
  isPostgresConnection(opts.connection)
    ? createPostgresBackend(name, opts as never, options)
    : createRedisBackend(name, opts, options);

setDefaultBackendFactory(chooseBackend);

export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // Workers need unlimited retries on their blocking connection; producers fail fast instead (below).
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
  };
}

export type QueueConnection = RedisOptions | PostgresConnectionConfig | ReturnType<PGliteDatabase['asPgPool']>;

/** The connection for BullMQ; on Postgres its own tables are created (or upgraded) first. */
export async function queueConnection(config: AppConfig, db: SqlDatabase): Promise<QueueConnection> {
  if (config.REDIS_URL) return redisOptionsFromUrl(config.REDIS_URL);
  if (db instanceof PGliteDatabase) {
    const pool = db.asPgPool();
    const session = await pool.connect();
    try {
      await runMigrations(session, DEFAULT_SCHEMA);
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

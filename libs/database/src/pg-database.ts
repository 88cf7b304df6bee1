import { Pool, type PoolClient } from 'pg';
import type { QueryOptions, SqlDatabase, SqlSession } from './sql-session';

function session(c: Pool | PoolClient): SqlSession {
  return {
    async query<R>(sql: string, params?: unknown[], options?: QueryOptions) {
      const r = options?.name ? await c.query({ name: options.name, text: sql, values: params }) : await c.query(sql, params);
      return r.rows as R[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  };
}

/** A real Postgres server through node-postgres. */
export class PgDatabase implements SqlDatabase {
  readonly pool: Pool;
  private readonly s: SqlSession;

  constructor(readonly connectionString: string, max = 10) {
    // Fail fast when the server is down or hung, so requests answer 503 instead of hanging.
    this.pool = new Pool({ connectionString, max, connectionTimeoutMillis: 5000, query_timeout: 15_000 });
    this.pool.on('error', () => undefined); // idle-client errors surface on the next query instead
    this.s = session(this.pool);
  }
  query<R = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<R[]> {
    return this.s.query<R>(sql, params, options);
  }
  exec(sql: string): Promise<void> {
    return this.s.exec(sql);
  }
  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn(session(client));
    } finally {
      client.release();
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

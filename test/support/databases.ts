import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Tests run against whatever `npm test` was started with: no variables = the embedded default (PGlite in
 * memory, BullMQ on PGlite); DATABASE_URL / REDIS_URL = the real services. Each test file gets a database
 * of its own on the real server, so files never see each other's rows.
 */
export const realPostgresUrl = process.env.DATABASE_URL || undefined;
export const realRedisUrl = process.env.REDIS_URL || undefined;

export interface TestDatabase {
  /** environment for loadConfig: DATABASE_URL, or DATA_DIR=memory:// */
  env: Record<string, string>;
  url?: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createPostgresDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sy_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    async drop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!realPostgresUrl) return { env: { DATA_DIR: 'memory://' }, drop: async () => undefined };
  const db = await createPostgresDatabase(realPostgresUrl);
  return { env: { DATABASE_URL: db.url }, url: db.url, drop: db.drop };
}

import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SqlDatabase, SqlSession } from './sql-session';

/**
 * Applies prisma/migrations/<name>/migration.sql in order and records each in Prisma's own
 * `_prisma_migrations` table (same columns, same sha256 checksum), so `prisma migrate deploy` and this
 * runner agree about what is applied. The Prisma CLI's schema engine is a native download that cannot be
 * installed from npm, which is why Switchyard applies its migrations itself.
 */
const MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/** Serialises migration runs of several replicas starting at once. */
const MIGRATION_LOCK_ID = 7_272_019;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir: string): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** Finds prisma/migrations from the source tree, the build output (dist/apps/x) or the working directory. */
export function findMigrationsDir(start = __dirname): string {
  let dir = resolve(start);
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  const cwd = join(process.cwd(), 'prisma', 'migrations');
  if (existsSync(cwd)) return cwd;
  throw new Error('prisma/migrations not found');
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

export async function runMigrations(db: SqlDatabase, migrations: Migration[]): Promise<MigrationResult> {
  return db.withSession(async (s) => {
    await s.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await s.exec(MIGRATIONS_TABLE);
      const done = await s.query<{ migration_name: string; checksum: string }>(
        'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
      );
      const applied = new Map(done.map((r) => [r.migration_name, r.checksum]));
      const result: MigrationResult = { applied: [], alreadyApplied: 0 };
      for (const m of migrations) {
        const existing = applied.get(m.name);
        if (existing !== undefined) {
          if (existing !== m.checksum) {
            throw new Error(`Migration ${m.name} was modified after it was applied (checksum mismatch).`);
          }
          result.alreadyApplied++;
          continue;
        }
        await applyOne(s, m);
        result.applied.push(m.name);
      }
      return result;
    } finally {
      await s.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  });
}

async function applyOne(s: SqlSession, m: Migration): Promise<void> {
  await s.exec('BEGIN');
  try {
    await s.exec(m.sql);
    await s.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), 1)`,
      [randomUUID(), m.checksum, m.name],
    );
    await s.exec('COMMIT');
  } catch (e) {
    await s.exec('ROLLBACK');
    throw new Error(`Migration ${m.name} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

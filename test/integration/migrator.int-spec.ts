import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findMigrationsDir,
  loadMigrations,
  PgDatabase,
  PGliteDatabase,
  PrismaService,
  runMigrations,
  type SqlDatabase,
} from '@app/database';
import { createPostgresDatabase, realPostgresUrl } from '../support/databases';

jest.setTimeout(60_000);

function migrationsIn(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-migrations-'));
  for (const [name, sql] of Object.entries(files)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

function suite(label: string, open: () => Promise<{ db: SqlDatabase; cleanup(): Promise<void> }>) {
  describe(`migration runner on ${label}`, () => {
    let db: SqlDatabase;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ db, cleanup } = await open()));
    afterEach(async () => cleanup());

    it('applies the committed migrations once, records them as Prisma does, and Prisma can use the schema', async () => {
      const migrations = loadMigrations(findMigrationsDir());
      expect(migrations.length).toBeGreaterThan(0);
      const first = await runMigrations(db, migrations);
      expect(first.applied).toEqual(migrations.map((m) => m.name));
      const second = await runMigrations(db, migrations);
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toBe(migrations.length);

      const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
        'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
      );
      expect(rows.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
      expect(rows.every((r) => r.finished_at !== null && /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);

      const prisma = new PrismaService(db);
      const tenant = await prisma.tenant.create({ data: { name: 'acme', balanceMicros: 5_000_000n } });
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).balanceMicros).toBe(5_000_000n);
      await prisma.$disconnect();
    });

    it('rolls back a failing migration and refuses an edited one', async () => {
      const dir = migrationsIn({ '001_ok': 'CREATE TABLE a (id int);', '002_bad': 'CREATE TABLE b (id int); SELECT nope FROM missing;' });
      await expect(runMigrations(db, loadMigrations(dir))).rejects.toThrow(/002_bad failed/);
      const tables = await db.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('a','b') ORDER BY 1",
      );
      expect(tables.map((t) => t.table_name)).toEqual(['a']);

      writeFileSync(join(dir, '001_ok', 'migration.sql'), 'CREATE TABLE a (id bigint);');
      rmSync(join(dir, '002_bad'), { recursive: true });
      await expect(runMigrations(db, loadMigrations(dir))).rejects.toThrow(/checksum mismatch/);
    });
  });
}

suite('PGlite', async () => {
  const db = await PGliteDatabase.open('memory://');
  return { db, cleanup: () => db.close() };
});

const serverUrl = realPostgresUrl;
if (serverUrl) {
  suite('Postgres', async () => {
    const created = await createPostgresDatabase(serverUrl);
    const db = new PgDatabase(created.url);
    return { db, cleanup: async () => { await db.close(); await created.drop(); } };
  });
}

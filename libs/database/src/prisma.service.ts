import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from './generated/prisma/client';
import { PGliteDatabase } from './pglite-database';
import { PgDatabase } from './pg-database';
import type { SqlDatabase } from './sql-session';

/** The Prisma client, on node-postgres for a real server or on the embedded PGlite. */
export class PrismaService extends PrismaClient {
  constructor(db: SqlDatabase) {
    const adapter =
      db instanceof PGliteDatabase
        ? new PrismaPGlite(db.pglite)
        : new PrismaPg((db as PgDatabase).pool);
    super({ adapter });
  }
}

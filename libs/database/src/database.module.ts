import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/common';
import { findMigrationsDir, loadMigrations, runMigrations } from './migrator';
import { PGliteDatabase } from './pglite-database';
import { PgDatabase } from './pg-database';
import { PrismaService } from './prisma.service';
import type { SqlDatabase } from './sql-session';

export const SQL_DATABASE = Symbol('SQL_DATABASE');

/** Opens the configured database and brings its schema up to date before anything else uses it. */
export async function openDatabase(config: AppConfig, logger = new Logger('Database')): Promise<SqlDatabase> {
  const db: SqlDatabase = config.DATABASE_URL ? new PgDatabase(config.DATABASE_URL) : await PGliteDatabase.open(config.DATA_DIR);
  try {
    const result = await runMigrations(db, loadMigrations(findMigrationsDir()));
    logger.log(
      result.applied.length > 0
        ? `applied migrations: ${result.applied.join(', ')}`
        : `schema up to date (${result.alreadyApplied} migrations)`,
    );
    return db;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

@Injectable()
class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    private readonly prisma: PrismaService,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect().catch(() => undefined);
    await this.db.close();
  }
}

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: SQL_DATABASE, inject: [AppConfig], useFactory: (config: AppConfig) => openDatabase(config) },
        { provide: PrismaService, inject: [SQL_DATABASE], useFactory: (db: SqlDatabase) => new PrismaService(db) },
        DatabaseLifecycle,
      ],
      exports: [SQL_DATABASE, PrismaService],
    };
  }
}

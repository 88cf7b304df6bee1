export * from './sql-session';
export * from './migrator';
export * from './pglite-database';
export * from './pg-database';
export * from './prisma.service';
export * from './database.module';
export { Prisma } from './generated/prisma/client';
export type { Tenant, ApiKey, Price, UsageRecord, LedgerEntry, ImageJob, StoredImage, Reservation, AdminAudit } from './generated/prisma/client';

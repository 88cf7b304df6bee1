import { existsSync } from 'node:fs';
import { defineConfig } from 'prisma/config';

// The Prisma CLI only needs its native schema engine for `migrate`/`db` commands, which are not used
// here: Switchyard applies prisma/migrations itself (libs/database/src/migrator.ts). `prisma generate`
// runs without the engine as long as the variable points at an existing file, so it never tries to
// download one.
if (!process.env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(process.env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  process.env.PRISMA_SCHEMA_ENGINE_BINARY = __filename;
}

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    // `prisma generate` needs no database; a fallback keeps it working on a fresh machine.
    url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/switchyard',
  },
});

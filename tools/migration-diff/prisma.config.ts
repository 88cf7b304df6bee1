// Prisma 6.19's CLI can compute migration SQL offline with its WASM schema engine; Prisma 7's CLI
// cannot (its schema engine is a native download). This folder is isolated so that the old CLI never
// enters the application's dependency tree. See tools/migration-diff/diff.sh.
import { defineConfig } from 'prisma/config';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  adapter: async () => new PrismaPGlite(new PGlite()),
} as never);

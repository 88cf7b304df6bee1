// Three tiers: unit specs beside the code, integration specs against real services in test/integration,
// end-to-end specs through the official SDKs in test/e2e. `npm test` runs all of them.
// Every test runs in a zone far from UTC (and, for the child processes the suites start, passes it on), so no
// code can pass by reading a time in the machine's own zone where UTC is meant.
process.env.TZ = 'America/New_York';

const swc = ['@swc/jest', {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
}];
const moduleNameMapper = {
  '^@app/(common|database|tenancy|billing|routing|providers|queue|storage)$': '<rootDir>/libs/$1/src',
};
const base = { transform: { '^.+\\.ts$': swc }, moduleNameMapper, testEnvironment: 'node', rootDir: __dirname };

module.exports = {
  // testTimeout is a global option (ignored inside projects): PGlite boots slowly on a loaded machine.
  testTimeout: 60_000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,bench}/**/*.spec.ts'] },
    // Booting PGlite (Postgres in WASM) takes seconds on a loaded 2-core machine: hooks need more than 5 s.
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
  ],
};

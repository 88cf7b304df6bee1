import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PGliteDatabase } from '@app/database';
import { hashApiKey } from '@app/tenancy';

jest.setTimeout(120_000);

const CLI = resolve(__dirname, '../../dist/apps/gateway/src/admin-cli.js');
const run = promisify(execFile);

/** `npm run admin -- tenant create <name> --credit 10`, on an embedded database of its own (built app, as npm runs it). */
describe('admin CLI', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sy-cli-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('creates a tenant with credit and prints its id and a new key, stored only as a hash', async () => {
    const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir };
    const { stdout } = await run(process.execPath, [CLI, 'tenant', 'create', 'acme', '--credit', '10'], { env });
    const out = Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=', 2)));
    expect(out.tenant_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.balance_usd).toBe('10.000000');
    expect(out.key).toMatch(/^sk-sy-[0-9A-Za-z]{32,}$/);

    await expect(run(process.execPath, [CLI, 'tenant', 'frobnicate'], { env })).rejects.toMatchObject({ code: 2 });

    const db = await PGliteDatabase.open(dataDir);
    try {
      const keys = await db.query<{ hash: string; tenant_id: string }>('SELECT hash, tenant_id FROM api_keys');
      expect(keys).toEqual([{ hash: hashApiKey(out.key), tenant_id: out.tenant_id }]);
      const [t] = await db.query<{ balance_micros: string }>('SELECT balance_micros::text FROM tenants');
      expect(t.balance_micros).toBe('10000000');
    } finally {
      await db.close();
    }
  });
});

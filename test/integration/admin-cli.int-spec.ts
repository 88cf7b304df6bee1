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

  it('issues keys with --expires, revokes and credits, writing an admin-cli audit row for each change and never the key', async () => {
    const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir };
    const cli = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, [CLI, ...args], { env });
      return Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=', 2))) as Record<string, string>;
    };
    const tenant = await cli('tenant', 'create', 'beta');
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const key = await cli('key', 'create', tenant.tenant_id, '--name', 'ci', '--expires', expiresAt);
    expect(key.expires_at).toBe(expiresAt);
    await expect(run(process.execPath, [CLI, 'key', 'create', tenant.tenant_id, '--expires', '2020-01-01T00:00:00Z'], { env })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('expires_at must be a time in the future'),
    });
    await expect(run(process.execPath, [CLI, 'key', 'create', tenant.tenant_id, '--expires', 'tomorrow'], { env })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--expires must be an ISO 8601'),
    });
    await run(process.execPath, [CLI, 'key', 'revoke', key.key_id], { env });
    await cli('tenant', 'credit', tenant.tenant_id, '2.5', '--note', 'wire');

    const db = await PGliteDatabase.open(dataDir);
    try {
      const [stored] = await db.query<{ expires_at: Date; revoked_at: Date | null }>('SELECT expires_at, revoked_at FROM api_keys WHERE id = $1', [key.key_id]);
      expect(stored.expires_at.toISOString()).toBe(expiresAt);
      expect(stored.revoked_at).not.toBeNull();
      const rows = await db.query<{ action: string; actor: string; key_id: string | null; detail: Record<string, unknown> }>(
        'SELECT action, actor, key_id, detail FROM admin_audit WHERE tenant_id = $1',
        [tenant.tenant_id],
      );
      expect(rows).toHaveLength(5);
      expect(rows.map((r) => [r.action, r.actor, r.key_id])).toEqual(
        expect.arrayContaining([
          ['tenant.create', 'admin-cli', null],
          ['key.create', 'admin-cli', tenant.key_id], // `tenant create` issues a first key in the same command
          ['key.create', 'admin-cli', key.key_id],
          ['key.revoke', 'admin-cli', key.key_id],
          ['tenant.credit', 'admin-cli', null],
        ]),
      );
      expect(rows.find((r) => r.action === 'tenant.credit')?.detail).toEqual({ amount_micros: '2500000', balance_micros: '2500000', note: 'wire' });
      expect(rows.find((r) => r.key_id === key.key_id && r.action === 'key.create')?.detail).toMatchObject({ name: 'ci', expires_at: expiresAt });
      const dump = JSON.stringify(await db.query('SELECT row_to_json(t)::text AS j FROM admin_audit t'));
      for (const k of [tenant.key, key.key]) {
        expect(dump).not.toContain(k);
        expect(dump).not.toContain(hashApiKey(k));
      }
    } finally {
      await db.close();
    }
  });

  it('key create --expires reads a date or a time without an offset as UTC, in a machine of any zone, and refuses what it cannot read', async () => {
    // New York's zone: the machine's local time would be 4 or 5 hours off UTC
    const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, TZ: 'America/New_York' };
    const cli = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, [CLI, ...args], { env });
      return Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=', 2))) as Record<string, string>;
    };
    const tenant = await cli('tenant', 'create', 'zoned');
    expect((await cli('key', 'create', tenant.tenant_id, '--expires', '2031-06-01T12:00')).expires_at).toBe('2031-06-01T12:00:00.000Z');
    expect((await cli('key', 'create', tenant.tenant_id, '--expires', '2031-06-01')).expires_at).toBe('2031-06-01T00:00:00.000Z');
    expect((await cli('key', 'create', tenant.tenant_id, '--expires', '2031-06-01T12:00:00+02:00')).expires_at).toBe('2031-06-01T10:00:00.000Z');
    // ISO 8601 forms a Date cannot read (week and ordinal dates) are refused, not stored as an invalid date
    for (const expires of ['2031-W05', '2031-152', '2031-02-30']) {
      await expect(run(process.execPath, [CLI, 'key', 'create', tenant.tenant_id, '--expires', expires], { env })).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('--expires must be an ISO 8601 date (2026-11-01) or date-time'),
      });
    }
  });
});

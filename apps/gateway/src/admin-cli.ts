import 'reflect-metadata';
import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig, ConfigError, ConfigModule, TIMESTAMP_FORMAT, loadConfigFromEnvironment, parseTimestamp } from '@app/common';
import { DatabaseModule } from '@app/database';
import { BillingModule, formatUsd, usdToMicros } from '@app/billing';
import { ProvidersModule } from '@app/providers';
import { ApiKeyService, TenancyModule, TenantService } from '@app/tenancy';

/**
 * The admin CLI: the same services as the admin API, straight on the database, writing the same audit rows
 * (actor `admin-cli`).
 *   npm run admin -- tenant create <name> [--credit <usd>]    prints the tenant id and a new key
 *   npm run admin -- tenant credit <tenant-id> <usd> [--note <text>]
 *   npm run admin -- key create <tenant-id> [--name <name>] [--rpm <n>] [--spend-limit <usd>] [--expires <ISO 8601>]
 *   npm run admin -- key revoke <key-id>
 */
@Module({})
class AdminCliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: AdminCliModule, imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(), ProvidersModule, BillingModule, TenancyModule] };
  }
}

const USAGE = `usage:
  npm run admin -- tenant create <name> [--credit <usd>]
  npm run admin -- tenant credit <tenant-id> <usd> [--note <text>]
  npm run admin -- key create <tenant-id> [--name <name>] [--rpm <n>] [--spend-limit <usd>] [--expires <ISO 8601>]
  npm run admin -- key revoke <key-id>`;

function parse(argv: string[]): { words: string[]; flags: Record<string, string> } {
  const words: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) flags[argv[i].slice(2)] = argv[++i] ?? '';
    else words.push(argv[i]);
  }
  return { words, flags };
}

function optionalInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
  return n;
}

function optionalDate(v: string | undefined, name: string): Date | undefined {
  if (v === undefined) return undefined;
  const at = parseTimestamp(v);
  if (!at) throw new Error(`--${name} must be ${TIMESTAMP_FORMAT}, e.g. 2027-01-01T00:00:00Z`);
  return at;
}

async function main(): Promise<void> {
  const { words, flags } = parse(process.argv.slice(2));
  const [noun, verb, ...rest] = words;
  const config = loadConfigFromEnvironment();
  const app = await NestFactory.createApplicationContext(AdminCliModule.forRoot(config), { logger: ['error'] });
  app.enableShutdownHooks();
  try {
    const tenants = app.get(TenantService);
    const keys = app.get(ApiKeyService);
    if (noun === 'tenant' && verb === 'create' && rest[0]) {
      const tenant = await tenants.create(rest[0], flags.credit ? usdToMicros(flags.credit) : 0n, 'admin-cli');
      const { record, key } = await keys.create(tenant.id, { name: 'default' }, 'admin-cli');
      process.stdout.write(
        `tenant_id=${tenant.id}\nbalance_usd=${formatUsd(tenant.balanceMicros)}\nkey_id=${record.id}\n` +
          `key=${key}\n(the key is shown only now; store it safely)\n`,
      );
    } else if (noun === 'tenant' && verb === 'credit' && rest[0] && rest[1]) {
      const balance = await tenants.addCredit(rest[0], usdToMicros(rest[1]), flags.note, 'admin-cli');
      process.stdout.write(`balance_usd=${formatUsd(balance)}\n`);
    } else if (noun === 'key' && verb === 'create' && rest[0]) {
      const { record, key } = await keys.create(
        rest[0],
        {
          name: flags.name,
          rpmLimit: optionalInt(flags.rpm, 'rpm'),
          spendLimitMicros: flags['spend-limit'] ? usdToMicros(flags['spend-limit']) : undefined,
          expiresAt: optionalDate(flags.expires, 'expires'),
        },
        'admin-cli',
      );
      const expiry = record.expiresAt ? `expires_at=${record.expiresAt.toISOString()}\n` : '';
      process.stdout.write(`key_id=${record.id}\n${expiry}key=${key}\n(the key is shown only now; store it safely)\n`);
    } else if (noun === 'key' && verb === 'revoke' && rest[0]) {
      await keys.revoke(rest[0], 'admin-cli');
      process.stdout.write(`revoked ${rest[0]}\n`);
    } else {
      process.stderr.write(`${USAGE}\n`);
      process.exitCode = 2;
    }
  } finally {
    await app.close();
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof ConfigError ? e.message : `error: ${e instanceof Error ? e.message : String(e)}`}\n`);
  process.exit(1);
});

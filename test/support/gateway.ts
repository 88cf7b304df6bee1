import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { INestApplication } from '@nestjs/common';
import { AppConfig, loadConfig } from '@app/common';
import { BillingService, DeferredSettlements, PriceBook } from '@app/billing';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { ModelCatalog, ProviderClient } from '@app/providers';
import { JobCompletionSignal } from '@app/queue';
import { AttemptObserver } from '@app/routing';
import { IMAGE_STORE, type ImageStore } from '@app/storage';
import { ImageGenerationProcessor } from '../../apps/worker/src/image-generation.processor';
import { createGateway } from '../../apps/gateway/src/bootstrap';
import { createTestDatabase, realRedisUrl } from './databases';
import { startSimulator, type SimulatorHandle } from '../../apps/simulator/src';
import { gatewayEnvForSimulator } from '../../apps/simulator/src/gateway-env';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** Every log line the gateway wrote, so tests can check what is (never) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestGateway {
  url: string;
  /** the upstream simulator every provider points at (started unless `simulator: false`) */
  sim: SimulatorHandle;
  app: INestApplication;
  config: AppConfig;
  logs: LogCapture;
  /** fetch against the gateway with the admin token */
  admin(path: string, init?: { method?: string; body?: unknown; token?: string | null }): Promise<{ status: number; body: any }>;
  /**
   * Waits for the settlements the gateway writes after its answers (DeferredSettlements), so a test that
   * reads usage records or balances from the database directly sees them, as the gateway's own reads do.
   */
  settled(): Promise<void>;
  /** a tenant with credit and one key */
  newTenant(creditUsd?: number, keyOptions?: Record<string, unknown>): Promise<{ tenantId: string; keyId: string; key: string }>;
  close(): Promise<void>;
}

/**
 * Boots the real gateway in this process on a free loopback port, on the embedded database and queue, or
 * on the real Postgres/Redis when the suite runs with DATABASE_URL/REDIS_URL.
 */
export async function startGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const db = await createTestDatabase();
  const sim = await startSimulator();
  const config = loadConfig({
    ...gatewayEnvForSimulator(sim.url),
    LOG_LEVEL: 'info',
    ADMIN_TOKEN,
    QUEUE_PREFIX: `t${randomBytes(4).toString('hex')}`,
    ...(realRedisUrl ? { REDIS_URL: realRedisUrl } : {}),
    ...db.env,
    ...env,
  });
  const logs = new LogCapture();
  let app: INestApplication;
  try {
    app = await createGateway(config, logs);
    await app.listen(0, '127.0.0.1');
  } catch (e) {
    await sim.close();
    await db.drop();
    throw e;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const admin: TestGateway['admin'] = async (path, init = {}) => {
    const token = init.token === undefined ? ADMIN_TOKEN : init.token;
    const res = await fetch(`${url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  return {
    url,
    sim,
    app,
    config,
    logs,
    admin,
    settled: () => app.get(DeferredSettlements).flush(undefined, 10_000),
    async newTenant(creditUsd = 10, keyOptions = {}) {
      const t = await admin('/admin/tenants', { body: { name: `tenant-${randomBytes(3).toString('hex')}`, credit_usd: creditUsd } });
      if (t.status !== 201) throw new Error(`tenant create failed: ${JSON.stringify(t.body)}`);
      const k = await admin(`/admin/tenants/${t.body.id}/keys`, { body: keyOptions });
      if (k.status !== 201) throw new Error(`key create failed: ${JSON.stringify(k.body)}`);
      return { tenantId: t.body.id, keyId: k.body.id, key: k.body.key };
    },
    async close() {
      await app.close();
      await sim.close();
      await db.drop();
    },
  };
}

/**
 * An image-generation processor of its own on `app`'s services, as a worker in another process would run jobs:
 * nothing but the job's row (or `signal`, a completion signal the gateway does not listen to) tells the gateway
 * a job is done. `db` replaces the database it writes through (e.g. one that counts statements).
 */
export function standaloneImageProcessor(app: INestApplication, overrides: { db?: SqlDatabase; signal?: JobCompletionSignal } = {}): ImageGenerationProcessor {
  return new ImageGenerationProcessor(
    overrides.db ?? app.get<SqlDatabase>(SQL_DATABASE),
    app.get(BillingService),
    app.get(PriceBook),
    app.get(ModelCatalog),
    app.get(ProviderClient),
    app.get<ImageStore>(IMAGE_STORE),
    overrides.signal ?? new JobCompletionSignal(),
    app.get(AttemptObserver),
  );
}

/**
 * `npm run demo`: the gateway on http://127.0.0.1:3000 (embedded mode) wired to the upstream simulator,
 * with a demo tenant and key printed at start-up, so every route can be tried without provider accounts.
 */
import { loadConfig, environmentWith as loadEnvironmentWith } from '@app/common';
import { ApiKeyService, TenantService } from '@app/tenancy';
import { usdToMicros } from '@app/billing';
import { createGateway } from '../../gateway/src/bootstrap';
import { startSimulator } from './index';
import { gatewayEnvForSimulator } from './gateway-env';

async function main(): Promise<void> {
  const sim = await startSimulator({ port: 0, host: '127.0.0.1' });
  // The simulator replaces every provider, whatever the environment says; the rest can be overridden.
  const config = loadConfig({
    ...loadEnvironmentWith({ DATA_DIR: '.data/demo', ADMIN_TOKEN: 'demo-admin-token-change-me' }),
    ...gatewayEnvForSimulator(sim.url),
  });
  const app = await createGateway(config);
  await app.listen(config.PORT, config.HOST);
  const tenant = await app.get(TenantService).create('demo', usdToMicros(10));
  const { key } = await app.get(ApiKeyService).create(tenant.id, { name: 'demo' });
  process.stdout.write(
    `\nSwitchyard demo: gateway http://${config.HOST}:${config.PORT} (Swagger UI at /docs), upstream simulator ${sim.url}\n` +
      `demo tenant ${tenant.id} with $10.00; key: ${key}\nadmin token: ${config.ADMIN_TOKEN}\n\n` +
      `  curl -s http://${config.HOST}:${config.PORT}/v1/models -H "Authorization: Bearer ${key}"\n\n`,
  );
  const stop = async () => {
    await app.close();
    await sim.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

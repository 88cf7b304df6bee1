import pino from 'pino';
import { ConfigError, loadConfigFromEnvironment } from '@app/common';
import { createGateway } from './bootstrap';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigFromEnvironment();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  // The first line says which mode runs, before anything else can log.
  const log = pino({ level: config.LOG_LEVEL });
  log.info(`Switchyard gateway starting: ${config.describeMode()} worker=${config.WORKER_IN_PROCESS ? 'in-process' : 'separate'}`);
  const app = await createGateway(config);
  const server = await app.listen(config.PORT, config.HOST);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  log.info(`Switchyard gateway listening on http://${config.HOST}:${port} (Swagger UI at /docs)`);
  // After SIGTERM, Nest's shutdown stops accepting, gives in-flight requests most of the grace period, cuts and
  // settles what still runs, and writes the usage records (GatewayShutdown); never wait longer than the grace period.
  process.once('SIGTERM', () => setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS).unref());
}

void main().catch((e: unknown) => {
  process.stderr.write(`Switchyard gateway failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

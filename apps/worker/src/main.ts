import 'reflect-metadata';
import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import pino from 'pino';
import { ConfigError, loadConfigFromEnvironment } from '@app/common';
import { WorkerAppModule } from './worker-app.module';

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
  pino({ level: config.LOG_LEVEL }).info(`Switchyard worker starting: ${config.describeMode()}`);
  // An HTTP app only for its health and metrics routes (HealthController): processors do the work.
  const app = await NestFactory.create(WorkerAppModule.forRoot(config), { bufferLogs: true, bodyParser: false, abortOnError: false });
  app.useLogger(app.get(Logger));
  // SIGTERM: stop taking jobs and let active ones finish (WorkerHost closes its worker gracefully).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  // The port before `init`, which starts the processors: a port already taken stops the start before any job is
  // taken, instead of leaving taken jobs to stall until their locks lapse.
  const server: Server = app.getHttpServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.WORKER_HTTP_PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)} (WORKER_HTTP_PORT=${config.WORKER_HTTP_PORT}: one port per worker process on a host)`);
  });
  await app.init();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.WORKER_HTTP_PORT;
  app.get(Logger).log(`worker ready; health and metrics on http://${config.HOST}:${port} (/health/live, /health/ready, /metrics)`);
  // Active jobs get the grace period to finish; a job still running after it is picked up again by
  // another worker once its lock lapses, and bills at most once.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS).unref());
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`Switchyard worker failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

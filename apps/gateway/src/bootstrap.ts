import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppConfig } from '@app/common';
import { setupSwagger } from './docs/swagger';
import { GatewayModule } from './gateway.module';
import { validationPipe } from './validation';

/** Builds the gateway app (used by main.ts and by the tests, which boot it in-process). */
export async function createGateway(config: AppConfig, logDestination?: DestinationStream): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.forRoot(config, logDestination), {
    // Bodies are parsed by JsonBodyMiddleware so that parse errors reach the envelope filter.
    bodyParser: false,
    bufferLogs: true,
    // Throw instead of exiting, so the caller (main.ts or a test) decides what a failed boot means.
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.useGlobalPipes(validationPipe());
  setupSwagger(app, config.publicBaseUrl);
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  return app;
}

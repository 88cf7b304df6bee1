/**
 * The benchmark's floor: the least a NestJS gateway can do. One controller parses the JSON body (Nest's
 * default body parser), sends it with `undici.request` over a keep-alive pool to the upstream simulator's
 * OpenAI routes, and pipes the answer back: no auth, no limits, no billing, no translation. Switchyard's
 * cost is read against this process measured in the same run.
 *
 * Standalone: `node dist/bench/bench/bare-forwarder.js --port 4020 --upstream http://127.0.0.1:4010`.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Body, Controller, type DynamicModule, Inject, Module, Post, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Response } from 'express';
import { Pool } from 'undici';

const UPSTREAM_POOL = Symbol('UPSTREAM_POOL');
/** the simulator's key for the OpenAI routes; a real gateway would hold the provider key the same way */
const UPSTREAM_KEY = 'sk-sim-openai';

@Controller('v1')
class BareForwarderController {
  constructor(@Inject(UPSTREAM_POOL) private readonly pool: Pool) {}

  @Post('chat/completions')
  chat(@Body() body: unknown, @Res() res: Response): Promise<void> {
    return this.forward('/openai/v1/chat/completions', body, res);
  }

  @Post('images/generations')
  images(@Body() body: unknown, @Res() res: Response): Promise<void> {
    return this.forward('/openai/v1/images/generations', body, res);
  }

  private async forward(path: string, body: unknown, res: Response): Promise<void> {
    const up = await this.pool.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` },
      body: JSON.stringify(body),
    });
    res.status(up.statusCode);
    const type = up.headers['content-type'];
    if (typeof type === 'string') res.setHeader('content-type', type);
    up.body.pipe(res);
  }
}

@Module({})
class BareForwarderModule {
  static forUpstream(upstreamOrigin: string): DynamicModule {
    return {
      module: BareForwarderModule,
      controllers: [BareForwarderController],
      providers: [{ provide: UPSTREAM_POOL, useFactory: () => new Pool(upstreamOrigin, { connections: 64, keepAliveTimeout: 30_000 }) }],
    };
  }
}

export interface BareForwarderHandle {
  url: string;
  close(): Promise<void>;
}

export async function startBareForwarder(options: { upstreamOrigin: string; port?: number; host?: string }): Promise<BareForwarderHandle> {
  const app = await NestFactory.create(BareForwarderModule.forUpstream(options.upstreamOrigin), { logger: false, abortOnError: false });
  const host = options.host ?? '127.0.0.1';
  await app.listen(options.port ?? 0, host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { url: `http://${host}:${port}`, close: () => app.close() };
}

function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const upstreamOrigin = argValue(argv, '--upstream');
  if (!upstreamOrigin) {
    process.stderr.write('usage: bare-forwarder --upstream <origin> [--port N]\n');
    process.exit(2);
  }
  startBareForwarder({ upstreamOrigin, port: Number(argValue(argv, '--port') ?? 0) }).then(
    (h) => process.stdout.write(`bare forwarder listening on ${h.url}\n`),
    (e: unknown) => {
      process.stderr.write(`bare forwarder failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

/**
 * The gateway's part of a shutdown (SIGTERM, or `app.close()`), run before any other shutdown hook, within
 * `SHUTDOWN_GRACE_MS` (main.ts exits the process when it runs out):
 *
 * 1. stop accepting: the listening socket closes, idle connections are closed, and a request that still arrives
 *    on an open connection gets 503 `server_shutting_down` (`RequestDrainMiddleware`);
 * 2. requests in flight get until `shutdownPlan().cutAtMs` to end by themselves;
 * 3. what still runs is cut: a stream ends with an error event (never `[DONE]`), a non-streamed chat call
 *    answers 503, each settled for what it used (as a client disconnect is), and its upstream call cancelled;
 * 4. connections of requests that still have not ended (a client that stopped reading) are closed at
 *    `closeAtMs`, which lets their settlements through;
 * 5. then `DeferredSettlements` writes the usage records in flight until `settledByMs` and spools the rest;
 *    Nest closes the HTTP server, then the database.
 */
import type { Server } from 'node:http';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AppConfig, RequestDrain, shutdownPlan } from '@app/common';
import { DeferredSettlements } from '@app/billing';

@Injectable()
export class GatewayShutdown implements OnModuleDestroy {
  private readonly logger = new Logger(GatewayShutdown.name);

  constructor(
    private readonly config: AppConfig,
    private readonly drain: RequestDrain,
    private readonly settlements: DeferredSettlements,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** `onModuleDestroy`: Nest runs every one of these before any `beforeApplicationShutdown` (the settlements' flush). */
  async onModuleDestroy(): Promise<void> {
    const began = Date.now();
    const grace = this.config.SHUTDOWN_GRACE_MS;
    const plan = shutdownPlan(grace);
    this.settlements.shutdownBy(began + plan.settledByMs);
    this.drain.stopAccepting();
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    // No new connections; Node also closes the idle ones (Nest's own close later waits for the rest).
    server?.close();
    if (this.drain.size === 0) return;
    this.logger.log(`shutting down: ${this.drain.requests} request(s) in flight get ${plan.cutAtMs} ms to finish`);
    if (await this.drain.idle(began + plan.cutAtMs)) return this.closeIdle(server);

    const cut = this.drain.cut();
    this.logger.warn(`${cut} call(s) still running after ${plan.cutAtMs} ms of the ${grace} ms grace period: cut short and settled for what they used`);
    if (!(await this.drain.idle(began + plan.closeAtMs))) {
      const closed = this.drain.closeConnections();
      if (closed > 0) this.logger.warn(`${closed} connection(s) of requests that did not end after the cut closed`);
      await this.drain.idle(began + plan.settledByMs);
    }
    this.closeIdle(server);
  }

  /** Connections that became idle since (a finished stream keeps its connection alive), so Nest's close need not wait for them. */
  private closeIdle(server: Server | undefined): void {
    server?.closeIdleConnections?.();
  }
}

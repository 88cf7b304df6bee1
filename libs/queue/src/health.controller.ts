import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { AppConfig, MetricsService } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { QueueHealth, withTimeout } from './queue-health';

/**
 * Liveness, readiness and Prometheus metrics of a process: the gateway serves them beside its API, and a separate
 * worker on WORKER_HTTP_PORT (it has no other HTTP). Readiness is what both need to work: the database and the queue
 * backend answering.
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    private readonly queue: QueueHealth,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
  ) {}

  /** the process is up */
  @Get('health/live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** the process can serve: the database and the queue backend answer */
  @Get('health/ready')
  async ready(@Res({ passthrough: true }) res: Response): Promise<Record<string, unknown>> {
    const [database, queue] = await Promise.all([
      withTimeout(this.db.query('SELECT 1'), 2000, 'database').then(() => 'ok', (e: Error) => e.message),
      this.queue.check(2000).then(() => 'ok', (e: Error) => e.message),
    ]);
    const ok = database === 'ok' && queue === 'ok';
    res.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks: { database, queue }, mode: this.config.describeMode() };
  }

  @Get('metrics')
  async prometheus(@Res() res: Response): Promise<void> {
    await this.queue.check(1000).catch(() => undefined);
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}

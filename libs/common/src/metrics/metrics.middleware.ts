import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService, routeFamily } from './metrics.service';

@Injectable()
export class MetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const family = routeFamily(req.path);
      this.metrics.httpRequests.inc({ family, method: req.method, status: String(res.statusCode) });
      this.metrics.httpLatency.observe({ family }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  }
}

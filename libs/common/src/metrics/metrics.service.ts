import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics, one registry per process (tests boot several apps in one process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'switchyard_http_requests_total',
    help: 'HTTP requests by route family, method and status',
    labelNames: ['family', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpLatency = new Histogram({
    name: 'switchyard_http_request_duration_seconds',
    help: 'HTTP request latency by route family',
    labelNames: ['family'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'switchyard_upstream_errors_total',
    help: 'Upstream failures by provider and kind',
    labelNames: ['provider', 'kind'] as const,
    registers: [this.registry],
  });
  readonly modelCooldowns = new Counter({
    name: 'switchyard_model_cooldowns_total',
    help: 'Times a model was put in cooldown (passed over in fallback chains) after consecutive upstream failures',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly rateLimitBreakerOpen = new Gauge({
    name: 'switchyard_rate_limit_breaker_open',
    help: '1 while the rate limiter answers 503 without asking its backend (Redis or the database) after consecutive failures, else 0',
    registers: [this.registry],
  });
  readonly imagesPurged = new Counter({
    name: 'switchyard_images_purged_total',
    help: 'Stored images deleted by the retention purge (IMAGE_RETENTION_HOURS)',
    registers: [this.registry],
  });
  readonly imagePurgeFailures = new Counter({
    name: 'switchyard_image_purge_failures_total',
    help: 'Failed attempts of the retention purge to delete a stored image\'s file (the image is kept and tried again an hour later)',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'switchyard_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
  }
}

export function routeFamily(path: string): string {
  if (path.startsWith('/v1beta')) return 'v1beta';
  if (path.startsWith('/v1/')) return path.split('/').slice(0, 3).join('/');
  if (path.startsWith('/admin')) return 'admin';
  if (path.startsWith('/health')) return 'health';
  return 'other';
}

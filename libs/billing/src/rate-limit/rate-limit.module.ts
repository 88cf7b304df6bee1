import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig, MetricsService } from '@app/common';
import { PrismaService } from '@app/database';
import { DatabaseRateLimitBackend } from './database-rate-limit.backend';
import { RedisRateLimitBackend } from './redis-rate-limit.backend';
import { RATE_LIMIT_TIMEOUT_MS, RateLimiter, type RateLimiterOptions } from './rate-limiter.service';

/** how long boot waits for the rate-limit Redis connection before carrying on (checks answer 503 until it is up) */
const REDIS_READY_WAIT_MS = 3000;

/** `<QUEUE_PREFIX>:rate-limit`, so deployments that share a Redis (or a database) keep separate counters. */
export function rateLimitKeyPrefix(config: AppConfig): string {
  return `${config.QUEUE_PREFIX}:rate-limit`;
}

/**
 * The backend follows the deployment mode: Redis when REDIS_URL is set (the limiter owns that connection
 * and closes it on shutdown), otherwise the database every replica already shares.
 */
export function createRateLimiter(config: AppConfig, prisma: PrismaService, options: RateLimiterOptions = {}): RateLimiter {
  const backend = config.REDIS_URL
    ? RedisRateLimitBackend.connect(config.REDIS_URL, rateLimitKeyPrefix(config), {
        commandTimeoutMs: options.timeoutMs ?? RATE_LIMIT_TIMEOUT_MS.redis,
      })
    : new DatabaseRateLimitBackend(prisma, rateLimitKeyPrefix(config));
  return new RateLimiter(backend, options);
}

async function rateLimiterFactory(config: AppConfig, prisma: PrismaService, metrics: MetricsService): Promise<RateLimiter> {
  const limiter = createRateLimiter(config, prisma, { onCircuitChange: (open) => metrics.rateLimitBreakerOpen.set(open ? 1 : 0) });
  if (limiter.backend instanceof RedisRateLimitBackend && !(await limiter.backend.waitUntilReady(REDIS_READY_WAIT_MS))) {
    new Logger(RateLimiter.name).warn('Redis for rate limits is not reachable yet; rate-limited requests answer 503 until it is');
  }
  new Logger(RateLimiter.name).log(`rate limits on ${limiter.backend.name === 'redis' ? 'Redis (REDIS_URL)' : 'the database'}`);
  return limiter;
}

/**
 * Provides `RateLimiter`; needs the global AppConfig, PrismaService and MetricsService (ConfigModule,
 * DatabaseModule, CommonModule). Its circuit's state is the `switchyard_rate_limit_breaker_open` gauge.
 */
@Global()
@Module({
  providers: [{ provide: RateLimiter, inject: [AppConfig, PrismaService, MetricsService], useFactory: rateLimiterFactory }],
  exports: [RateLimiter],
})
export class RateLimitModule {}

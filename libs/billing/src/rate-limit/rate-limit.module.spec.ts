import { AppConfig, loadConfig } from '@app/common';
import type { PrismaService } from '@app/database';
import { DatabaseRateLimitBackend } from './database-rate-limit.backend';
import { createRateLimiter } from './rate-limit.module';
import { RedisRateLimitBackend } from './redis-rate-limit.backend';

describe('createRateLimiter', () => {
  const prisma = {} as PrismaService;
  const config = (env: Record<string, string>): AppConfig => loadConfig({ QUEUE_PREFIX: 'acme', ...env });

  it('uses the database without REDIS_URL, with the deployment prefix in its keys', async () => {
    const limiter = createRateLimiter(config({}), prisma);
    expect(limiter.backend).toBeInstanceOf(DatabaseRateLimitBackend);
    expect((limiter.backend as DatabaseRateLimitBackend).counterKey({ keyId: 'k1', kind: 'requests' })).toBe('acme:rate-limit:k1:requests');
    await limiter.onApplicationShutdown();
  });

  it('uses its own Redis connection with REDIS_URL, keys hash-tagged by API key', async () => {
    // Port 1 refuses at once; the connection is closed again right away.
    const limiter = createRateLimiter(config({ REDIS_URL: 'redis://127.0.0.1:1' }), prisma);
    expect(limiter.backend).toBeInstanceOf(RedisRateLimitBackend);
    expect((limiter.backend as RedisRateLimitBackend).counterKey({ keyId: 'k1', kind: 'images' }, 120_000)).toBe('acme:rate-limit:{k1}:images:120000');
    await limiter.onApplicationShutdown();
  });
});

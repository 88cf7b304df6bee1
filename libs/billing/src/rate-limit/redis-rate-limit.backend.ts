import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import type { RateLimitBackend, RateLimitConsumption, RateLimitCounter } from './rate-limit.types';

/**
 * Checks every counter of the request and increments all of them only when all have room, in one atomic
 * step: a refused request consumes nothing, and an image request refused by its image limit does not use
 * up a request slot.
 *
 * KEYS[i]: the counters of one request in the current window. ARGV[1]: TTL in ms;
 * ARGV[2i], ARGV[2i+1]: cost and limit of KEYS[i]. Returns { admitted (1/0), used_1, ..., used_n }.
 */
const CONSUME_SCRIPT = `
local used = {}
local admitted = 1
for i = 1, #KEYS do
  used[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used[i] + tonumber(ARGV[2 * i]) > tonumber(ARGV[2 * i + 1]) then admitted = 0 end
end
if admitted == 1 then
  for i = 1, #KEYS do
    used[i] = redis.call('INCRBY', KEYS[i], ARGV[2 * i])
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  end
end
table.insert(used, 1, admitted)
return used
`;
const CONSUME_SHA = createHash('sha1').update(CONSUME_SCRIPT).digest('hex');

export interface RedisRateLimitOptions {
  /** bounds every command, so a hung server costs a request at most this long */
  commandTimeoutMs: number;
}

/** Counters in Redis: one key per API key, limit and window, expiring by itself. */
export class RedisRateLimitBackend implements RateLimitBackend {
  readonly name = 'redis';
  private readonly logger = new Logger(RedisRateLimitBackend.name);
  private connectionError: string | null = null;

  /**
   * `keyPrefix` namespaces the counters (several deployments can share one Redis). The API key id is a
   * hash tag, so the keys of one check land in one Redis Cluster slot, as a multi-key script requires.
   */
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {
    redis.on('error', (e: Error) => {
      if (this.connectionError === e.message) return;
      this.connectionError = e.message;
      this.logger.warn(`Redis connection for rate limits: ${e.message}`);
    });
    redis.on('ready', () => {
      this.connectionError = null;
    });
  }

  /**
   * A connection of its own, tuned to fail fast: no offline queue (a command while disconnected fails at
   * once instead of waiting, and is never replayed later to count a request that was already answered 503),
   * no resending of unanswered commands after a reconnect, and a per-command timeout for a hung server.
   */
  static connect(url: string, keyPrefix: string, options: RedisRateLimitOptions): RedisRateLimitBackend {
    const redis = new Redis(url, {
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: 2000,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      connectionName: keyPrefix,
    });
    return new RedisRateLimitBackend(redis, keyPrefix);
  }

  /**
   * Waits (bounded) for the first connection, since without an offline queue a check sent before it fails.
   * Returns false instead of throwing: a Redis that is down at boot makes checks answer 503, not the boot fail.
   */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.on('ready', onReady);
    });
  }

  counterKey(counter: Pick<RateLimitCounter, 'keyId' | 'kind'>, windowStartMs: number): string {
    return `${this.keyPrefix}:{${counter.keyId}}:${counter.kind}:${windowStartMs}`;
  }

  async consume(counters: RateLimitCounter[], windowStartMs: number, windowMs: number): Promise<RateLimitConsumption> {
    const keys = counters.map((c) => this.counterKey(c, windowStartMs));
    // Two windows of life: the current one, and slack for replicas whose clocks run a little behind.
    const args = [String(2 * windowMs), ...counters.flatMap((c) => [String(c.cost), String(c.limit)])];
    let reply: unknown;
    try {
      reply = await this.redis.evalsha(CONSUME_SHA, keys.length, ...keys, ...args);
    } catch (e) {
      // The script cache is empty after a restart or failover: send the script once, Redis caches it again.
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      reply = await this.redis.eval(CONSUME_SCRIPT, keys.length, ...keys, ...args);
    }
    if (!Array.isArray(reply) || reply.length !== counters.length + 1 || !reply.every((v) => typeof v === 'number')) {
      throw new Error('unexpected reply from the rate-limit script');
    }
    const [admitted, ...used] = reply as number[];
    return { admitted: admitted === 1, used };
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    if (this.redis.status !== 'ready') {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

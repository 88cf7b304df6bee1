import { Queue, Worker, type RedisOptions } from 'bullmq';
import { PRODUCER_COMMAND_TIMEOUT_MS, producerRedisOptions, redisOptionsFromUrl } from './queue-connection';

interface BackendInternals {
  connection: RedisConnectionInternals;
  blockingConnection?: RedisConnectionInternals;
}
interface RedisConnectionInternals {
  opts: RedisOptions;
  _client?: { disconnect(): void };
}

/** the options BullMQ built a backend's main connection from */
function connectionOptions(q: Queue | Worker): RedisOptions {
  return (q.getBackend() as unknown as BackendInternals).connection.opts;
}

/** drops the raw clients, which end their reconnect loops (a close would wait for a first connection) */
function drop(q: Queue | Worker): void {
  const backend = q.getBackend() as unknown as BackendInternals;
  backend.connection._client?.disconnect();
  backend.blockingConnection?._client?.disconnect();
}

describe('BullMQ connections on Redis', () => {
  // Nothing listens there: the connections only retry in the background until they are closed.
  const url = 'redis://127.0.0.1:9/3';

  it('reads REDIS_URL, and reconnects within two seconds of Redis returning', () => {
    const o = redisOptionsFromUrl('rediss://user:p%40ss@redis.internal:6380/2');
    expect(o).toMatchObject({ host: 'redis.internal', port: 6380, username: 'user', password: 'p@ss', db: 2, tls: {}, maxRetriesPerRequest: null });
    const retry = o.retryStrategy as (attempt: number) => number;
    expect([1, 5, 100].map(retry)).toEqual([200, 1000, 2000]);
  });

  it('makes producers fail fast and leaves workers waiting for Redis to return', () => {
    const queue = new Queue('q', { connection: redisOptionsFromUrl(url) });
    const worker = new Worker('q', async () => undefined, { connection: redisOptionsFromUrl(url), autorun: false });
    queue.on('error', () => undefined);
    worker.on('error', () => undefined);
    try {
      expect(connectionOptions(queue)).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS, db: 3 });
      const workerOptions = connectionOptions(worker);
      expect(workerOptions.maxRetriesPerRequest).toBeNull();
      expect(workerOptions.enableOfflineQueue).toBeUndefined();
      expect(workerOptions.commandTimeout).toBeUndefined();
    } finally {
      drop(queue);
      drop(worker);
    }
  });

  it('only adds the fail-fast options to what it is given', () => {
    expect(producerRedisOptions({ host: 'h', port: 1 })).toEqual({ host: 'h', port: 1, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS });
  });
});

import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { MetricsService } from '@app/common';
import { IMAGE_QUEUE, MAINTENANCE_QUEUE } from './queue.constants';

/** Readiness of the queue backend, and queue depth for /metrics. */
@Injectable()
export class QueueHealth {
  private readonly queues: Queue[];

  constructor(
    @InjectQueue(MAINTENANCE_QUEUE) maintenance: Queue,
    @InjectQueue(IMAGE_QUEUE) images: Queue,
    private readonly metrics: MetricsService,
  ) {
    this.queues = [maintenance, images];
  }

  /** resolves when the backend answers a real query within the timeout, rejects otherwise */
  async check(timeoutMs = 2000): Promise<void> {
    await withTimeout(
      Promise.all(
        this.queues.map(async (q) => {
          const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
          for (const [state, n] of Object.entries(counts)) this.metrics.queueDepth.set({ queue: q.name, state }, n);
        }),
      ),
      timeoutMs,
      'queue backend',
    );
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

import { OnQueueEvent, QueueEventsHost, QueueEventsListener } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import type { AppConfig } from '@app/common';
import { IMAGE_QUEUE, JobCompletionSignal } from '@app/queue';

/**
 * Whether the gateway listens to the image queue's events (`ImageJobEvents` is registered): on a shared Postgres,
 * where gateways and workers can be separate processes. The embedded database is one process.
 */
export function listensToQueueEvents(config: AppConfig): boolean {
  return config.databaseMode === 'postgres';
}

/**
 * Wakes the requests waiting for an image job that a worker in another process finished. BullMQ's queue events
 * (a Redis stream, or LISTEN/NOTIFY on its Postgres backend) reach every gateway; each one passes them to its
 * waiters through `JobCompletionSignal`, and a woken waiter reads the job's row. Polling the row stays as the
 * fallback for an event missed while the connection was down.
 *
 * Registered by `GatewayModule` when `listensToQueueEvents`; on the embedded database the in-process worker
 * hands finished jobs over directly.
 */
@QueueEventsListener(IMAGE_QUEUE)
export class ImageJobEvents extends QueueEventsHost {
  private readonly logger = new Logger(ImageJobEvents.name);
  /** when the last warning was logged: at most one a minute, not one per reconnection attempt */
  private warnedAt = 0;

  constructor(private readonly completion: JobCompletionSignal) {
    super();
  }

  @OnQueueEvent('completed')
  onCompleted({ jobId }: { jobId: string }): void {
    this.completion.notify(jobId);
  }

  @OnQueueEvent('failed')
  onFailed({ jobId }: { jobId: string }): void {
    this.completion.notify(jobId);
  }

  // Without a listener an 'error' event would end the process; a lost connection only means waiters poll.
  @OnQueueEvent('error')
  onError(error: Error): void {
    if (Date.now() - this.warnedAt < 60_000) return;
    this.warnedAt = Date.now();
    this.logger.warn(`image job events not received (${error.message}); waiting requests poll their jobs meanwhile`);
  }
}

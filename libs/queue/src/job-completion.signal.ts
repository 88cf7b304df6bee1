import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';

/**
 * Wakes a request that waits for a job when the job finishes in the same process (the default, with the
 * worker in-process). Waiters still poll the job's row, which is what works across processes; this only
 * shortens the wait.
 */
@Injectable()
export class JobCompletionSignal {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  notify(jobId: string): void {
    this.emitter.emit(jobId);
  }

  /** resolves when `jobId` is notified or after `ms`, whichever comes first */
  wait(jobId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.emitter.off(jobId, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.emitter.once(jobId, done);
    });
  }
}

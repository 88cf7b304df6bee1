import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';
import type { FinishedImageJob } from './image-job.types';

/** A notice that a job finished, with what the worker handed over (absent when it only knows the job is done). */
export interface JobNotice {
  finished?: FinishedImageJob;
}

/** Notices about one job, kept from `listen` until `stop`, so none is missed between two waits. */
export interface JobListener {
  /** the notice that arrived since the last call, else the next one within `ms`; undefined when none came */
  next(ms: number): Promise<JobNotice | undefined>;
  stop(): void;
}

/**
 * Wakes a request that waits for a job when the job finishes in the same process (the default, with the
 * worker in-process), handing it the finished job so it need not read it back. Waiters still poll the job's
 * row, which is what works across processes; this only shortens the wait and saves the reads.
 */
@Injectable()
export class JobCompletionSignal {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  /** `finished`: the job as the worker finished it; absent when the worker only knows that it is done */
  notify(jobId: string, finished?: FinishedImageJob): void {
    this.emitter.emit(jobId, finished);
  }

  /** Listens for notices about `jobId` until `stop()`; one that arrives while nobody waits is kept for the next `next`. */
  listen(jobId: string): JobListener {
    let kept: JobNotice | undefined;
    let deliver: ((notice: JobNotice | undefined) => void) | undefined;
    const onNotice = (finished?: FinishedImageJob): void => {
      const notice: JobNotice = finished ? { finished } : {};
      if (deliver) deliver(notice);
      else kept = notice;
    };
    this.emitter.on(jobId, onNotice);
    return {
      next: (ms) => {
        if (kept) {
          const notice = kept;
          kept = undefined;
          return Promise.resolve(notice);
        }
        return new Promise((resolve) => {
          const timer = setTimeout(() => settle(undefined), ms);
          const settle = (notice: JobNotice | undefined): void => {
            clearTimeout(timer);
            deliver = undefined;
            resolve(notice);
          };
          deliver = settle;
        });
      },
      stop: () => {
        this.emitter.off(jobId, onNotice);
        deliver?.(undefined);
      },
    };
  }
}

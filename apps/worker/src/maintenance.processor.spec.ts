import type { Job, Queue } from 'bullmq';
import type { ReservationSweeper } from '@app/billing';
import {
  PURGE_EXPIRED_IMAGES_AGAIN_AFTER_MS,
  PURGE_EXPIRED_IMAGES_INTERVAL_MS,
  PURGE_EXPIRED_IMAGES_JOB,
  RECONCILE_IMAGE_JOBS_JOB,
  RECONCILE_INTERVAL_MS,
  SWEEP_INTERVAL_MS,
  SWEEP_RESERVATIONS_JOB,
} from '@app/queue';
import type { ImageJobReconciler } from './image-job-reconciler';
import type { ImageRetentionPurger, PurgeReport } from './image-retention-purger';
import { MaintenanceProcessor } from './maintenance.processor';

function processor(report: PurgeReport) {
  const queue = { upsertJobScheduler: jest.fn(async () => undefined), add: jest.fn(async () => undefined) };
  const purger = { purge: jest.fn(async () => report) };
  const p = new MaintenanceProcessor({} as ReservationSweeper, {} as ImageJobReconciler, purger as unknown as ImageRetentionPurger, queue as unknown as Queue);
  return { p, queue, purger };
}

const report = (r: Partial<PurgeReport>): PurgeReport => ({ deleted: 0, bytes: 0, jobs: 0, failed: 0, full: false, ...r });
const job = (name: string) => ({ name }) as Job;

describe('MaintenanceProcessor', () => {
  it('schedules the sweep, the reconciliation and the image purge, each under its name and interval', async () => {
    const { p, queue } = processor(report({}));
    await p.onApplicationBootstrap();
    expect(queue.upsertJobScheduler.mock.calls).toEqual([
      [SWEEP_RESERVATIONS_JOB, { every: SWEEP_INTERVAL_MS }, { name: SWEEP_RESERVATIONS_JOB }],
      [RECONCILE_IMAGE_JOBS_JOB, { every: RECONCILE_INTERVAL_MS }, { name: RECONCILE_IMAGE_JOBS_JOB }],
      [PURGE_EXPIRED_IMAGES_JOB, { every: PURGE_EXPIRED_IMAGES_INTERVAL_MS }, { name: PURGE_EXPIRED_IMAGES_JOB }],
    ]);
  });

  it('runs the purge again soon after a full batch that deleted something', async () => {
    const full = report({ deleted: 500, bytes: 9, full: true });
    const { p, queue, purger } = processor(full);
    expect(await p.process(job(PURGE_EXPIRED_IMAGES_JOB))).toEqual(full);
    expect(purger.purge).toHaveBeenCalledTimes(1);
    expect(queue.add.mock.calls).toEqual([[PURGE_EXPIRED_IMAGES_JOB, {}, { delay: PURGE_EXPIRED_IMAGES_AGAIN_AFTER_MS }]]);
  });

  it.each([
    ['a batch that was not full', report({ deleted: 3, full: false })],
    ['a full batch none of whose files could be deleted', report({ deleted: 0, failed: 500, full: true })],
  ])('waits for the next interval after %s', async (_label, r) => {
    const { p, queue } = processor(r);
    await p.process(job(PURGE_EXPIRED_IMAGES_JOB));
    expect(queue.add).not.toHaveBeenCalled();
  });
});

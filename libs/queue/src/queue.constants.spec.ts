import { IMAGE_JOB_OPTIONS, RECONCILE_IMAGE_JOBS_AFTER_MS, RECONCILE_INTERVAL_MS } from './queue.constants';

/** removeOnFail as BullMQ takes it: false/true, a count, or `{ age?, count? }` (age in seconds). */
function failedJobsKept(): { age?: number; count?: number } {
  const keep = IMAGE_JOB_OPTIONS.removeOnFail;
  if (typeof keep !== 'object' || keep === null) throw new Error(`removeOnFail is ${String(keep)}, not an age and count bound`);
  return keep as { age?: number; count?: number };
}

describe('IMAGE_JOB_OPTIONS', () => {
  it('keeps failed image jobs for a bounded time and number, never for ever (Redis runs with noeviction)', () => {
    const { age, count } = failedJobsKept();
    expect(Number.isInteger(age) && age! > 0).toBe(true);
    expect(Number.isInteger(count) && count! > 0).toBe(true);
  });

  it('keeps a failed job long past the moment the reconciler looks for the jobs the queue gave up on, and a day for inspection', () => {
    // The reconciler compares rows untouched for RECONCILE_IMAGE_JOBS_AFTER_MS with the queue every RECONCILE_INTERVAL_MS.
    const reconcilerNeedsS = (RECONCILE_IMAGE_JOBS_AFTER_MS + RECONCILE_INTERVAL_MS) / 1000;
    expect(failedJobsKept().age).toBeGreaterThanOrEqual(Math.max(24 * 60 * 60, 100 * reconcilerNeedsS));
  });
});

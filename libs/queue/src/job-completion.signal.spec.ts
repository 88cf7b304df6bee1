import { JobCompletionSignal } from './job-completion.signal';

describe('JobCompletionSignal', () => {
  it('wakes a waiter when its job is notified, and only that one', async () => {
    const signal = new JobCompletionSignal();
    const started = Date.now();
    let otherDone = false;
    const other = signal.wait('job-b', 300).then(() => (otherDone = true));
    const waiting = signal.wait('job-a', 5_000);
    signal.notify('job-a');
    await waiting;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(otherDone).toBe(false);
    await other;
  });

  it('gives up after the time given', async () => {
    const started = Date.now();
    await new JobCompletionSignal().wait('never', 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});

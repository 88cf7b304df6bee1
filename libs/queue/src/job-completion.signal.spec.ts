import type { FinishedImageJob } from './image-job.types';
import { JobCompletionSignal } from './job-completion.signal';

describe('JobCompletionSignal', () => {
  const finished = { record: { id: 'job-a', status: 'succeeded' } as FinishedImageJob['record'], images: [Buffer.from('png')] };

  it('wakes the listeners of a job when it is notified, with what the notice carries, and no one else', async () => {
    const signal = new JobCompletionSignal();
    const started = Date.now();
    let otherDone = false;
    const other = signal.listen('job-b');
    const otherHeard = other.next(300).then((n) => ((otherDone = true), n));
    const listeners = [signal.listen('job-a'), signal.listen('job-a')];
    const heard = listeners.map((l) => l.next(5_000));
    signal.notify('job-a', finished);
    expect(await Promise.all(heard)).toEqual([{ finished }, { finished }]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(otherDone).toBe(false);
    expect(await otherHeard).toBeUndefined();
    for (const l of [other, ...listeners]) l.stop();
  });

  it('keeps a notice that arrives between two waits for the next one, until stopped', async () => {
    const signal = new JobCompletionSignal();
    const listener = signal.listen('job-a');
    expect(await listener.next(10)).toBeUndefined();
    signal.notify('job-a', finished);
    const started = Date.now();
    expect(await listener.next(5_000)).toEqual({ finished });
    expect(Date.now() - started).toBeLessThan(1_000);
    const pending = listener.next(5_000);
    signal.notify('job-a');
    expect(await pending).toEqual({});
    const stopped = listener.next(5_000);
    listener.stop();
    expect(await stopped).toBeUndefined();
    signal.notify('job-a', finished);
    expect(await listener.next(10)).toBeUndefined();
  });

  it('gives up after the time given', async () => {
    const started = Date.now();
    const listener = new JobCompletionSignal().listen('never');
    expect(await listener.next(50)).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    listener.stop();
  });
});

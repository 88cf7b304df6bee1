/**
 * The lifetime of one request, and waits that end as soon as it is over (client gone, or the simulator
 * closing), so a stalled or delayed answer never leaves a timer or a socket behind. A hand-rolled
 * signal rather than AbortController: creating and aborting one per request showed up as ~10% of the
 * simulator's CPU in the benchmark (each abort builds a DOMException).
 */
export class RequestLifetime {
  private listeners: Array<() => void> | null = null;
  private over = false;

  get ended(): boolean {
    return this.over;
  }

  /** Runs `fn` when the request ends; returns a function that cancels the subscription. */
  onEnd(fn: () => void): () => void {
    if (this.over) {
      fn();
      return () => undefined;
    }
    (this.listeners ??= []).push(fn);
    return () => {
      if (this.listeners) this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  end(): void {
    if (this.over) return;
    this.over = true;
    const listeners = this.listeners;
    this.listeners = null;
    listeners?.forEach((l) => l());
  }
}

/** Resolves true after `ms`, or false as soon as the request ends. */
export function sleep(ms: number, life: RequestLifetime): Promise<boolean> {
  if (life.ended) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const cancel = life.onEnd(() => {
      clearTimeout(timer);
      resolve(false);
    });
    const timer = setTimeout(() => {
      cancel();
      resolve(true);
    }, ms);
  });
}

export function waitForEnd(life: RequestLifetime): Promise<void> {
  return new Promise((resolve) => life.onEnd(resolve));
}

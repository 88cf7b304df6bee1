/**
 * - `closed`: every call goes to the backend; consecutive failures are counted.
 * - `open`: calls are refused without touching the backend, until `openMs` after the circuit opened.
 * - `half-open`: one call (the probe) goes to the backend; every other call is refused until its result.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** What `admit` decided for one call: go ahead, go ahead as the half-open circuit's one probe, or do not call. */
export type CircuitAdmission = 'call' | 'probe' | 'refuse';

export interface CircuitBreakerOptions {
  /** consecutive failures (errors and timeouts alike) that open the circuit; at least 1 */
  failures: number;
  /** how long an open circuit refuses before it lets one probe through */
  openMs: number;
  now?: () => number;
}

/**
 * A circuit breaker for one backend, so that while it is down or hung a caller is refused at once instead of
 * waiting for its timeout, and the backend is asked once per `openMs` instead of once per request.
 *
 * The caller asks `admit()` before each call and reports the call's outcome with `succeeded`/`failed`, passing
 * back what `admit` returned; it must report every admitted call exactly once (a probe that is never reported
 * keeps the circuit half-open, refusing everything). Results of calls admitted before the circuit opened that
 * arrive while it is open or half-open change nothing: only the probe decides.
 *
 * While closed and healthy, `admit` and `succeeded` are one comparison each and allocate nothing. The state
 * belongs to this process (each replica learns from what it sees).
 *
 * Written here rather than taken from a library (opossum is the common one): this sits on every metered request,
 * and a wrapping breaker with its own timeout, events and rolling statistics allocates per call and would time the
 * call a second time; the rate limiter already owns the timeout and needs only the three states.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  /** while open: when the next probe may go */
  private probeAt = 0;
  private readonly failureThreshold: number;
  private readonly openMs: number;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions) {
    if (!Number.isInteger(options.failures) || options.failures < 1) throw new RangeError('failures must be a positive integer');
    if (!(options.openMs > 0)) throw new RangeError('openMs must be positive');
    this.failureThreshold = options.failures;
    this.openMs = options.openMs;
    this.now = options.now ?? Date.now;
  }

  /** `open` stays `open` until the first `admit` after `openMs` turns it `half-open` */
  get state(): CircuitState {
    return this.current;
  }

  /** consecutive failures counted while closed */
  get failures(): number {
    return this.consecutiveFailures;
  }

  admit(): CircuitAdmission {
    if (this.current === 'closed') return 'call';
    if (this.current === 'open' && this.now() >= this.probeAt) {
      this.current = 'half-open';
      return 'probe';
    }
    return 'refuse';
  }

  /**
   * Reports an admitted call that succeeded. Returns `closed` when it was the probe and closed the circuit,
   * `recovered` when it ended a run of failures too short to open it, otherwise null.
   */
  succeeded(admission: CircuitAdmission): 'closed' | 'recovered' | null {
    if (this.current === 'closed') {
      if (this.consecutiveFailures === 0) return null;
      this.consecutiveFailures = 0;
      return 'recovered';
    }
    if (admission !== 'probe' || this.current !== 'half-open') return null;
    this.current = 'closed';
    this.consecutiveFailures = 0;
    return 'closed';
  }

  /**
   * Reports an admitted call that failed or timed out. Returns `first` for the first failure of a run,
   * `opened` when this one opened the circuit, `reopened` when it was the probe, otherwise null.
   */
  failed(admission: CircuitAdmission): 'first' | 'opened' | 'reopened' | null {
    if (this.current === 'closed') {
      this.consecutiveFailures++;
      if (this.consecutiveFailures >= this.failureThreshold) {
        this.open();
        return 'opened';
      }
      return this.consecutiveFailures === 1 ? 'first' : null;
    }
    if (admission !== 'probe' || this.current !== 'half-open') return null;
    this.open();
    return 'reopened';
  }

  private open(): void {
    this.current = 'open';
    this.probeAt = this.now() + this.openMs;
  }
}

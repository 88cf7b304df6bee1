import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now: number;
  let breaker: CircuitBreaker;
  beforeEach(() => {
    now = 1_000_000;
    breaker = new CircuitBreaker({ failures: 3, openMs: 2000, now: () => now });
  });

  /** opens the circuit with three failed calls */
  function open(): void {
    for (let i = 0; i < 3; i++) breaker.failed(breaker.admit());
    expect(breaker.state).toBe('open');
  }

  it('lets every call through while closed, and opens after 3 consecutive failures', () => {
    expect(breaker.admit()).toBe('call');
    expect(breaker.failed('call')).toBe('first');
    expect(breaker.failed('call')).toBeNull();
    expect(breaker.state).toBe('closed');
    expect(breaker.admit()).toBe('call');
    expect(breaker.failed('call')).toBe('opened');
    expect(breaker.state).toBe('open');
    expect(breaker.failures).toBe(3);
  });

  it('counts failures in a row only: a success in between starts the count again', () => {
    breaker.failed('call');
    breaker.failed('call');
    expect(breaker.succeeded('call')).toBe('recovered');
    expect(breaker.failures).toBe(0);
    expect(breaker.failed('call')).toBe('first');
    expect(breaker.failed('call')).toBeNull();
    expect(breaker.state).toBe('closed');
    expect(breaker.succeeded('call')).toBe('recovered');
    expect(breaker.succeeded('call')).toBeNull();
  });

  it('refuses every call while open, until openMs has passed', () => {
    open();
    for (let i = 0; i < 100; i++) expect(breaker.admit()).toBe('refuse');
    now += 1999;
    expect(breaker.admit()).toBe('refuse');
    expect(breaker.state).toBe('open');
  });

  it('then lets exactly one probe through: every other call is refused while it runs', () => {
    open();
    now += 2000;
    expect(breaker.admit()).toBe('probe');
    expect(breaker.state).toBe('half-open');
    now += 60_000; // however long the probe takes
    for (let i = 0; i < 10; i++) expect(breaker.admit()).toBe('refuse');
  });

  it('closes when the probe succeeds', () => {
    open();
    now += 2000;
    const probe = breaker.admit();
    expect(breaker.succeeded(probe)).toBe('closed');
    expect(breaker.state).toBe('closed');
    expect(breaker.failures).toBe(0);
    expect(breaker.admit()).toBe('call');
    // a fresh count: it takes 3 failures again to open
    breaker.failed('call');
    breaker.failed('call');
    expect(breaker.state).toBe('closed');
  });

  it('opens again for another openMs when the probe fails', () => {
    open();
    now += 2500;
    const probe = breaker.admit();
    expect(breaker.failed(probe)).toBe('reopened');
    expect(breaker.state).toBe('open');
    now += 1999;
    expect(breaker.admit()).toBe('refuse');
    now += 1;
    expect(breaker.admit()).toBe('probe');
  });

  it('lets only the probe decide: late results of calls admitted before it opened change nothing', () => {
    breaker.admit();
    open();
    expect(breaker.succeeded('call')).toBeNull();
    expect(breaker.failed('call')).toBeNull();
    expect(breaker.state).toBe('open');
    now += 2000;
    const probe = breaker.admit();
    expect(breaker.succeeded('call')).toBeNull();
    expect(breaker.failed('call')).toBeNull();
    expect(breaker.state).toBe('half-open');
    expect(breaker.admit()).toBe('refuse');
    expect(breaker.succeeded(probe)).toBe('closed');
  });

  it('opens on the first failure with failures: 1, and refuses nonsensical options', () => {
    const strict = new CircuitBreaker({ failures: 1, openMs: 10, now: () => now });
    expect(strict.failed(strict.admit())).toBe('opened');
    expect(() => new CircuitBreaker({ failures: 0, openMs: 10 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failures: 1.5, openMs: 10 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failures: 3, openMs: 0 })).toThrow(RangeError);
  });
});

import { AuthFailureThrottle, clientAddress, tooManyAuthFailures } from './auth-failure-throttle';

describe('AuthFailureThrottle', () => {
  let now: number;
  const throttle = (o: { maxTrackedAddresses?: number } = {}) =>
    new AuthFailureThrottle({ maxFailures: 3, windowMs: 60_000, blockMs: 30_000, now: () => now, ...o });
  beforeEach(() => {
    now = 1_000_000;
  });

  it('blocks an address once it used up its failures within the window, for the cooling-off period', () => {
    const t = throttle();
    expect(t.recordFailure('a')).toBe(false);
    expect(t.recordFailure('a')).toBe(false);
    expect(t.blockedForMs('a')).toBe(0);
    expect(t.recordFailure('a')).toBe(true);
    expect(t.blockedForMs('a')).toBe(30_000);
    now += 29_999;
    expect(t.blockedForMs('a')).toBe(1);
    now += 1;
    expect(t.blockedForMs('a')).toBe(0);
    // The cooling-off ended: a fresh allowance, not an instant re-block.
    expect(t.recordFailure('a')).toBe(false);
    expect(t.blockedForMs('a')).toBe(0);
  });

  it('does not extend a block with further failures', () => {
    const t = throttle();
    for (let i = 0; i < 3; i++) t.recordFailure('a');
    now += 10_000;
    expect(t.recordFailure('a')).toBe(false);
    expect(t.blockedForMs('a')).toBe(20_000);
  });

  it('starts a new window once the old one ended, so slow failures never block', () => {
    const t = throttle();
    for (let i = 0; i < 10; i++) {
      t.recordFailure('a');
      t.recordFailure('a');
      now += 60_000;
    }
    expect(t.blockedForMs('a')).toBe(0);
  });

  it('counts each address on its own', () => {
    const t = throttle();
    for (let i = 0; i < 3; i++) t.recordFailure('a');
    expect(t.blockedForMs('a')).toBeGreaterThan(0);
    expect(t.blockedForMs('b')).toBe(0);
    expect(t.recordFailure('b')).toBe(false);
  });

  it('keeps memory bounded, dropping finished windows first and then the oldest', () => {
    const t = throttle({ maxTrackedAddresses: 3 });
    t.recordFailure('old');
    now += 61_000;
    for (let i = 0; i < 3; i++) t.recordFailure('blocked');
    t.recordFailure('x');
    t.recordFailure('y'); // "old" ended its window: it goes first
    expect(t.size).toBe(3);
    expect(t.blockedForMs('blocked')).toBe(30_000);
    t.recordFailure('z'); // all live: the oldest window ("blocked") goes
    expect(t.size).toBe(3);
    expect(t.blockedForMs('blocked')).toBe(0);
  });

  it('answers 429 with a whole-second Retry-After', () => {
    const e = tooManyAuthFailures(1_500);
    expect(e.status).toBe(429);
    expect(e.headers['Retry-After']).toBe('2');
    expect(tooManyAuthFailures(1).headers['Retry-After']).toBe('1');
  });
});

describe('clientAddress', () => {
  it('keeps IPv4 as is, and unwraps IPv4-mapped IPv6', () => {
    expect(clientAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('groups IPv6 by /64, whatever the notation', () => {
    const net = '2001:db8:1:2::/64';
    expect(clientAddress('2001:db8:1:2::1')).toBe(net);
    expect(clientAddress('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(net);
    expect(clientAddress('2001:db8:1:2:a:b:1.2.3.4')).toBe(net);
    expect(clientAddress('2001:db8:1:2::1%eth0')).toBe(net);
    expect(clientAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientAddress('2001::2:3:4:5:6:7')).toBe('2001:0:2:3::/64');
    expect(clientAddress('::1')).toBe('0:0:0:0::/64');
    expect(clientAddress('2001:db8:1:3::1')).not.toBe(net);
  });

  it('names a missing address', () => {
    expect(clientAddress(undefined)).toBe('unknown');
  });
});

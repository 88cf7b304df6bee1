import { isIPv4, isIPv6 } from 'node:net';
import { HttpStatus } from '@nestjs/common';
import { ApiError } from '@app/common';

export interface AuthFailureThrottleOptions {
  /** failed attempts one address may make within `windowMs`; the next ones are refused */
  maxFailures?: number;
  windowMs?: number;
  /** how long an address that used up its failures is refused (the cooling-off period) */
  blockMs?: number;
  /** addresses remembered at most, so a flood from many addresses cannot grow memory without bound */
  maxTrackedAddresses?: number;
  now?: () => number;
}

/** 20 invalid credentials within a minute from one address block it for a minute. */
export const AUTH_FAILURE_LIMITS = { maxFailures: 20, windowMs: 60_000, blockMs: 60_000, maxTrackedAddresses: 100_000 } as const;

interface AddressEntry {
  windowStart: number;
  failures: number;
  /** 0 while the address is not blocked */
  blockedUntil: number;
}

/**
 * The first 64 bits of an IPv6 address (one subscriber usually holds a whole /64, so counting single
 * addresses would let one client rotate through billions of them); IPv4 (also IPv4-mapped IPv6) as is.
 */
export function clientAddress(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(ip)) return ip;
  const addr = ip.split('%')[0];
  if (!isIPv6(addr)) return ip;
  const groups = (part: string): string[] => {
    if (part === '') return [];
    const pieces = part.split(':');
    // An embedded IPv4 tail stands for two groups.
    return pieces.flatMap((p) => (p.includes('.') ? ['0', '0'] : [p]));
  };
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const headGroups = groups(head);
  const tailGroups = tail === undefined ? [] : groups(tail);
  const full = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `${full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/**
 * Counts failed credential checks (unknown or revoked API keys, wrong admin tokens) per client address and
 * refuses an address that made too many, so a burst of guesses from one place stops reaching the key
 * lookup (and the database) for a cooling-off period.
 *
 * The counts live in this process: with N replicas behind a load balancer an address gets up to N times the
 * allowance before every replica refuses it. That still bounds guessing to a few attempts per second, and
 * keeps the check free of I/O, so it also holds while the database or Redis is in trouble.
 */
export class AuthFailureThrottle {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly blockMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, AddressEntry>();

  constructor(options: AuthFailureThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? AUTH_FAILURE_LIMITS.maxFailures;
    this.windowMs = options.windowMs ?? AUTH_FAILURE_LIMITS.windowMs;
    this.blockMs = options.blockMs ?? AUTH_FAILURE_LIMITS.blockMs;
    this.maxTracked = options.maxTrackedAddresses ?? AUTH_FAILURE_LIMITS.maxTrackedAddresses;
    this.now = options.now ?? (() => Date.now());
  }

  /** milliseconds the address is still refused; 0 when it is not */
  blockedForMs(address: string): number {
    const entry = this.entries.get(address);
    if (!entry) return 0;
    return Math.max(0, entry.blockedUntil - this.now());
  }

  /** counts one failed attempt; true when this failure used up the allowance and blocked the address */
  recordFailure(address: string): boolean {
    const now = this.now();
    let entry = this.entries.get(address);
    const expired = entry && (entry.blockedUntil !== 0 ? entry.blockedUntil <= now : now - entry.windowStart >= this.windowMs);
    if (!entry || expired) {
      entry = { windowStart: now, failures: 0, blockedUntil: 0 };
      // Re-inserted, so the map stays ordered by window start and eviction drops the stalest address.
      this.entries.delete(address);
      this.makeRoom(now);
      this.entries.set(address, entry);
    }
    if (entry.blockedUntil !== 0) return false;
    entry.failures += 1;
    if (entry.failures < this.maxFailures) return false;
    entry.blockedUntil = now + this.blockMs;
    return true;
  }

  /** addresses tracked right now (for tests and metrics) */
  get size(): number {
    return this.entries.size;
  }

  private makeRoom(now: number): void {
    if (this.entries.size < this.maxTracked) return;
    for (const [address, e] of this.entries) {
      const over = e.blockedUntil !== 0 ? e.blockedUntil <= now : now - e.windowStart >= this.windowMs;
      if (over) this.entries.delete(address);
    }
    // Still full of live entries: forget the oldest window, which is the closest to ending anyway.
    while (this.entries.size >= this.maxTracked) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}

/** The 429 for a blocked address; the same whatever credential it sent, so it reveals nothing about keys. */
export function tooManyAuthFailures(blockedForMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(blockedForMs / 1000));
  return new ApiError(
    HttpStatus.TOO_MANY_REQUESTS,
    'rate_limit_error',
    `Too many requests with invalid credentials from this address. Try again in ${seconds} s.`,
    'too_many_auth_failures',
    null,
    { 'Retry-After': String(seconds) },
  );
}

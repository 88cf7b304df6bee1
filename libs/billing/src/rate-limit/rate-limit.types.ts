/** The two per-key limits: requests per minute (`rpm_limit`) and images per minute (`images_per_minute`). */
export type RateLimitKind = 'requests' | 'images';

/** What the limiter needs to know about the caller; `AuthContext` satisfies it. `null` = unlimited. */
export interface RateLimitSubject {
  keyId: string;
  rpmLimit: number | null;
  imagesPerMinute: number | null;
}

/** What one request asks for: every request counts 1 against RPM, and `images` (its `n`) against the image limit. */
export interface RateLimitRequest {
  images?: number;
}

/** One limit's state after a check. */
export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  /** what is left in the current window after this request (before it, when the request was refused) */
  remaining: number;
  /** milliseconds until the current window ends and the limit is whole again */
  resetMs: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** `null` when the key has no such limit (or the request asks for no images) */
  requests: RateLimitResult | null;
  images: RateLimitResult | null;
  /** `x-ratelimit-*` headers for the response (and `Retry-After` on a refusal) */
  headers: Record<string, string>;
}

/** One counter a check must pass: `cost` more units must fit under `limit` in the window. */
export interface RateLimitCounter {
  keyId: string;
  kind: RateLimitKind;
  cost: number;
  limit: number;
}

export interface RateLimitConsumption {
  /** true when every counter had room; then all of them were increased, otherwise none was */
  admitted: boolean;
  /** per counter, the units used in the window: including this request when admitted, without it when not */
  used: number[];
}

/**
 * Where the counters live, shared by every gateway replica: Redis when configured, otherwise the database.
 * One call is one round trip and is atomic across replicas: two replicas never both take the last unit.
 */
export interface RateLimitBackend {
  readonly name: 'redis' | 'database';
  consume(counters: RateLimitCounter[], windowStartMs: number, windowMs: number): Promise<RateLimitConsumption>;
  close(): Promise<void>;
}

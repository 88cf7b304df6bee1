/**
 * Per-key rate limits (requests and images per minute) shared by every gateway replica, on Redis or on the
 * database. Routes use `RateLimiter.enforce(auth, { images: n })` and put the returned headers on the response.
 */
export * from './rate-limit.types';
export { RATE_LIMIT_WINDOW_MS, fixedWindow, formatResetDuration, retryAfterSeconds } from './rate-limit-window';
export { rateLimitHeaders, rateLimitExceeded } from './rate-limit-headers';
export {
  RateLimiter,
  RATE_LIMIT_TIMEOUT_MS,
  RATE_LIMIT_OUTAGE_RETRY_AFTER_S,
  RATE_LIMIT_BREAKER_FAILURES,
  RATE_LIMIT_BREAKER_OPEN_MS,
  type RateLimiterOptions,
} from './rate-limiter.service';
export { CircuitBreaker, type CircuitAdmission, type CircuitState, type CircuitBreakerOptions } from './circuit-breaker';
export { RedisRateLimitBackend, type RedisRateLimitOptions } from './redis-rate-limit.backend';
export { DatabaseRateLimitBackend } from './database-rate-limit.backend';
export { RateLimitModule, createRateLimiter, rateLimitKeyPrefix } from './rate-limit.module';

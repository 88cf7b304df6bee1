import { HttpStatus } from '@nestjs/common';
import { ApiError } from '@app/common';
import { formatResetDuration, retryAfterSeconds } from './rate-limit-window';
import type { RateLimitDecision, RateLimitKind, RateLimitResult } from './rate-limit.types';

/** OpenAI's header names: `x-ratelimit-limit-requests`, …, and the same with `-images` for the image limit. */
export function rateLimitHeaders(requests: RateLimitResult | null, images: RateLimitResult | null): Record<string, string> {
  const headers: Record<string, string> = {};
  const add = (suffix: RateLimitKind, r: RateLimitResult | null) => {
    if (!r) return;
    headers[`x-ratelimit-limit-${suffix}`] = String(r.limit);
    headers[`x-ratelimit-remaining-${suffix}`] = String(r.remaining);
    headers[`x-ratelimit-reset-${suffix}`] = formatResetDuration(r.resetMs);
  };
  add('requests', requests);
  add('images', images);
  const refused = [requests, images].filter((r): r is RateLimitResult => r !== null && !r.allowed);
  if (refused.length > 0) headers['Retry-After'] = String(retryAfterSeconds(Math.max(...refused.map((r) => r.resetMs))));
  return headers;
}

const LIMIT_NAME: Record<RateLimitKind, string> = { requests: 'requests per min (RPM)', images: 'images per min (IPM)' };

/**
 * The 429 for a refused decision, in OpenAI's shape: `code: rate_limit_exceeded` and `type` naming the
 * limit (`requests`, like OpenAI's `requests`/`tokens`; `images` for the image limit). A request that could
 * never fit (more images than the whole limit) says so instead of inviting a retry that cannot succeed.
 */
export function rateLimitExceeded(decision: RateLimitDecision, requested: { requests: number; images: number }): ApiError {
  const kind: RateLimitKind = decision.requests && !decision.requests.allowed ? 'requests' : 'images';
  const r = (kind === 'requests' ? decision.requests : decision.images) as RateLimitResult;
  const asked = requested[kind];
  const used = r.limit - r.remaining;
  // Only an image request can be too large; a request limit of 0 reads as an ordinary refusal.
  const tooLarge = kind === 'images' && asked > r.limit;
  const message =
    tooLarge
      ? `Request too large for ${LIMIT_NAME[kind]} on this API key: Limit ${r.limit}, Requested ${asked}. ` +
        'The number of images (n) must be reduced in order to run successfully.'
      : `Rate limit reached for ${LIMIT_NAME[kind]} on this API key: Limit ${r.limit}, Used ${used}, Requested ${asked}. ` +
        `Please try again in ${formatResetDuration(r.resetMs)}.`;
  return new ApiError(
    HttpStatus.TOO_MANY_REQUESTS,
    kind,
    message,
    'rate_limit_exceeded',
    tooLarge ? 'n' : null,
    decision.headers,
  );
}

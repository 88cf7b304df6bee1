/**
 * Anthropic's error envelope `{ type: "error", error: { type, message }, request_id }` → UpstreamError.
 * Types and statuses: https://docs.anthropic.com/en/api/errors
 */
import type { UpstreamResponse } from '../adapter';
import { UpstreamError, classifyHttpError, isRecord, parseRetryAfterMs, readErrorEnvelope, str } from '../errors';

const PROVIDER = 'anthropic' as const;

/** The HTTP status each error type is documented with, for errors that arrive inside a 200 stream. */
export const ANTHROPIC_ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function classifyAnthropicError(res: UpstreamResponse, secrets: readonly string[]): UpstreamError {
  const envelope = readErrorEnvelope(PROVIDER, res, secrets, 'type');
  if (!envelope) {
    return classifyHttpError({ provider: PROVIDER, status: res.status, headers: res.headers, bodyText: res.bodyText, secrets });
  }
  const { err, code: type, rawMessage: raw, message } = envelope;
  const errorCode = isRecord(err.details) ? str(err.details.error_code) : undefined;
  const base = { ...envelope.base, upstreamCode: errorCode ?? type };

  switch (type) {
    case 'overloaded_error':
    case 'api_error':
      // 529 overloaded is transient by definition: retry with backoff, then fall back.
      return new UpstreamError({ ...base, kind: 'upstream_server', retryAfterMs: parseRetryAfterMs(res.headers) });
    case 'timeout_error':
      return new UpstreamError({ ...base, kind: 'timeout' });
    case 'rate_limit_error':
      // A spend cap reached is a 429 too, but waiting does not lift it before the next month.
      if (errorCode === 'enforced_spend_limit_reached') {
        return new UpstreamError({ ...base, kind: 'auth', message: 'The upstream provider account cannot serve requests' });
      }
      return new UpstreamError({ ...base, kind: 'rate_limit', retryAfterMs: parseRetryAfterMs(res.headers) });
    case 'authentication_error':
    case 'permission_error':
      return new UpstreamError({ ...base, kind: 'auth' });
    case 'billing_error':
      return new UpstreamError({ ...base, kind: 'auth', message: 'The upstream provider account cannot serve requests' });
    case 'not_found_error':
      return new UpstreamError({ ...base, kind: 'auth', message: 'The upstream provider does not serve this model to the gateway' });
    case 'request_too_large':
      return new UpstreamError({ ...base, kind: 'invalid_request', message: 'The request is too large for the upstream provider' });
    case 'invalid_request_error':
      if (/credit balance|spend limit|billing/i.test(raw)) {
        return new UpstreamError({ ...base, kind: 'auth', message: 'The upstream provider account cannot serve requests' });
      }
      return new UpstreamError({ ...base, kind: 'invalid_request', message: message ? `invalid request: ${message}` : undefined });
    default:
      return classifyHttpError({ provider: PROVIDER, status: res.status, headers: res.headers, bodyText: res.bodyText, secrets });
  }
}

/** An `error` event inside a 200 stream, classified as if it had been the HTTP answer. */
export function streamError(error: { type?: string; message?: string }): UpstreamError {
  const status = (error.type && ANTHROPIC_ERROR_STATUS[error.type]) || 500;
  return classifyAnthropicError(
    { status, headers: {}, bodyText: JSON.stringify({ type: 'error', error }) },
    [],
  );
}

import { HttpStatus } from '@nestjs/common';

/**
 * The one error type the gateway raises on purpose. It carries what both envelopes need: the OpenAI
 * envelope reads `type`, `code` and `param`; the Google envelope maps `status` to a canonical status name.
 * `headers` are added to the response (Retry-After, rate-limit headers, job ids).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  static badRequest(message: string, param: string | null = null, code: string | null = 'invalid_request'): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, 'invalid_request_error', message, code, param);
  }
  /** A credential was sent and is not valid (unknown, revoked or expired: one answer for all). */
  static unauthorized(message = 'Invalid API key.'): ApiError {
    return new ApiError(HttpStatus.UNAUTHORIZED, 'authentication_error', message, 'invalid_api_key', null, {
      'WWW-Authenticate': 'Bearer realm="switchyard", error="invalid_token"',
    });
  }
  /** No credential was sent (or not in a form the route reads): the request itself is incomplete (RFC 6750 §3.1). */
  static missingCredential(message: string): ApiError {
    return new ApiError(HttpStatus.UNAUTHORIZED, 'invalid_request_error', message, 'missing_api_key', null, {
      'WWW-Authenticate': 'Bearer realm="switchyard"',
    });
  }
  static forbidden(message: string, code = 'permission_denied'): ApiError {
    return new ApiError(HttpStatus.FORBIDDEN, 'permission_error', message, code);
  }
  static notFound(message: string, code = 'not_found', param: string | null = null): ApiError {
    return new ApiError(HttpStatus.NOT_FOUND, 'invalid_request_error', message, code, param);
  }
  /** What was asked for existed and was deleted for good (e.g. stored images past their retention). */
  static gone(message: string, code: string, headers: Record<string, string> = {}): ApiError {
    return new ApiError(HttpStatus.GONE, 'invalid_request_error', message, code, null, headers);
  }
  static conflict(message: string, code = 'conflict'): ApiError {
    return new ApiError(HttpStatus.CONFLICT, 'invalid_request_error', message, code);
  }
  static unavailable(message: string, retryAfterSeconds = 5): ApiError {
    return new ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'server_error', message, 'service_unavailable', null, {
      'Retry-After': String(retryAfterSeconds),
    });
  }
}

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
  static unauthorized(message = 'Invalid or missing API key.'): ApiError {
    return new ApiError(HttpStatus.UNAUTHORIZED, 'authentication_error', message, 'invalid_api_key');
  }
  static forbidden(message: string, code = 'permission_denied'): ApiError {
    return new ApiError(HttpStatus.FORBIDDEN, 'permission_error', message, code);
  }
  static notFound(message: string, code = 'not_found', param: string | null = null): ApiError {
    return new ApiError(HttpStatus.NOT_FOUND, 'invalid_request_error', message, code, param);
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

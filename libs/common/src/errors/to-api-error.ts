import { HttpException, HttpStatus } from '@nestjs/common';
import { ApiError } from './api-error';
import { isDatabaseUnavailable } from './database-unavailable';

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
  limit?: number;
}

function isBodyParserError(e: unknown): e is Error & BodyParserError {
  return e instanceof Error && typeof (e as BodyParserError).type === 'string' && typeof (e as BodyParserError).status === 'number';
}

/**
 * Turns anything thrown into an ApiError; a database outage becomes a 503 with Retry-After, other unknown errors
 * a 500, neither leaking its message.
 */
export function toApiError(e: unknown, isGoogle: boolean): ApiError {
  if (e instanceof ApiError) return e;
  if (isBodyParserError(e)) {
    switch (e.type) {
      case 'entity.parse.failed':
        return ApiError.badRequest(isGoogle ? 'body must be valid JSON' : 'The request body is not valid JSON.', null, 'invalid_json');
      case 'entity.too.large':
        return new ApiError(
          HttpStatus.PAYLOAD_TOO_LARGE,
          'invalid_request_error',
          `The request body is larger than the limit of ${e.limit ?? 'the configured'} bytes.`,
          'request_too_large',
        );
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return new ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'invalid_request_error', 'Unsupported body encoding or charset.', 'unsupported_media_type');
      case 'request.aborted':
        return new ApiError(499, 'invalid_request_error', 'The client closed the request.', 'client_closed_request');
      default:
        return ApiError.badRequest('The request body could not be read.', null, 'invalid_body');
    }
  }
  if (e instanceof HttpException) {
    const status = e.getStatus();
    const res = e.getResponse();
    let message = e.message;
    if (typeof res === 'object' && res !== null && 'message' in res) {
      const m = (res as { message: unknown }).message;
      message = Array.isArray(m) ? m.join('; ') : String(m);
    }
    if (status === HttpStatus.NOT_FOUND && /^Cannot (GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) /.test(message)) {
      // The route without its query string, which may carry a key (`?key=`).
      return ApiError.notFound(`Unknown route: ${message.replace(/^Cannot /, '').replace(/\?.*$/s, '')}.`, 'unknown_route');
    }
    const type = status >= 500 ? 'server_error' : status === 401 ? 'authentication_error' : status === 403 ? 'permission_error' : 'invalid_request_error';
    return new ApiError(status, type, message, codeForStatus(status));
  }
  // An outage to retry (any route: balance, usage, image jobs, admin), not a fault of the request.
  if (isDatabaseUnavailable(e)) return ApiError.unavailable('The gateway cannot reach its database; try again shortly.');
  return new ApiError(HttpStatus.INTERNAL_SERVER_ERROR, 'server_error', 'Internal server error.', 'internal_error');
}

function codeForStatus(status: number): string | null {
  switch (status) {
    case 400: return 'invalid_request';
    case 401: return 'invalid_api_key';
    case 403: return 'permission_denied';
    case 404: return 'not_found';
    case 405: return 'method_not_allowed';
    case 413: return 'request_too_large';
    case 415: return 'unsupported_media_type';
    case 429: return 'rate_limit_exceeded';
    default: return status >= 500 ? 'internal_error' : null;
  }
}

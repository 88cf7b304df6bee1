import { ApiError } from './api-error';

/**
 * Error envelopes, one per API family. `/v1` and `/admin` answer in OpenAI's shape, `/v1beta` in Google's.
 * The exception filter picks the envelope by path so that even unknown routes and body-parser failures
 * (which never reach a controller) answer in the family's shape.
 */
export interface ErrorEnvelope {
  body(error: ApiError): unknown;
}

export const openAiEnvelope: ErrorEnvelope = {
  body: (e) => ({ error: { message: e.message, type: e.type, param: e.param, code: e.code } }),
};

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  402: 'PERMISSION_DENIED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'UNIMPLEMENTED',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  415: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function googleStatusName(status: number): string {
  return GOOGLE_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
}

export const googleEnvelope: ErrorEnvelope = {
  body: (e) => ({ error: { code: e.status, message: e.message, status: googleStatusName(e.status) } }),
};

export function envelopeForPath(path: string): ErrorEnvelope {
  return path === '/v1beta' || path.startsWith('/v1beta/') ? googleEnvelope : openAiEnvelope;
}

/**
 * Each provider's own error body, so the gateway's error classification is exercised against what the
 * upstream really sends:
 * - OpenAI: `{ error: { message, type, param, code } }` (platform.openai.com/docs/guides/error-codes)
 * - Anthropic: `{ type: "error", error: { type, message }, request_id }` (docs.anthropic.com, "Errors")
 * - Google: `{ error: { code, message, status } }` with google.rpc status names
 * - xAI: `{ code, error }` (both strings)
 * - DeepSeek, Qwen (DashScope compatible mode), Moonshot, MiniMax: OpenAI-shaped with their own type names
 */
import { hashHex } from '../generation/deterministic';
import { json, type JsonResponse } from '../http/sim-response';
import type { SimProvider } from '../sim-types';

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const ANTHROPIC_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

function defaultMessage(status: number): string {
  if (status === 401) return 'Incorrect API key provided.';
  if (status === 403) return 'Permission denied.';
  if (status === 404) return 'The requested resource was not found.';
  if (status === 429) return 'Rate limit reached for requests. Please try again later.';
  if (status === 503 || status === 529) return 'The server is overloaded. Please try again later.';
  if (status >= 500) return 'The server had an error while processing your request. Sorry about that!';
  return 'Invalid request.';
}

function openAiType(status: number): { type: string; code: string | null } {
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 403) return { type: 'invalid_request_error', code: 'unsupported_country_region_territory' };
  if (status === 404) return { type: 'invalid_request_error', code: 'model_not_found' };
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

export interface ErrorOptions {
  message?: string;
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
}

export function errorResponse(provider: SimProvider, status: number, opts: ErrorOptions = {}): JsonResponse {
  return json(status, errorBody(provider, status, opts), opts.headers);
}

export function errorBody(provider: SimProvider, status: number, opts: ErrorOptions = {}): unknown {
  const message = opts.message ?? defaultMessage(status);
  switch (provider) {
    case 'google':
      return { error: { code: status, message, status: GOOGLE_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION') } };
    case 'anthropic':
      return {
        type: 'error',
        error: { type: ANTHROPIC_TYPE[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'), message },
        request_id: `req_${hashHex(`${status}:${message}`, 24)}`,
      };
    case 'xai':
      return { code: status === 401 ? 'Client specified an invalid argument' : status >= 500 ? 'Internal error' : 'Client error', error: message };
    case 'deepseek': {
      const t = status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
      return { error: { message, type: t, param: opts.param ?? null, code: opts.code ?? (status === 401 ? 'invalid_request_error' : null) } };
    }
    case 'moonshot': {
      const t =
        status === 401 ? 'invalid_authentication_error' : status === 429 ? 'rate_limit_reached_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
      return { error: { message, type: t } };
    }
    case 'qwen': {
      const { type, code } = openAiType(status);
      return { error: { message, type, param: opts.param ?? null, code: opts.code ?? code }, request_id: hashHex(`${status}:${message}`, 32) };
    }
    case 'minimax': {
      // MiniMax also reports failures in `base_resp` (non-zero status_code, e.g. 1004 for a rejected key).
      const statusCode = status === 401 ? 1004 : status === 429 ? 1002 : status >= 500 ? 1000 : 2013;
      const { type, code } = openAiType(status);
      return { error: { message, type, code: opts.code ?? code }, base_resp: { status_code: statusCode, status_msg: message } };
    }
    case 'openai':
    default: {
      const { type, code } = openAiType(status);
      return { error: { message, type, param: opts.param ?? null, code: opts.code ?? code } };
    }
  }
}

/** The 401 each provider sends for a missing or rejected key; the key itself is never echoed. */
export function authErrorResponse(provider: SimProvider, missing: boolean): JsonResponse {
  switch (provider) {
    case 'google':
      return json(401, {
        error: {
          code: 401,
          message: missing ? 'Method doesn\'t allow unregistered callers. Please use API Key or other form of API consumer identity to call this API.' : 'API key not valid. Please pass a valid API key.',
          status: 'UNAUTHENTICATED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: missing ? 'CREDENTIALS_MISSING' : 'API_KEY_INVALID',
              domain: 'googleapis.com',
              metadata: { service: 'generativelanguage.googleapis.com' },
            },
          ],
        },
      });
    case 'anthropic':
      return errorResponse('anthropic', 401, { message: missing ? 'x-api-key header is required' : 'invalid x-api-key' });
    case 'xai':
      return errorResponse('xai', 401, { message: missing ? 'No API key provided.' : 'Incorrect API key provided. You can obtain an API key from https://console.x.ai.' });
    case 'deepseek':
      return errorResponse('deepseek', 401, { message: 'Authentication Fails, Your api key is invalid' });
    case 'moonshot':
      return errorResponse('moonshot', 401, { message: 'Invalid Authentication' });
    case 'qwen':
      return errorResponse('qwen', 401, { message: 'Incorrect API key provided. ', code: 'invalid_api_key' });
    case 'minimax':
      return errorResponse('minimax', 401, { message: 'login fail: Please carefully check the authorization header' });
    case 'openai':
    default:
      return errorResponse('openai', 401, {
        message: missing
          ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
          : 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
        code: missing ? null : 'invalid_api_key',
      });
  }
}

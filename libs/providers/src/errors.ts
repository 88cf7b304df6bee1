/**
 * Every failure of an upstream call becomes one UpstreamError with a `kind` that the retry/fallback
 * policy reads. Its `message` is safe to show a tenant (no provider key, base URL or raw upstream body);
 * the raw detail, redacted, sits in a non-enumerable `detail` for logs.
 */
import type { ProviderId } from './catalog/model-spec';

export type UpstreamErrorKind =
  | 'invalid_request'
  | 'auth'
  | 'rate_limit'
  | 'content_policy'
  | 'upstream_server'
  | 'timeout'
  | 'connection'
  | 'malformed_response'
  | 'no_image'
  | 'cancelled';

interface KindPolicy {
  retryable: boolean;
  fallbackAllowed: boolean;
  defaultMessage: string;
}

/**
 * Retrying the same model helps only for transient faults. Falling back to another provider helps
 * whenever the fault is the provider's (including our key for it being refused), never when the
 * tenant's request or content is the problem, or when the tenant went away.
 */
const POLICY: Record<UpstreamErrorKind, KindPolicy> = {
  invalid_request: { retryable: false, fallbackAllowed: false, defaultMessage: 'The upstream provider rejected the request as invalid' },
  auth: { retryable: false, fallbackAllowed: true, defaultMessage: 'The upstream provider refused the gateway\'s credentials' },
  rate_limit: { retryable: true, fallbackAllowed: true, defaultMessage: 'The upstream provider is rate limiting requests' },
  content_policy: { retryable: false, fallbackAllowed: false, defaultMessage: 'The upstream provider refused the request under its content policy' },
  upstream_server: { retryable: true, fallbackAllowed: true, defaultMessage: 'The upstream provider failed to process the request' },
  timeout: { retryable: true, fallbackAllowed: true, defaultMessage: 'The upstream provider did not answer in time' },
  connection: { retryable: true, fallbackAllowed: true, defaultMessage: 'The connection to the upstream provider failed' },
  malformed_response: { retryable: true, fallbackAllowed: true, defaultMessage: 'The upstream provider sent an unreadable response' },
  no_image: { retryable: true, fallbackAllowed: true, defaultMessage: 'The upstream provider returned no image' },
  cancelled: { retryable: false, fallbackAllowed: false, defaultMessage: 'The request was cancelled' },
};

export interface UpstreamErrorInit {
  kind: UpstreamErrorKind;
  provider?: ProviderId;
  /** upstream HTTP status, when there was one */
  status?: number;
  /** tenant-safe message; defaults to a generic one for the kind */
  message?: string;
  retryAfterMs?: number;
  /** raw detail for logs; redact before passing (see `redactSecrets`) */
  detail?: string;
  /** the upstream's own error code/type, e.g. `insufficient_quota` */
  upstreamCode?: string;
  cause?: unknown;
}

export class UpstreamError extends Error {
  readonly kind: UpstreamErrorKind;
  readonly provider?: ProviderId;
  readonly status?: number;
  readonly retryable: boolean;
  readonly fallbackAllowed: boolean;
  readonly retryAfterMs?: number;
  readonly upstreamCode?: string;
  /** redacted raw detail for logs; non-enumerable so it never reaches a serialised body */
  declare readonly detail: string | undefined;

  constructor(init: UpstreamErrorInit) {
    const policy = POLICY[init.kind];
    const prefix = init.provider ? `${init.provider}: ` : '';
    super(prefix + (init.message ?? policy.defaultMessage), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'UpstreamError';
    this.kind = init.kind;
    this.provider = init.provider;
    this.status = init.status;
    this.retryable = policy.retryable;
    this.fallbackAllowed = policy.fallbackAllowed;
    this.retryAfterMs = init.retryAfterMs;
    this.upstreamCode = init.upstreamCode;
    Object.defineProperty(this, 'detail', { value: init.detail, enumerable: false, writable: false });
    if (init.cause !== undefined) Object.defineProperty(this, 'cause', { value: init.cause, enumerable: false });
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.kind,
      message: this.message,
      provider: this.provider,
      status: this.status,
      retryable: this.retryable,
      fallbackAllowed: this.fallbackAllowed,
      retryAfterMs: this.retryAfterMs,
    };
  }
}

export function isUpstreamError(e: unknown): e is UpstreamError {
  return e instanceof UpstreamError;
}

export function errorPolicy(kind: UpstreamErrorKind): { retryable: boolean; fallbackAllowed: boolean } {
  const { retryable, fallbackAllowed } = POLICY[kind];
  return { retryable, fallbackAllowed };
}

// Shapes of provider keys, so that a key echoed back by an upstream (OpenAI's "Incorrect API key
// provided: sk-...") is masked even when it is not the configured one.
const KEY_PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_\-*]{6,}/g,
  /\bxai-[A-Za-z0-9_\-*]{6,}/g,
  /\bAIza[0-9A-Za-z_-]{10,}/g,
  /\b[Bb]earer\s+[A-Za-z0-9._\-~+/=]{6,}/g,
];
const URL_PATTERN = /\bhttps?:\/\/[^\s"'<>)]+/g;

/** Masks the given secrets and anything shaped like a provider key. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  }
  for (const p of KEY_PATTERNS) out = out.replace(p, '[REDACTED]');
  return out;
}

/** Tenant-facing text: secrets and URLs masked, one line, bounded length. */
export function tenantSafe(text: string, secrets: readonly string[] = [], max = 300): string {
  const cleaned = redactSecrets(text, secrets).replace(URL_PATTERN, '[url]').replace(/\s+/g, ' ').trim();
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…` : cleaned;
}

/**
 * Milliseconds to wait before retrying, from `retry-after-ms` (OpenAI, fractional ms) or `retry-after`
 * (seconds or an HTTP-date, RFC 9110 §10.2.3). Undefined when absent or unparseable.
 */
export function parseRetryAfterMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined && ms.trim() !== '') {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  }
  const ra = first(headers['retry-after']);
  if (ra === undefined || ra.trim() === '') return undefined;
  const trimmed = ra.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface UpstreamErrorBody {
  message?: string;
  /** OpenAI `error.type`, Anthropic `error.type`, Google `error.status` */
  type?: string;
  /** OpenAI `error.code` */
  code?: string;
}

/** Reads the error object of the OpenAI, Google and Anthropic error envelopes. */
export function readErrorBody(body: unknown): UpstreamErrorBody {
  if (!isRecord(body)) return {};
  const e = isRecord(body.error) ? body.error : body;
  const code = e.code;
  return {
    message: str(e.message),
    type: str(e.type) ?? str(e.status),
    code: typeof code === 'number' ? String(code) : str(code),
  };
}

const CONTENT_POLICY_MARKERS = [
  'content_policy',
  'content_filter',
  'moderation_blocked',
  'safety',
  'data_inspection_failed', // DashScope's content moderation code
  'sensitive',
];

export interface ClassifyInput {
  provider: ProviderId;
  status: number;
  headers: Record<string, string>;
  bodyText: string;
  secrets?: readonly string[];
}

/** A provider's own error envelope `{ error: { <code field>, message, … } }`, read once for its classifier. */
export interface ErrorEnvelope {
  body: unknown;
  err: Record<string, unknown>;
  /** the envelope's code (Anthropic's `type`, Google's `status`) */
  code: string;
  /** the upstream's message as it came, for matching only */
  rawMessage: string;
  /** the message as it may reach the tenant: secrets removed, shortened */
  message?: string;
  /** what every UpstreamError for this answer carries */
  base: { provider: ProviderId; status: number; detail: string; upstreamCode: string };
}

/** The envelope of an error answer, or undefined when the body is not one (classify it with `classifyHttpError`). */
export function readErrorEnvelope(
  provider: ProviderId,
  res: { status: number; bodyText: string },
  secrets: readonly string[],
  codeField: string,
): ErrorEnvelope | undefined {
  const body = parseJsonBody(res.bodyText);
  const err = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const code = err ? str(err[codeField]) : undefined;
  if (!err || !code) return undefined;
  const detail = redactSecrets(`HTTP ${res.status}: ${res.bodyText.slice(0, 2000)}`, secrets);
  const rawMessage = str(err.message) ?? '';
  return {
    body,
    err,
    code,
    rawMessage,
    message: rawMessage ? tenantSafe(rawMessage, secrets) : undefined,
    base: { provider, status: res.status, detail, upstreamCode: code },
  };
}

/**
 * Classification shared by all providers (their error envelopes differ little); an adapter may check
 * provider-specific markers first and fall back to this.
 */
export function classifyHttpError(input: ClassifyInput): UpstreamError {
  const { provider, status, headers, bodyText } = input;
  const secrets = input.secrets ?? [];
  const parsed = parseJsonBody(bodyText);
  const eb = readErrorBody(parsed);
  const detail = redactSecrets(`HTTP ${status}: ${bodyText.slice(0, 2000)}`, secrets);
  const marker = `${eb.type ?? ''} ${eb.code ?? ''}`.toLowerCase();
  const messageLower = (eb.message ?? '').toLowerCase();
  const upstreamMessage = eb.message ? tenantSafe(eb.message, secrets) : undefined;
  const base = { provider, status, detail, upstreamCode: eb.code ?? eb.type };

  // An exhausted provider account (OpenAI answers it as a 429 `insufficient_quota`; others as 402 or a 400) is the
  // gateway's configuration problem, not a rate limit: waiting does not help, another provider may.
  const accountExhausted = status === 402 || /insufficient.?(balance|quota)|exceeded your current quota/.test(`${marker} ${messageLower}`);
  if (accountExhausted && status >= 400 && status < 500) {
    return new UpstreamError({ ...base, kind: 'auth', message: 'The upstream provider account cannot serve requests' });
  }
  if (status === 429) {
    return new UpstreamError({ ...base, kind: 'rate_limit', retryAfterMs: parseRetryAfterMs(headers) });
  }
  if (status === 401 || status === 403) return new UpstreamError({ ...base, kind: 'auth' });
  if (status === 408) return new UpstreamError({ ...base, kind: 'timeout' });
  if (status >= 500 || status === 529) {
    return new UpstreamError({ ...base, kind: 'upstream_server', retryAfterMs: parseRetryAfterMs(headers) });
  }
  if (status >= 400) {
    const policyHit =
      CONTENT_POLICY_MARKERS.some((m) => marker.includes(m)) ||
      /content (management )?policy|safety system|moderation/.test(messageLower);
    if (policyHit) {
      return new UpstreamError({
        ...base,
        kind: 'content_policy',
        message: upstreamMessage ? `content policy: ${upstreamMessage}` : undefined,
      });
    }
    return new UpstreamError({
      ...base,
      kind: 'invalid_request',
      message: upstreamMessage ? `invalid request: ${upstreamMessage}` : undefined,
    });
  }
  return new UpstreamError({ ...base, kind: 'malformed_response', message: `unexpected HTTP status ${status}` });
}

export function malformed(provider: ProviderId, what: string, raw?: string): UpstreamError {
  return new UpstreamError({
    kind: 'malformed_response',
    provider,
    message: `The upstream provider sent an unreadable response (${what})`,
    detail: raw === undefined ? undefined : redactSecrets(raw.slice(0, 2000)),
  });
}

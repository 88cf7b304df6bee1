/**
 * Google's error envelope (`{ error: { code, message, status, details } }`, google.rpc.Status) and the
 * safety-block signals of a 200 answer, turned into UpstreamError kinds.
 * Status names: https://cloud.google.com/apis/design/errors#handling_errors ;
 * Gemini specifics: https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
 */
import type { UpstreamResponse } from '../adapter';
import { UpstreamError, classifyHttpError, isRecord, parseRetryAfterMs, readErrorEnvelope, str } from '../errors';
import { GOOGLE_FIELDS, type GoogleBlock } from '../types/chat';
import type { GeminiCandidate, GeminiResponse, GeminiSafetyRating } from '../types/gemini';

const PROVIDER = 'google' as const;

/** Finish and block reasons that mean Google's filters stopped the answer. */
export const GEMINI_POLICY_REASONS: ReadonlySet<string> = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
  'OTHER_SAFETY',
]);

function details(body: unknown): Array<Record<string, unknown>> {
  if (!isRecord(body) || !isRecord(body.error) || !Array.isArray(body.error.details)) return [];
  return body.error.details.filter(isRecord);
}

/** `RetryInfo.retryDelay` is a protobuf Duration in JSON: "37s" or "1.5s". */
function retryDelayMs(body: unknown): number | undefined {
  for (const d of details(body)) {
    const delay = str(d.retryDelay);
    if (delay === undefined) continue;
    const m = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
    if (m) return Math.ceil(Number(m[1]) * 1000);
  }
  return undefined;
}

function reasons(body: unknown): string[] {
  return details(body)
    .map((d) => str(d.reason))
    .filter((r): r is string => r !== undefined);
}

export function classifyGoogleError(res: UpstreamResponse, secrets: readonly string[]): UpstreamError {
  const envelope = readErrorEnvelope(PROVIDER, res, secrets, 'status');
  if (!envelope) {
    return classifyHttpError({ provider: PROVIDER, status: res.status, headers: res.headers, bodyText: res.bodyText, secrets });
  }
  const { body, code: status, rawMessage, message, base } = envelope;
  const why = reasons(body);
  // A cache name that does not resolve is the tenant's request, not the gateway's account or model.
  if ((status === 'PERMISSION_DENIED' || status === 'NOT_FOUND') && rawMessage && /cached ?content/i.test(rawMessage)) {
    return new UpstreamError({ ...base, kind: 'invalid_request', message: `invalid request: ${message ?? 'cachedContent was not found'}` });
  }

  switch (status) {
    case 'INVALID_ARGUMENT':
      // Google answers a bad or expired key with 400 INVALID_ARGUMENT + ErrorInfo reason API_KEY_INVALID.
      if (why.some((r) => r.startsWith('API_KEY'))) return new UpstreamError({ ...base, kind: 'auth' });
      if (rawMessage && /safety|prohibited|blocked/i.test(rawMessage)) {
        return new UpstreamError({ ...base, kind: 'content_policy', message: message ? `content policy: ${message}` : undefined });
      }
      return new UpstreamError({ ...base, kind: 'invalid_request', message: message ? `invalid request: ${message}` : undefined });
    case 'FAILED_PRECONDITION':
      // e.g. "User location is not supported", billing not enabled: the gateway's account, not the tenant.
      return new UpstreamError({ ...base, kind: 'auth', message: 'The upstream provider account cannot serve requests' });
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return new UpstreamError({ ...base, kind: 'auth' });
    case 'NOT_FOUND':
      // The model id is the catalog's, not the tenant's: another model may still serve the request.
      return new UpstreamError({ ...base, kind: 'auth', message: 'The upstream provider does not serve this model to the gateway' });
    case 'RESOURCE_EXHAUSTED':
      return new UpstreamError({
        ...base,
        kind: 'rate_limit',
        retryAfterMs: retryDelayMs(body) ?? parseRetryAfterMs(res.headers),
      });
    case 'DEADLINE_EXCEEDED':
      return new UpstreamError({ ...base, kind: 'timeout' });
    case 'INTERNAL':
    case 'UNAVAILABLE':
    case 'UNKNOWN':
    case 'ABORTED':
      return new UpstreamError({ ...base, kind: 'upstream_server', retryAfterMs: parseRetryAfterMs(res.headers) });
    case 'CANCELLED':
      return new UpstreamError({ ...base, kind: 'upstream_server' });
    default:
      return classifyHttpError({ provider: PROVIDER, status: res.status, headers: res.headers, bodyText: res.bodyText, secrets });
  }
}

/**
 * A 200 answer Google's filters stopped, as an error (the OpenAI-shaped route answers it as a
 * content-policy refusal) that carries Google's own verdict under `GOOGLE_FIELDS`, so the Gemini-native
 * route can answer it the way Google does.
 */
export class GoogleFilterError extends UpstreamError {
  readonly [GOOGLE_FIELDS]: GoogleBlock;

  constructor(reason: string, message: string, block: GoogleBlock) {
    super({ kind: 'content_policy', provider: PROVIDER, status: 200, upstreamCode: reason, message });
    this[GOOGLE_FIELDS] = block;
  }
}

/** Google's verdict on an error its filters caused (a `GoogleFilterError`), or nothing for any other error. */
export function googleBlockOf(error: unknown): GoogleBlock | undefined {
  if (!(error instanceof UpstreamError) || error.kind !== 'content_policy') return undefined;
  return (error as UpstreamError & { [GOOGLE_FIELDS]?: GoogleBlock })[GOOGLE_FIELDS];
}

/** The upstream's list as it came, or nothing when it is not a list of objects. */
export function safetyRatingsOf(v: unknown): GeminiSafetyRating[] | undefined {
  return Array.isArray(v) && v.length > 0 && v.every(isRecord) ? (v as unknown as GeminiSafetyRating[]) : undefined;
}

/** A 200 answer whose prompt was refused outright: `promptFeedback.blockReason` and no candidates. */
export function promptBlockError(resp: GeminiResponse): GoogleFilterError | undefined {
  const reason = resp.promptFeedback?.blockReason;
  if (!reason || reason === 'BLOCKED_REASON_UNSPECIFIED') return undefined;
  const safetyRatings = safetyRatingsOf(resp.promptFeedback?.safetyRatings);
  return new GoogleFilterError(reason, `The upstream provider blocked the prompt (${reason})`, {
    promptFeedback: { blockReason: reason, ...(safetyRatings ? { safetyRatings } : {}) },
  });
}

/** A candidate Google's filters ended before it said anything. */
export function finishPolicyError(reason: string, candidate?: GeminiCandidate, index = 0): GoogleFilterError {
  const safetyRatings = safetyRatingsOf(candidate?.safetyRatings);
  return new GoogleFilterError(reason, `The upstream provider withheld the answer (${reason})`, {
    candidate: { index: candidate?.index ?? index, finishReason: reason, ...(safetyRatings ? { safetyRatings } : {}) },
  });
}

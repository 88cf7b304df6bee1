import {
  UpstreamError,
  type UpstreamErrorKind,
  classifyHttpError,
  errorPolicy,
  parseRetryAfterMs,
  redactSecrets,
} from './errors';

const KEY = 'sk-proj-abcdefghijklmnop1234567890';

describe('classifyHttpError', () => {
  const table: [number, string, UpstreamErrorKind][] = [
    [400, '{"error":{"message":"Invalid value for temperature","type":"invalid_request_error"}}', 'invalid_request'],
    [404, '{"error":{"message":"The model does not exist","code":"model_not_found"}}', 'invalid_request'],
    [422, '{}', 'invalid_request'],
    [400, '{"error":{"message":"Your request was rejected as a result of our safety system.","code":"content_policy_violation"}}', 'content_policy'],
    [400, '{"error":{"message":"blocked","code":"moderation_blocked"}}', 'content_policy'],
    [400, '{"error":{"code":"data_inspection_failed","message":"Input data may contain inappropriate content."}}', 'content_policy'],
    [401, `{"error":{"message":"Incorrect API key provided: ${KEY}"}}`, 'auth'],
    [403, '{"error":{"message":"forbidden"}}', 'auth'],
    [402, '{"error":{"message":"Insufficient Balance"}}', 'auth'],
    [408, '', 'timeout'],
    [429, '{"error":{"message":"Rate limit reached"}}', 'rate_limit'],
    // OpenAI's exhausted account: a 429 that waiting does not cure
    [429, '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}', 'auth'],
    [429, '{"error":{"message":"You exceeded your current quota, please check your plan."}}', 'auth'],
    [400, '{"error":{"message":"Insufficient quota for this account","code":"quota_exceeded"}}', 'auth'],
    [500, '{"error":{"message":"server error"}}', 'upstream_server'],
    [502, '<html><body>Bad gateway</body></html>', 'upstream_server'],
    [503, '', 'upstream_server'],
    [529, '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', 'upstream_server'],
  ];

  it.each(table)('HTTP %i %s → %s', (status, body, kind) => {
    const err = classifyHttpError({ provider: 'openai', status, headers: {}, bodyText: body, secrets: [KEY] });
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.kind).toBe(kind);
    expect(err.status).toBe(status);
    expect(err.retryable).toBe(errorPolicy(kind).retryable);
    expect(err.fallbackAllowed).toBe(errorPolicy(kind).fallbackAllowed);
  });

  it('keeps keys, base URLs and raw bodies out of the tenant-facing message and JSON', () => {
    const body = `{"error":{"message":"Bad key ${KEY} for https://api.openai.com/v1/chat/completions","type":"invalid_request_error"}}`;
    const err = classifyHttpError({ provider: 'openai', status: 400, headers: {}, bodyText: body, secrets: [KEY] });
    const serialised = JSON.stringify(err);
    for (const text of [err.message, serialised]) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain('api.openai.com');
      expect(text).not.toContain('{"error"');
    }
    expect(serialised).not.toContain('detail');
    // the log detail keeps the body but not the key
    expect(err.detail).toContain('invalid_request_error');
    expect(err.detail).not.toContain(KEY);
  });

  it('does not echo the upstream message for auth failures', () => {
    const err = classifyHttpError({ provider: 'xai', status: 401, headers: {}, bodyText: '{"error":"Incorrect API key provided: xai-abcdefgh****"}' });
    expect(err.message).not.toMatch(/xai-/);
    expect(err.message.startsWith('xai: ')).toBe(true);
  });

  it('parses Retry-After on 429', () => {
    const err = classifyHttpError({ provider: 'openai', status: 429, headers: { 'retry-after': '2' }, bodyText: '' });
    expect(err.retryAfterMs).toBe(2000);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delta seconds', () => {
    expect(parseRetryAfterMs({ 'retry-after': '3' })).toBe(3000);
    expect(parseRetryAfterMs({ 'retry-after': '0.5' })).toBe(500);
  });
  it('prefers retry-after-ms', () => {
    expect(parseRetryAfterMs({ 'retry-after-ms': '1234.2', 'retry-after': '9' })).toBe(1235);
  });
  it('reads an HTTP-date relative to now', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }, now)).toBe(7000);
    expect(parseRetryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }, now)).toBe(0);
  });
  it('returns undefined when absent or garbage', () => {
    expect(parseRetryAfterMs({})).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
  });
});

describe('UpstreamError', () => {
  it('states retry and fallback policy per kind', () => {
    const expectations: Record<UpstreamErrorKind, [boolean, boolean]> = {
      invalid_request: [false, false],
      auth: [false, true],
      rate_limit: [true, true],
      content_policy: [false, false],
      upstream_server: [true, true],
      timeout: [true, true],
      connection: [true, true],
      malformed_response: [true, true],
      no_image: [true, true],
      cancelled: [false, false],
    };
    for (const [kind, [retryable, fallbackAllowed]] of Object.entries(expectations) as [UpstreamErrorKind, [boolean, boolean]][]) {
      const e = new UpstreamError({ kind });
      expect([kind, e.retryable, e.fallbackAllowed]).toEqual([kind, retryable, fallbackAllowed]);
    }
  });

  it('hides detail from enumeration', () => {
    const e = new UpstreamError({ kind: 'connection', detail: 'ECONNREFUSED 10.0.0.1:443' });
    expect(Object.keys(e)).not.toContain('detail');
    expect(e.detail).toBe('ECONNREFUSED 10.0.0.1:443');
  });
});

describe('redactSecrets', () => {
  it('masks configured secrets and key-shaped strings', () => {
    const out = redactSecrets('key=my-secret-value other=sk-ant-api03-XYZxyz123456 auth: Bearer abc.def-123456', ['my-secret-value']);
    expect(out).not.toContain('my-secret-value');
    expect(out).not.toContain('sk-ant-api03');
    expect(out).not.toContain('abc.def-123456');
  });
});

import { UpstreamError } from '../errors';
import { joinUrl, mapNetworkError } from './upstream-http-client';

describe('joinUrl', () => {
  it('keeps the base URL path prefix', () => {
    expect(joinUrl('http://127.0.0.1:8080/openai/v1', '/chat/completions').href).toBe('http://127.0.0.1:8080/openai/v1/chat/completions');
    expect(joinUrl('https://api.x.ai/v1/', 'images/generations').href).toBe('https://api.x.ai/v1/images/generations');
    expect(joinUrl('http://h/gemini', '/v1beta/models/g:streamGenerateContent?alt=sse').search).toBe('?alt=sse');
  });
});

describe('mapNetworkError', () => {
  const opts = { provider: 'openai' as const, secrets: ['sk-secret-123456'] };
  const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });

  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'timeout'],
    ['ECONNREFUSED', 'connection'],
    ['ECONNRESET', 'connection'],
    ['UND_ERR_SOCKET', 'connection'],
    ['ENOTFOUND', 'connection'],
    ['UND_ERR_ABORTED', 'cancelled'],
  ])('%s → %s', (code, kind) => {
    expect(mapNetworkError(withCode(code), opts).kind).toBe(kind);
  });

  it('reads the code of a wrapped cause', () => {
    const err = new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') });
    expect(mapNetworkError(err, opts).kind).toBe('connection');
  });

  it('prefers an UpstreamError given as the abort reason', () => {
    const ac = new AbortController();
    ac.abort(new UpstreamError({ kind: 'timeout', message: 'deadline' }));
    expect(mapNetworkError(new Error('aborted'), { ...opts, signal: ac.signal }).kind).toBe('timeout');
    const plain = new AbortController();
    plain.abort();
    expect(mapNetworkError(new Error('x'), { ...opts, signal: plain.signal }).kind).toBe('cancelled');
  });

  it('keeps the raw message only in the redacted detail', () => {
    const err = mapNetworkError(withCode('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:443 key sk-secret-123456'), opts);
    expect(err.message).not.toContain('10.1.2.3');
    expect(err.detail).toContain('10.1.2.3');
    expect(err.detail).not.toContain('sk-secret-123456');
  });
});

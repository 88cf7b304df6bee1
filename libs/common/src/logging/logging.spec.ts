import { redactUrl } from './logging';

describe('redactUrl', () => {
  it('leaves a URL without a query, or without secret parameters, as it is', () => {
    expect(redactUrl('/v1/chat/completions')).toBe('/v1/chat/completions');
    expect(redactUrl('/v1beta/models/x:streamGenerateContent?alt=sse&keys=1&monkey=2')).toBe('/v1beta/models/x:streamGenerateContent?alt=sse&keys=1&monkey=2');
    expect(redactUrl(undefined)).toBeUndefined();
  });

  it('redacts key, api_key and token wherever they stand', () => {
    expect(redactUrl('/v1beta/models/x:generateContent?key=sk-sy-abc')).toBe('/v1beta/models/x:generateContent?key=[REDACTED]');
    expect(redactUrl('/a?alt=sse&api_key=s1&token=s2&b=3')).toBe('/a?alt=sse&api_key=[REDACTED]&token=[REDACTED]&b=3');
    expect(redactUrl('/a?key')).toBe('/a?key=[REDACTED]');
  });

  it('redacts a name spelt the way the query parser still reads as a secret: percent-encoded, with +, in capitals, with brackets', () => {
    for (const name of ['%6Bey', '%6b%65%79', 'KEY', 'Api%5Fkey', 'key[]', 'key%5B0%5D', '+key', 'tok%65n']) {
      expect(redactUrl(`/a?alt=sse&${name}=sk-sy-secret`)).toBe(`/a?alt=sse&${name}=[REDACTED]`);
    }
  });

  it('does not choke on a malformed escape', () => {
    expect(redactUrl('/a?%E0%A4%A=1&key=s')).toBe('/a?%E0%A4%A=1&key=[REDACTED]');
  });
});

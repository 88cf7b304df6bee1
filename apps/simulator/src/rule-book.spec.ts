import { RuleBook } from './rule-book';

describe('RuleBook', () => {
  it('uses the first matching rule and consumes it `times` times', () => {
    const book = new RuleBook();
    book.script({ provider: 'openai', model: 'gpt-4o', status: 500, times: 2 });
    book.script({ provider: 'gemini', path: ':predict', status: 503 });
    expect(book.take('openai', 'gpt-4o-mini', '/openai/v1/chat/completions')).toBeUndefined();
    expect(book.take('openai', 'gpt-4o', '/openai/v1/chat/completions')?.status).toBe(500);
    expect(book.take('openai', 'gpt-4o', '/openai/v1/chat/completions')?.status).toBe(500);
    expect(book.take('openai', 'gpt-4o', '/openai/v1/chat/completions')).toBeUndefined();
    expect(book.take('google', 'imagen-4.0-generate-001', '/gemini/v1beta/models/imagen-4.0-generate-001:generateContent')).toBeUndefined();
    expect(book.take('google', 'imagen-4.0-generate-001', '/gemini/v1beta/models/imagen-4.0-generate-001:predict')?.status).toBe(503);
  });

  it('keeps a negative `times` until reset and ignores zero', () => {
    const book = new RuleBook();
    book.script({ status: 429, times: 0 });
    book.script({ status: 500, times: -1 });
    for (let i = 0; i < 5; i++) expect(book.take('xai', null, '/xai/v1/chat/completions')?.status).toBe(500);
    book.reset();
    expect(book.take('xai', null, '/xai/v1/chat/completions')).toBeUndefined();
  });

  it('filters calls by provider (aliases included) and model', () => {
    const book = new RuleBook();
    const base = { path: '/p', headers: {}, body: null, startedAt: 1, aborted: false, chunksSent: 0, status: 200 };
    book.record({ ...base, provider: 'google', model: 'gemini-2.5-flash' });
    book.record({ ...base, provider: 'openai', model: 'gpt-4o' });
    expect(book.calls({ provider: 'gemini' }).map((c) => c.model)).toEqual(['gemini-2.5-flash']);
    expect(book.calls({ model: 'gpt-4o' })).toHaveLength(1);
    expect(book.calls()).toHaveLength(2);
  });

  it('keeps only the most recent calls beyond its limit', () => {
    const book = new RuleBook(10);
    const base = { provider: 'openai', path: '/p', headers: {}, body: null, aborted: false, chunksSent: 0, status: 200, model: null };
    for (let i = 0; i < 2000; i++) book.record({ ...base, startedAt: i });
    const calls = book.calls();
    expect(calls.length).toBeLessThanOrEqual(1010);
    expect(calls.at(-1)?.startedAt).toBe(1999);
    expect(calls[0]?.startedAt).toBe(2000 - calls.length);
  });
});

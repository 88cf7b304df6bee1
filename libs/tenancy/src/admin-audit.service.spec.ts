import { auditDetail } from './admin-audit.service';
import { generateApiKey, hashApiKey } from './api-key';

describe('auditDetail', () => {
  it('stores micro-USD amounts as decimal strings and times as ISO 8601, dropping undefined fields', () => {
    expect(
      auditDetail({
        amount_micros: 9_007_199_254_740_993n,
        balance_micros: 0n,
        expires_at: new Date('2027-01-01T00:00:00.000Z'),
        note: undefined,
        name: null,
        allowed_models: ['openai/gpt-4o-mini'],
        rates: { tokens: { input: 150_000, output: 600_000 } },
        already_revoked: false,
      }),
    ).toEqual({
      amount_micros: '9007199254740993',
      balance_micros: '0',
      expires_at: '2027-01-01T00:00:00.000Z',
      name: null,
      allowed_models: ['openai/gpt-4o-mini'],
      rates: { tokens: { input: 150_000, output: 600_000 } },
      already_revoked: false,
    });
  });

  it('redacts anything shaped like a key or a key hash, wherever an operator typed it', () => {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    const stored = JSON.stringify(auditDetail({ note: `pasted ${key} by mistake`, name: hash, nested: [{ text: `x${key}` }], HASH: hash.toUpperCase() }));
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(6));
    expect(stored.toLowerCase()).not.toContain(hash);
    expect(JSON.parse(stored)).toEqual({
      note: 'pasted [redacted] by mistake',
      name: '[redacted]',
      nested: [{ text: 'x[redacted]' }],
      HASH: '[redacted]',
    });
  });

  it('leaves ordinary text, ids and display prefixes alone', () => {
    const detail = { note: 'invoice 2026-11', model: 'openai/gpt-4o-mini', price_id: '0b7c8d2e-1f3a-4b5c-8d9e-0f1a2b3c4d5e', prefix: 'sk-sy-AbC123' };
    expect(auditDetail(detail)).toEqual(detail);
  });
});

import { displayPrefix, generateApiKey, hashApiKey, KEY_PREFIX, looksLikeApiKey } from './api-key';

describe('API keys', () => {
  it('have the sk-sy- prefix and at least 32 random base62 characters', () => {
    const key = generateApiKey();
    expect(key.startsWith(KEY_PREFIX)).toBe(true);
    expect(key.slice(KEY_PREFIX.length)).toMatch(/^[0-9A-Za-z]{32,}$/);
    expect(looksLikeApiKey(key)).toBe(true);
  });

  it('are unique', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
  });

  it('hash to a stable SHA-256 hex digest that does not contain the key', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(key)).not.toContain(key.slice(KEY_PREFIX.length, KEY_PREFIX.length + 8));
    expect(hashApiKey(key)).not.toBe(hashApiKey(generateApiKey()));
  });

  it('display only a short prefix', () => {
    const key = generateApiKey();
    expect(displayPrefix(key)).toBe(key.slice(0, 12));
    expect(looksLikeApiKey('sk-sy-short')).toBe(false);
  });
});

import { createHash, randomInt } from 'node:crypto';

export const KEY_PREFIX = 'sk-sy-';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_CHARS = 40; // 40 base62 characters ≈ 238 bits

/** A new Switchyard key: `sk-sy-` + 40 random base62 characters (crypto.randomInt avoids modulo bias). */
export function generateApiKey(): string {
  let s = KEY_PREFIX;
  for (let i = 0; i < RANDOM_CHARS; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/**
 * Keys are stored only as SHA-256. A fast hash is the right tool here: the keys are long random secrets
 * (not passwords), so there is nothing to brute-force, and lookups on the hot path stay cheap. Looking a
 * key up by its hash also means no secret is ever compared byte by byte in application code.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What is shown to people after creation: enough to recognise a key, useless to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(KEY_PREFIX) && value.length >= KEY_PREFIX.length + 32 && /^[0-9A-Za-z]+$/.test(value.slice(KEY_PREFIX.length));
}

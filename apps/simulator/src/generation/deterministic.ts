/**
 * Deterministic "model output": the same request always produces the same text, ids and arguments, so
 * tests can compare a streamed answer with a non-streamed one and a retried call with its first attempt.
 */

/** 32-bit FNV-1a: cheap enough to run on every request of a benchmark. */
export function hash32(input: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function hashHex(input: string, length = 24): string {
  let out = '';
  let seed = hash32(input);
  while (out.length < length) {
    seed = hash32(`${seed}:${input.length}:${out.length}`);
    out += seed.toString(16).padStart(8, '0');
  }
  return out.slice(0, length);
}

/** mulberry32: a tiny seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'the', 'switchyard', 'routes', 'each', 'request', 'to', 'a', 'provider', 'that', 'serves', 'model', 'and',
  'bills', 'it', 'at', 'list', 'price', 'signal', 'track', 'freight', 'train', 'arrives', 'on', 'time',
  'while', 'cargo', 'moves', 'north', 'through', 'quiet', 'valley', 'under', 'clear', 'sky', 'with', 'steady',
  'rhythm', 'of', 'wheels', 'over', 'iron', 'rails', 'near', 'old', 'station', 'where', 'lamps', 'glow',
];

/**
 * Text of exactly `tokens` pieces; each piece counts as one output token. Pieces keep their leading space
 * so that concatenating any split of them reproduces the text.
 */
export function generatePieces(seed: number, tokens: number): string[] {
  const rnd = seededRandom(seed);
  const pieces: string[] = [];
  for (let i = 0; i < tokens; i++) {
    const word = WORDS[Math.floor(rnd() * WORDS.length)] ?? 'signal';
    if (i === 0) pieces.push(word.charAt(0).toUpperCase() + word.slice(1));
    else if (i === tokens - 1) pieces.push(` ${word}.`);
    else pieces.push(` ${word}`);
  }
  return pieces;
}

/** Splits `items` into `parts` groups of near-equal size, in order, none empty. */
export function splitEven<T>(items: T[], parts: number): T[][] {
  const n = Math.max(1, Math.min(parts, items.length));
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = Math.round(((i + 1) * items.length) / n);
    out.push(items.slice(start, end));
    start = end;
  }
  return out.filter((g) => g.length > 0);
}

/** Splits a string into `parts` near-equal substrings (used to stream tool arguments in pieces). */
export function splitString(text: string, parts: number): string[] {
  if (text.length === 0) return [''];
  return splitEven(Array.from(text), parts).map((g) => g.join(''));
}

/** ≈ 1 token per 4 characters, the estimate the gateway's own reservation logic uses. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

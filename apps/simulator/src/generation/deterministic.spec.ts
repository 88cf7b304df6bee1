import { estimateTokens, generatePieces, splitEven, splitString } from './deterministic';

describe('deterministic generation', () => {
  it('produces exactly the requested number of pieces, the same for the same seed', () => {
    const a = generatePieces(123, 17);
    expect(a).toHaveLength(17);
    expect(generatePieces(123, 17)).toEqual(a);
    expect(generatePieces(124, 17)).not.toEqual(a);
    expect(a.join('').endsWith('.')).toBe(true);
  });

  it('splits without losing or reordering anything', () => {
    const items = Array.from({ length: 23 }, (_, i) => i);
    const groups = splitEven(items, 5);
    expect(groups).toHaveLength(5);
    expect(groups.flat()).toEqual(items);
    expect(splitEven([1, 2], 10)).toEqual([[1], [2]]);
    expect(splitString('{"a":1}', 3).join('')).toBe('{"a":1}');
  });

  it('estimates one token per four characters', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
  });
});

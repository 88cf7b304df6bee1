import { formatUsd, microsToUsd, usdToMicros } from './money';

describe('money', () => {
  it.each([
    [10, 10_000_000n],
    ['10', 10_000_000n],
    [0.1, 100_000n],
    [0.3, 300_000n],
    ['0.000001', 1n],
    [1.234567, 1_234_567n],
    [0, 0n],
    [1e-6, 1n],
  ])('usdToMicros(%p) = %p exactly', (input, expected) => {
    expect(usdToMicros(input)).toBe(expected);
  });

  it.each([[-1], ['-1'], ['1.0000001'], ['abc'], [Number.NaN], [Infinity], ['1e3']])('refuses %p', (input) => {
    expect(() => usdToMicros(input)).toThrow(RangeError);
  });

  it('formats and converts back', () => {
    expect(formatUsd(1_234_567n)).toBe('1.234567');
    expect(formatUsd(5n)).toBe('0.000005');
    expect(formatUsd(-2_500_000n)).toBe('-2.500000');
    expect(microsToUsd(2_500_000n)).toBe(2.5);
  });
});

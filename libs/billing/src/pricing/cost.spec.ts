import type { ModelPrice, NormalizedUsage } from '@app/providers';
import { emptyUsage } from '@app/providers';
import { computeCost, perImagePrice, tokenCost } from './cost';

const usage = (u: Partial<NormalizedUsage>): NormalizedUsage => ({ ...emptyUsage(), ...u });

describe('computeCost', () => {
  const chat: ModelPrice = {
    tokens: { input: 150_000, cachedInput: 75_000, output: 600_000, reasoningOutput: 600_000 },
    source: 'x',
    date: '2026-11-20',
  };

  it('bills each dimension at its own list rate, exactly', () => {
    const c = computeCost(chat, usage({ textInput: 1_000_000, cachedInput: 2_000_000, textOutput: 500_000, reasoningOutput: 10 }));
    expect(c.lines.map((l) => [l.kind, l.quantity, l.unitPriceMicros, l.costMicros])).toEqual([
      ['text_input', 1_000_000, 150_000, 150_000n],
      ['cached_input', 2_000_000, 75_000, 150_000n],
      ['text_output', 500_000, 600_000, 300_000n],
      ['reasoning_output', 10, 600_000, 6n],
    ]);
    expect(c.totalMicros).toBe(600_006n);
  });

  it('rounds each line half-up to the micro-dollar', () => {
    expect(tokenCost(7, 150_000)).toBe(1n); // 1.05
    expect(tokenCost(10, 150_000)).toBe(2n); // 1.5 → 2
    expect(tokenCost(3, 150_000)).toBe(0n); // 0.45
  });

  it('falls back to the input/output rate for dimensions without their own', () => {
    const c = computeCost({ tokens: { input: 1_000_000, output: 2_000_000 }, source: 'x', date: 'd' }, usage({ cachedInput: 1000, imageInput: 1000, audioInput: 1000, reasoningOutput: 1000, imageOutput: 1000 }));
    expect(c.lines.map((l) => l.unitPriceMicros)).toEqual([1_000_000, 1_000_000, 1_000_000, 2_000_000, 2_000_000]);
  });

  it('bills image output tokens at the image-token rate, not the text rate', () => {
    const gptImage: ModelPrice = { tokens: { input: 5_000_000, imageInput: 10_000_000, output: 40_000_000, imageOutput: 40_000_000 }, source: 'x', date: 'd' };
    const c = computeCost(gptImage, usage({ textInput: 20, imageOutput: 4160 }));
    expect(c.lines.find((l) => l.kind === 'image_output')).toMatchObject({ quantity: 4160, unitPriceMicros: 40_000_000, costMicros: 166_400n });
    expect(c.totalMicros).toBe(166_400n + 100n);
  });

  it('bills per image by quality and size', () => {
    const imagen: ModelPrice = { perImage: { '*': { '*': 40_000 } }, source: 'x', date: 'd' };
    expect(computeCost(imagen, usage({ images: 3 })).totalMicros).toBe(120_000n);
    const table = { low: { '1024x1024': 11_000 }, high: { '1024x1024': 167_000, '1536x1024': 250_000 } };
    expect(perImagePrice(table, { quality: 'high', size: '1536x1024' })).toBe(250_000);
    expect(perImagePrice(table, { quality: 'medium', size: '1024x1024' })).toBeUndefined();
    expect(computeCost({ perImage: table, source: 'x', date: 'd' }, usage({ images: 2 }), { quality: 'low', size: '1024x1024' }).totalMicros).toBe(22_000n);
  });

  it('bills a model priced both ways by its reported tokens, never also per image', () => {
    const both: ModelPrice = { tokens: { input: 5_000_000, output: 40_000_000, imageOutput: 40_000_000 }, perImage: { '*': { '*': 42_000 } }, source: 'x', date: 'd' };
    const byTokens = computeCost(both, usage({ textInput: 10, imageOutput: 1000, images: 1 }));
    expect(byTokens.lines.map((l) => l.kind)).toEqual(['text_input', 'image_output']);
    expect(byTokens.totalMicros).toBe(50n + 40_000n);
    const noTokens = computeCost(both, usage({ images: 2 }));
    expect(noTokens.lines.map((l) => l.kind)).toEqual(['images']);
    expect(noTokens.totalMicros).toBe(84_000n);
  });

  it('switches to long-context rates above the threshold', () => {
    const pro: ModelPrice = { tokens: { input: 1_250_000, output: 10_000_000, longContext: { thresholdTokens: 200_000, input: 2_500_000, output: 15_000_000 } }, source: 'x', date: 'd' };
    expect(computeCost(pro, usage({ textInput: 100_000, textOutput: 1000 })).totalMicros).toBe(125_000n + 10_000n);
    expect(computeCost(pro, usage({ textInput: 300_000, textOutput: 1000 })).totalMicros).toBe(750_000n + 15_000n);
  });

  it('is zero for no usage', () => {
    expect(computeCost(chat, emptyUsage())).toEqual({ lines: [], totalMicros: 0n });
  });
});

import type { ModelPrice, NormalizedUsage } from '@app/providers';
import { addUsage, emptyUsage, totalInputTokens } from '@app/providers';
import { computeCost, normalizePrice, perImagePrice, tokenCost } from './cost';

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
    const pro: ModelPrice = { tokens: { input: 1_250_000, output: 10_000_000, longContext: [{ thresholdTokens: 200_000, input: 2_500_000, output: 15_000_000 }] }, source: 'x', date: 'd' };
    expect(computeCost(pro, usage({ textInput: 100_000, textOutput: 1000 })).totalMicros).toBe(125_000n + 10_000n);
    expect(computeCost(pro, usage({ textInput: 200_000, textOutput: 1000 })).totalMicros).toBe(250_000n + 10_000n);
    expect(computeCost(pro, usage({ textInput: 300_000, textOutput: 1000 })).totalMicros).toBe(750_000n + 15_000n);
  });

  describe('input-length bands', () => {
    // Qwen3-Max: $1.20 / $6 up to 32K, $2.40 / $12 up to 128K, $3 / $15 above.
    const qwenMax: ModelPrice = {
      tokens: {
        input: 1_200_000,
        output: 6_000_000,
        longContext: [
          { thresholdTokens: 32_000, input: 2_400_000, output: 12_000_000 },
          { thresholdTokens: 128_000, input: 3_000_000, output: 15_000_000 },
        ],
      },
      source: 'x',
      date: 'd',
    };
    const rates = (u: Partial<NormalizedUsage>) => computeCost(qwenMax, usage(u)).lines.map((l) => [l.kind, l.unitPriceMicros]);

    it('bills every token of the request at the band its prompt falls in', () => {
      expect(rates({ textInput: 20_000, textOutput: 10 })).toEqual([['text_input', 1_200_000], ['text_output', 6_000_000]]);
      expect(rates({ textInput: 32_000, textOutput: 10 })).toEqual([['text_input', 1_200_000], ['text_output', 6_000_000]]);
      // The middle band: billed at $2.40 / $12, not at the top band's $3 / $15.
      expect(rates({ textInput: 60_000, textOutput: 10 })).toEqual([['text_input', 2_400_000], ['text_output', 12_000_000]]);
      expect(computeCost(qwenMax, usage({ textInput: 100_000, textOutput: 1_000 })).totalMicros).toBe(240_000n + 12_000n);
      expect(rates({ textInput: 200_000, textOutput: 10 })).toEqual([['text_input', 3_000_000], ['text_output', 15_000_000]]);
    });

    it('counts cached input and cache writes toward the prompt length', () => {
      expect(rates({ textInput: 10_000, cachedInput: 30_000, textOutput: 10 })).toEqual([
        ['text_input', 2_400_000],
        ['cached_input', 2_400_000],
        ['text_output', 12_000_000],
      ]);
      expect(rates({ textInput: 10_000, cacheWriteInput: 30_000, textOutput: 10 })[0]).toEqual(['text_input', 2_400_000]);
    });

    it('reads a price row stored with a single long-context object, as rows were before bands were a list', () => {
      const stored = { tokens: { input: 1_250_000, output: 10_000_000, longContext: { thresholdTokens: 200_000, input: 2_500_000, output: 15_000_000 } }, source: 'x', date: 'd' } as unknown as ModelPrice;
      expect(computeCost(stored, usage({ textInput: 300_000, textOutput: 1000 })).totalMicros).toBe(750_000n + 15_000n);
      expect(normalizePrice(stored).tokens?.longContext).toEqual([{ thresholdTokens: 200_000, input: 2_500_000, output: 15_000_000 }]);
      const current: ModelPrice = { tokens: { input: 1, output: 2 }, source: 'x', date: 'd' };
      expect(normalizePrice(current)).toBe(current);
    });
  });

  describe('cache writes', () => {
    const sonnet: ModelPrice = { tokens: { input: 3_000_000, cachedInput: 300_000, cacheWrite: 3_750_000, output: 15_000_000 }, source: 'x', date: 'd' };

    it('bills tokens written to the prompt cache at the cache-write rate, on their own line', () => {
      const c = computeCost(sonnet, usage({ textInput: 50, cachedInput: 1800, cacheWriteInput: 200, textOutput: 120 }));
      expect(c.lines.map((l) => [l.kind, l.quantity, l.unitPriceMicros, l.costMicros])).toEqual([
        ['text_input', 50, 3_000_000, 150n],
        ['cached_input', 1800, 300_000, 540n],
        ['cache_write', 200, 3_750_000, 750n],
        ['text_output', 120, 15_000_000, 1_800n],
      ]);
      expect(c.totalMicros).toBe(3_240n);
    });

    it('adds and counts cache writes as input, and leaves usage without them as it was', () => {
      expect(addUsage(usage({ textInput: 1, cacheWriteInput: 5 }), usage({ cacheWriteInput: 7 }))).toEqual({ ...emptyUsage(), textInput: 1, cacheWriteInput: 12 });
      expect(addUsage(usage({ textInput: 1 }), usage({ textInput: 2 }))).toEqual({ ...emptyUsage(), textInput: 3 });
      expect(totalInputTokens(usage({ textInput: 1, cachedInput: 2, cacheWriteInput: 4, imageInput: 8, audioInput: 16 }))).toBe(31);
    });

    it('bills cache writes at the input rate where the provider does not charge extra', () => {
      const c = computeCost(chat, usage({ cacheWriteInput: 1_000_000 }));
      expect(c.lines).toEqual([{ kind: 'cache_write', quantity: 1_000_000, unitPriceMicros: 150_000, unit: 'per_1m_tokens', costMicros: 150_000n }]);
    });
  });

  describe('time-of-day rates', () => {
    // DeepSeek Flash: peak $0.30 / $1.20 (the base), off-peak half, outside weekday 01:00-04:00 and 06:00-10:00 UTC.
    const weekdays = [1, 2, 3, 4, 5];
    const flash: ModelPrice = {
      tokens: {
        input: 300_000,
        cachedInput: 6_000,
        output: 1_200_000,
        timeOfDay: [
          {
            label: 'off-peak',
            windows: [
              { days: weekdays, from: '00:00', to: '01:00' },
              { days: weekdays, from: '04:00', to: '06:00' },
              { days: weekdays, from: '10:00', to: '24:00' },
              { days: [0, 6], from: '00:00', to: '24:00' },
            ],
            input: 150_000,
            cachedInput: 3_000,
            output: 600_000,
          },
        ],
      },
      source: 'x',
      date: 'd',
    };
    const u = usage({ textInput: 1_000_000, cachedInput: 1_000_000, textOutput: 1_000_000 });
    const at = (iso: string) => computeCost(flash, u, { startedAt: new Date(iso) }).totalMicros;

    it('prices a request by the UTC time it started', () => {
      // Monday 2026-11-23
      expect(at('2026-11-23T02:30:00Z')).toBe(300_000n + 6_000n + 1_200_000n);
      expect(at('2026-11-23T03:59:59Z')).toBe(1_506_000n);
      expect(at('2026-11-23T04:00:00Z')).toBe(150_000n + 3_000n + 600_000n);
      expect(at('2026-11-23T09:15:00Z')).toBe(1_506_000n);
      expect(at('2026-11-23T10:00:00Z')).toBe(753_000n);
      expect(at('2026-11-23T00:59:00Z')).toBe(753_000n);
      // Saturday 2026-11-21, in what would be a weekday peak hour
      expect(at('2026-11-21T02:30:00Z')).toBe(753_000n);
    });

    it('bills the base (peak) rates when the start time is unknown', () => {
      expect(computeCost(flash, u).totalMicros).toBe(1_506_000n);
    });
  });

  it('is zero for no usage', () => {
    expect(computeCost(chat, emptyUsage())).toEqual({ lines: [], totalMicros: 0n });
  });
});

import { MODEL_CATALOG, UNPRICED_MODELS } from './catalog.data';
import {
  ModelCatalog,
  displayNameOf,
  findCatalogProblems,
  findFallbackProblems,
  formatMicroUsd,
  isPastShutdown,
  missingForFallback,
  toGeminiModelList,
  toOpenAiModelList,
} from './catalog';
import type { ModelCapabilities, ModelSpec } from './model-spec';

const IMAGE_API_SEEDS = [
  'openai/gpt-image-1',
  'openai/gpt-image-1-mini',
  'openai/gpt-image-1.5',
  'openai/gpt-image-2',
  'google/imagen-4.0-fast-generate-001',
  'google/imagen-4.0-generate-001',
  'google/imagen-4.0-ultra-generate-001',
  'grok/grok-imagine-image',
  'grok/grok-imagine-image-pro',
];
const GPT_IMAGE_SEEDS = IMAGE_API_SEEDS.filter((id) => id.startsWith('openai/'));
const PER_IMAGE_BILLED_SEEDS = IMAGE_API_SEEDS.filter((id) => !id.startsWith('openai/'));
const IMAGE_VIA_CHAT_SEEDS = [
  'google/gemini-2.5-flash-image',
  'google/gemini-3-pro-image-preview',
  'google/gemini-3.1-flash-image-preview',
];
const CHAT_SEEDS = ['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4.6', 'google/gemini-2.5-flash'];

// Built per test so a broken catalog fails the lookup tests with its problems listed while the data
// tests still report which entries are wrong.
function builtCatalog(): ModelCatalog {
  return new ModelCatalog();
}

function spec(id: string): ModelSpec {
  const found = MODEL_CATALOG.find((model) => model.id === id);
  if (found === undefined) throw new Error(`${id} is not in the catalog`);
  return found;
}

function isImageModel(capabilities: ModelCapabilities): boolean {
  return capabilities.imagesEndpoint || capabilities.imageOutputViaChat;
}

/** Every number anywhere inside a price, with its path. */
function numbersIn(value: unknown, path: string): [string, number][] {
  if (typeof value === 'number') return [[path, value]];
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => numbersIn(child, `${path}.${key}`));
  }
  return [];
}

/** Every leaf string inside a value, with its path. */
function stringsIn(value: unknown, path: string): [string, string][] {
  if (typeof value === 'string') return [[path, value]];
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => stringsIn(child, `${path}.${key}`));
  }
  return [];
}

function testModel(overrides: Partial<ModelSpec> & Pick<ModelSpec, 'id'>): ModelSpec {
  return {
    provider: 'google',
    upstreamId: overrides.id.split('/')[1] ?? overrides.id,
    aliases: [],
    capabilities: {
      chat: true,
      streaming: true,
      tools: false,
      vision: false,
      audioInput: false,
      jsonSchema: false,
      reasoning: false,
      webSearch: false,
      imageOutputViaChat: false,
      imagesEndpoint: false,
      imageEditing: false,
    },
    price: { tokens: { input: 1_000, output: 2_000 }, source: 'https://example.test/pricing', date: '2026-11-20' },
    ...overrides,
  };
}

describe('model catalog data', () => {
  it('passes its own consistency check', () => {
    expect(findCatalogProblems(MODEL_CATALOG)).toEqual([]);
  });

  it.each(IMAGE_API_SEEDS)('serves %s on the images endpoint', (id) => {
    const { capabilities } = spec(id);
    expect(capabilities.imagesEndpoint).toBe(true);
  });

  it.each(GPT_IMAGE_SEEDS)('answers %s through chat too, without streaming or tools', (id) => {
    const { capabilities } = spec(id);
    expect(capabilities).toMatchObject({ chat: true, imageOutputViaChat: true, streaming: false, tools: false });
    expect(spec(id).price?.tokens?.imageOutput).toBeGreaterThan(0);
  });

  it.each(PER_IMAGE_BILLED_SEEDS)('keeps %s off the chat path and prices it per image', (id) => {
    const model = spec(id);
    expect(model.capabilities.chat).toBe(false);
    expect(model.capabilities.imageOutputViaChat).toBe(false);
    expect(Object.keys(model.price?.perImage ?? {}).length).toBeGreaterThan(0);
  });

  it.each(IMAGE_VIA_CHAT_SEEDS)('serves %s through chat only, non-streaming, billed by image tokens', (id) => {
    const model = spec(id);
    expect(model.capabilities).toMatchObject({
      chat: true,
      imageOutputViaChat: true,
      imagesEndpoint: false,
      streaming: false,
      imageEditing: true,
    });
    expect(model.price?.tokens?.imageOutput).toBeGreaterThan(0);
    expect(model.capabilities.maxN).toBe(1);
  });

  it.each(CHAT_SEEDS)('serves %s as a streaming chat model with tools', (id) => {
    expect(spec(id).capabilities).toMatchObject({
      chat: true,
      streaming: true,
      tools: true,
      imageOutputViaChat: false,
      imagesEndpoint: false,
    });
  });

  it('has current chat models from every provider', () => {
    const providers = ['openai', 'google', 'xai', 'anthropic', 'deepseek', 'qwen', 'moonshot', 'minimax'] as const;
    for (const provider of providers) {
      const chatModels = MODEL_CATALOG.filter((m) => m.provider === provider && m.capabilities.chat);
      expect({ provider, count: chatModels.length }).toEqual({ provider, count: expect.any(Number) });
      expect(chatModels.length).toBeGreaterThanOrEqual(2);
    }
    for (const id of ['deepseek/deepseek-chat', 'deepseek/deepseek-reasoner', 'qwen/qwen-max', 'qwen/qwen-plus']) {
      expect(spec(id).capabilities.chat).toBe(true);
    }
    expect(spec('deepseek/deepseek-reasoner').capabilities.reasoning).toBe(true);
  });

  it('names xAI models grok/<model> with an xai/<model> alias', () => {
    const xai = MODEL_CATALOG.filter((m) => m.provider === 'xai');
    expect(xai.length).toBeGreaterThan(0);
    for (const model of xai) {
      expect(model.id).toMatch(/^grok\//);
      expect(model.aliases).toContain(`xai/${model.id.slice('grok/'.length)}`);
    }
  });

  it('prices every model, or says why not', () => {
    for (const model of MODEL_CATALOG) {
      if (model.price === null) expect(UNPRICED_MODELS[model.id]).toEqual(expect.stringMatching(/\S/));
      else expect(model.price.tokens ?? model.price.perImage).toBeDefined();
    }
    for (const id of Object.keys(UNPRICED_MODELS)) expect(spec(id).price).toBeNull();
  });

  it('uses each id and alias once, ignoring case', () => {
    const seen = new Map<string, string>();
    const clashes: string[] = [];
    for (const model of MODEL_CATALOG) {
      for (const name of [model.id, ...model.aliases]) {
        const owner = seen.get(name.toLowerCase());
        if (owner !== undefined) clashes.push(`${name} (${owner}, ${model.id})`);
        seen.set(name.toLowerCase(), model.id);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('gives every image model sizes, qualities and maxN', () => {
    const imageModels = MODEL_CATALOG.filter((m) => isImageModel(m.capabilities));
    expect(imageModels.length).toBe(IMAGE_API_SEEDS.length + IMAGE_VIA_CHAT_SEEDS.length);
    for (const { id, capabilities } of imageModels) {
      expect({ id, sizes: (capabilities.sizes ?? []).length > 0 }).toEqual({ id, sizes: true });
      expect({ id, qualities: (capabilities.qualities ?? []).length > 0 }).toEqual({ id, qualities: true });
      expect({ id, maxN: Number.isInteger(capabilities.maxN) && (capabilities.maxN ?? 0) >= 1 }).toEqual({
        id,
        maxN: true,
      });
    }
  });

  it('states every amount as a non-negative integer of micro-USD, with a source and a date', () => {
    for (const model of MODEL_CATALOG) {
      if (model.price === null) continue;
      const { source, date, ...amounts } = model.price;
      expect(source).toMatch(/^https:\/\//);
      expect(date).toMatch(/^20\d\d-\d\d-\d\d$/);
      expect(date <= '2026-11-21').toBe(true);
      for (const [path, value] of numbersIn(amounts, model.id)) {
        if (path.endsWith('.thresholdTokens') || path.includes('.days.')) continue;
        expect({ path, ok: Number.isSafeInteger(value) && value >= 0 }).toEqual({ path, ok: true });
      }
    }
  });

  it('never prices a long prompt below a shorter one', () => {
    let banded = 0;
    for (const model of MODEL_CATALOG) {
      const tokens = model.price?.tokens;
      if (tokens?.longContext === undefined) continue;
      banded++;
      let previous = { thresholdTokens: 0, input: tokens.input, output: tokens.output };
      for (const band of tokens.longContext) {
        expect({ id: model.id, above: band.thresholdTokens > previous.thresholdTokens }).toEqual({ id: model.id, above: true });
        expect(band.input).toBeGreaterThanOrEqual(previous.input);
        expect(band.output).toBeGreaterThanOrEqual(previous.output);
        previous = band;
      }
    }
    expect(banded).toBeGreaterThan(5);
  });

  it("bills Qwen-Max by its three input-length bands instead of jumping to the top one", () => {
    expect(spec('qwen/qwen-max').price?.tokens?.longContext).toEqual([
      { thresholdTokens: 32_000, input: 2_400_000, output: 12_000_000 },
      { thresholdTokens: 128_000, input: 3_000_000, output: 15_000_000 },
    ]);
  });

  it("carries DeepSeek's peak rates as the base and its off-peak hours at half", () => {
    for (const id of ['deepseek/deepseek-flash', 'deepseek/deepseek-v4-pro']) {
      const tokens = spec(id).price?.tokens;
      const offPeak = tokens?.timeOfDay?.[0];
      expect(offPeak?.label).toBe('off-peak');
      expect(offPeak && tokens && [offPeak.input * 2, offPeak.output * 2, (offPeak.cachedInput ?? 0) * 2]).toEqual(
        tokens && [tokens.input, tokens.output, tokens.cachedInput],
      );
      // Weekday peak windows 01:00-04:00 and 06:00-10:00 UTC are outside every off-peak window.
      expect(offPeak?.windows).toEqual(
        expect.arrayContaining([
          { days: [1, 2, 3, 4, 5], from: '04:00', to: '06:00' },
          { days: [0, 6], from: '00:00', to: '24:00' },
        ]),
      );
    }
  });

  it('keeps the retired seed models listed, with the shutdown the provider announced and a route onwards', () => {
    const retired = [
      'openai/gpt-image-1',
      'google/imagen-4.0-fast-generate-001',
      'google/imagen-4.0-generate-001',
      'google/imagen-4.0-ultra-generate-001',
      'google/gemini-2.5-flash-image',
    ];
    for (const id of retired) {
      const model = spec(id);
      expect({ id, past: isPastShutdown(model, '2026-11-21') }).toEqual({ id, past: true });
      expect(model.deprecation?.source).toMatch(/^https:\/\//);
      expect(model.price).not.toBeNull();
    }
    expect(spec('openai/gpt-image-1').fallbacks).toEqual(['openai/gpt-image-2']);
    expect(spec('google/gemini-2.5-flash-image').fallbacks).toEqual(['google/gemini-3.1-flash-image-preview']);
    // Imagen Standard has no Imagen fallback that takes all its requests (Ultra renders one image).
    expect(spec('google/imagen-4.0-generate-001').fallbacks).toBeUndefined();
  });

  it('records the list prices the seeds are most often billed at', () => {
    expect(spec('openai/gpt-4o-mini').price?.tokens).toMatchObject({ input: 150_000, output: 600_000 });
    expect(spec('google/imagen-4.0-generate-001').price?.perImage).toEqual({ '*': { '*': 40_000 } });
    expect(spec('anthropic/claude-sonnet-4.6').price?.tokens).toMatchObject({ input: 3_000_000, output: 15_000_000 });
    expect(spec('openai/gpt-image-1').price?.perImage?.high?.['1024x1024']).toBe(167_000);
  });

  it('gives the seed image models and the main chat models same-provider fallbacks', () => {
    const withFallbacks = [
      ...GPT_IMAGE_SEEDS.filter((id) => id !== 'openai/gpt-image-2'),
      'google/imagen-4.0-fast-generate-001',
      'google/imagen-4.0-ultra-generate-001',
      'grok/grok-imagine-image-pro',
      ...IMAGE_VIA_CHAT_SEEDS.filter((id) => id !== 'google/gemini-3.1-flash-image-preview'),
      ...CHAT_SEEDS,
      'openai/gpt-5.6-sol',
      'anthropic/claude-opus-4.7',
      'grok/grok-4.7',
      'deepseek/deepseek-v4-pro',
      'qwen/qwen-max',
    ];
    for (const id of withFallbacks) expect({ id, fallbacks: (spec(id).fallbacks ?? []).length > 0 }).toEqual({ id, fallbacks: true });
  });

  it('only falls back to another model of the same provider that serves everything the model serves on its route', () => {
    expect(findFallbackProblems(MODEL_CATALOG)).toEqual([]);
    const byId = new Map(MODEL_CATALOG.map((m) => [m.id, m]));
    let count = 0;
    for (const model of MODEL_CATALOG) {
      for (const id of model.fallbacks ?? []) {
        count++;
        const fallback = byId.get(id);
        expect({ from: model.id, id, known: fallback !== undefined }).toEqual({ from: model.id, id, known: true });
        if (fallback === undefined) continue;
        expect(fallback.id).not.toBe(model.id);
        expect(fallback.provider).toBe(model.provider);
        expect(fallback.price).not.toBeNull();
        expect({ from: model.id, id, missing: missingForFallback(model, fallback) }).toEqual({ from: model.id, id, missing: [] });
      }
    }
    expect(count).toBeGreaterThan(20);
  });
});

describe('findCatalogProblems', () => {
  it('reports clashing names, fractional amounts and incomplete image models', () => {
    const problems = findCatalogProblems([
      testModel({ id: 'google/a', aliases: ['shared'] }),
      testModel({ id: 'google/b', aliases: ['SHARED'] }),
      testModel({
        id: 'google/c',
        price: { tokens: { input: 0.5, output: 1 }, source: 'https://example.test', date: '2026-11-20' },
      }),
      testModel({
        id: 'google/d',
        capabilities: { ...testModel({ id: 'x/x' }).capabilities, imagesEndpoint: true },
      }),
    ]);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('SHARED: named by both google/a and google/b'),
        expect.stringContaining('google/c: tokens.input = 0.5'),
        expect.stringContaining('google/d: image model without sizes'),
        expect.stringContaining('google/d: image model without qualities'),
        expect.stringContaining('google/d: image model without maxN'),
      ]),
    );
  });

  it('rejects per-image prices for sizes the model does not accept', () => {
    const model = testModel({
      id: 'google/e',
      capabilities: {
        ...testModel({ id: 'x/x' }).capabilities,
        imagesEndpoint: true,
        sizes: ['1024x1024'],
        qualities: ['standard'],
        maxN: 1,
      },
      price: { perImage: { standard: { '2048x2048': 1 } }, source: 'https://example.test', date: '2026-11-20' },
    });
    expect(findCatalogProblems([model])).toEqual(['google/e: priced size 2048x2048 not accepted']);
  });
});

describe('findCatalogProblems on bands, hours, deprecations and fallbacks', () => {
  const image = (id: string, caps: Partial<ModelSpec['capabilities']>): ModelSpec =>
    testModel({
      id,
      capabilities: { ...testModel({ id: 'x/x' }).capabilities, chat: false, streaming: false, imagesEndpoint: true, ...caps },
      price: { perImage: { '*': { '*': 1 } }, source: 'https://example.test', date: '2026-11-20' },
    });

  it('refuses bands out of order and time-of-day rates that are unreadable or dearer than the base', () => {
    const problems = findCatalogProblems([
      testModel({
        id: 'google/bands',
        price: {
          tokens: {
            input: 10,
            output: 20,
            longContext: [
              { thresholdTokens: 100, input: 20, output: 40 },
              { thresholdTokens: 100, input: 30, output: 60 },
            ],
          },
          source: 'https://example.test',
          date: '2026-11-20',
        },
      }),
      testModel({
        id: 'google/hours',
        price: {
          tokens: {
            input: 10,
            output: 20,
            timeOfDay: [
              { label: 'night', windows: [{ days: [7], from: '25:00', to: '01:00' }], input: 5, output: 10 },
              { label: 'dear', windows: [{ days: [1], from: '02:00', to: '01:00' }], input: 50, output: 10 },
            ],
          },
          source: 'https://example.test',
          date: '2026-11-20',
        },
      }),
    ]);
    expect(problems).toEqual([
      'google/bands: longContext[1] is not above the band before it',
      'google/hours: timeOfDay[0].windows[0].days must be weekdays 0 (Sunday) to 6',
      'google/hours: timeOfDay[0].windows[0] times must be HH:MM (UTC)',
      'google/hours: timeOfDay[1].windows[0] ends before it starts',
      'google/hours: timeOfDay[1] bills above the base rates',
    ]);
  });

  it('refuses deprecations without dates or a source', () => {
    const problems = findCatalogProblems([
      testModel({ id: 'google/old', deprecation: { announced: '2026-05-01', shutdown: '2026-04-01', source: 'somewhere' } }),
    ]);
    expect(problems).toEqual([
      'google/old: deprecation.shutdown 2026-04-01 is not a YYYY-MM-DD on or after the announcement',
      'google/old: deprecation.source is not a URL',
    ]);
  });

  it('refuses fallbacks that are unknown, the model itself, foreign, unpriced or narrower', () => {
    const sizes = ['1024x1024', '2048x2048'];
    const base = testModel({ id: 'x/x' }).capabilities;
    const problems = findFallbackProblems([
      testModel({
        id: 'google/a',
        capabilities: { ...base, tools: true, contextWindow: 1000 },
        fallbacks: ['google/nope', 'google/a', 'openai/o', 'google/unpriced', 'google/small', 'google/wide'],
      }),
      testModel({ id: 'openai/o', provider: 'openai' }),
      testModel({ id: 'google/unpriced', price: null }),
      testModel({ id: 'google/small', capabilities: { ...base, contextWindow: 500 } }),
      testModel({ id: 'google/wide', capabilities: { ...base, tools: true } }),
      { ...image('google/img', { sizes, qualities: ['hd', 'auto'], maxN: 4 }), fallbacks: ['google/img-small', 'google/img-fine'] },
      image('google/img-small', { sizes: ['1024x1024'], qualities: ['standard'], maxN: 1 }),
      image('google/img-fine', { sizes: [...sizes, '512x512'], qualities: ['hd'], maxN: 4 }),
    ]);
    expect(problems).toEqual([
      'google/a: fallback google/nope is not a model id in the catalog',
      'google/a: falls back to itself',
      "google/a: fallback openai/o is another provider's",
      'google/a: fallback google/unpriced has no price',
      'google/a: fallback google/small lacks tools, a context window of 1000',
      'google/img: fallback google/img-small lacks size 2048x2048, quality hd, n up to 4',
    ]);
  });
});

describe('ModelCatalog', () => {
  it('refuses an inconsistent model list', () => {
    expect(() => new ModelCatalog([testModel({ id: 'google/a' }), testModel({ id: 'Google/A' })])).toThrow(
      /named by both/,
    );
  });

  it.each([
    ['openai/gpt-4o-mini', 'openai/gpt-4o-mini'],
    ['gpt-4o-mini', 'openai/gpt-4o-mini'],
    ['OpenAI/GPT-4o-mini', 'openai/gpt-4o-mini'],
    ['Google/gemini-2.5-flash', 'google/gemini-2.5-flash'],
    ['gemini-2.5-flash', 'google/gemini-2.5-flash'],
    ['models/gemini-2.5-flash', 'google/gemini-2.5-flash'],
    ['models/google/gemini-2.5-flash-image', 'google/gemini-2.5-flash-image'],
    ['models/gemini-3-pro-image-preview', 'google/gemini-3-pro-image-preview'],
    ['imagen-4.0-ultra-generate-001', 'google/imagen-4.0-ultra-generate-001'],
    ['grok/grok-imagine-image', 'grok/grok-imagine-image'],
    ['xai/grok-imagine-image', 'grok/grok-imagine-image'],
    ['XAI/grok-4', 'grok/grok-4'],
    ['anthropic/claude-sonnet-4.6', 'anthropic/claude-sonnet-4.6'],
    ['claude-sonnet-4-6', 'anthropic/claude-sonnet-4.6'],
    ['minimax/minimax-m3', 'minimax/MiniMax-M3'],
    ['deepseek-chat', 'deepseek/deepseek-chat'],
    ['  kimi-k2.6 ', 'moonshot/kimi-k2.6'],
  ])('resolves %s to %s', (name, id) => {
    expect(builtCatalog().resolve(name)?.id).toBe(id);
  });

  it.each(['', 'models/', 'gpt-9', 'openai/gemini-2.5-flash', 'anthropic/gpt-4o-mini'])('resolves %j to nothing', (name) => {
    expect(builtCatalog().resolve(name)).toBeUndefined();
  });

  it('lets an explicit alias win over a bare Google name', () => {
    const other = testModel({ id: 'openai/flash', provider: 'openai', aliases: ['gemini-x'] });
    const gemini = testModel({ id: 'google/gemini-x' });
    const custom = new ModelCatalog([gemini, other]);
    expect(custom.resolve('gemini-x')?.id).toBe('openai/flash');
    expect(custom.resolve('google/gemini-x')?.id).toBe('google/gemini-x');
    expect(custom.resolve('models/gemini-x')?.id).toBe('openai/flash');
    expect(custom.list()).toHaveLength(2);
  });

  it('only drops the prefix for Google models', () => {
    const custom = new ModelCatalog([testModel({ id: 'qwen/qwen-x', provider: 'qwen' })]);
    expect(custom.resolve('qwen-x')).toBeUndefined();
    expect(custom.resolve('qwen/qwen-x')?.id).toBe('qwen/qwen-x');
  });

  it('lists models by capability', () => {
    const catalog = builtCatalog();
    const imagesEndpoint = catalog.listByCapability('imagesEndpoint').map((m) => m.id);
    expect(imagesEndpoint.sort()).toEqual([...IMAGE_API_SEEDS].sort());
    const viaChat = catalog.listByCapability('imageOutputViaChat').map((m) => m.id);
    expect(viaChat.sort()).toEqual([...GPT_IMAGE_SEEDS, ...IMAGE_VIA_CHAT_SEEDS].sort());
    const audio = catalog.listByCapability('audioInput');
    expect(audio.length).toBeGreaterThan(0);
    expect(audio.every((m) => m.capabilities.audioInput)).toBe(true);
    expect(catalog.listByProvider('anthropic').every((m) => m.provider === 'anthropic')).toBe(true);
  });
});

describe('ModelCatalog.servingModels', () => {
  const retired = testModel({
    id: 'google/old',
    deprecation: { announced: '2026-01-01', shutdown: '2026-06-01', source: 'https://example.test/deprecations' },
    fallbacks: ['google/new'],
  });
  const retiredAlone = testModel({ id: 'google/alone', deprecation: { announced: '2026-01-01', shutdown: '2026-06-01', source: 'https://example.test' } });
  const replacement = testModel({ id: 'google/new' });
  const catalog = new ModelCatalog([retired, retiredAlone, replacement]);

  it('sends calls to a model past its shutdown to the fallbacks its entry names', () => {
    expect(catalog.servingModels(retired, '2026-06-01').map((m) => m.id)).toEqual(['google/new']);
    expect(catalog.servingModels(retired, '2026-11-21').map((m) => m.id)).toEqual(['google/new']);
  });

  it('keeps calling a model before its shutdown, or one whose entry names no fallback', () => {
    expect(catalog.servingModels(retired, '2026-05-31').map((m) => m.id)).toEqual(['google/old']);
    expect(catalog.servingModels(retiredAlone, '2026-11-21').map((m) => m.id)).toEqual(['google/alone']);
    expect(catalog.servingModels(replacement, '2026-11-21').map((m) => m.id)).toEqual(['google/new']);
  });

  it('routes the retired seed models of the real catalog onwards', () => {
    const real = builtCatalog();
    expect(real.servingModels(spec('openai/gpt-image-1'), '2026-11-21').map((m) => m.id)).toEqual(['openai/gpt-image-2']);
    expect(real.servingModels(spec('grok/grok-imagine-image-pro'), '2026-11-21').map((m) => m.id)).toEqual(['grok/grok-imagine-image']);
    expect(real.servingModels(spec('deepseek/deepseek-reasoner'), '2026-11-21').map((m) => m.id)).toEqual(['deepseek/deepseek-flash']);
    expect(real.servingModels(spec('openai/gpt-4o-mini'), '2026-11-21').map((m) => m.id)).toEqual(['openai/gpt-4o-mini']);
  });
});

describe('formatMicroUsd', () => {
  it.each([
    [150_000, '0.15'],
    [40_000, '0.04'],
    [75_000, '0.075'],
    [10_000_000, '10.00'],
    [22_500_000, '22.50'],
    [2_500, '0.0025'],
    [1, '0.000001'],
    [0, '0.00'],
    [120_000_000, '120.00'],
  ])('formats %d micro-USD as %s', (micro, usd) => {
    expect(formatMicroUsd(micro)).toBe(usd);
  });

  it.each([0.5, -1, Number.NaN])('refuses %d', (micro) => {
    expect(() => formatMicroUsd(micro)).toThrow(RangeError);
  });
});

describe('toOpenAiModelList', () => {
  let list: ReturnType<typeof toOpenAiModelList>;
  beforeAll(() => {
    list = toOpenAiModelList(MODEL_CATALOG, { created: 1_790_000_000 });
  });

  it('has OpenAI list shape with one entry per model', () => {
    expect(list.object).toBe('list');
    expect(list.data.map((entry) => entry.id)).toEqual(MODEL_CATALOG.map((m) => m.id));
    for (const entry of list.data) {
      expect(entry).toMatchObject({ object: 'model', created: 1_790_000_000 });
      expect(typeof entry.owned_by).toBe('string');
    }
    expect(list.data.find((e) => e.id === 'grok/grok-4')?.owned_by).toBe('xai');
  });

  it('shows prices as USD decimal strings, never floats', () => {
    const mini = list.data.find((e) => e.id === 'openai/gpt-4o-mini');
    expect(mini?.pricing?.tokens).toEqual({ input: '0.15', cached_input: '0.075', output: '0.60' });
    expect(mini?.pricing).toMatchObject({ currency: 'USD', source: expect.stringMatching(/^https:/) });
    const imagen = list.data.find((e) => e.id === 'google/imagen-4.0-fast-generate-001');
    expect(imagen?.pricing?.per_image).toEqual({ '*': { '*': '0.02' } });
    expect(imagen?.pricing?.tokens).toBeUndefined();
    for (const entry of list.data) {
      const { source, date, currency, ...amounts } = entry.pricing ?? { source: '', date: '', currency: 'USD' };
      expect([source, date, currency].every((v) => typeof v === 'string')).toBe(true);
      const numbers = numbersIn(amounts, entry.id).filter(([path]) => !path.endsWith('.threshold_tokens') && !path.includes('.days.'));
      expect(numbers).toEqual([]);
      const rates = stringsIn(amounts, entry.id).filter(([path]) => !/\.label$|\.windows\./.test(path));
      for (const [path, usd] of rates) {
        expect({ path, usd }).toEqual({ path, usd: expect.stringMatching(/^\d+\.\d{2,6}$/) });
      }
    }
  });

  it('carries capabilities and long-context rates', () => {
    const gptImage = list.data.find((e) => e.id === 'openai/gpt-image-1');
    expect(gptImage?.capabilities).toMatchObject({
      images_endpoint: true,
      image_output_via_chat: true,
      max_n: 10,
      sizes: expect.arrayContaining(['1024x1024']),
    });
    const pro = list.data.find((e) => e.id === 'google/gemini-2.5-pro');
    expect(pro?.pricing?.tokens?.long_context).toEqual([{ threshold_tokens: 200_000, input: '2.50', output: '15.00' }]);
    const max = list.data.find((e) => e.id === 'qwen/qwen-max');
    expect(max?.pricing?.tokens?.long_context?.map((b) => [b.threshold_tokens, b.input, b.output])).toEqual([
      [32_000, '2.40', '12.00'],
      [128_000, '3.00', '15.00'],
    ]);
    const flash = list.data.find((e) => e.id === 'deepseek/deepseek-flash');
    expect(flash?.pricing?.tokens).toMatchObject({ input: '0.30', output: '1.20' });
    expect(flash?.pricing?.tokens?.time_of_day?.[0]).toMatchObject({ label: 'off-peak', input: '0.15', cached_input: '0.003', output: '0.60' });
    expect(pro?.capabilities).toMatchObject({ context_window: 1_048_576, audio_input: true });
  });

  it('shows a retirement the provider announced, and nothing for other models', () => {
    const imagen = list.data.find((e) => e.id === 'google/imagen-4.0-generate-001');
    expect(imagen?.deprecation).toEqual({
      announced: expect.stringMatching(/^\d{4}-\d\d-\d\d$/),
      shutdown: '2026-08-17',
      replacement: 'gemini-3.1-flash-image',
      source: expect.stringMatching(/^https:\/\//),
    });
    expect(imagen?.pricing).not.toBeNull();
    expect(list.data.find((e) => e.id === 'openai/gpt-image-2')).not.toHaveProperty('deprecation');
  });

  it('shows an unpriced model with null pricing', () => {
    const unpriced = toOpenAiModelList([testModel({ id: 'google/new', price: null })], { created: 1 });
    expect(unpriced.data[0]?.pricing).toBeNull();
  });
});

describe('toGeminiModelList', () => {
  let list: ReturnType<typeof toGeminiModelList>;
  beforeAll(() => {
    list = toGeminiModelList(MODEL_CATALOG.filter((m) => m.provider === 'google'));
  });

  it("has Google's list shape", () => {
    const flash = list.models.find((m) => m.name === 'models/gemini-2.5-flash');
    expect(flash).toEqual({
      name: 'models/gemini-2.5-flash',
      displayName: 'Gemini 2.5 Flash',
      supportedGenerationMethods: ['generateContent', 'streamGenerateContent'],
      inputTokenLimit: 1_048_576,
      outputTokenLimit: 65_536,
    });
    for (const model of list.models) {
      expect(model.name).toMatch(/^models\/[^/]+$/);
      expect(model.supportedGenerationMethods).toContain('generateContent');
    }
  });

  it('offers image models for generateContent only and leaves out Imagen', () => {
    const image = list.models.find((m) => m.name === 'models/gemini-2.5-flash-image');
    expect(image?.supportedGenerationMethods).toEqual(['generateContent']);
    expect(list.models.some((m) => m.name.includes('imagen'))).toBe(false);
  });

  it('keeps the provider prefix for models outside Google', () => {
    const mixed = toGeminiModelList([spec('openai/gpt-4o-mini')]);
    expect(mixed.models[0]?.name).toBe('models/openai/gpt-4o-mini');
    expect(displayNameOf(spec('openai/gpt-4o-mini'))).toBe('GPT 4o Mini');
    expect(displayNameOf(spec('minimax/MiniMax-M3'))).toBe('MiniMax M3');
  });
});

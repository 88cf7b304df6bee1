import { ApiError } from '@app/common';
import { ModelCatalog, type ModelSpec } from '@app/providers';
import { type ChatFeatures } from './capabilities';
import { AUTO_ROUTER_PREFERENCES, MAX_FALLBACK_MODELS, ModelResolver, type ResolveInput, servesChatFeatures } from './model-resolver';
import { makeImageModel, makeModel } from './testing/model-spec.factory';

const NO_FEATURES: ChatFeatures = {
  imageInput: false,
  audioInput: false,
  tools: false,
  jsonSchema: false,
  webSearch: false,
  stream: false,
  imageOutput: false,
  multipleChoices: false,
};

function features(overrides: Partial<ChatFeatures> = {}): ChatFeatures {
  return { ...NO_FEATURES, ...overrides };
}

function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

const real = new ModelResolver(new ModelCatalog());

function ids(input: ResolveInput, resolver = real): string[] {
  return resolver.resolve(input).chain.map((m) => m.id);
}

describe('ModelResolver with the real catalog', () => {
  it.each([
    ['openai/gpt-4o-mini', 'openai/gpt-4o-mini'],
    ['gpt-4o-mini', 'openai/gpt-4o-mini'],
    ['OpenAI/GPT-4o-Mini', 'openai/gpt-4o-mini'],
    ['grok/grok-4', 'grok/grok-4'],
    ['xai/grok-4', 'grok/grok-4'],
    ['grok-4', 'grok/grok-4'],
    ['anthropic/claude-sonnet-4.6', 'anthropic/claude-sonnet-4.6'],
    ['claude-sonnet-4-6', 'anthropic/claude-sonnet-4.6'],
    ['google/gemini-2.5-flash', 'google/gemini-2.5-flash'],
    ['gemini-2.5-flash', 'google/gemini-2.5-flash'],
    ['models/gemini-2.5-flash', 'google/gemini-2.5-flash'],
  ])('resolves %s to %s', (name, id) => {
    const route = real.resolve({ model: name, allowedModels: [] });
    expect(route.chain.map((m) => m.id)).toEqual([id]);
    expect(route.params).toEqual(['model']);
    expect(route.router).toBeUndefined();
    expect(route.resolvedModel).toBeUndefined();
  });

  it('builds the chain from model then models, dropping names of a model already in it', () => {
    const route = real.resolve({
      model: 'gpt-4o-mini',
      models: ['openai/gpt-4o-mini', 'claude-sonnet-4.6', 'gemini-2.5-flash', 'anthropic/claude-sonnet-4-6'],
      allowedModels: [],
    });
    expect(route.chain.map((m) => m.id)).toEqual(['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4.6', 'google/gemini-2.5-flash']);
    expect(route.params).toEqual(['model', 'models[1]', 'models[2]']);
  });

  it(`accepts ${MAX_FALLBACK_MODELS} fallbacks and refuses one more with a 400 naming models`, () => {
    const five = ['gpt-4o', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-5'];
    expect(ids({ model: 'gpt-4o-mini', models: five, allowedModels: [] })).toHaveLength(6);
    const e = apiErrorOf(() => real.resolve({ model: 'gpt-4o-mini', models: [...five, 'gpt-5-mini'], allowedModels: [] }));
    expect([e.status, e.param]).toEqual([400, 'models']);
  });

  it('answers an unknown model with 404 model_not_found naming the field', () => {
    const e = apiErrorOf(() => real.resolve({ model: 'openai/gpt-99', allowedModels: [] }));
    expect([e.status, e.code, e.param]).toEqual([404, 'model_not_found', 'model']);
    const f = apiErrorOf(() => real.resolve({ model: 'gpt-4o-mini', models: ['gpt-4o', 'nope/nothing'], allowedModels: [] }));
    expect([f.status, f.code, f.param]).toEqual([404, 'model_not_found', 'models[1]']);
  });

  it("refuses a model the key's allowed_models exclude with 403 model_not_allowed", () => {
    const allowed = ['gpt-4o-mini', 'anthropic/claude-sonnet-4.6'];
    expect(ids({ model: 'openai/gpt-4o-mini', models: ['claude-sonnet-4.6'], allowedModels: allowed })).toEqual([
      'openai/gpt-4o-mini',
      'anthropic/claude-sonnet-4.6',
    ]);
    const e = apiErrorOf(() => real.resolve({ model: 'gpt-4o', allowedModels: allowed }));
    expect([e.status, e.code, e.param]).toEqual([403, 'model_not_allowed', 'model']);
    const f = apiErrorOf(() => real.resolve({ model: 'gpt-4o-mini', models: ['gemini-2.5-flash'], allowedModels: allowed }));
    expect([f.status, f.code, f.param]).toEqual([403, 'model_not_allowed', 'models[0]']);
  });

  describe('switchyard/auto', () => {
    function auto(needs: Partial<ChatFeatures>, allowedModels: string[] = []) {
      return real.resolve({ model: 'switchyard/auto', allowedModels, features: features(needs) });
    }

    it('names the router and the model it picked, and the pick can serve the request', () => {
      const cases: Partial<ChatFeatures>[] = [
        {},
        { imageInput: true },
        { tools: true },
        { audioInput: true },
        { jsonSchema: true, stream: true },
        { imageOutput: true },
        { imageOutput: true, multipleChoices: true },
      ];
      for (const needs of cases) {
        const route = auto(needs);
        expect(route.router).toBe('switchyard/auto');
        expect(route.chain).toHaveLength(1);
        expect(route.resolvedModel).toBe(route.chain[0].id);
        expect(route.chain[0].price).not.toBeNull();
        expect(servesChatFeatures(route.chain[0], features(needs))).toBe(true);
      }
    });

    it('picks a cheap general chat model for a plain request, a vision model for images, an image model for image output', () => {
      expect(auto({}).resolvedModel).toBe('google/gemini-2.5-flash-lite');
      expect(auto({ imageInput: true }).chain[0].capabilities.vision).toBe(true);
      expect(auto({ tools: true }).chain[0].capabilities.tools).toBe(true);
      expect(auto({ imageOutput: true }).resolvedModel).toBe('google/gemini-2.5-flash-image');
      expect(auto({ imageOutput: true }).chain[0].capabilities.imageOutputViaChat).toBe(true);
      // only GPT image models render several images in one chat turn
      expect(auto({ imageOutput: true, multipleChoices: true }).chain[0].provider).toBe('openai');
      // a text request never lands on an image model
      expect(auto({}).chain[0].capabilities.imageOutputViaChat).toBe(false);
    });

    it('is deterministic', () => {
      expect(auto({ tools: true }).resolvedModel).toBe(auto({ tools: true }).resolvedModel);
    });

    it("picks among the key's allowed models only, and 403s when none of them fits", () => {
      expect(auto({}, ['claude-haiku-4.5', 'gpt-4o']).resolvedModel).toBe('anthropic/claude-haiku-4.5');
      const e = apiErrorOf(() => auto({}, ['gpt-image-1', 'imagen-4.0-generate-001']));
      expect([e.status, e.code, e.param]).toEqual([403, 'model_not_allowed', 'model']);
    });

    it('answers 400 when no model in the catalog can serve the request', () => {
      const e = apiErrorOf(() => auto({ webSearch: true }));
      expect([e.status, e.code, e.param]).toEqual([400, 'no_model_for_request', 'model']);
      expect(e.message).toContain('web search');
    });

    it('accepts any casing and puts the requested fallbacks after its pick', () => {
      const route = real.resolve({
        model: 'Switchyard/Auto',
        models: ['claude-sonnet-4.6', 'gemini-2.5-flash-lite'],
        allowedModels: [],
        features: features(),
      });
      expect(route.chain.map((m) => m.id)).toEqual(['google/gemini-2.5-flash-lite', 'anthropic/claude-sonnet-4.6']);
      expect(route.params).toEqual(['model', 'models[0]']);
    });

    it('is refused outside the chat route and inside models', () => {
      const e = apiErrorOf(() => real.resolve({ model: 'switchyard/auto', allowedModels: [] }));
      expect([e.status, e.param]).toEqual([400, 'model']);
      const f = apiErrorOf(() =>
        real.resolve({ model: 'gpt-4o-mini', models: ['gpt-4o', 'switchyard/auto'], allowedModels: [], features: features() }),
      );
      expect([f.status, f.param]).toEqual([400, 'models[1]']);
    });

    it('treats an unknown router name as an unknown model', () => {
      const e = apiErrorOf(() => real.resolve({ model: 'switchyard/fastest', allowedModels: [], features: features() }));
      expect([e.status, e.code]).toEqual([404, 'model_not_found']);
    });

    it('prefers only models that exist in the catalog and have a price', () => {
      const catalog = new ModelCatalog();
      for (const id of AUTO_ROUTER_PREFERENCES) {
        expect(catalog.resolve(id)?.price ?? null).not.toBeNull();
      }
    });
  });
});

describe('ModelResolver with hand-made catalogs', () => {
  it('refuses a model without a price with 400 model_not_priced', () => {
    const resolver = new ModelResolver(
      new ModelCatalog([makeModel('openai/priced'), makeModel('openai/unpriced', { price: null, aliases: ['unpriced'] })]),
    );
    const e = apiErrorOf(() => resolver.resolve({ model: 'unpriced', allowedModels: [] }));
    expect([e.status, e.code, e.param]).toEqual([400, 'model_not_priced', 'model']);
    const f = apiErrorOf(() => resolver.resolve({ model: 'openai/priced', models: ['openai/unpriced'], allowedModels: [] }));
    expect([f.status, f.code, f.param]).toEqual([400, 'model_not_priced', 'models[0]']);
  });

  it('checks allowed_models before the price, so a key learns nothing about models it may not use', () => {
    const resolver = new ModelResolver(new ModelCatalog([makeModel('openai/a'), makeModel('openai/unpriced', { price: null })]));
    const e = apiErrorOf(() => resolver.resolve({ model: 'openai/unpriced', allowedModels: ['openai/a'] }));
    expect(e.status).toBe(403);
  });

  describe('switchyard/auto ranking', () => {
    const [lite, nano, mini] = AUTO_ROUTER_PREFERENCES;

    function pick(models: ModelSpec[], needs: Partial<ChatFeatures> = {}): string | undefined {
      return new ModelResolver(new ModelCatalog(models)).resolve({ model: 'switchyard/auto', allowedModels: [], features: features(needs) })
        .resolvedModel;
    }

    it('picks the cheapest preferred model even when a cheaper model outside the list exists', () => {
      const models = [
        makeModel('other/very-cheap', { tokens: { input: 1, output: 1 } }),
        makeModel(lite, { tokens: { input: 300, output: 300 } }),
        makeModel(nano, { tokens: { input: 100, output: 200 } }),
      ];
      expect(pick(models)).toBe(nano);
    });

    it('breaks a price tie by preference order, not catalog order', () => {
      const models = [makeModel(nano, { tokens: { input: 100, output: 100 } }), makeModel(lite, { tokens: { input: 150, output: 50 } })];
      expect(pick(models)).toBe(lite);
    });

    it('falls back to the cheapest capable model of the whole catalog when no preferred model fits', () => {
      const models = [
        makeModel(lite, { tokens: { input: 1, output: 1 } }), // no vision
        makeModel('other/vision-dear', { tokens: { input: 900, output: 900 }, capabilities: { vision: true } }),
        makeModel('other/vision-cheap', { tokens: { input: 500, output: 500 }, capabilities: { vision: true } }),
        makeModel('other/vision-unpriced', { price: null, capabilities: { vision: true } }),
      ];
      expect(pick(models, { imageInput: true })).toBe('other/vision-cheap');
      expect(pick(models)).toBe(lite);
    });

    it('needs a tool-capable model for tools and a streaming one for stream', () => {
      const models = [
        makeModel(lite, { tokens: { input: 1, output: 1 }, capabilities: { tools: false } }),
        makeModel(nano, { tokens: { input: 2, output: 2 }, capabilities: { streaming: false } }),
        makeModel(mini, { tokens: { input: 3, output: 3 } }),
      ];
      expect(pick(models, { tools: true })).toBe(nano);
      expect(pick(models, { stream: true })).toBe(lite);
      expect(pick(models, { tools: true, stream: true })).toBe(mini);
    });

    it('ranks image-output models by their worst-case per-image price', () => {
      const models = [
        makeModel(lite),
        makeImageModel('google/img-a', 40_000, { provider: 'google' }),
        makeModel('openai/img-b', {
          price: { perImage: { low: { '*': 5_000 }, high: { '*': 60_000 } }, source: 'https://example.com', date: '2026-01-01' },
          capabilities: { imageOutputViaChat: true, vision: true, streaming: false, sizes: ['*'], qualities: ['low', 'high'], maxN: 4 },
        }),
      ];
      expect(pick(models, { imageOutput: true })).toBe('google/img-a');
      expect(pick(models, { imageOutput: true, multipleChoices: true })).toBe('openai/img-b');
    });
  });

  it('appends configured fallbacks only when asked and the request lists none, skipping unusable ones', () => {
    const resolver = new ModelResolver(
      new ModelCatalog([
        makeModel('google/primary', {
          fallbacks: ['google/unknown', 'google/unpriced', 'google/forbidden', 'google/second', 'google/primary', 'google/third'],
        }),
        makeModel('google/unpriced', { price: null }),
        makeModel('google/forbidden'),
        makeModel('google/second'),
        makeModel('google/third'),
      ]),
    );
    const allowedModels = ['google/primary', 'google/second', 'google/third', 'google/unpriced'];
    expect(ids({ model: 'google/primary', allowedModels, configuredFallbacks: true }, resolver)).toEqual([
      'google/primary',
      'google/second',
      'google/third',
    ]);
    expect(ids({ model: 'google/primary', allowedModels }, resolver)).toEqual(['google/primary']);
    expect(ids({ model: 'google/primary', models: ['google/third'], allowedModels, configuredFallbacks: true }, resolver)).toEqual([
      'google/primary',
      'google/third',
    ]);
  });
});

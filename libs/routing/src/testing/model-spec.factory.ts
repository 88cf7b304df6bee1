/** Hand-made catalog entries for routing specs, so rules are tested apart from the real catalog's data. */
import type { ModelCapabilities, ModelSpec } from '@app/providers';

const TEXT_ONLY: ModelCapabilities = {
  chat: true,
  streaming: true,
  tools: true,
  vision: false,
  audioInput: false,
  jsonSchema: false,
  reasoning: false,
  webSearch: false,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
};

export interface ModelSpecOverrides extends Omit<Partial<ModelSpec>, 'capabilities'> {
  capabilities?: Partial<ModelCapabilities>;
  /** shorthand for a token price (micro-USD per 1M) */
  tokens?: { input: number; output: number };
}

export function makeModel(id: string, overrides: ModelSpecOverrides = {}): ModelSpec {
  const { tokens, capabilities, ...rest } = overrides;
  return {
    id,
    provider: 'openai',
    upstreamId: id.slice(id.indexOf('/') + 1),
    aliases: [],
    price: { tokens: tokens ?? { input: 1_000_000, output: 2_000_000 }, source: 'https://example.com/pricing', date: '2026-01-01' },
    ...rest,
    capabilities: { ...TEXT_ONLY, ...capabilities },
  };
}

export function makeImageModel(id: string, perImageMicros: number, overrides: ModelSpecOverrides = {}): ModelSpec {
  return makeModel(id, {
    ...overrides,
    price: { perImage: { '*': { '*': perImageMicros } }, source: 'https://example.com/pricing', date: '2026-01-01' },
    capabilities: {
      streaming: false,
      tools: false,
      vision: true,
      imageOutputViaChat: true,
      sizes: ['1024x1024'],
      qualities: ['auto'],
      maxN: 1,
      ...overrides.capabilities,
    },
  });
}

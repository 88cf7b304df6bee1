import type { ProviderId } from './catalog/model-spec';
import { ProviderRegistry, createDefaultProviderRegistry } from './provider-registry';
import { createOpenAIAdapter } from './openai/openai.adapter';
import { testModel } from './testing/adapter-harness';

const ALL: ProviderId[] = ['openai', 'google', 'xai', 'anthropic', 'deepseek', 'qwen', 'moonshot', 'minimax'];

describe('ProviderRegistry', () => {
  it('has a chat adapter for every provider', () => {
    const registry = createDefaultProviderRegistry();
    for (const p of ALL) {
      expect(registry.get(p).provider).toBe(p);
      expect(registry.chat(testModel(p, 'm'))).toBeDefined();
    }
    expect(registry.providers().sort()).toEqual([...ALL].sort());
  });

  it('serves images only where the provider has an images capability', () => {
    const registry = createDefaultProviderRegistry();
    for (const p of ['openai', 'xai', 'google'] as const) expect(registry.images(testModel(p, 'img'))).toBeDefined();
    expect(() => registry.images(testModel('deepseek', 'deepseek-chat'))).toThrow(expect.objectContaining({ kind: 'invalid_request' }));
  });

  it('refuses two adapters for one provider and unknown providers', () => {
    expect(() => new ProviderRegistry([createOpenAIAdapter(), createOpenAIAdapter()])).toThrow(/two adapters/);
    const only = new ProviderRegistry([createOpenAIAdapter()]);
    expect(only.has('xai')).toBe(false);
    expect(() => only.get('xai')).toThrow(expect.objectContaining({ kind: 'invalid_request' }));
  });
});

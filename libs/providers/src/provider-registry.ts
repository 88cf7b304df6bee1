/**
 * ProviderId → adapter. The only place that knows which adapter serves which provider, so no caller
 * branches on a provider name.
 */
import type { ModelSpec, ProviderId } from './catalog/model-spec';
import type { ChatCapability, ChatStreamState, ImagesCapability, ProviderAdapter } from './adapter';
import { AnthropicAdapter } from './anthropic/anthropic.adapter';
import { UpstreamError } from './errors';
import { createDeepSeekAdapter } from './deepseek/deepseek.adapter';
import { GoogleAdapter } from './google/google.adapter';
import { createMiniMaxAdapter } from './minimax/minimax.adapter';
import { createMoonshotAdapter } from './moonshot/moonshot.adapter';
import { createOpenAIAdapter } from './openai/openai.adapter';
import { createQwenAdapter } from './qwen/qwen.adapter';
import { createXaiAdapter } from './xai/xai.adapter';

export class ProviderRegistry {
  private readonly adapters = new Map<ProviderId, ProviderAdapter>();

  constructor(adapters: readonly ProviderAdapter[]) {
    for (const a of adapters) {
      if (this.adapters.has(a.provider)) throw new Error(`two adapters registered for provider ${a.provider}`);
      this.adapters.set(a.provider, a);
    }
  }

  has(provider: ProviderId): boolean {
    return this.adapters.has(provider);
  }

  providers(): ProviderId[] {
    return [...this.adapters.keys()];
  }

  get(provider: ProviderId): ProviderAdapter {
    const a = this.adapters.get(provider);
    if (!a) throw new UpstreamError({ kind: 'invalid_request', provider, message: 'no adapter is registered for this provider' });
    return a;
  }

  chat(model: ModelSpec): ChatCapability<ChatStreamState> {
    const chat = this.get(model.provider).chat;
    if (!chat) throw new UpstreamError({ kind: 'invalid_request', provider: model.provider, message: `model ${model.id} does not support chat` });
    return chat;
  }

  images(model: ModelSpec): ImagesCapability {
    const images = this.get(model.provider).images;
    if (!images) {
      throw new UpstreamError({ kind: 'invalid_request', provider: model.provider, message: `model ${model.id} does not generate images` });
    }
    return images;
  }
}

/** Every adapter Switchyard ships. */
export function createDefaultProviderRegistry(): ProviderRegistry {
  return new ProviderRegistry([
    createOpenAIAdapter(),
    createXaiAdapter(),
    createDeepSeekAdapter(),
    createQwenAdapter(),
    createMoonshotAdapter(),
    createMiniMaxAdapter(),
    new GoogleAdapter(),
    new AnthropicAdapter(),
  ]);
}

import { Global, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/common';
import { ModelCatalog } from './catalog';
import type { ProviderId } from './catalog/model-spec';
import { ProviderClient, type ProviderEndpoints } from './provider-client';

/** Provider keys and base URLs from the validated config; the adapters themselves never see config. */
export function providerEndpoints(c: AppConfig): ProviderEndpoints {
  const endpoints: Record<ProviderId, { apiKey?: string; baseUrl: string }> = {
    openai: { apiKey: c.OPENAI_API_KEY, baseUrl: c.OPENAI_BASE_URL },
    google: { apiKey: c.GEMINI_API_KEY, baseUrl: c.GEMINI_BASE_URL },
    xai: { apiKey: c.XAI_API_KEY, baseUrl: c.XAI_BASE_URL },
    anthropic: { apiKey: c.ANTHROPIC_API_KEY, baseUrl: c.ANTHROPIC_BASE_URL },
    deepseek: { apiKey: c.DEEPSEEK_API_KEY, baseUrl: c.DEEPSEEK_BASE_URL },
    qwen: { apiKey: c.DASHSCOPE_API_KEY, baseUrl: c.DASHSCOPE_BASE_URL },
    moonshot: { apiKey: c.MOONSHOT_API_KEY, baseUrl: c.MOONSHOT_BASE_URL },
    minimax: { apiKey: c.MINIMAX_API_KEY, baseUrl: c.MINIMAX_BASE_URL },
  };
  return endpoints;
}

@Injectable()
class ProviderClientLifecycle implements OnApplicationShutdown {
  constructor(private readonly client: ProviderClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}

/** The catalog and the one ProviderClient (with its connection pools) for the whole process. */
@Global()
@Module({
  providers: [
    { provide: ModelCatalog, useFactory: () => new ModelCatalog() },
    {
      provide: ProviderClient,
      inject: [AppConfig],
      useFactory: (c: AppConfig) =>
        new ProviderClient(providerEndpoints(c), {
          timeouts: { idleMs: c.CHAT_IDLE_TIMEOUT_MS },
          imageTimeouts: { firstByteMs: c.IMAGE_ATTEMPT_TIMEOUT_MS, idleMs: c.IMAGE_ATTEMPT_TIMEOUT_MS },
        }),
    },
    ProviderClientLifecycle,
  ],
  exports: [ModelCatalog, ProviderClient],
})
export class ProvidersModule {}

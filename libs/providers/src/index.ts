/**
 * Public surface of the provider-adapter library (`@app/providers`): canonical types, the adapter
 * contract, errors, the upstream HTTP client, the registry and the ProviderClient.
 */
export * from './catalog/model-spec';
export * from './types/chat';
export * from './types/usage';
export * from './types/images';
export * from './adapter';
export * from './errors';
export * from './http/sse-reader';
export * from './http/upstream-http-client';
export * from './http/image-fetch-address';
export * from './http/image-fetcher';
export * from './http/image-fetch-inliner';
export * from './provider-registry';
export * from './provider-client';
export { OpenAICompatibleAdapter, OpenAICompatibleChat } from './openai-compatible/openai-compatible.adapter';
export { createOpenAIAdapter, normalizeOpenAIImageUsage } from './openai/openai.adapter';
export { createXaiAdapter } from './xai/xai.adapter';
export { createDeepSeekAdapter } from './deepseek/deepseek.adapter';
export { createQwenAdapter } from './qwen/qwen.adapter';
export { createMoonshotAdapter } from './moonshot/moonshot.adapter';
export { createMiniMaxAdapter } from './minimax/minimax.adapter';
export { GoogleAdapter } from './google/google.adapter';
export {
  GEMINI_IMAGE_ASPECT_RATIOS,
  GeminiNativeRequestError,
  GeminiStreamTranslator,
  chatResponseToGemini,
  geminiRequestToChat,
  geminiUsageFromNormalized,
  googleBlockOf,
  takesGeminiContents,
} from './google';
export type * from './types/gemini';
export { AnthropicAdapter } from './anthropic/anthropic.adapter';

// ---- catalog exports (model list, lookup) are added below by the catalog ----
export * from './catalog';
export * from './providers.module';

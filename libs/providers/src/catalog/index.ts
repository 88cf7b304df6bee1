export type {
  Deprecation,
  ImagePriceTable,
  ModelCapabilities,
  ModelPrice,
  ModelSpec,
  PromptBand,
  ProviderId,
  TimeOfDayRates,
  TimeWindow,
  TokenRates,
} from './model-spec';
export { MODEL_CATALOG, UNPRICED_MODELS } from './catalog.data';
export {
  ModelCatalog,
  displayNameOf,
  findCatalogProblems,
  findFallbackProblems,
  formatMicroUsd,
  isPastShutdown,
  missingForFallback,
  utcDay,
  toGeminiModelList,
  toOpenAiModelList,
} from './catalog';
export type {
  BooleanCapability,
  GeminiModelEntry,
  GeminiModelList,
  OpenAiDeprecation,
  OpenAiModelCapabilities,
  OpenAiModelEntry,
  OpenAiModelList,
  OpenAiModelListOptions,
  OpenAiModelPricing,
  OpenAiPromptBand,
  OpenAiTimeOfDayRates,
  OpenAiTokenPricing,
} from './catalog';

export type {
  ImagePriceTable,
  ModelCapabilities,
  ModelPrice,
  ModelSpec,
  ProviderId,
  TokenRates,
} from './model-spec';
export { MODEL_CATALOG, UNPRICED_MODELS } from './catalog.data';
export {
  ModelCatalog,
  displayNameOf,
  findCatalogProblems,
  formatMicroUsd,
  toGeminiModelList,
  toOpenAiModelList,
} from './catalog';
export type {
  BooleanCapability,
  GeminiModelEntry,
  GeminiModelList,
  OpenAiModelCapabilities,
  OpenAiModelEntry,
  OpenAiModelList,
  OpenAiModelListOptions,
  OpenAiModelPricing,
  OpenAiTokenPricing,
} from './catalog';

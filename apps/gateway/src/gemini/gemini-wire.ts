/** Google's wire types and the Gemini-native translation functions (canonical chat ⇄ Gemini) the route uses. */
export {
  GEMINI_IMAGE_ASPECT_RATIOS,
  GeminiNativeRequestError,
  GeminiStreamTranslator,
  chatResponseToGemini,
  geminiRequestToChat,
  geminiUsageFromNormalized,
} from '@app/providers';
export type {
  GeminiCandidate,
  GeminiContent,
  GeminiGenerationConfig,
  GeminiModality,
  GeminiPart,
  GeminiRequest,
  GeminiResponse,
  GeminiStreamChunk,
  GeminiTool,
} from '@app/providers';

/** Google: Gemini chat and image models, Imagen 4, and the Gemini-native translation for other models. */
export { GoogleAdapter, GeminiChat, GoogleImages, type GeminiStreamState } from './google.adapter';
export { classifyGoogleError, googleBlockOf } from './google-errors';
export { normalizeGeminiUsage, geminiUsageFromNormalized } from './gemini-usage';
export { buildGeminiRequest, signatureFromToolCallId, stripThoughtSignature, THOUGHT_SIGNATURE_SEPARATOR } from './gemini-chat';
export { buildImagenRequest, nearestAspectRatio, takesGeminiContents, IMAGEN_ASPECT_RATIOS, GEMINI_IMAGE_ASPECT_RATIOS } from './gemini-image';
export {
  geminiRequestToChat,
  chatResponseToGemini,
  GeminiStreamTranslator,
  GeminiNativeRequestError,
  openApiSchemaToJsonSchema,
} from './gemini-native';

/** Base URL the Google adapter's paths are relative to. */
export const GOOGLE_DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

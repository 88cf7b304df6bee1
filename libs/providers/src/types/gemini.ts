/**
 * Wire types of Google's Gemini API (`generativelanguage.googleapis.com/v1beta`): the `generateContent` /
 * `streamGenerateContent` request and response, the Imagen `predict` call, and Google's error envelope.
 *
 * They serve two directions: the Google adapter sends them upstream, and the gateway's
 * `/v1beta/models/{model}:generateContent` route accepts and returns them for non-Google models.
 * Field names follow the REST (camelCase JSON) form, as documented at
 * https://ai.google.dev/api/generate-content and mirrored by `@google/genai`'s `GenerateContentParameters`.
 * Only fields Switchyard reads or writes are typed; unknown fields pass through as `unknown`.
 */

export type GeminiRole = 'user' | 'model';

export interface GeminiBlob {
  mimeType: string;
  /** base64, no data-URL prefix */
  data: string;
}

export interface GeminiFileData {
  mimeType?: string;
  fileUri: string;
}

export interface GeminiFunctionCall {
  /** set by some models; echoed back in the matching functionResponse */
  id?: string;
  name: string;
  args?: Record<string, unknown>;
}

export interface GeminiFunctionResponse {
  id?: string;
  name: string;
  response: Record<string, unknown>;
}

/**
 * One part carries exactly one of `text`, `inlineData`, `fileData`, `functionCall`, `functionResponse`.
 * `thought: true` marks a text part as the model's reasoning summary; `thoughtSignature` is an opaque
 * token the API wants echoed back on the next turn (Gemini 3 rejects function-call turns without it).
 */
export interface GeminiPart {
  text?: string;
  inlineData?: GeminiBlob;
  fileData?: GeminiFileData;
  functionCall?: GeminiFunctionCall;
  functionResponse?: GeminiFunctionResponse;
  thought?: boolean;
  thoughtSignature?: string;
}

export interface GeminiContent {
  /** absent on systemInstruction; defaults to `user` upstream */
  role?: GeminiRole;
  parts: GeminiPart[];
}

export type GeminiModality = 'TEXT' | 'IMAGE' | 'AUDIO';

export interface GeminiThinkingConfig {
  includeThoughts?: boolean;
  /** tokens; 0 disables thinking, -1 lets the model decide (Gemini 2.5) */
  thinkingBudget?: number;
  /** Gemini 3 replaces the budget with a level */
  thinkingLevel?: 'MINIMAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'minimal' | 'low' | 'medium' | 'high';
}

export interface GeminiImageConfig {
  /** "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9" */
  aspectRatio?: string;
  /** "1K" (default), "2K", "4K" */
  imageSize?: string;
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  maxOutputTokens?: number;
  candidateCount?: number;
  stopSequences?: string[];
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  responseMimeType?: string;
  /** OpenAPI-subset schema (uppercase `type` enums accepted) */
  responseSchema?: Record<string, unknown>;
  /** full JSON Schema, the newer alternative to responseSchema */
  responseJsonSchema?: Record<string, unknown>;
  responseModalities?: GeminiModality[];
  imageConfig?: GeminiImageConfig;
  thinkingConfig?: GeminiThinkingConfig;
}

export interface GeminiSafetySetting {
  category: string;
  threshold: string;
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** OpenAPI-subset schema */
  parameters?: Record<string, unknown>;
  /** full JSON Schema, the newer alternative to parameters */
  parametersJsonSchema?: Record<string, unknown>;
}

export interface GeminiTool {
  functionDeclarations?: GeminiFunctionDeclaration[];
  googleSearch?: Record<string, unknown>;
  codeExecution?: Record<string, unknown>;
}

export type GeminiFunctionCallingMode = 'AUTO' | 'ANY' | 'NONE' | 'VALIDATED' | 'MODE_UNSPECIFIED';

export interface GeminiToolConfig {
  functionCallingConfig?: {
    mode?: GeminiFunctionCallingMode;
    allowedFunctionNames?: string[];
  };
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
  generationConfig?: GeminiGenerationConfig;
  safetySettings?: GeminiSafetySetting[];
  tools?: GeminiTool[];
  toolConfig?: GeminiToolConfig;
  /** resource name, e.g. `cachedContents/abc123` */
  cachedContent?: string;
}

export type GeminiFinishReason =
  | 'FINISH_REASON_UNSPECIFIED'
  | 'STOP'
  | 'MAX_TOKENS'
  | 'SAFETY'
  | 'RECITATION'
  | 'LANGUAGE'
  | 'OTHER'
  | 'BLOCKLIST'
  | 'PROHIBITED_CONTENT'
  | 'SPII'
  | 'MALFORMED_FUNCTION_CALL'
  | 'IMAGE_SAFETY'
  | 'IMAGE_PROHIBITED_CONTENT'
  | 'IMAGE_OTHER'
  | 'NO_IMAGE'
  | 'IMAGE_RECITATION'
  | 'UNEXPECTED_TOOL_CALL'
  | 'TOO_MANY_TOOL_CALLS';

export interface GeminiSafetyRating {
  category: string;
  probability: string;
  blocked?: boolean;
}

export interface GeminiCandidate {
  /** absent when the candidate was blocked before producing anything */
  content?: GeminiContent;
  finishReason?: GeminiFinishReason | string;
  finishMessage?: string;
  safetyRatings?: GeminiSafetyRating[];
  index?: number;
}

export type GeminiBlockReason =
  | 'BLOCKED_REASON_UNSPECIFIED'
  | 'SAFETY'
  | 'OTHER'
  | 'BLOCKLIST'
  | 'PROHIBITED_CONTENT'
  | 'IMAGE_SAFETY';

export interface GeminiPromptFeedback {
  blockReason?: GeminiBlockReason | string;
  safetyRatings?: GeminiSafetyRating[];
}

export interface GeminiModalityTokenCount {
  modality: GeminiModality | 'VIDEO' | 'DOCUMENT' | 'MODALITY_UNSPECIFIED' | string;
  tokenCount?: number;
}

/**
 * Token accounting as Google reports it. Note the overlaps, which matter for billing:
 * `promptTokenCount` INCLUDES `cachedContentTokenCount`; `candidatesTokenCount` EXCLUDES
 * `thoughtsTokenCount`; `totalTokenCount` = prompt + candidates + toolUsePrompt + thoughts
 * (per the field docs in `@google/genai`'s `GenerateContentResponseUsageMetadata`).
 */
export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  promptTokensDetails?: GeminiModalityTokenCount[];
  candidatesTokensDetails?: GeminiModalityTokenCount[];
  cacheTokensDetails?: GeminiModalityTokenCount[];
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: GeminiPromptFeedback;
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
}

/** `streamGenerateContent?alt=sse` sends a sequence of these, each a partial GeminiResponse. */
export type GeminiStreamChunk = GeminiResponse;

/** Imagen on the Gemini API: `POST models/{model}:predict`. */
export interface ImagenPredictRequest {
  instances: Array<{ prompt: string }>;
  parameters: {
    /** upstream default is 4 — always sent, so a request is never billed for images it did not ask for */
    sampleCount: number;
    /** "1:1", "3:4", "4:3", "9:16", "16:9" */
    aspectRatio?: string;
    /** "1K" | "2K"; Standard and Ultra only */
    imageSize?: string;
    personGeneration?: 'dont_allow' | 'allow_adult' | 'allow_all';
    /** makes a filtered image come back as a prediction with `raiFilteredReason` instead of vanishing */
    includeRaiReason?: boolean;
    outputOptions?: { mimeType?: string; compressionQuality?: number };
  };
}

export interface ImagenPrediction {
  bytesBase64Encoded?: string;
  mimeType?: string;
  /** set instead of bytes when the image was filtered */
  raiFilteredReason?: string;
  prompt?: string;
}

export interface ImagenPredictResponse {
  predictions?: ImagenPrediction[];
}

/** Google's error envelope (google.rpc.Status in JSON). */
export interface GoogleErrorEnvelope {
  error: {
    code: number;
    message: string;
    /** canonical code name: INVALID_ARGUMENT, PERMISSION_DENIED, RESOURCE_EXHAUSTED, ... */
    status: string;
    details?: Array<Record<string, unknown>>;
  };
}

/**
 * The Gemini-native route serving a Google model: the tenant's Gemini request goes upstream as written
 * (keeping what the canonical chat format cannot carry: imageConfig, safetySettings, cachedContent,
 * thought signatures, topK), and the answer comes back untouched apart from the usage read for billing.
 */
import type { ModelSpec } from '../catalog/model-spec';
import type { UpstreamRequest, UpstreamResponse } from '../adapter';
import { isRecord, malformed, parseJsonBody } from '../errors';
import type { GeminiRequest, GeminiResponse } from '../types/gemini';
import type { NormalizedUsage } from '../types/usage';
import { normalizeGeminiUsage } from './gemini-usage';
import { classifyGoogleError, promptBlockError } from './google-errors';

export function geminiPassthroughRequest(model: ModelSpec, body: GeminiRequest, apiKey: string, stream: boolean): UpstreamRequest {
  let value = body;
  // Image models answer with text only unless asked for images; the public contract defaults to both.
  if (model.capabilities.imageOutputViaChat && !body.generationConfig?.responseModalities) {
    value = { ...body, generationConfig: { ...body.generationConfig, responseModalities: ['TEXT', 'IMAGE'] } };
  }
  const id = encodeURIComponent(model.upstreamId);
  return {
    method: 'POST',
    path: stream ? `/v1beta/models/${id}:streamGenerateContent?alt=sse` : `/v1beta/models/${id}:generateContent`,
    headers: { 'x-goog-api-key': apiKey },
    body: { kind: 'json', value },
    stream,
  };
}

/**
 * A non-streamed answer, with its usage. A blocked prompt is returned, not thrown: Google's own answer
 * (promptFeedback) is what a Gemini client expects to see, and Google bills the prompt tokens.
 */
export function parseGeminiPassthrough(res: UpstreamResponse): { response: GeminiResponse; usage: NormalizedUsage; blocked: boolean } {
  const body = parseJsonBody(res.bodyText);
  if (!isRecord(body)) throw malformed('google', 'not JSON', res.bodyText);
  if (isRecord(body.error)) {
    const code = Number(body.error.code);
    throw classifyGoogleError({ status: Number.isFinite(code) && code >= 400 ? code : 500, headers: {}, bodyText: res.bodyText }, []);
  }
  const response = body as GeminiResponse;
  return { response, usage: normalizeGeminiUsage(response.usageMetadata), blocked: promptBlockError(response) !== undefined };
}

/** One `data:` event of a passthrough stream: the chunk to forward verbatim and the usage so far (last wins). */
export function parseGeminiPassthroughEvent(data: string): { chunk: GeminiResponse; usage: NormalizedUsage | null } {
  const body = parseJsonBody(data);
  if (!isRecord(body)) throw malformed('google', 'unreadable stream event', data);
  if (isRecord(body.error)) {
    const code = Number(body.error.code);
    throw classifyGoogleError({ status: Number.isFinite(code) && code >= 400 ? code : 500, headers: {}, bodyText: data }, []);
  }
  const chunk = body as GeminiResponse;
  return { chunk, usage: chunk.usageMetadata ? normalizeGeminiUsage(chunk.usageMetadata) : null };
}

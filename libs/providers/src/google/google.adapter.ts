/**
 * Google's Gemini API (configured base URL `https://generativelanguage.googleapis.com`, paths under `/v1beta`):
 * chat through `models/{m}:generateContent` / `:streamGenerateContent?alt=sse`, images through Imagen's
 * `:predict` or a Gemini image model's `generateContent`. The key travels in `x-goog-api-key`, never in
 * the URL, so it cannot leak into access logs or error messages that quote the URL.
 */
import type { ModelSpec } from '../catalog/model-spec';
import type {
  ChatCapability,
  ChatResult,
  ChatStreamState,
  ImagesCapability,
  ProviderAdapter,
  SseEvent,
  UpstreamRequest,
  UpstreamResponse,
} from '../adapter';
import { UpstreamError, isRecord, malformed, parseJsonBody } from '../errors';
import {
  GOOGLE_FIELDS,
  type ChatCompletionChunk,
  type ChatCompletionChunkChoice,
  type ChatCompletionDelta,
  type ChatCompletionRequest,
  type GoogleAnswerFields,
  type GoogleCandidateFields,
} from '../types/chat';
import type { GeminiResponse, ImagenPredictResponse } from '../types/gemini';
import type { ImageGenerationRequest, ImageGenerationResult } from '../types/images';
import { toOpenAIUsage } from '../types/usage';
import { buildGeminiRequest, completionId, mapFinishReason, readCandidate, toChatCompletion } from './gemini-chat';
import {
  buildGeminiImageRequest,
  buildImagenRequest,
  parseGeminiImageResponse,
  parseImagenResponse,
  usesGenerateContent,
} from './gemini-image';
import { normalizeGeminiUsage } from './gemini-usage';
import { GEMINI_POLICY_REASONS, classifyGoogleError, finishPolicyError, promptBlockError, safetyRatingsOf } from './google-errors';

const PROVIDER = 'google' as const;

function headers(apiKey: string): Record<string, string> {
  return { 'x-goog-api-key': apiKey };
}

function modelPath(model: ModelSpec, method: string): string {
  return `/v1beta/models/${encodeURIComponent(model.upstreamId)}:${method}`;
}

/** Google may answer 200 with an error object (notably as the last event of a stream). */
function inBodyError(body: Record<string, unknown>): UpstreamError | undefined {
  if (!isRecord(body.error)) return undefined;
  const code = Number(body.error.code);
  const status = Number.isFinite(code) && code >= 400 && code < 600 ? code : 500;
  return classifyGoogleError({ status, headers: {}, bodyText: JSON.stringify(body) }, []);
}

function parseGeminiBody(text: string): GeminiResponse {
  const body = parseJsonBody(text);
  if (!isRecord(body)) throw malformed(PROVIDER, 'not JSON', text);
  const err = inBodyError(body);
  if (err) throw err;
  return body as GeminiResponse;
}

export interface GeminiStreamState extends ChatStreamState {
  /** candidate index → number of tool calls emitted so far (OpenAI's tool_calls[].index) */
  toolCalls: Map<number, number>;
  /** candidates whose first delta (carrying the role) went out */
  started: Set<number>;
  /** candidates that reported a finishReason */
  finishedCandidates: Set<number>;
  imageModel: boolean;
  /**
   * Safety ratings and signatures that came in an event with nothing else for the candidate (Google may
   * send a signature on an empty text part), held for its next choice so no chunk is added for them.
   */
  pendingGoogle: Map<number, GoogleCandidateFields>;
  /** `promptFeedback.safetyRatings` not yet handed on with a chunk */
  pendingAnswer?: GoogleAnswerFields;
}

export class GeminiChat implements ChatCapability<GeminiStreamState> {
  buildRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest {
    return {
      method: 'POST',
      path: modelPath(model, 'generateContent'),
      headers: headers(apiKey),
      body: { kind: 'json', value: buildGeminiRequest(model, req) },
      stream: false,
    };
  }

  buildStreamRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest {
    return {
      method: 'POST',
      path: `${modelPath(model, 'streamGenerateContent')}?alt=sse`,
      headers: headers(apiKey),
      body: { kind: 'json', value: buildGeminiRequest(model, req) },
      stream: true,
    };
  }

  parseResponse(model: ModelSpec, res: UpstreamResponse): ChatResult {
    const resp = parseGeminiBody(res.bodyText);
    const blocked = promptBlockError(resp);
    if (blocked) throw blocked;
    if (!Array.isArray(resp.candidates) || resp.candidates.length === 0) {
      throw malformed(PROVIDER, 'no candidates', res.bodyText);
    }
    const { completion, contents, reasons } = toChatCompletion(model, resp);
    const empty = contents.every((c) => !c.text && c.toolCalls.length === 0 && c.images.length === 0);
    const policyStop = (): UpstreamError | undefined => {
      const at = reasons.findIndex((r) => r !== undefined && GEMINI_POLICY_REASONS.has(r));
      return at < 0 ? undefined : finishPolicyError(reasons[at] as string, resp.candidates?.[at], at);
    };
    if (empty) {
      const policy = policyStop();
      if (policy) throw policy;
    }
    if (model.capabilities.imageOutputViaChat && contents.every((c) => c.images.length === 0)) {
      // Image models are called to make an image: an answer in words only did not do the job, and
      // another image model of the chain may (the words go to the log, not to the tenant).
      const policy = policyStop();
      if (policy) throw policy;
      throw new UpstreamError({
        kind: 'no_image',
        provider: PROVIDER,
        status: res.status,
        upstreamCode: reasons.find((r) => r !== undefined),
        detail: contents.map((c) => c.text).join(' ').slice(0, 500) || undefined,
      });
    }
    if (empty && reasons.every((r) => r === 'MALFORMED_FUNCTION_CALL')) {
      throw malformed(PROVIDER, 'the model produced a malformed function call', res.bodyText);
    }
    const usage = normalizeGeminiUsage(resp.usageMetadata);
    completion.usage = toOpenAIUsage(usage);
    return { completion, usage };
  }

  createStreamState(model: ModelSpec): GeminiStreamState {
    return {
      id: completionId(undefined),
      created: Math.floor(Date.now() / 1000),
      model: model.upstreamId,
      usage: null,
      done: false,
      outputChars: 0,
      finished: false,
      toolCalls: new Map(),
      started: new Set(),
      finishedCandidates: new Set(),
      imageModel: model.capabilities.imageOutputViaChat,
      pendingGoogle: new Map(),
    };
  }

  parseStreamEvent(event: SseEvent, state: GeminiStreamState): ChatCompletionChunk[] {
    const data = event.data.trim();
    if (data === '') return [];
    const resp = parseGeminiBody(data);
    const blocked = promptBlockError(resp);
    if (blocked) throw blocked;
    if (resp.usageMetadata) state.usage = normalizeGeminiUsage(resp.usageMetadata);
    if (resp.modelVersion) state.model = resp.modelVersion;
    if (resp.responseId && !state.started.size) state.id = completionId(resp.responseId);
    const promptRatings = safetyRatingsOf(resp.promptFeedback?.safetyRatings);
    if (promptRatings) state.pendingAnswer = { promptFeedback: { safetyRatings: promptRatings } };

    const choices: ChatCompletionChunkChoice[] = [];
    (resp.candidates ?? []).forEach((c, i) => {
      const index = c.index ?? i;
      const content = readCandidate(c);
      if (content.google) state.pendingGoogle.set(index, { ...state.pendingGoogle.get(index), ...content.google });
      const delta: ChatCompletionDelta = {};
      if (!state.started.has(index)) {
        delta.role = 'assistant';
        state.started.add(index);
      }
      if (content.text) {
        delta.content = content.text;
        state.outputChars += content.text.length;
      }
      if (content.reasoning) {
        delta.reasoning_content = content.reasoning;
        state.outputChars += content.reasoning.length;
      }
      if (content.toolCalls.length > 0) {
        const before = state.toolCalls.get(index) ?? 0;
        // Gemini sends each function call whole, so one delta carries id, name and all arguments.
        delta.tool_calls = content.toolCalls.map((tc, k) => ({
          index: before + k,
          id: tc.id,
          type: 'function' as const,
          function: { name: tc.function.name, arguments: tc.function.arguments },
        }));
        for (const tc of content.toolCalls) state.outputChars += tc.function.name.length + tc.function.arguments.length;
        state.toolCalls.set(index, before + content.toolCalls.length);
      }
      let finish: ChatCompletionChunkChoice['finish_reason'] = null;
      if (c.finishReason && c.finishReason !== 'FINISH_REASON_UNSPECIFIED') {
        const nothingYet = state.outputChars === 0 && !content.images.length;
        if (nothingYet && GEMINI_POLICY_REASONS.has(c.finishReason)) throw finishPolicyError(c.finishReason, c, index);
        finish = mapFinishReason(c.finishReason, (state.toolCalls.get(index) ?? 0) > 0);
        state.finishedCandidates.add(index);
      }
      const hasDelta = Object.keys(delta).length > 0;
      if (hasDelta || finish) {
        const choice: ChatCompletionChunkChoice = { index, delta, finish_reason: finish, logprobs: null };
        const google = state.pendingGoogle.get(index);
        if (google) {
          choice[GOOGLE_FIELDS] = google;
          state.pendingGoogle.delete(index);
        }
        choices.push(choice);
      }
    });
    // Complete only when every candidate that spoke has finished: with n > 1 one may end before another.
    state.finished = state.finishedCandidates.size > 0 && [...state.started].every((i) => state.finishedCandidates.has(i));
    if (choices.length === 0) return [];
    const chunk: ChatCompletionChunk = { id: state.id, object: 'chat.completion.chunk', created: state.created, model: state.model, choices };
    if (state.pendingAnswer) {
      chunk[GOOGLE_FIELDS] = state.pendingAnswer;
      state.pendingAnswer = undefined;
    }
    return [chunk];
  }

  finishStream(state: GeminiStreamState): ChatCompletionChunk[] {
    // Gemini has no end-of-stream marker, so the body is read to its end (with several candidates a
    // finish reason on one does not end the others); the stream is complete when every candidate that
    // spoke has finished. One that ends without a finishReason was cut off, and inventing one would hide that.
    state.done = state.finished;
    return [];
  }
}

export class GoogleImages implements ImagesCapability {
  buildRequest(model: ModelSpec, req: ImageGenerationRequest, apiKey: string): UpstreamRequest {
    if (usesGenerateContent(model)) {
      return {
        method: 'POST',
        path: modelPath(model, 'generateContent'),
        headers: headers(apiKey),
        body: { kind: 'json', value: buildGeminiImageRequest(req) },
        stream: false,
      };
    }
    return {
      method: 'POST',
      path: modelPath(model, 'predict'),
      headers: headers(apiKey),
      body: { kind: 'json', value: buildImagenRequest(req) },
      stream: false,
    };
  }

  parseResponse(model: ModelSpec, res: UpstreamResponse): ImageGenerationResult {
    if (usesGenerateContent(model)) return parseGeminiImageResponse(parseGeminiBody(res.bodyText), res.lifted);
    const body = parseJsonBody(res.bodyText);
    if (!isRecord(body)) throw malformed(PROVIDER, 'not JSON', res.bodyText);
    const err = inBodyError(body);
    if (err) throw err;
    const result = parseImagenResponse(body as ImagenPredictResponse, res.lifted);
    result.upstreamModel = model.upstreamId;
    return result;
  }

  /** Editing is the same generateContent call with the input images inline (Gemini image models only). */
  buildEditRequest(model: ModelSpec, req: ImageGenerationRequest, apiKey: string): UpstreamRequest {
    return this.buildRequest(model, req, apiKey);
  }

  parseEditResponse(model: ModelSpec, res: UpstreamResponse): ImageGenerationResult {
    return this.parseResponse(model, res);
  }
}

export class GoogleAdapter implements ProviderAdapter {
  readonly provider = PROVIDER;
  readonly chat: ChatCapability<GeminiStreamState> = new GeminiChat();
  readonly images: ImagesCapability = new GoogleImages();

  classifyError(res: UpstreamResponse, secrets: readonly string[]): UpstreamError {
    return classifyGoogleError(res, secrets);
  }
}

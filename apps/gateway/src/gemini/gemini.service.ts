/**
 * `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`, served by any chat model in
 * the catalog. The Gemini request is validated, translated to the canonical chat request, and run through
 * the chat route's own pipeline (`ChatService.admit` → `answer`: rate limit, resolution with the model's
 * configured fallbacks, capability checks, reservation, retry and fallback, settlement, headers); the
 * answer is translated back by `GeminiResponder`. Gemini image models go through the image queue instead,
 * as on every other route.
 *
 * Google's own text models take the same canonical path rather than a verbatim pass-through: one pipeline
 * bills, limits and falls back the same for every provider; a configured fallback may be another
 * provider's model, which needs the translation anyway; and the one upstream client (`ProviderClient`)
 * speaks canonical requests only. What only Google has a place for (topK, safetySettings, cachedContent,
 * thought signatures, safety ratings, prompt feedback) travels beside the canonical fields and reaches
 * Google's models and this route's answers unchanged; other providers' adapters never see it.
 */
import { Injectable } from '@nestjs/common';
import { ApiError, AppConfig } from '@app/common';
import { formatUsd } from '@app/billing';
import type { ImageGenerationRequest, ModelSpec } from '@app/providers';
import { checkGeminiNativeChain, type ChatRequestToCheck, type ResolvedRoute } from '@app/routing';
import type { AuthContext } from '@app/tenancy';
import { ChatService, CHAT_HEADERS } from '../chat/chat.service';
import { ImageGenerationService, ImageJobFailure, JOB_ID_HEADER, type GeneratedImages } from '../images/image-generation.service';
import { checkGeminiImageChain, imageRequestForChain, imageRequestFromGemini, imageResultToGemini } from './gemini-image-request';
import { GeminiResponder, geminiModelName } from './gemini-responder';
import { parseGeminiRequest } from './gemini-request.validator';
import { GeminiNativeRequestError, geminiRequestToChat, type GeminiRequest } from './gemini-wire';

export const GEMINI_METHODS = ['generateContent', 'streamGenerateContent'] as const;
export type GeminiMethod = (typeof GEMINI_METHODS)[number];

/** The usage record's endpoint per method. */
export const GEMINI_ENDPOINTS: Record<GeminiMethod, string> = {
  generateContent: '/v1beta/models/{model}:generateContent',
  streamGenerateContent: '/v1beta/models/{model}:streamGenerateContent',
};

export interface GeminiCall {
  /** the model as the URL named it, `google/` prefix optional */
  model: string;
  method: GeminiMethod;
  /** `alt=sse` on a stream: Server-Sent Events instead of one JSON array */
  sse: boolean;
  body: unknown;
}

/** `models/x:method` → the model and the method, split on the last colon (model ids hold none, methods never). */
export function parseModelAction(target: string): { model: string; method: GeminiMethod } {
  const at = target.lastIndexOf(':');
  const model = at > 0 ? target.slice(0, at) : '';
  const method = at > 0 ? target.slice(at + 1) : target;
  if (!model || !(GEMINI_METHODS as readonly string[]).includes(method)) {
    throw ApiError.notFound(
      `models/${target.slice(0, 200)} does not name a supported method; use models/{model}:generateContent or :streamGenerateContent.`,
      'method_not_found',
    );
  }
  return { model, method: method as GeminiMethod };
}

/**
 * A context cache lives at Google and belongs to the model it was made for: a request naming one is
 * served by the Gemini text model it names, without fallback (another model would answer without the
 * cached context, or be refused by Google).
 */
function checkCachedContent(route: ResolvedRoute): void {
  const model = route.chain[0];
  if (model.provider !== 'google' || model.capabilities.imageOutputViaChat) {
    throw ApiError.badRequest(
      `Invalid request: cachedContent names a context cache at Google, which ${model.id} cannot read; use the Gemini text model the cache was created for.`,
      'cachedContent',
    );
  }
}

function cachedContentRoute(route: ResolvedRoute): ResolvedRoute {
  return { ...route, chain: route.chain.slice(0, 1), params: route.params.slice(0, 1) };
}

/** The translation's refusals as the route's 400 INVALID_ARGUMENT naming the field. */
function toCanonical(req: GeminiRequest, model: string): ChatRequestToCheck {
  try {
    return geminiRequestToChat(req, model);
  } catch (e) {
    if (e instanceof GeminiNativeRequestError) throw ApiError.badRequest(`Invalid request: ${e.message}.`, e.field);
    throw e;
  }
}

@Injectable()
export class GeminiService {
  constructor(
    private readonly config: AppConfig,
    private readonly chat: ChatService,
    private readonly images: ImageGenerationService,
  ) {}

  async generate(auth: AuthContext, requestId: string, call: GeminiCall, responder: GeminiResponder, clientRequestId?: string): Promise<void> {
    const startedAt = Date.now();
    const req = parseGeminiRequest(call.body);
    const stream = call.method === 'streamGenerateContent';
    const canonical = toCanonical(req, call.model);
    if (stream) canonical.stream = true;
    const wantsImage = req.generationConfig?.responseModalities?.includes('IMAGE') === true;

    let image: ImageGenerationRequest | undefined;
    const admission = await this.chat.admit(
      auth,
      {
        request: canonical,
        configuredFallbacks: true,
        check: (resolved) => {
          checkGeminiNativeChain(resolved);
          if (req.cachedContent) checkCachedContent(resolved);
          if (resolved.chain[0].capabilities.imageOutputViaChat) {
            if (stream) {
              throw ApiError.badRequest(
                `${resolved.chain[0].id} generates images and answers without streaming; use :generateContent.`,
                'method',
                'unsupported_parameter',
              );
            }
            image = imageRequestFromGemini(req);
            checkGeminiImageChain(resolved, req, image);
          } else if (wantsImage) {
            throw ApiError.badRequest(
              `Model ${resolved.chain[0].id} does not produce images; remove "IMAGE" from generationConfig.responseModalities or use an image model.`,
              'generationConfig.responseModalities',
              'unsupported_parameter',
            );
          }
        },
      },
      responder,
    );

    const { route } = admission;
    if (route.chain[0].capabilities.imageOutputViaChat) {
      await admission.limited;
      const request = imageRequestForChain(route, image ?? imageRequestFromGemini(req));
      return this.generateImages(auth, { requestId, clientRequestId }, call.model, route, req, request, responder);
    }
    const served = req.cachedContent ? { ...admission, route: cachedContentRoute(route) } : admission;
    return this.chat.answer(auth, requestId, served, canonical, responder, { endpoint: GEMINI_ENDPOINTS[call.method], startedAt, clientRequestId });
  }

  private async generateImages(
    auth: AuthContext,
    ids: { requestId: string; clientRequestId?: string },
    requestedModel: string,
    route: ResolvedRoute,
    req: GeminiRequest,
    request: ImageGenerationRequest,
    responder: GeminiResponder,
  ): Promise<void> {
    let result: GeneratedImages;
    try {
      result = await this.images.generate(
        {
          jobId: ids.requestId,
          clientRequestId: ids.clientRequestId,
          payer: { tenantId: auth.tenantId, keyId: auth.keyId },
          endpoint: GEMINI_ENDPOINTS.generateContent,
          requestedModel,
          chain: route.chain,
          request,
          responseFormat: 'b64_json',
        },
        this.config.IMAGE_SYNC_TIMEOUT_MS,
      );
    } catch (e) {
      // A prompt Google's filters blocked (or an image they withheld) is answered as on text models: 200 with
      // Google's verdict. The job failed, so it was recorded as failed at no cost and its reservation released.
      if (e instanceof ImageJobFailure && e.block && responder.answerBlock(e.block, e.headers)) return;
      throw e;
    }
    const served: Pick<ModelSpec, 'id' | 'provider'> = route.chain.find((m) => m.id === result.servedModel) ?? { id: result.servedModel, provider: 'google' };
    const textWanted = req.generationConfig?.responseModalities?.includes('TEXT') ?? true;
    responder.setHeaders({
      [CHAT_HEADERS.fallbackLevel]: String(result.fallbackLevel),
      [CHAT_HEADERS.fallbackModel]: result.servedModel,
      [CHAT_HEADERS.cost]: formatUsd(result.costMicros),
      [JOB_ID_HEADER]: result.jobId,
    });
    responder.sendJson(imageResultToGemini(result, geminiModelName(served), textWanted));
  }
}


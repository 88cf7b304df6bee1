/**
 * `POST /v1/chat/completions`: validate → rate limit → resolve the chain → check every model → reserve
 * the worst case of the dearest model → call with retry and fallback → settle at the serving model's price
 * → answer with headers saying what happened. Streams are written chunk by chunk; the tenant leaving
 * cancels the upstream call and is billed for what was produced. A shutdown that runs out of time cuts a
 * call the same way (`RequestDrain`): billed for what was produced, the tenant told with an error event or
 * a 503.
 *
 * The pipeline is public in two steps, `admit` and `answer`, so that other routes serving chat models (the
 * Gemini-native route) run canonical requests through the same limits, fallback and billing, and only
 * choose the shape of the answer (`ChatResponder`).
 */
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ApiError, AppConfig, MetricsService, RequestDrain, ShutdownCut, shuttingDownError } from '@app/common';
import {
  BillingService,
  DeferredSettlements,
  PriceBook,
  RateLimiter,
  chatReserveMicros,
  computeCost,
  formatUsd,
  type CurrentPrice,
  type Reservation,
  type SettleInput,
} from '@app/billing';
import {
  ImageInputInliner,
  ModelCatalog,
  ProviderClient,
  UpstreamError,
  estimateUsage,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatStream,
  type ChatStreamItem,
  type ModelSpec,
  type NormalizedUsage,
} from '@app/providers';
import {
  DEFAULT_RETRY_POLICY,
  ModelAccess,
  AttemptObserver,
  ModelResolver,
  chatFeatures,
  chatRequestForModel,
  checkChatChain,
  checkChatRequest,
  fallbackFailureToApiError,
  isFallbackFailure,
  runWithFallback,
  streamWithFallback,
  type AttemptRecord,
  type ChatRequestToCheck,
  type FallbackHooks,
  type ResolvedRoute,
  type RetryPolicy,
} from '@app/routing';
import type { AuthContext } from '@app/tenancy';
import { CHAT_IMAGE_GENERATOR, type ChatImageGenerator } from './chat-image-generator';
import type { ChatExchangePort } from './chat-exchange';
import { OpenAIChatResponder, type ChatResponder } from './chat-responder';
import { checkGatewayFields } from './chat-request.checks';
import type { ChatRouteRequest } from './chat-request.pipe';
import { startsAnswer } from './chat-stream-start';

export const CHAT_ENDPOINT = '/v1/chat/completions';

export const CHAT_HEADERS = {
  fallbackLevel: 'X-Switchyard-Fallback-Level',
  fallbackModel: 'X-Switchyard-Fallback-Model',
  router: 'X-Switchyard-Router',
  resolvedModel: 'X-Switchyard-Resolved-Model',
  cost: 'X-Switchyard-Cost-Usd',
} as const;

/** Injection token of the retry policy, so tests and deployments can shorten the backoff. */
export const CHAT_RETRY_POLICY = Symbol('CHAT_RETRY_POLICY');

interface PricedModel {
  model: ModelSpec;
  price: CurrentPrice;
}

/** What `admit` needs: the canonical request and how the route builds its chain. */
export interface ChatAdmission {
  request: ChatRequestToCheck;
  /** fallbacks the tenant listed after `model` (chat's `models`) */
  models?: string[];
  /** append the model's configured fallbacks when none are listed (routes without a per-request chain) */
  configuredFallbacks?: boolean;
  /** the route's own checks of the resolved chain, run before the chat checks so its wording wins */
  check?: (route: ResolvedRoute) => void;
}

export interface ChatAnswerOptions {
  /** the usage record's endpoint */
  endpoint: string;
  /** when the request arrived, for the usage record's latency; defaults to now */
  startedAt?: number;
  /** the id the client gave the request, kept in the usage record for correlation */
  clientRequestId?: string;
}

/** Where `admit` puts the rate-limit and router headers. */
export interface HeaderSink {
  setHeaders(headers: Record<string, string>): void;
}

/**
 * A request `admit` let through its checks. The rate-limit check is still in flight: `answer` awaits it
 * together with the reservation (one round trip of latency for both); a route that does not call `answer`
 * awaits `limited` itself before anything else is spent.
 */
export interface Admission {
  route: ResolvedRoute;
  /** settles when the key's limits admitted the request (their headers set); rejects with the 429 or 503 */
  limited: Promise<void>;
}

/** What happened to a call, as its usage record says (the rest of the record comes from the call). */
type CallOutcome = Omit<SettleInput, 'endpoint' | 'requestedModel' | 'attempts' | 'latencyMs'>;

/** Everything one request carries from step to step. */
interface ChatCall {
  auth: AuthContext;
  requestId: string;
  request: ChatRequestToCheck;
  route: ResolvedRoute;
  responder: ChatResponder;
  endpoint: string;
  startedAt: number;
  /** the price each model of the chain was reserved (and will be settled) with */
  prices: Map<string, PricedModel>;
  reservation: Reservation;
  attempts: AttemptRecord[];
  clientRequestId?: string;
  /** the attempt running now, once its request has been written to the provider (the provider may bill it from then on) */
  sent?: { model: ModelSpec; level: number };
  /** aborted (with a `ShutdownCut`) when the process shuts down and this call is still running */
  cut: AbortSignal;
  /** aborted when the call must stop: the tenant left (the responder's signal) or the shutdown cut it */
  stop: AbortSignal;
}

type StoppedBy = 'tenant' | 'shutdown' | undefined;

/** Why the call was told to stop, whichever came first. */
function stoppedBy(call: ChatCall): StoppedBy {
  if (!call.stop.aborted) return undefined;
  return call.stop.reason instanceof ShutdownCut ? 'shutdown' : 'tenant';
}

/** The request as adapters take it: without the fields only the gateway's checks read. */
function adapterRequest(model: ModelSpec, request: ChatRequestToCheck): ChatCompletionRequest {
  const { logprobs: _l, top_logprobs: _t, modalities: _m, ...rest } = chatRequestForModel(model, request);
  return rest;
}

function publicChunk(chunk: ChatCompletionChunk, model: ModelSpec): ChatCompletionChunk {
  return { ...chunk, model: model.id };
}

@Injectable()
export class ChatService {
  private readonly logger = new Logger(ChatService.name);
  private readonly policy: RetryPolicy;

  constructor(
    private readonly config: AppConfig,
    private readonly catalog: ModelCatalog,
    private readonly resolver: ModelResolver,
    private readonly access: ModelAccess,
    private readonly rateLimiter: RateLimiter,
    private readonly priceBook: PriceBook,
    private readonly billing: BillingService,
    private readonly settlements: DeferredSettlements,
    private readonly provider: ProviderClient,
    private readonly metrics: MetricsService,
    private readonly imageInputs: ImageInputInliner,
    private readonly observer: AttemptObserver,
    private readonly drain: RequestDrain,
    @Inject(CHAT_IMAGE_GENERATOR) private readonly imageGenerator: ChatImageGenerator,
    @Optional() @Inject(CHAT_RETRY_POLICY) policy?: RetryPolicy,
  ) {
    this.policy = policy ?? DEFAULT_RETRY_POLICY;
  }

  async create(auth: AuthContext, requestId: string, input: ChatRouteRequest, exchange: ChatExchangePort, clientRequestId?: string): Promise<void> {
    const startedAt = Date.now();
    const { request } = input;

    const admission = await this.admit(auth, { request, models: input.models }, exchange);

    if (admission.route.chain[0].capabilities.imageOutputViaChat) {
      await admission.limited;
      return this.generateImages(auth, requestId, admission.route, request, exchange, clientRequestId);
    }

    const responder = new OpenAIChatResponder(exchange, request.stream_options?.include_usage === true);
    return this.answer(auth, requestId, admission, request, responder, { endpoint: CHAT_ENDPOINT, startedAt, clientRequestId });
  }

  /**
   * Rate limit (images count when the model answers with images) → resolve the chain → check every model
   * of it against the request. Throws the tenant's 429/404/403/400 (a refused rate limit wins over a failed
   * check, as if it had run first); sets the rate-limit and router headers. The rate-limit check runs while
   * the request is checked and is left in flight when the checks pass (`Admission.limited`).
   */
  async admit(auth: AuthContext, input: ChatAdmission, headers: HeaderSink): Promise<Admission> {
    const { request } = input;
    const limited = this.rateLimiter.enforce(auth, { images: this.imagesAsked(request) }).then((decision) => headers.setHeaders(decision.headers));
    // Awaited later or by whoever takes the admission; never an unhandled rejection in between.
    limited.catch(() => undefined);
    try {
      const route = this.resolver.resolve({
        model: request.model,
        models: input.models,
        allowedModels: auth.allowedModels,
        features: chatFeatures(request),
        configuredFallbacks: input.configuredFallbacks,
      });
      input.check?.(route);
      checkChatChain(route, request);
      checkGatewayFields(route, request);
      // Image URLs become data URLs here: after the checks, before anything is reserved or sent upstream,
      // and only for a request its limits admitted (fetching is work done on the tenant's behalf).
      if (this.imageInputs.refersToImages(request)) {
        await limited;
        await this.imageInputs.inline(request);
      }
      headers.setHeaders(this.routerHeaders(route));
      return { route, limited };
    } catch (error) {
      await limited;
      throw error;
    }
  }

  /**
   * A text chain `admit` let through: reserve the worst case → call with retry and fallback (whole or
   * streamed, as `request.stream` says) → settle at the serving model's price → hand the answer to
   * `responder`. Throws the tenant's error when nothing was sent yet.
   */
  async answer(
    auth: AuthContext,
    requestId: string,
    admission: Admission,
    request: ChatRequestToCheck,
    responder: ChatResponder,
    options: ChatAnswerOptions,
  ): Promise<void> {
    const { route } = admission;
    const startedAt = options.startedAt ?? Date.now();
    const prices = new Map<string, PricedModel>();
    let reserveMicros = 0n;
    try {
      for (const [index, model] of route.chain.entries()) {
        const priced = await this.priced(model, route.params[index] ?? 'model');
        prices.set(model.id, priced);
        const worst = chatReserveMicros(priced.model, adapterRequest(model, request), 0, {}, new Date(startedAt));
        if (worst > reserveMicros) reserveMicros = worst;
      }
    } catch (error) {
      await admission.limited;
      throw error;
    }
    const reservation = await this.reserveWhenLimited(admission.limited, requestId, { tenantId: auth.tenantId, keyId: auth.keyId }, reserveMicros);
    const cut = new AbortController();
    const stop = new AbortController();
    const tenantLeft = (): void => stop.abort(responder.signal.reason);
    if (responder.signal.aborted) tenantLeft();
    else responder.signal.addEventListener('abort', tenantLeft, { once: true });
    cut.signal.addEventListener('abort', () => stop.abort(cut.signal.reason), { once: true });
    const call: ChatCall = {
      auth,
      requestId,
      request,
      route,
      responder,
      endpoint: options.endpoint,
      startedAt,
      prices,
      reservation,
      attempts: [],
      clientRequestId: options.clientRequestId,
      cut: cut.signal,
      stop: stop.signal,
    };
    // Until it is settled, the call is one a shutdown waits for, and cuts when the grace period runs short.
    const untrack = this.drain.track((reason) => cut.abort(reason));
    try {
      return await (request.stream === true ? this.stream(call) : this.complete(call));
    } finally {
      untrack();
      responder.signal.removeEventListener('abort', tenantLeft);
    }
  }

  /**
   * The reservation, sent while the rate-limit check is still in flight, so the two cost one round trip of
   * latency instead of two. The outcome is the one of running them in order: a refused limit is the answer
   * (429/503) and releases the hold, whatever the reservation did; otherwise the reservation's 402 or hold.
   */
  private async reserveWhenLimited(limited: Promise<void>, requestId: string, payer: { tenantId: string; keyId: string }, micros: bigint): Promise<Reservation> {
    const [limit, reserved] = await Promise.allSettled([limited, this.billing.reserve(requestId, payer, micros)]);
    if (limit.status === 'rejected') {
      if (reserved.status === 'fulfilled') {
        // Left in place, the hold would be released by the reservation sweeper; releasing it now frees the balance at once.
        await this.billing.release(reserved.value).catch((e: unknown) =>
          this.logger.warn({ requestId, err: e instanceof Error ? e.message : String(e) }, 'hold of a rate-limited request not released; the sweeper will'),
        );
      }
      throw limit.reason;
    }
    if (reserved.status === 'rejected') throw reserved.reason;
    return reserved.value;
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async complete(call: ChatCall): Promise<void> {
    let outcome;
    try {
      outcome = await runWithFallback(
        call.route.chain,
        async (model, level, attemptNo) => {
          call.sent = undefined;
          await this.beforeAttempt(call, model, level, attemptNo);
          // The tenant leaving is not passed on: an answer the provider is already producing is produced whole
          // (and billed) whether anyone reads it or not, so it is waited for and billed; only further attempts stop.
          // A shutdown cut is passed on: the process cannot wait for the answer.
          const deadline = this.deadline(call.cut);
          try {
            return await this.sending(call, model, level, (onSent) => this.provider.chat(model, adapterRequest(model, call.request), { signal: deadline.signal, onSent }));
          } finally {
            deadline.clear();
          }
        },
        this.policy,
        // A tenant gone (or a call cut) before the first attempt, or between two, gets none.
        { ...this.hooks(call), signal: call.stop },
      );
    } catch (error) {
      const apiError = await this.failed(call, error);
      if (call.responder.answerFailure?.(error)) return;
      throw apiError;
    }

    const { result, model, level } = outcome;
    const priced = this.priceOf(call, model);
    const cost = computeCost(priced.price.price, result.usage, { startedAt: new Date(call.startedAt) });
    const settlement = this.settlementOf(call, {
      servedModel: model.id,
      provider: model.provider,
      fallbackLevel: level,
      status: 'succeeded',
      usage: result.usage,
      cost,
      priceId: priced.price.priceId,
    });
    // The cost is known before anything is written, so the answer leaves first and the usage record is
    // written after it, off the response's latency. The request is not done until the record is written
    // or spooled for retry (DeferredSettlements), and the reservation holds the spend until then.
    call.responder.setHeaders({ ...this.servedHeaders(model, level), [CHAT_HEADERS.cost]: formatUsd(cost.totalMicros) });
    call.responder.sendCompletion({ ...result.completion, model: model.id }, result.usage, model);
    await this.settlements.settle(call.reservation, settlement);
  }

  private async stream(call: ChatCall): Promise<void> {
    const deadlines: { clear(): void }[] = [];
    let opened;
    try {
      opened = await streamWithFallback<ChatStreamItem, ChatStream>(
        call.route.chain,
        async (model, level, attemptNo, signal) => {
          call.sent = undefined;
          await this.beforeAttempt(call, model, level, attemptNo);
          // The deadline covers opening the stream and its first item; the HTTP client's idle timeout guards the rest.
          const deadline = this.deadline(signal);
          deadlines.push(deadline);
          return this.sending(call, model, level, (onSent) => this.provider.chatStream(model, adapterRequest(model, call.request), { signal: deadline.signal, onSent }));
        },
        this.policy,
        { ...this.hooks(call), signal: call.stop },
        // With another model to fall back to, the tenant's stream opens on the first item with content, so a
        // failure right after an empty role chunk still falls back. Alone, a model's role chunk is sent at once.
        call.route.chain.length > 1 ? startsAnswer : undefined,
      );
    } catch (error) {
      const apiError = await this.failed(call, error);
      if (call.responder.answerFailure?.(error)) return;
      throw apiError;
    } finally {
      for (const d of deadlines) d.clear();
    }

    const { model, level } = opened;
    const { stream, items } = opened.result;
    call.responder.startStream(this.servedHeaders(model, level), model);

    let final: { usage: NormalizedUsage; estimated: boolean } | undefined;
    let failure: unknown;
    try {
      for await (const item of items) {
        if (item.type === 'chunk') {
          await call.responder.sendChunk(publicChunk(item.chunk, model));
        } else {
          final = { usage: item.usage, estimated: item.estimated };
          await call.responder.sendUsage(publicChunk(item.chunk, model), item.usage);
        }
        if (call.stop.aborted) break;
      }
    } catch (error) {
      failure = error;
    }

    const stopped = stoppedBy(call);
    const tenantLeft = stopped === 'tenant';
    const complete = final !== undefined && failure === undefined && !tenantLeft;
    // An answer the upstream finished is delivered whole even when the shutdown came during its last write.
    const cutShort = stopped === 'shutdown' && !complete;
    if (tenantLeft || cutShort) stream.cancel();
    const usage = complete && final ? final : stream.usageSoFar();
    const priced = this.priceOf(call, model);
    const cost = computeCost(priced.price.price, usage.usage, { startedAt: new Date(call.startedAt) });
    const apiError = cutShort ? shuttingDownError(true) : failure !== undefined && !tenantLeft ? this.toApiError(failure) : undefined;

    const settlement = this.settlementOf(call, {
      servedModel: model.id,
      provider: model.provider,
      fallbackLevel: level,
      status: complete ? 'succeeded' : 'partial',
      usage: usage.usage,
      cost,
      priceId: priced.price.priceId,
      estimated: usage.estimated,
      error: apiError ? apiError.message : tenantLeft ? 'the client disconnected mid-stream' : null,
    });
    // Settled before the last event, so the tenant's next request does not queue behind this one's commit on the
    // tenant's row (after `[DONE]` it arrives at once). Through the deferred settlements: a database that is away
    // spools the record for retry instead of losing it, and the stream still ends normally.
    try {
      await this.settlements.settle(call.reservation, settlement);
    } finally {
      await call.responder.endStream({ complete, error: apiError });
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async generateImages(
    auth: AuthContext,
    requestId: string,
    route: ResolvedRoute,
    request: ChatRequestToCheck,
    exchange: ChatExchangePort,
    clientRequestId: string | undefined,
  ): Promise<void> {
    const output = await this.imageGenerator.generate({ auth, requestId, clientRequestId, route, request, signal: exchange.signal });
    exchange.setHeaders(output.headers);
    exchange.sendJson(200, output.completion);
  }

  /** Images count against the key's per-minute image limit as soon as the request is admitted. */
  private imagesAsked(request: ChatRequestToCheck): number {
    const model = this.catalog.resolve(request.model);
    const wantsImages = request.modalities?.includes('image') === true || model?.capabilities.imageOutputViaChat === true;
    return wantsImages ? Math.max(1, request.n ?? 1) : 0;
  }

  private async priced(model: ModelSpec, param: string): Promise<PricedModel> {
    const priced = await this.priceBook.priced(model);
    if (!priced) throw ApiError.badRequest(`The model ${model.id} has no list price yet and cannot be used.`, param, 'model_not_priced');
    return priced;
  }

  private priceOf(call: ChatCall, model: ModelSpec): PricedModel {
    const priced = call.prices.get(model.id);
    // Every model of the chain is priced before the reservation; a miss is a bug, not a tenant error.
    if (!priced) throw new Error(`no price recorded for ${model.id}`);
    return priced;
  }

  /**
   * Before the first attempt on a fallback model: the model is checked again (capabilities, the key's
   * access, its price in force), and the reservation grows if the current price makes its worst case dearer
   * than what was reserved.
   */
  private async beforeAttempt(call: ChatCall, model: ModelSpec, level: number, attemptNo: number): Promise<void> {
    if (level === 0 || attemptNo > 1) return;
    const param = call.route.params[level] ?? 'model';
    checkChatRequest(model, call.request, param);
    if (!this.access.isAllowed(call.auth.allowedModels, model)) {
      throw new ApiError(403, 'permission_error', `This API key may not use the model ${model.id}.`, 'model_not_allowed', param);
    }
    const priced = await this.priced(model, param);
    call.prices.set(model.id, priced);
    const worst = chatReserveMicros(priced.model, adapterRequest(model, call.request), 0, {}, new Date(call.startedAt));
    if (worst > call.reservation.amountMicros) call.reservation = await this.billing.topUp(call.reservation, worst);
  }

  /**
   * One upstream call of an attempt. `call.sent` names it from the moment its request is written out until
   * the provider answers: an answer (an error status, a broken connection) means the provider stopped working
   * on it, and only a call cancelled before any answer leaves the prompt with the provider.
   */
  private async sending<T>(call: ChatCall, model: ModelSpec, level: number, send: (onSent: () => void) => Promise<T>): Promise<T> {
    try {
      return await send(() => (call.sent = { model, level }));
    } catch (error) {
      if (!(error instanceof UpstreamError && error.kind === 'cancelled')) call.sent = undefined;
      throw error;
    }
  }

  /**
   * A per-attempt deadline that aborts with a `timeout` UpstreamError, so the executor retries or falls back;
   * also aborted with `signal`.
   */
  private deadline(signal: AbortSignal): { signal: AbortSignal; clear(): void } {
    const ms = this.config.CHAT_ATTEMPT_TIMEOUT_MS;
    const controller = new AbortController();
    const follow = (): void => controller.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener('abort', follow, { once: true });
    const timer = setTimeout(
      () => controller.abort(new UpstreamError({ kind: 'timeout', message: `The upstream provider did not answer within ${ms} ms` })),
      ms,
    );
    return { signal: controller.signal, clear: () => clearTimeout(timer) };
  }

  private hooks(call: ChatCall): FallbackHooks {
    return this.observer.hooks({
      onPassOver: (model) => this.logger.debug({ requestId: call.requestId, model: model.id }, 'passed over: cooling down'),
      onAttempt: (record, error) => {
        call.attempts.push(record);
        if (error) {
          this.logger.warn({ requestId: call.requestId, model: record.model, attempt: record.attempt, kind: error.kind, status: error.status }, 'chat attempt failed');
        }
      },
    });
  }

  private routerHeaders(route: ResolvedRoute): Record<string, string> {
    if (!route.router || !route.resolvedModel) return {};
    return { [CHAT_HEADERS.router]: route.router, [CHAT_HEADERS.resolvedModel]: route.resolvedModel };
  }

  private servedHeaders(model: ModelSpec, level: number): Record<string, string> {
    return { [CHAT_HEADERS.fallbackLevel]: String(level), [CHAT_HEADERS.fallbackModel]: model.id };
  }

  private toApiError(error: unknown): ApiError {
    if (error instanceof ApiError) return error;
    if (isFallbackFailure(error)) return fallbackFailureToApiError(error);
    this.logger.error({ err: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error) }, 'chat request failed');
    return new ApiError(500, 'server_error', 'Internal server error.', 'internal_error');
  }

  /**
   * The chain failed (or a hop was refused): the reservation is released, with a `failed` usage record
   * when an upstream was called, and the tenant gets the matching error. A call cancelled while its request
   * was with the provider (the tenant left before the first chunk, or the shutdown cut it) is billed for its
   * prompt instead: the provider took it, and the tenant pays for it as for a stream cut short, never $0 and
   * never more. A call the shutdown cut answers 503 `server_shutting_down`.
   */
  private async failed(call: ChatCall, error: unknown): Promise<ApiError> {
    const apiError = stoppedBy(call) === 'shutdown' ? shuttingDownError(true) : this.toApiError(error);
    const last = call.attempts[call.attempts.length - 1];
    if (call.sent && last?.errorKind === 'cancelled' && last.model === call.sent.model.id) {
      const why = stoppedBy(call) === 'shutdown' ? apiError.message : 'the client disconnected before the answer began';
      await this.settlements.settle(call.reservation, this.promptOnly(call, call.sent, why));
    } else if (call.attempts.length === 0) {
      await this.billing.release(call.reservation);
    } else {
      // Through the deferred settlements, so a database away at this moment spools the record instead of losing it.
      await this.settlements.settle(call.reservation, this.settlementOf(call, {
        servedModel: null,
        provider: null,
        fallbackLevel: call.attempts[call.attempts.length - 1].level,
        status: 'failed',
        usage: null,
        cost: null,
        priceId: null,
        error: apiError.message,
      }));
    }
    return apiError;
  }

  /**
   * The settlement of a call cut off after its request reached the provider and before any output came back:
   * the prompt's input tokens, estimated from its text as for a stream cut short (`estimateUsage`), at the
   * price of the model it was sent to.
   */
  private promptOnly(call: ChatCall, sent: { model: ModelSpec; level: number }, error: string): SettleInput {
    const { model, level } = sent;
    const priced = this.priceOf(call, model);
    const usage = estimateUsage(adapterRequest(model, call.request), { outputChars: 0 });
    return this.settlementOf(call, {
      servedModel: model.id,
      provider: model.provider,
      fallbackLevel: level,
      status: 'partial',
      usage,
      cost: computeCost(priced.price.price, usage, { startedAt: new Date(call.startedAt) }),
      priceId: priced.price.priceId,
      estimated: true,
      error,
    });
  }

  private settlementOf(call: ChatCall, input: CallOutcome): SettleInput {
    return {
      endpoint: call.endpoint,
      requestedModel: call.request.model,
      attempts: Math.max(1, call.attempts.length),
      attemptLog: call.attempts,
      latencyMs: Date.now() - call.startedAt,
      clientRequestId: call.clientRequestId ?? null,
      ...input,
    };
  }
}

/**
 * Executes canonical requests against upstream providers: picks the adapter from the registry, sends
 * through the one HTTP client, and turns answers (or failures) into canonical results or UpstreamErrors.
 * A plain class: configuration (keys, base URLs, timeouts) comes in through the constructor.
 */
import type { ModelSpec, ProviderId } from './catalog/model-spec';
import type { ChatResult, ChatStreamState, UpstreamRequest, UpstreamResponse } from './adapter';
import { UpstreamError, malformed } from './errors';
import { IMAGE_BASE64_FIELDS } from './http/lifted-base64';
import { readSse } from './http/sse-reader';
import { type UpstreamTimeouts, UpstreamHttpClient } from './http/upstream-http-client';
import { type ProviderRegistry, createDefaultProviderRegistry } from './provider-registry';
import type { ChatCompletionChunk, ChatCompletionRequest, ChatContentPart, TextContentPart } from './types/chat';
import type { ImageGenerationRequest, ImageGenerationResult } from './types/images';
import { type NormalizedUsage, emptyUsage, toOpenAIUsage } from './types/usage';

export interface ProviderEndpoint {
  /** absent or empty: the provider is not configured and is never called */
  apiKey?: string;
  /** as the official SDK's base URL, e.g. https://api.openai.com/v1 */
  baseUrl: string;
}

export type ProviderEndpoints = Partial<Record<ProviderId, ProviderEndpoint>>;

export interface ProviderClientOptions {
  /** chat timeouts */
  timeouts?: Partial<UpstreamTimeouts>;
  /** image generation answers only when the image is done, so its first byte comes much later */
  imageTimeouts?: Partial<UpstreamTimeouts>;
  registry?: ProviderRegistry;
  /** share one HTTP client (and its pools) between clients; the owner closes it */
  http?: UpstreamHttpClient;
  connectionsPerOrigin?: number;
}

export interface CallContext {
  /** aborting it (the tenant went away) cancels the upstream call */
  signal?: AbortSignal;
  /** called once the request has been written to the provider's connection (see `CallOptions.onSent`) */
  onSent?: () => void;
}

export type ChatStreamItem =
  | { type: 'chunk'; chunk: ChatCompletionChunk }
  | {
      type: 'usage';
      usage: NormalizedUsage;
      /** true when the upstream never reported usage and it was estimated from characters */
      estimated: boolean;
      /** OpenAI's final usage chunk (`choices: []`), for tenants that asked for `include_usage` */
      chunk: ChatCompletionChunk;
    };

export interface ChatStream extends AsyncIterable<ChatStreamItem> {
  readonly status: number;
  /**
   * Usage for what was produced so far: the upstream's figure once it reported one, an estimate
   * before that. Billing uses it when the stream ends early (disconnect, upstream failure).
   */
  usageSoFar(): { usage: NormalizedUsage; estimated: boolean };
  /** stops reading and releases the upstream connection */
  cancel(): void;
}

const DEFAULT_IMAGE_TIMEOUTS: Partial<UpstreamTimeouts> = { firstByteMs: 300_000, idleMs: 300_000 };

export class ProviderClient {
  private readonly registry: ProviderRegistry;
  private readonly http: UpstreamHttpClient;
  private readonly ownsHttp: boolean;
  private readonly imageTimeouts: Partial<UpstreamTimeouts>;

  constructor(
    private readonly endpoints: ProviderEndpoints,
    options: ProviderClientOptions = {},
  ) {
    this.registry = options.registry ?? createDefaultProviderRegistry();
    this.ownsHttp = !options.http;
    this.http = options.http ?? new UpstreamHttpClient({ timeouts: options.timeouts, connections: options.connectionsPerOrigin });
    this.imageTimeouts = { ...DEFAULT_IMAGE_TIMEOUTS, ...options.imageTimeouts };
  }

  /** Whether calls to this provider can be made (it has an API key). */
  isConfigured(provider: ProviderId): boolean {
    return Boolean(this.endpoints[provider]?.apiKey);
  }

  async chat(model: ModelSpec, req: ChatCompletionRequest, ctx: CallContext = {}): Promise<ChatResult> {
    const chat = this.registry.chat(model);
    const endpoint = this.endpoint(model.provider);
    const upstream = chat.buildRequest(model, req, endpoint.apiKey);
    const res = await this.send(model.provider, endpoint, upstream, ctx);
    return chat.parseResponse(model, res, req);
  }

  /**
   * Resolves once the upstream accepted the stream (2xx headers), so that a refusal can still fall
   * back before anything was sent to the tenant; then yields chunks as they arrive and, last, usage.
   */
  async chatStream(model: ModelSpec, req: ChatCompletionRequest, ctx: CallContext = {}): Promise<ChatStream> {
    const chat = this.registry.chat(model);
    const endpoint = this.endpoint(model.provider);
    const provider = model.provider;
    const upstream = chat.buildStreamRequest(model, req, endpoint.apiKey);
    const callOpts = { provider, signal: ctx.signal, secrets: [endpoint.apiKey], onSent: ctx.onSent };
    const res = await this.http.stream(endpoint.baseUrl, upstream, callOpts);
    if (res.status < 200 || res.status >= 300) {
      const bodyText = await this.http.readAll(res.body, callOpts).catch(() => '');
      throw this.registry.get(provider).classifyError({ status: res.status, headers: res.headers, bodyText }, [endpoint.apiKey]);
    }
    const state = chat.createStreamState(model, req);
    const contentType = res.headers['content-type'] ?? '';
    if (!contentType.includes('text/event-stream')) {
      // Some upstreams answer a streaming request with one JSON body (or an error object with 200).
      const bodyText = await this.http.readAll(res.body, callOpts);
      const result = chat.parseResponse(model, { status: res.status, headers: res.headers, bodyText }, req);
      return singleShotStream(res.status, result);
    }

    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      res.cancel();
    };
    const usageSoFar = (): { usage: NormalizedUsage; estimated: boolean } =>
      state.usage ? { usage: state.usage, estimated: false } : { usage: estimateUsage(req, state), estimated: true };

    async function* iterate(): AsyncGenerator<ChatStreamItem> {
      try {
        for await (const event of readSse(res.body)) {
          for (const chunk of chat.parseStreamEvent(event, state)) yield { type: 'chunk', chunk };
          if (state.done) break;
        }
        for (const chunk of chat.finishStream(state)) yield { type: 'chunk', chunk };
        if (!state.done && !state.finished) {
          if (cancelled || ctx.signal?.aborted) throw new UpstreamError({ kind: 'cancelled', provider });
          throw malformed(provider, 'the stream ended before the answer was complete');
        }
        const { usage, estimated } = usageSoFar();
        const chunk: ChatCompletionChunk = {
          id: state.id,
          object: 'chat.completion.chunk',
          created: state.created,
          model: state.model,
          choices: [],
          usage: toOpenAIUsage(usage),
        };
        yield { type: 'usage', usage, estimated, chunk };
      } finally {
        res.cancel();
      }
    }

    const iterator = iterate();
    return {
      status: res.status,
      usageSoFar,
      cancel,
      [Symbol.asyncIterator]: () => iterator,
    };
  }

  async generateImages(model: ModelSpec, req: ImageGenerationRequest, ctx: CallContext = {}): Promise<ImageGenerationResult> {
    const images = this.registry.images(model);
    const endpoint = this.endpoint(model.provider);
    const isEdit = (req.inputImages?.length ?? 0) > 0;
    if (isEdit && (!images.buildEditRequest || !images.parseEditResponse)) {
      throw new UpstreamError({ kind: 'invalid_request', provider: model.provider, message: `model ${model.id} cannot edit images` });
    }
    const upstream = isEdit && images.buildEditRequest
      ? images.buildEditRequest(model, req, endpoint.apiKey)
      : images.buildRequest(model, req, endpoint.apiKey);
    // The image bytes are decoded from the raw answer and lifted out of its text, which is all the adapter parses.
    const res = await this.send(model.provider, endpoint, upstream, ctx, this.imageTimeouts, IMAGE_BASE64_FIELDS);
    return isEdit && images.parseEditResponse ? images.parseEditResponse(model, res, req) : images.parseResponse(model, res, req);
  }

  async close(): Promise<void> {
    if (this.ownsHttp) await this.http.close();
  }

  private endpoint(provider: ProviderId): { apiKey: string; baseUrl: string } {
    const e = this.endpoints[provider];
    if (!e?.apiKey || !e.baseUrl) {
      throw new UpstreamError({ kind: 'auth', provider, message: 'this provider is not configured on the gateway' });
    }
    return { apiKey: e.apiKey, baseUrl: e.baseUrl };
  }

  private async send(
    provider: ProviderId,
    endpoint: { apiKey: string; baseUrl: string },
    upstream: UpstreamRequest,
    ctx: CallContext,
    timeouts?: Partial<UpstreamTimeouts>,
    liftBase64?: readonly string[],
  ): Promise<UpstreamResponse> {
    const res = await this.http.send(endpoint.baseUrl, upstream, { provider, signal: ctx.signal, secrets: [endpoint.apiKey], timeouts, liftBase64, onSent: ctx.onSent });
    if (res.status < 200 || res.status >= 300) {
      throw this.registry.get(provider).classifyError(res, [endpoint.apiKey]);
    }
    return res;
  }
}

function singleShotStream(status: number, result: ChatResult): ChatStream {
  const c = result.completion;
  async function* iterate(): AsyncGenerator<ChatStreamItem> {
    yield {
      type: 'chunk',
      chunk: {
        id: c.id,
        object: 'chat.completion.chunk',
        created: c.created,
        model: c.model,
        choices: c.choices.map((ch) => ({
          index: ch.index,
          delta: {
            role: 'assistant',
            content: typeof ch.message.content === 'string' ? ch.message.content : null,
            ...(ch.message.tool_calls
              ? { tool_calls: ch.message.tool_calls.map((tc, index) => ({ index, ...tc })) }
              : {}),
            ...(ch.message.reasoning_content ? { reasoning_content: ch.message.reasoning_content } : {}),
          },
          finish_reason: ch.finish_reason,
        })),
      },
    };
    yield {
      type: 'usage',
      usage: result.usage,
      estimated: false,
      chunk: { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, choices: [], usage: toOpenAIUsage(result.usage) },
    };
  }
  const iterator = iterate();
  return {
    status,
    usageSoFar: () => ({ usage: result.usage, estimated: false }),
    cancel: () => undefined,
    [Symbol.asyncIterator]: () => iterator,
  };
}

/** ≈ 4 characters per token, the usual rule of thumb for English text with BPE tokenizers. */
const CHARS_PER_TOKEN = 4;

function partText(p: ChatContentPart | TextContentPart): number {
  return p.type === 'text' ? p.text.length : 0;
}

/** Usage for a stream that never reported its own: text input from the request, output from what was streamed. */
export function estimateUsage(req: ChatCompletionRequest, state: Pick<ChatStreamState, 'outputChars'>): NormalizedUsage {
  let inputChars = 0;
  for (const m of req.messages) {
    const content = m.content;
    if (typeof content === 'string') inputChars += content.length;
    else if (Array.isArray(content)) for (const p of content) inputChars += partText(p);
  }
  const usage = emptyUsage();
  usage.textInput = Math.ceil(inputChars / CHARS_PER_TOKEN);
  usage.textOutput = Math.ceil(state.outputChars / CHARS_PER_TOKEN);
  return usage;
}

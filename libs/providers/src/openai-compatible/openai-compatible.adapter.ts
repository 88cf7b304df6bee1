/**
 * Shared translation for every upstream that speaks OpenAI's chat-completions dialect (OpenAI itself,
 * xAI, DeepSeek, Qwen's compatible mode, Moonshot, MiniMax). Providers subclass it and override only
 * the hooks where their wire format differs: request fields, usage fields, stream quirks.
 */
import type { ModelSpec, ProviderId } from '../catalog/model-spec';
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
import {
  UpstreamError,
  classifyHttpError,
  isRecord,
  malformed,
  parseJsonBody,
  readErrorBody,
  str,
} from '../errors';
import type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionDelta,
  ChatCompletionMessage,
  ChatCompletionRequest,
  ChatMessage,
  ChatToolCall,
  ChatToolCallDelta,
  FinishReason,
  OpenAIUsage,
} from '../types/chat';
import { type NormalizedUsage, normalizeOpenAIUsage, toOpenAIUsage, tokenCount } from '../types/usage';

const FINISH_REASONS: readonly FinishReason[] = ['stop', 'length', 'tool_calls', 'content_filter', 'function_call'];

export function finishReason(v: unknown): FinishReason | null {
  if (typeof v !== 'string') return null;
  if ((FINISH_REASONS as readonly string[]).includes(v)) return v as FinishReason;
  // Providers add their own reasons (e.g. DeepSeek's "insufficient_system_resource"); the closest
  // OpenAI meaning of an unknown one is that generation stopped.
  return 'stop';
}

/** Reads an OpenAI-shaped usage object from untyped JSON. */
export function readOpenAIUsage(raw: unknown): OpenAIUsage | undefined {
  if (!isRecord(raw)) return undefined;
  const p = isRecord(raw.prompt_tokens_details) ? raw.prompt_tokens_details : {};
  const c = isRecord(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
  return {
    prompt_tokens: tokenCount(raw.prompt_tokens),
    completion_tokens: tokenCount(raw.completion_tokens),
    total_tokens: tokenCount(raw.total_tokens),
    prompt_tokens_details: {
      cached_tokens: tokenCount(p.cached_tokens),
      audio_tokens: tokenCount(p.audio_tokens),
      image_tokens: tokenCount(p.image_tokens),
    },
    completion_tokens_details: {
      reasoning_tokens: tokenCount(c.reasoning_tokens),
      audio_tokens: tokenCount(c.audio_tokens),
      image_tokens: tokenCount(c.image_tokens),
    },
  };
}

function readToolCalls(raw: unknown): ChatToolCall[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: ChatToolCall[] = [];
  for (const tc of raw) {
    if (!isRecord(tc) || !isRecord(tc.function)) continue;
    out.push({
      id: str(tc.id) ?? '',
      type: 'function',
      function: { name: str(tc.function.name) ?? '', arguments: str(tc.function.arguments) ?? '' },
    });
  }
  return out.length ? out : undefined;
}

function readToolCallDeltas(raw: unknown): ChatToolCallDelta[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: ChatToolCallDelta[] = [];
  raw.forEach((tc, i) => {
    if (!isRecord(tc)) return;
    const d: ChatToolCallDelta = { index: typeof tc.index === 'number' ? tc.index : i };
    if (typeof tc.id === 'string') d.id = tc.id;
    if (tc.type === 'function') d.type = 'function';
    if (isRecord(tc.function)) {
      d.function = {};
      if (typeof tc.function.name === 'string') d.function.name = tc.function.name;
      if (typeof tc.function.arguments === 'string') d.function.arguments = tc.function.arguments;
    }
    out.push(d);
  });
  return out.length ? out : undefined;
}

export interface OpenAICompatibleStreamState extends ChatStreamState {
  /** the last usage object seen; some providers repeat a growing usage on every chunk */
  rawUsage: unknown;
}

/** The HTTP status an error `type` stands for, for errors sent inside a 200 answer without a numeric code. */
const IN_BODY_ERROR_STATUS: ReadonlyMap<string, number> = new Map([
  ['invalid_request_error', 400],
  ['BadRequestError', 400],
  ['authentication_error', 401],
  ['permission_error', 403],
  ['not_found_error', 404],
  ['NotFoundError', 404],
  ['rate_limit_error', 429],
  ['insufficient_quota', 429],
  ['server_error', 500],
  ['InternalServerError', 500],
  ['overloaded_error', 503],
]);

export class OpenAICompatibleChat implements ChatCapability<OpenAICompatibleStreamState> {
  constructor(protected readonly provider: ProviderId) {}

  // ---- hooks -------------------------------------------------------------------------------------

  protected authHeaders(apiKey: string): Record<string, string> {
    return { authorization: `Bearer ${apiKey}` };
  }

  protected chatPath(): string {
    return '/chat/completions';
  }

  /** Message list as the provider accepts it. */
  protected mapMessages(messages: ChatMessage[], _model: ModelSpec): unknown[] {
    // Only OpenAI knows the 'developer' role; for everyone else it means 'system'.
    return messages.map((m) => (m.role === 'developer' ? { ...m, role: 'system' } : m));
  }

  /** Provider-specific fields; the default copies the portable OpenAI fields. */
  protected mapRequest(model: ModelSpec, req: ChatCompletionRequest): Record<string, unknown> {
    const body: Record<string, unknown> = {
      model: model.upstreamId,
      messages: this.mapMessages(req.messages, model),
    };
    copy(body, req, ['temperature', 'top_p', 'n', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'user']);
    if (req.tools?.length) {
      body.tools = req.tools;
      copy(body, req, ['tool_choice', 'parallel_tool_calls']);
    }
    if (req.response_format) body.response_format = req.response_format;
    const maxTokens = req.max_completion_tokens ?? req.max_tokens;
    if (maxTokens !== undefined) body.max_tokens = maxTokens;
    if (req.reasoning_effort !== undefined && model.capabilities.reasoning) body.reasoning_effort = req.reasoning_effort;
    return body;
  }

  /** Usage in the provider's fields → NormalizedUsage. */
  protected normalizeUsage(raw: unknown): NormalizedUsage {
    return normalizeOpenAIUsage(readOpenAIUsage(raw));
  }

  /** The provider's reasoning text on a message or delta. */
  protected reasoningText(msg: Record<string, unknown>): string | undefined {
    return str(msg.reasoning_content) ?? str(msg.reasoning);
  }

  /** Usage carried by a stream chunk (standard: top-level `usage`). */
  protected chunkUsage(chunk: Record<string, unknown>): unknown {
    if (isRecord(chunk.usage)) return chunk.usage;
    // Moonshot and a few others put the final usage inside the choice.
    if (Array.isArray(chunk.choices)) {
      for (const c of chunk.choices) if (isRecord(c) && isRecord(c.usage)) return c.usage;
    }
    return undefined;
  }

  /**
   * An error reported with HTTP 200 (inside a JSON body or an SSE event), or undefined. Its status is the
   * numeric `code` (vLLM, sglang), else the one its `type` stands for (OpenAI sends `code: null` with a type),
   * else 500.
   */
  protected inBodyError(body: Record<string, unknown>): UpstreamError | undefined {
    if (!isRecord(body.error)) return undefined;
    const eb = readErrorBody(body);
    const code = Number(eb.code);
    const status = Number.isFinite(code) && code >= 400 && code < 600 ? code : (IN_BODY_ERROR_STATUS.get(eb.type ?? '') ?? 500);
    return classifyHttpError({ provider: this.provider, status, headers: {}, bodyText: JSON.stringify(body) });
  }

  // ---- ChatCapability ----------------------------------------------------------------------------

  buildRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest {
    const body = this.mapRequest(model, req);
    return { method: 'POST', path: this.chatPath(), headers: this.authHeaders(apiKey), body: { kind: 'json', value: body }, stream: false };
  }

  buildStreamRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest {
    const body = this.mapRequest(model, req);
    body.stream = true;
    // Always ask for usage: billing needs it whether or not the tenant asked to see it.
    body.stream_options = { include_usage: true };
    return { method: 'POST', path: this.chatPath(), headers: this.authHeaders(apiKey), body: { kind: 'json', value: body }, stream: true };
  }

  parseResponse(model: ModelSpec, res: UpstreamResponse, _req?: ChatCompletionRequest): ChatResult {
    const body = parseJsonBody(res.bodyText);
    if (!isRecord(body)) throw malformed(this.provider, 'not JSON', res.bodyText);
    const err = this.inBodyError(body);
    if (err) throw err;
    if (!Array.isArray(body.choices)) throw malformed(this.provider, 'no choices', res.bodyText);
    const choices: ChatCompletionChoice[] = body.choices.map((c, i): ChatCompletionChoice => {
      const rc = isRecord(c) ? c : {};
      const m = isRecord(rc.message) ? rc.message : {};
      const message: ChatCompletionMessage = { role: 'assistant', content: str(m.content) ?? null };
      const toolCalls = readToolCalls(m.tool_calls);
      if (toolCalls) message.tool_calls = toolCalls;
      const reasoning = this.reasoningText(m);
      if (reasoning) message.reasoning_content = reasoning;
      if (typeof m.refusal === 'string') message.refusal = m.refusal;
      return { index: typeof rc.index === 'number' ? rc.index : i, message, finish_reason: finishReason(rc.finish_reason) ?? 'stop' };
    });
    const usage = this.normalizeUsage(body.usage);
    const completion: ChatCompletion = {
      id: str(body.id) ?? `chatcmpl-${Date.now().toString(36)}`,
      object: 'chat.completion',
      created: typeof body.created === 'number' ? body.created : Math.floor(Date.now() / 1000),
      model: str(body.model) ?? model.upstreamId,
      choices,
      usage: toOpenAIUsage(usage),
    };
    if (typeof body.system_fingerprint === 'string') completion.system_fingerprint = body.system_fingerprint;
    return { completion, usage };
  }

  createStreamState(model: ModelSpec, _req?: ChatCompletionRequest): OpenAICompatibleStreamState {
    return {
      id: `chatcmpl-${Date.now().toString(36)}`,
      created: Math.floor(Date.now() / 1000),
      model: model.upstreamId,
      usage: null,
      done: false,
      outputChars: 0,
      finished: false,
      rawUsage: undefined,
    };
  }

  parseStreamEvent(event: SseEvent, state: OpenAICompatibleStreamState): ChatCompletionChunk[] {
    const data = event.data.trim();
    if (data === '[DONE]') {
      state.done = true;
      return [];
    }
    if (data === '') return [];
    const json = parseJsonBody(data);
    if (!isRecord(json)) throw malformed(this.provider, 'unreadable stream event', data);
    const err = this.inBodyError(json);
    if (err) throw err;
    if (typeof json.id === 'string' && json.id) state.id = json.id;
    if (typeof json.created === 'number') state.created = json.created;
    if (typeof json.model === 'string' && json.model) state.model = json.model;
    const rawUsage = this.chunkUsage(json);
    if (rawUsage !== undefined) {
      state.rawUsage = rawUsage;
      state.usage = this.normalizeUsage(rawUsage);
    }
    const rawChoices = Array.isArray(json.choices) ? json.choices : [];
    const choices: ChatCompletionChunkChoice[] = [];
    for (const [i, c] of rawChoices.entries()) {
      if (!isRecord(c)) continue;
      const d = isRecord(c.delta) ? c.delta : {};
      const delta: ChatCompletionDelta = {};
      if (d.role === 'assistant') delta.role = 'assistant';
      if (typeof d.content === 'string') {
        delta.content = d.content;
        state.outputChars += d.content.length;
      }
      const reasoning = this.reasoningText(d);
      if (reasoning) {
        delta.reasoning_content = reasoning;
        state.outputChars += reasoning.length;
      }
      const tc = readToolCallDeltas(d.tool_calls);
      if (tc) {
        delta.tool_calls = tc;
        for (const t of tc) state.outputChars += (t.function?.arguments?.length ?? 0) + (t.function?.name?.length ?? 0);
      }
      if (typeof d.refusal === 'string') delta.refusal = d.refusal;
      const fr = finishReason(c.finish_reason);
      if (fr) state.finished = true;
      choices.push({ index: typeof c.index === 'number' ? c.index : i, delta, finish_reason: fr });
    }
    // A usage-only chunk is not forwarded: the client emits one final usage chunk itself.
    if (choices.length === 0) return [];
    return [{ id: state.id, object: 'chat.completion.chunk', created: state.created, model: state.model, choices }];
  }

  finishStream(): ChatCompletionChunk[] {
    return [];
  }
}

export function copy<T extends object>(target: Record<string, unknown>, source: T, keys: (keyof T & string)[]): void {
  for (const k of keys) {
    const v = source[k];
    if (v !== undefined) target[k] = v;
  }
}

/** The adapter of an OpenAI-dialect provider: chat, optional images, shared error classification. */
export class OpenAICompatibleAdapter implements ProviderAdapter {
  constructor(
    readonly provider: ProviderId,
    readonly chat: OpenAICompatibleChat,
    readonly images?: ImagesCapability,
  ) {}

  classifyError(res: UpstreamResponse, secrets: readonly string[]): UpstreamError {
    return classifyHttpError({ provider: this.provider, status: res.status, headers: res.headers, bodyText: res.bodyText, secrets });
  }
}

/** First bytes → MIME type; upstreams do not always say which format they returned. */
export function sniffImageMime(buf: Buffer): string | undefined {
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && buf.toString('ascii', 0, 4) === 'RIFF' && buf.toString('ascii', 8, 12) === 'WEBP') return 'image/webp';
  if (buf.length >= 6 && buf.toString('ascii', 0, 3) === 'GIF') return 'image/gif';
  return undefined;
}

/** Decodes base64 image data; a payload that is not a recognisable image is a malformed answer. */
export function decodeImage(provider: ProviderId, b64: string): { data: Buffer; mimeType: string } {
  const clean = b64.startsWith('data:') ? b64.slice(b64.indexOf(',') + 1) : b64;
  const data = Buffer.from(clean, 'base64');
  const sniffed = sniffImageMime(data);
  if (!sniffed) throw malformed(provider, 'image data is not a PNG, JPEG or WebP image');
  return { data, mimeType: sniffed };
}


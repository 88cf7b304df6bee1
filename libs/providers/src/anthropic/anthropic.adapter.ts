/**
 * Anthropic's Messages API (base URL `https://api.anthropic.com`, path `/v1/messages`), translated
 * to and from the canonical OpenAI chat format. Request fields: https://docs.anthropic.com/en/api/messages ;
 * stream events: https://docs.anthropic.com/en/docs/build-with-claude/streaming
 */
import type { ModelSpec } from '../catalog/model-spec';
import type {
  ChatCapability,
  ChatResult,
  ChatStreamState,
  ProviderAdapter,
  SseEvent,
  UpstreamRequest,
  UpstreamResponse,
} from '../adapter';
import { UpstreamError, isRecord, malformed, parseJsonBody } from '../errors';
import type {
  AssistantMessage,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionDelta,
  ChatCompletionMessage,
  ChatCompletionRequest,
  ChatContentPart,
  ChatToolCall,
  FinishReason,
  ReasoningEffort,
  TextContentPart,
} from '../types/chat';
import { toOpenAIUsage, tokenCount, type NormalizedUsage } from '../types/usage';
import { classifyAnthropicError, streamError } from './anthropic-errors';
import type {
  AnthropicMessage,
  AnthropicRequest,
  AnthropicRequestBlock,
  AnthropicResponse,
  AnthropicStreamEvent,
  AnthropicToolChoice,
  AnthropicUsage,
} from './anthropic.types';

const PROVIDER = 'anthropic' as const;
export const ANTHROPIC_VERSION = '2023-06-01';
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** used only when neither the request nor the catalog gives an output limit (the API requires one) */
export const FALLBACK_MAX_TOKENS = 4096;

function invalid(message: string): UpstreamError {
  return new UpstreamError({ kind: 'invalid_request', provider: PROVIDER, message });
}

function textOf(content: string | TextContentPart[] | null | undefined): string {
  if (content == null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;

function userBlocks(content: string | ChatContentPart[]): AnthropicRequestBlock[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((p): AnthropicRequestBlock => {
    if (p.type === 'text') return { type: 'text', text: p.text };
    if (p.type === 'image_url') {
      const m = DATA_URL.exec(p.image_url.url);
      return m
        ? { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] } }
        : { type: 'image', source: { type: 'url', url: p.image_url.url } };
    }
    throw invalid('audio input is not supported by Anthropic models');
  });
}

function parseArgs(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid('tool call arguments are not valid JSON');
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
}

function assistantBlocks(m: AssistantMessage): AnthropicRequestBlock[] {
  const blocks: AnthropicRequestBlock[] = [];
  const text = textOf(m.content);
  if (text) blocks.push({ type: 'text', text });
  for (const tc of m.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: tc.id, name: tc.function.name, input: parseArgs(tc.function.arguments) });
  }
  return blocks;
}

/** Consecutive same-role turns are merged: the API wants user and assistant to alternate. */
function pushTurn(out: AnthropicMessage[], role: 'user' | 'assistant', blocks: AnthropicRequestBlock[]): void {
  if (blocks.length === 0) return;
  const last = out[out.length - 1];
  if (last && last.role === role && Array.isArray(last.content)) last.content.push(...blocks);
  else out.push({ role, content: blocks });
}

export function toAnthropicMessages(req: ChatCompletionRequest): { system: string | undefined; messages: AnthropicMessage[] } {
  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  for (const m of req.messages) {
    switch (m.role) {
      case 'system':
      case 'developer': {
        const t = textOf(m.content);
        if (t) system.push(t);
        break;
      }
      case 'user':
        pushTurn(messages, 'user', userBlocks(m.content));
        break;
      case 'assistant':
        pushTurn(messages, 'assistant', assistantBlocks(m));
        break;
      case 'tool':
        pushTurn(messages, 'user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: textOf(m.content) }]);
        break;
    }
  }
  return { system: system.length ? system.join('\n\n') : undefined, messages };
}

const THINKING_BUDGET: Record<Exclude<ReasoningEffort, 'none'>, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
};

/**
 * With thinking on, a tool loop must replay the signed thinking block that preceded the tool call, which
 * the OpenAI format cannot carry; such a turn is sent without thinking rather than refused.
 */
function inToolLoop(req: ChatCompletionRequest): boolean {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i];
    if (m.role === 'tool') continue;
    return m.role === 'assistant' && (m.tool_calls?.length ?? 0) > 0;
  }
  return false;
}

export function buildAnthropicRequest(model: ModelSpec, req: ChatCompletionRequest): AnthropicRequest {
  if (req.n !== undefined && req.n > 1) throw invalid('n > 1 is not supported by Anthropic models');
  const { system, messages } = toAnthropicMessages(req);
  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? model.capabilities.maxOutputTokens ?? FALLBACK_MAX_TOKENS;
  const body: AnthropicRequest = { model: model.upstreamId, messages, max_tokens: maxTokens };
  let systemText = system;
  const rf = req.response_format;
  if (rf && rf.type !== 'text') {
    // The Messages API has no JSON mode; the instruction is the documented way to get JSON
    // (https://docs.anthropic.com/en/docs/test-and-evaluate/strengthen-guardrails/increase-consistency).
    const schema = rf.type === 'json_schema' && rf.json_schema.schema ? ` matching this JSON Schema: ${JSON.stringify(rf.json_schema.schema)}` : '';
    const instruction = `Respond with a single JSON object${schema}, and nothing else.`;
    systemText = systemText ? `${systemText}\n\n${instruction}` : instruction;
  }
  if (systemText) body.system = systemText;
  if (req.stop !== undefined) body.stop_sequences = Array.isArray(req.stop) ? req.stop : [req.stop];
  if (req.temperature !== undefined) body.temperature = Math.min(1, req.temperature);
  if (req.top_p !== undefined) body.top_p = req.top_p;
  if (req.top_k !== undefined) body.top_k = req.top_k;
  if (req.user) body.metadata = { user_id: req.user };

  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description !== undefined ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
    }));
    const choice = toolChoice(req);
    if (choice) body.tool_choice = choice;
  }

  const effort = req.reasoning_effort;
  const forcedTool = body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool';
  if (effort && effort !== 'none' && model.capabilities.reasoning && !forcedTool && !inToolLoop(req)) {
    // budget_tokens must be at least 1024 and below max_tokens.
    const budget = Math.min(THINKING_BUDGET[effort], maxTokens - 1);
    if (budget >= 1024) {
      body.thinking = { type: 'enabled', budget_tokens: budget };
      // Thinking is incompatible with a modified temperature or top_k, and with top_p below 0.95.
      delete body.temperature;
      delete body.top_k;
      if (body.top_p !== undefined && body.top_p < 0.95) delete body.top_p;
    }
  }
  return body;
}

function toolChoice(req: ChatCompletionRequest): AnthropicToolChoice | undefined {
  const noParallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  const c = req.tool_choice;
  if (c === undefined) return req.parallel_tool_calls === false ? { type: 'auto', ...noParallel } : undefined;
  if (c === 'auto') return { type: 'auto', ...noParallel };
  if (c === 'none') return { type: 'none' };
  if (c === 'required') return { type: 'any', ...noParallel };
  return { type: 'tool', name: c.function.name, ...noParallel };
}

export function mapStopReason(reason: string | null | undefined): FinishReason | null {
  switch (reason) {
    case null:
    case undefined:
      return null;
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/**
 * Anthropic's counts are disjoint already: `input_tokens` excludes cache reads and cache writes.
 * Cache reads are billed at 0.1x input; cache writes (`cache_creation_input_tokens`) at 1.25x input for
 * the 5-minute cache (https://platform.claude.com/docs/en/about-claude/pricing), the catalog's
 * `cacheWrite` rate. Switchyard never asks for the 1-hour cache (2x), so the writes it sees are
 * 5-minute ones. Thinking tokens are inside `output_tokens` (the API does not report them apart) and are
 * billed at the output rate, which is Anthropic's rate for them too.
 */
export function normalizeAnthropicUsage(u: AnthropicUsage | null | undefined): NormalizedUsage {
  const usage: NormalizedUsage = {
    textInput: tokenCount(u?.input_tokens),
    cachedInput: tokenCount(u?.cache_read_input_tokens),
    imageInput: 0,
    audioInput: 0,
    textOutput: tokenCount(u?.output_tokens),
    reasoningOutput: 0,
    imageOutput: 0,
    images: 0,
  };
  const cacheWrites = tokenCount(u?.cache_creation_input_tokens);
  if (cacheWrites > 0) usage.cacheWriteInput = cacheWrites;
  return usage;
}

export function toChatCompletion(model: ModelSpec, resp: AnthropicResponse): ChatCompletion {
  let text = '';
  let reasoning = '';
  const toolCalls: ChatToolCall[] = [];
  for (const b of resp.content ?? []) {
    if (b.type === 'text') text += b.text;
    else if (b.type === 'thinking') reasoning += b.thinking;
    else if (b.type === 'tool_use') {
      toolCalls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
    }
  }
  const message: ChatCompletionMessage = { role: 'assistant', content: text || (toolCalls.length ? null : '') };
  if (toolCalls.length) message.tool_calls = toolCalls;
  if (reasoning) message.reasoning_content = reasoning;
  return {
    id: `chatcmpl-${resp.id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: resp.model ?? model.upstreamId,
    choices: [{ index: 0, message, finish_reason: mapStopReason(resp.stop_reason) ?? 'stop', logprobs: null }],
  };
}

export interface AnthropicStreamState extends ChatStreamState {
  /** block index → OpenAI tool_calls index, for tool_use blocks */
  toolIndexByBlock: Map<number, number>;
  toolCount: number;
  /** usage as merged from message_start and the cumulative message_delta */
  rawUsage: AnthropicUsage;
  roleSent: boolean;
}

function headers(apiKey: string): Record<string, string> {
  return { 'x-api-key': apiKey, 'anthropic-version': ANTHROPIC_VERSION };
}

export class AnthropicChat implements ChatCapability<AnthropicStreamState> {
  buildRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest {
    return { method: 'POST', path: '/v1/messages', headers: headers(apiKey), body: { kind: 'json', value: buildAnthropicRequest(model, req) }, stream: false };
  }

  buildStreamRequest(model: ModelSpec, req: ChatCompletionRequest, apiKey: string): UpstreamRequest {
    const body = { ...buildAnthropicRequest(model, req), stream: true };
    return { method: 'POST', path: '/v1/messages', headers: headers(apiKey), body: { kind: 'json', value: body }, stream: true };
  }

  parseResponse(model: ModelSpec, res: UpstreamResponse): ChatResult {
    const body = parseJsonBody(res.bodyText);
    if (!isRecord(body)) throw malformed(PROVIDER, 'not JSON', res.bodyText);
    if (body.type === 'error' && isRecord(body.error)) {
      throw streamError({ type: String(body.error.type ?? ''), message: String(body.error.message ?? '') });
    }
    if (!Array.isArray(body.content) || typeof body.id !== 'string') throw malformed(PROVIDER, 'no content', res.bodyText);
    const resp = body as unknown as AnthropicResponse;
    const completion = toChatCompletion(model, resp);
    const msg = completion.choices[0].message;
    if (resp.stop_reason === 'refusal' && !msg.content && !msg.tool_calls) {
      throw new UpstreamError({ kind: 'content_policy', provider: PROVIDER, status: res.status, upstreamCode: 'refusal', message: 'The upstream model refused the request' });
    }
    const usage = normalizeAnthropicUsage(resp.usage);
    completion.usage = toOpenAIUsage(usage);
    return { completion, usage };
  }

  createStreamState(model: ModelSpec): AnthropicStreamState {
    return {
      id: `chatcmpl-${Date.now().toString(36)}`,
      created: Math.floor(Date.now() / 1000),
      model: model.upstreamId,
      usage: null,
      done: false,
      outputChars: 0,
      finished: false,
      toolIndexByBlock: new Map(),
      toolCount: 0,
      rawUsage: {},
      roleSent: false,
    };
  }

  parseStreamEvent(event: SseEvent, state: AnthropicStreamState): ChatCompletionChunk[] {
    const data = event.data.trim();
    if (data === '') return [];
    const json = parseJsonBody(data);
    if (!isRecord(json) || typeof json.type !== 'string') throw malformed(PROVIDER, 'unreadable stream event', data);
    const ev = json as unknown as AnthropicStreamEvent;
    const delta: ChatCompletionDelta = {};
    let finish: FinishReason | null = null;

    switch (ev.type) {
      case 'message_start':
        state.id = `chatcmpl-${ev.message.id}`;
        if (ev.message.model) state.model = ev.message.model;
        state.rawUsage = { ...ev.message.usage };
        break;
      case 'content_block_start': {
        const b = ev.content_block;
        if (b.type === 'tool_use') {
          const index = state.toolCount++;
          state.toolIndexByBlock.set(ev.index, index);
          delta.tool_calls = [{ index, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }];
          state.outputChars += b.name.length;
        } else if (b.type === 'text' && b.text) {
          delta.content = b.text;
        } else if (b.type === 'thinking' && b.thinking) {
          delta.reasoning_content = b.thinking;
        }
        break;
      }
      case 'content_block_delta': {
        const d = ev.delta;
        if (d.type === 'text_delta') delta.content = d.text;
        else if (d.type === 'thinking_delta') delta.reasoning_content = d.thinking;
        else if (d.type === 'input_json_delta') {
          const index = state.toolIndexByBlock.get(ev.index);
          if (index === undefined) throw malformed(PROVIDER, 'tool input for an unknown block', data);
          if (d.partial_json) delta.tool_calls = [{ index, function: { arguments: d.partial_json } }];
          state.outputChars += d.partial_json.length;
        }
        break;
      }
      case 'message_delta':
        // message_delta usage is cumulative for the whole message; it may restate the input counts.
        state.rawUsage = { ...state.rawUsage, ...definedOnly(ev.usage ?? {}) };
        state.usage = normalizeAnthropicUsage(state.rawUsage);
        finish = mapStopReason(ev.delta.stop_reason);
        if (finish) state.finished = true;
        break;
      case 'message_stop':
        state.done = true;
        break;
      case 'error':
        throw streamError(ev.error);
      default:
        // ping, content_block_stop, and event types added later carry nothing to forward.
        break;
    }
    if (typeof delta.content === 'string') state.outputChars += delta.content.length;
    if (typeof delta.reasoning_content === 'string') state.outputChars += delta.reasoning_content.length;
    if (Object.keys(delta).length === 0 && !finish) {
      if (ev.type !== 'message_start' || state.roleSent) return [];
    }
    if (!state.roleSent) {
      delta.role = 'assistant';
      if (ev.type === 'message_start') delta.content = '';
      state.roleSent = true;
    }
    const choice: ChatCompletionChunkChoice = { index: 0, delta, finish_reason: finish, logprobs: null };
    return [{ id: state.id, object: 'chat.completion.chunk', created: state.created, model: state.model, choices: [choice] }];
  }

  finishStream(): ChatCompletionChunk[] {
    return [];
  }
}

function definedOnly(u: AnthropicUsage): AnthropicUsage {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(u)) if (v !== undefined && v !== null) out[k] = v;
  return out as AnthropicUsage;
}

export class AnthropicAdapter implements ProviderAdapter {
  readonly provider = PROVIDER;
  readonly chat: ChatCapability<AnthropicStreamState> = new AnthropicChat();

  classifyError(res: UpstreamResponse, secrets: readonly string[]): UpstreamError {
    return classifyAnthropicError(res, secrets);
  }
}

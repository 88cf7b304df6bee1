/**
 * `POST /chat/completions` for OpenAI and the OpenAI-compatible family (xAI, DeepSeek, Qwen's DashScope
 * compatible mode, Moonshot, MiniMax). One generator, with each provider's usage fields and reasoning
 * quirks applied by a small "flavor":
 * - OpenAI: refuses `max_tokens` on reasoning models (they take `max_completion_tokens`) and
 *   `stream_options` without `stream`; `prompt_tokens_details.cached_tokens` (prompts of ≥ 1024 tokens, cached in 128-token steps,
 *   platform.openai.com/docs/guides/prompt-caching); reasoning models count hidden
 *   `completion_tokens_details.reasoning_tokens` inside `completion_tokens`. With
 *   `stream_options.include_usage`, every chunk carries `usage: null` and one extra chunk with
 *   `choices: []` carries the usage before `data: [DONE]`.
 * - xAI: `prompt_tokens_details.{text,audio,image,cached}_tokens`; reasoning tokens are reported beside,
 *   not inside, `completion_tokens` (docs.cloud.google.com/vertex-ai/generative-ai/docs/partner-models/grok/capabilities/reasoning);
 *   `num_sources_used`.
 * - DeepSeek: `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens` (64-token cache units) and
 *   `reasoning_content` for deepseek-reasoner (api-docs.deepseek.com).
 * - Qwen: `prompt_tokens_details.cached_tokens` (implicit cache from 256 tokens); `reasoning_content` when
 *   `enable_thinking` is set or the model thinks by design.
 * - Moonshot: `usage.cached_tokens`; a stream reports usage inside the last choice (`choices[0].usage`)
 *   (platform.kimi.ai streaming guide); `reasoning_content` for thinking models.
 * - MiniMax: M-series models think inside `<think>…</think>` in `content` unless `reasoning_split` asks
 *   for `reasoning_details`; every body carries `base_resp`.
 */
import { estimateTokens, generatePieces, hash32, hashHex, splitEven, splitString } from '../generation/deterministic';
import { sampleFromSchema } from '../generation/json-schema-sample';
import { arr, isRecord, json, num, str, type HandlerContext, type SimResponse, type StreamResponse } from '../http/sim-response';
import type { SimProvider } from '../sim-types';
import { errorBody, errorResponse } from './error-envelopes';

interface PromptCount {
  text: number;
  image: number;
  audio: number;
  total: number;
  /** tokens before the last message: the part a prefix cache could have seen */
  prefix: number;
  lastRole: string | undefined;
}

/** OpenAI vision: 85 tokens for `detail: low`, 765 for a 1024x1024 image at high detail (85 + 4 × 170). */
const IMAGE_TOKENS_LOW = 85;
const IMAGE_TOKENS_HIGH = 765;

export function countOpenAiPrompt(body: Record<string, unknown>): PromptCount {
  const messages = arr(body['messages']);
  let text = 0;
  let image = 0;
  let audio = 0;
  let prefix = 0;
  messages.forEach((m, i) => {
    if (!isRecord(m)) return;
    let chars = 0;
    const content = m['content'];
    if (typeof content === 'string') chars += content.length;
    for (const part of arr(content)) {
      if (!isRecord(part)) continue;
      if (part['type'] === 'text') chars += str(part['text'])?.length ?? 0;
      else if (part['type'] === 'image_url') {
        const detail = isRecord(part['image_url']) ? part['image_url']['detail'] : undefined;
        image += detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
      } else if (part['type'] === 'input_audio') {
        const data = isRecord(part['input_audio']) ? str(part['input_audio']['data']) ?? '' : '';
        // ≈ 10 audio tokens per second of 16 kB/s audio: a stable, size-proportional stand-in.
        audio += Math.max(1, Math.ceil((data.length * 3) / 4 / 1600));
      } else if (part['type'] === 'file') chars += 400;
    }
    for (const call of arr(m['tool_calls'])) {
      if (isRecord(call) && isRecord(call['function'])) {
        chars += (str(call['function']['name'])?.length ?? 0) + (str(call['function']['arguments'])?.length ?? 0);
      }
    }
    const tokens = Math.ceil(chars / 4);
    text += tokens;
    if (i < messages.length - 1) prefix += tokens;
  });
  if (Array.isArray(body['tools'])) text += estimateTokens(JSON.stringify(body['tools']));
  const last = messages[messages.length - 1];
  return { text, image, audio, total: text + image + audio, prefix, lastRole: isRecord(last) ? str(last['role']) : undefined };
}

type ReasoningStyle = 'none' | 'hidden' | 'field' | 'think-tags' | 'details';

interface Flavor {
  provider: SimProvider;
  reasoning(model: string, body: Record<string, unknown>): ReasoningStyle;
  cached(prompt: PromptCount): number;
  usage(u: UsageNumbers): Record<string, unknown>;
  /** Moonshot reports stream usage inside the finishing choice */
  usageInFinalChoice?: boolean;
  extra?: Record<string, unknown>;
}

interface UsageNumbers {
  prompt: PromptCount;
  cached: number;
  visible: number;
  reasoning: number;
}

function prefixCache(prompt: PromptCount, minimum: number, unit: number): number {
  if (prompt.total < minimum) return 0;
  return Math.floor(prompt.prefix / unit) * unit;
}

const isOpenAiReasoning = (model: string): boolean => /^o\d/.test(model) || (model.startsWith('gpt-5') && !model.includes('chat'));

const FLAVORS: Record<string, Flavor> = {
  openai: {
    provider: 'openai',
    reasoning: (model) => (isOpenAiReasoning(model) ? 'hidden' : 'none'),
    cached: (p) => prefixCache(p, 1024, 128),
    usage: ({ prompt, cached, visible, reasoning }) => ({
      prompt_tokens: prompt.total,
      completion_tokens: visible + reasoning,
      total_tokens: prompt.total + visible + reasoning,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: prompt.audio },
      completion_tokens_details: { reasoning_tokens: reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    }),
    extra: { service_tier: 'default' },
  },
  xai: {
    provider: 'xai',
    reasoning: (model) =>
      model.startsWith('grok-3-mini') ? 'field' : (model.startsWith('grok-4') || model.includes('reasoning')) && !model.includes('non-reasoning') ? 'hidden' : 'none',
    cached: (p) => prefixCache(p, 1024, 128),
    usage: ({ prompt, cached, visible, reasoning }) => ({
      prompt_tokens: prompt.total,
      completion_tokens: visible,
      total_tokens: prompt.total + visible + reasoning,
      prompt_tokens_details: { text_tokens: prompt.text, audio_tokens: prompt.audio, image_tokens: prompt.image, cached_tokens: cached },
      completion_tokens_details: { reasoning_tokens: reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      num_sources_used: 0,
    }),
  },
  deepseek: {
    provider: 'deepseek',
    reasoning: (model) => (model.includes('reasoner') ? 'field' : 'none'),
    cached: (p) => prefixCache(p, 64, 64),
    usage: ({ prompt, cached, visible, reasoning }) => ({
      prompt_tokens: prompt.total,
      completion_tokens: visible + reasoning,
      total_tokens: prompt.total + visible + reasoning,
      prompt_tokens_details: { cached_tokens: cached },
      prompt_cache_hit_tokens: cached,
      prompt_cache_miss_tokens: prompt.total - cached,
      ...(reasoning > 0 ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {}),
    }),
  },
  qwen: {
    provider: 'qwen',
    reasoning: (model, body) =>
      body['enable_thinking'] === true || model.startsWith('qwq') || model.includes('thinking') ? 'field' : 'none',
    cached: (p) => prefixCache(p, 256, 1),
    usage: ({ prompt, cached, visible, reasoning }) => ({
      prompt_tokens: prompt.total,
      completion_tokens: visible + reasoning,
      total_tokens: prompt.total + visible + reasoning,
      prompt_tokens_details: { cached_tokens: cached },
      ...(reasoning > 0 ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {}),
    }),
  },
  moonshot: {
    provider: 'moonshot',
    reasoning: (model) => (model.includes('thinking') ? 'field' : 'none'),
    cached: (p) => prefixCache(p, 1024, 128),
    usage: ({ prompt, cached, visible, reasoning }) => ({
      prompt_tokens: prompt.total,
      completion_tokens: visible + reasoning,
      total_tokens: prompt.total + visible + reasoning,
      cached_tokens: cached,
    }),
    usageInFinalChoice: true,
  },
  minimax: {
    provider: 'minimax',
    reasoning: (model, body) => (/^minimax-m/i.test(model) ? (body['reasoning_split'] === true ? 'details' : 'think-tags') : 'none'),
    cached: () => 0,
    usage: ({ prompt, visible, reasoning }) => ({
      total_tokens: prompt.total + visible + reasoning,
      prompt_tokens: prompt.total,
      completion_tokens: visible + reasoning,
      completion_tokens_details: { reasoning_tokens: reasoning },
    }),
    extra: { input_sensitive: false, output_sensitive: false, base_resp: { status_code: 0, status_msg: '' } },
  },
};

const EFFORT_FACTOR: Record<string, number> = { minimal: 0, low: 1, medium: 2, high: 4 };

interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

interface Plan {
  id: string;
  created: number;
  model: string;
  choices: ChoicePlan[];
  usage: Record<string, unknown>;
}

interface ChoicePlan {
  index: number;
  /** visible content pieces, or null when the answer is a tool call */
  pieces: string[] | null;
  reasoningPieces: string[];
  reasoningStyle: ReasoningStyle;
  toolCall: ToolCall | null;
  finishReason: string;
}

function pickTool(body: Record<string, unknown>): Record<string, unknown> | null {
  const tools = arr(body['tools']).filter(isRecord);
  if (tools.length === 0) return null;
  const choice = body['tool_choice'];
  if (choice === 'none') return null;
  if (isRecord(choice) && isRecord(choice['function'])) {
    const wanted = str(choice['function']['name']);
    const match = tools.find((t) => isRecord(t['function']) && t['function']['name'] === wanted);
    if (match && isRecord(match['function'])) return match['function'];
  }
  const first = tools[0];
  return first && isRecord(first['function']) ? first['function'] : null;
}

function buildPlan(flavor: Flavor, body: Record<string, unknown>, model: string, streamChunks: number): Plan {
  const conversation = JSON.stringify([model, body['messages'], body['tools'] ?? null, body['response_format'] ?? null]);
  const seed = hash32(conversation);
  const prompt = countOpenAiPrompt(body);
  const cached = Math.min(flavor.cached(prompt), prompt.total);
  const limit = num(body['max_completion_tokens']) ?? num(body['max_tokens']);
  const n = Math.max(1, Math.min(8, Math.floor(num(body['n']) ?? 1)));
  const reasoningStyle = flavor.reasoning(model, body);
  const effort = str(body['reasoning_effort']) ?? (isRecord(body['reasoning']) ? str(body['reasoning']['effort']) : undefined) ?? 'medium';
  const tool = prompt.lastRole === 'tool' ? null : pickTool(body);
  const responseFormat = isRecord(body['response_format']) ? body['response_format'] : null;

  const choices: ChoicePlan[] = [];
  let visibleTotal = 0;
  let reasoningTotal = 0;
  for (let index = 0; index < n; index++) {
    const choiceSeed = seed + index * 7919;
    let pieces: string[] | null = null;
    let toolCall: ToolCall | null = null;
    let finishReason = 'stop';
    let visible: number;
    if (tool) {
      const args = JSON.stringify(sampleFromSchema(tool['parameters'], choiceSeed));
      toolCall = { id: `call_${hashHex(`${conversation}:${index}`, 24)}`, name: str(tool['name']) ?? 'function', arguments: args };
      visible = estimateTokens(args) + 8;
      finishReason = 'tool_calls';
    } else if (responseFormat && (responseFormat['type'] === 'json_schema' || responseFormat['type'] === 'json_object')) {
      const schema = isRecord(responseFormat['json_schema']) ? responseFormat['json_schema']['schema'] : undefined;
      const value = responseFormat['type'] === 'json_schema' ? sampleFromSchema(schema, choiceSeed) : { answer: generatePieces(choiceSeed, 8).join('') };
      const text = JSON.stringify(value);
      pieces = splitString(text, Math.max(1, streamChunks));
      visible = estimateTokens(text);
    } else {
      const natural = Math.max(streamChunks, 24 + (choiceSeed % 8));
      visible = limit !== undefined && limit >= 1 && limit < natural ? Math.floor(limit) : natural;
      if (visible < natural) finishReason = 'length';
      pieces = generatePieces(choiceSeed, visible);
    }
    let reasoning = 0;
    if (reasoningStyle !== 'none') {
      reasoning = Math.round(visible * (EFFORT_FACTOR[effort] ?? 2)) + (reasoningStyle === 'hidden' ? 0 : 4);
    }
    choices.push({
      index,
      pieces,
      reasoningPieces: reasoningStyle === 'none' || reasoningStyle === 'hidden' ? [] : generatePieces(choiceSeed + 1, Math.max(1, reasoning)),
      reasoningStyle,
      toolCall,
      finishReason,
    });
    visibleTotal += visible;
    reasoningTotal += reasoning;
  }
  return {
    id: flavor.provider === 'openai' ? `chatcmpl-${hashHex(conversation, 29)}` : hashHex(conversation, 32),
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: flavor.usage({ prompt, cached, visible: visibleTotal, reasoning: reasoningTotal }),
  };
}

function thinkPrefix(choice: ChoicePlan): string {
  return choice.reasoningStyle === 'think-tags' ? `<think>\n${choice.reasoningPieces.join('')}\n</think>\n\n` : '';
}

function reasoningDetails(choice: ChoicePlan): unknown[] {
  return [{ type: 'reasoning.text', id: 'reasoning-text-1', format: 'MiniMax-response-v1', index: 0, text: choice.reasoningPieces.join('') }];
}

/**
 * `web_search_options` (search models): one `url_citation` annotation over the first words of the
 * answer, with offsets into `content` as OpenAI documents them.
 */
function citations(choice: ChoicePlan, webSearch: boolean): unknown[] {
  if (!webSearch || !choice.pieces) return [];
  const end = choice.pieces.slice(0, 3).join('').length;
  return [{ type: 'url_citation', url_citation: { start_index: 0, end_index: end, url: 'https://example.com/switchyard', title: 'Switchyard' } }];
}

function messageOf(choice: ChoicePlan, flavor: Flavor, webSearch: boolean): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: choice.pieces ? thinkPrefix(choice) + choice.pieces.join('') : null };
  if (choice.reasoningStyle === 'field') message['reasoning_content'] = choice.reasoningPieces.join('');
  if (choice.reasoningStyle === 'details') message['reasoning_details'] = reasoningDetails(choice);
  if (choice.toolCall) {
    message['tool_calls'] = [{ id: choice.toolCall.id, type: 'function', function: { name: choice.toolCall.name, arguments: choice.toolCall.arguments } }];
  }
  if (flavor.provider === 'openai') {
    message['refusal'] = null;
    message['annotations'] = citations(choice, webSearch);
  }
  return message;
}

function completion(plan: Plan, flavor: Flavor, webSearch: boolean): Record<string, unknown> {
  return {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices: plan.choices.map((c) => ({ index: c.index, message: messageOf(c, flavor, webSearch), logprobs: null, finish_reason: c.finishReason })),
    usage: plan.usage,
    system_fingerprint: `fp_${hashHex(plan.model, 10)}`,
    ...(flavor.extra ?? {}),
  };
}

function streamFrames(plan: Plan, flavor: Flavor, includeUsage: boolean, streamChunks: number, webSearch: boolean): string[] {
  const frames: string[] = [];
  const base = { id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.model, system_fingerprint: `fp_${hashHex(plan.model, 10)}` };
  const usageField = includeUsage ? { usage: null } : {};
  const push = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
    frames.push(`data: ${JSON.stringify({ ...base, choices, ...usageField, ...extra })}\n\n`);
  };
  for (const c of plan.choices) {
    const roleDelta: Record<string, unknown> = { role: 'assistant', content: c.toolCall ? null : '' };
    if (flavor.provider === 'openai') roleDelta['refusal'] = null;
    if (c.toolCall) {
      roleDelta['tool_calls'] = [{ index: 0, id: c.toolCall.id, type: 'function', function: { name: c.toolCall.name, arguments: '' } }];
    }
    push([{ index: c.index, delta: roleDelta, logprobs: null, finish_reason: null }]);
    if (c.reasoningStyle === 'field' || c.reasoningStyle === 'details') {
      for (const group of splitEven(c.reasoningPieces, Math.max(1, Math.ceil(streamChunks / 2)))) {
        const text = group.join('');
        const delta = c.reasoningStyle === 'field' ? { content: null, reasoning_content: text } : { content: '', reasoning_details: [{ type: 'reasoning.text', id: 'reasoning-text-1', format: 'MiniMax-response-v1', index: 0, text }] };
        push([{ index: c.index, delta, logprobs: null, finish_reason: null }]);
      }
    }
    if (c.toolCall) {
      for (const piece of splitString(c.toolCall.arguments, Math.max(1, streamChunks))) {
        push([{ index: c.index, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }]);
      }
    } else if (c.pieces) {
      const prefix = thinkPrefix(c);
      if (prefix) push([{ index: c.index, delta: { content: prefix }, logprobs: null, finish_reason: null }]);
      for (const group of splitEven(c.pieces, Math.max(1, streamChunks))) {
        push([{ index: c.index, delta: { content: group.join('') }, logprobs: null, finish_reason: null }]);
      }
    }
    const annotations = flavor.provider === 'openai' ? citations(c, webSearch) : [];
    if (annotations.length > 0) push([{ index: c.index, delta: { annotations }, logprobs: null, finish_reason: null }]);
    const last = c.index === plan.choices.length - 1;
    const finish: Record<string, unknown> = { index: c.index, delta: {}, logprobs: null, finish_reason: c.finishReason };
    if (flavor.usageInFinalChoice && last) finish['usage'] = plan.usage;
    push([finish], flavor.provider === 'minimax' && last ? { usage: plan.usage, base_resp: { status_code: 0, status_msg: '' } } : {});
  }
  if (includeUsage && !flavor.usageInFinalChoice) {
    frames.push(`data: ${JSON.stringify({ ...base, choices: [], usage: plan.usage })}\n\n`);
  }
  frames.push('data: [DONE]\n\n');
  return frames;
}

export async function handleOpenAiChat(ctx: HandlerContext): Promise<SimResponse> {
  const flavor = FLAVORS[ctx.provider] ?? FLAVORS['openai'];
  if (!flavor) throw new Error('no openai flavor');
  const body = ctx.body;
  if (!isRecord(body)) return errorResponse(ctx.provider, 400, { message: 'We could not parse the JSON body of your request.' });
  const model = str(body['model']);
  if (!model) return errorResponse(ctx.provider, 400, { message: 'you must provide a model parameter', param: 'model' });
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) {
    return errorResponse(ctx.provider, 400, { message: "Invalid 'messages': empty array. Expected an array with minimum length 1.", param: 'messages', code: 'empty_array' });
  }
  if (/^(gpt-image|dall-e|grok-imagine|grok-2-image)/.test(model)) {
    return errorResponse(ctx.provider, 404, {
      message: 'This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?',
      code: 'model_not_found',
    });
  }
  if (ctx.provider === 'openai') {
    if (body['stream_options'] !== undefined && body['stream'] !== true) {
      return errorResponse('openai', 400, { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options', code: 'invalid_value' });
    }
    if (isOpenAiReasoning(model) && body['max_tokens'] !== undefined) {
      return errorResponse('openai', 400, {
        message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        param: 'max_tokens',
        code: 'unsupported_parameter',
      });
    }
  }
  const plan = buildPlan(flavor, body, model, ctx.streamChunks);
  if (body['stream'] !== true) return json(200, completion(plan, flavor, isRecord(body['web_search_options'])));
  const includeUsage = isRecord(body['stream_options']) && body['stream_options']['include_usage'] === true;
  const frames = streamFrames(plan, flavor, includeUsage, ctx.streamChunks, isRecord(body['web_search_options']));
  const provider = ctx.provider;
  const stream: StreamResponse = {
    kind: 'stream',
    contentType: 'text/event-stream; charset=utf-8',
    frames,
    terminatorFrames: 1,
    errorFrame: () => `data: ${JSON.stringify(errorBody(provider, 500, { message: 'The server had an error while processing your request. Sorry about that!' }))}\n\n`,
  };
  return stream;
}

/**
 * Anthropic Messages API (`POST /v1/messages`, headers `x-api-key` and `anthropic-version`).
 *
 * - `usage`: `input_tokens` (uncached input only), `cache_creation_input_tokens`,
 *   `cache_read_input_tokens`, `output_tokens`. A prompt whose `cache_control` breakpoint covers at least
 *   1024 tokens is answered as a cache read of that prefix (docs.anthropic.com, "Prompt caching").
 * - Streams: `message_start`, then per block `content_block_start` / `content_block_delta`
 *   (`text_delta`, `input_json_delta`, `thinking_delta`, `signature_delta`) / `content_block_stop`, a
 *   `ping`, `message_delta` with the stop reason and cumulative `usage.output_tokens`, `message_stop`.
 *   An error after a 200 arrives as `event: error` (docs.anthropic.com, "Streaming Messages").
 */
import { estimateTokens, generatePieces, hash32, hashHex, splitEven, splitString } from '../generation/deterministic';
import { sampleFromSchema } from '../generation/json-schema-sample';
import { arr, isRecord, json, num, str, type HandlerContext, type SimResponse } from '../http/sim-response';
import { errorResponse } from './error-envelopes';

/** ≈ width × height / 750 for a ~1.15 MP image, the size Anthropic resizes large images to. */
const ANTHROPIC_IMAGE_TOKENS = 1600;
const MIN_CACHEABLE_TOKENS = 1024;

interface PromptCount {
  total: number;
  /** tokens up to and including the last `cache_control` breakpoint */
  cacheablePrefix: number;
  lastIsToolResult: boolean;
}

function countPrompt(body: Record<string, unknown>): PromptCount {
  let total = 0;
  let cacheablePrefix = 0;
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      total += estimateTokens(value);
      return;
    }
    if (!isRecord(value)) return;
    if (value['type'] === 'image') total += ANTHROPIC_IMAGE_TOKENS;
    else if (value['type'] === 'text') total += estimateTokens(str(value['text']) ?? '');
    else if (value['type'] === 'tool_use') total += estimateTokens(JSON.stringify(value['input'] ?? {}));
    else if (value['type'] === 'tool_result') {
      const c = value['content'];
      if (typeof c === 'string') total += estimateTokens(c);
      else arr(c).forEach(visit);
    } else if (value['type'] === 'document') total += 400;
    else if (value['name'] !== undefined && value['input_schema'] !== undefined) total += estimateTokens(JSON.stringify(value));
    if (isRecord(value['cache_control'])) cacheablePrefix = total;
  };
  // Anthropic's cache prefix order: tools, then system, then messages.
  arr(body['tools']).forEach(visit);
  const system = body['system'];
  if (typeof system === 'string') visit(system);
  else arr(system).forEach(visit);
  const messages = arr(body['messages']);
  for (const m of messages) {
    if (!isRecord(m)) continue;
    const content = m['content'];
    if (typeof content === 'string') visit(content);
    else arr(content).forEach(visit);
  }
  const last = messages[messages.length - 1];
  const lastIsToolResult = isRecord(last) && arr(last['content']).some((b) => isRecord(b) && b['type'] === 'tool_result');
  return { total, cacheablePrefix, lastIsToolResult };
}

function pickTool(body: Record<string, unknown>): Record<string, unknown> | null {
  const tools = arr(body['tools']).filter(isRecord).filter((t) => t['input_schema'] !== undefined);
  if (tools.length === 0) return null;
  const choice = isRecord(body['tool_choice']) ? body['tool_choice'] : {};
  if (choice['type'] === 'none') return null;
  if (choice['type'] === 'tool') return tools.find((t) => t['name'] === choice['name']) ?? null;
  return tools[0] ?? null;
}

type Block =
  | { type: 'thinking'; thinking: string; signature: string; pieces: string[] }
  | { type: 'text'; text: string; pieces: string[] }
  | { type: 'tool_use'; id: string; name: string; input: unknown; json: string };

export async function handleAnthropic(ctx: HandlerContext): Promise<SimResponse> {
  if (ctx.path !== '/v1/messages') return errorResponse('anthropic', 404, { message: `${ctx.path}: not found` });
  if (!ctx.headers['anthropic-version']) return errorResponse('anthropic', 400, { message: 'anthropic-version: header is required' });
  const body = ctx.body;
  if (!isRecord(body)) return errorResponse('anthropic', 400, { message: 'There was an error parsing the body of your request.' });
  const model = str(body['model']);
  if (!model) return errorResponse('anthropic', 400, { message: 'model: Field required' });
  const maxTokens = num(body['max_tokens']);
  if (maxTokens === undefined) return errorResponse('anthropic', 400, { message: 'max_tokens: Field required' });
  if (!Array.isArray(body['messages']) || body['messages'].length === 0) {
    return errorResponse('anthropic', 400, { message: 'messages: at least one message is required' });
  }

  const conversation = JSON.stringify([model, body['system'] ?? null, body['messages'], body['tools'] ?? null]);
  const seed = hash32(conversation);
  const prompt = countPrompt(body);
  const cacheRead = prompt.cacheablePrefix >= MIN_CACHEABLE_TOKENS ? prompt.cacheablePrefix : 0;
  const blocks: Block[] = [];
  let output = 0;
  let stopReason = 'end_turn';

  const thinking = isRecord(body['thinking']) && body['thinking']['type'] === 'enabled' ? body['thinking'] : null;
  if (thinking) {
    const budget = num(thinking['budget_tokens']) ?? 0;
    if (budget < 1024) return errorResponse('anthropic', 400, { message: 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024' });
    if (maxTokens <= budget) return errorResponse('anthropic', 400, { message: '`max_tokens` must be greater than `thinking.budget_tokens`.' });
    const pieces = generatePieces(seed + 3, Math.max(4, Math.min(budget, 32)));
    blocks.push({ type: 'thinking', thinking: pieces.join(''), signature: `Er${hashHex(`${conversation}:sig`, 64)}`, pieces });
    output += pieces.length;
  }
  const tool = prompt.lastIsToolResult ? null : pickTool(body);
  if (tool) {
    const lead = generatePieces(seed, 6);
    blocks.push({ type: 'text', text: lead.join(''), pieces: lead });
    const input = sampleFromSchema(tool['input_schema'], seed);
    const jsonText = JSON.stringify(input);
    blocks.push({ type: 'tool_use', id: `toolu_${hashHex(conversation, 24)}`, name: str(tool['name']) ?? 'tool', input, json: jsonText });
    output += lead.length + estimateTokens(jsonText) + 8;
    stopReason = 'tool_use';
  } else {
    const natural = Math.max(ctx.streamChunks, 24 + (seed % 8));
    const budget = Math.max(1, Math.floor(maxTokens) - output);
    const count = Math.min(natural, budget);
    if (count < natural) stopReason = 'max_tokens';
    const pieces = generatePieces(seed, count);
    blocks.push({ type: 'text', text: pieces.join(''), pieces });
    output += count;
  }

  const id = `msg_${hashHex(conversation, 24)}`;
  const usage = {
    input_tokens: prompt.total - cacheRead,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  };
  const content = blocks.map((b) =>
    b.type === 'thinking'
      ? { type: 'thinking', thinking: b.thinking, signature: b.signature }
      : b.type === 'text'
        ? { type: 'text', text: b.text }
        : { type: 'tool_use', id: b.id, name: b.name, input: b.input },
  );
  if (body['stream'] !== true) {
    return json(200, { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage });
  }

  const frames: string[] = [];
  const event = (type: string, data: Record<string, unknown>): void => {
    frames.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  event('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
  });
  const chunks = Math.max(1, ctx.streamChunks);
  blocks.forEach((b, index) => {
    if (b.type === 'thinking') {
      event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      for (const g of splitEven(b.pieces, chunks)) event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: g.join('') } });
      event('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.signature } });
    } else if (b.type === 'text') {
      event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) event('ping', {});
      for (const g of splitEven(b.pieces, chunks)) event('content_block_delta', { index, delta: { type: 'text_delta', text: g.join('') } });
    } else {
      event('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      for (const piece of splitString(b.json, chunks)) event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
    }
    event('content_block_stop', { index });
  });
  event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: output } });
  event('message_stop', {});
  return {
    kind: 'stream',
    contentType: 'text/event-stream; charset=utf-8',
    frames,
    terminatorFrames: 1,
    errorFrame: () => `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
  };
}

import { jsonResponse, openAISse, replayStream, testModel } from '../testing/adapter-harness';
import { createQwenAdapter } from './qwen.adapter';

const adapter = createQwenAdapter();
const plus = testModel('qwen', 'qwen-plus', { reasoning: true, webSearch: true });
const vl = testModel('qwen', 'qwen-vl-max', { vision: true });

function body(req: ReturnType<typeof adapter.chat.buildRequest>): Record<string, unknown> {
  return req.body.kind === 'json' ? (req.body.value as Record<string, unknown>) : {};
}

describe('Qwen (DashScope compatible mode)', () => {
  it('translates reasoning_effort to enable_thinking and web search to enable_search', () => {
    const on = body(adapter.chat.buildRequest(plus, { model: 'x', messages: [], reasoning_effort: 'high', web_search_options: {} }, 'sk-dash'));
    expect(on).toMatchObject({ model: 'qwen-plus', enable_thinking: true, enable_search: true });
    expect(on).not.toHaveProperty('reasoning_effort');
    expect(on).not.toHaveProperty('web_search_options');
    const off = body(adapter.chat.buildRequest(plus, { model: 'x', messages: [], reasoning_effort: 'none' }, 'sk-dash'));
    expect(off.enable_thinking).toBe(false);
    const plain = body(adapter.chat.buildRequest(vl, { model: 'x', messages: [], reasoning_effort: 'high' }, 'sk-dash'));
    expect(plain).not.toHaveProperty('enable_thinking');
  });

  it('reads cached and image tokens from prompt_tokens_details', () => {
    const res = {
      id: 'chatcmpl-6ada9ed2-7f33-9de2-8bb0-78bd4035025a',
      object: 'chat.completion',
      created: 1735120033,
      model: 'qwen-vl-max',
      choices: [{ index: 0, message: { role: 'assistant', content: 'A dog on a beach.' }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 1270, completion_tokens: 9, total_tokens: 1279, prompt_tokens_details: { cached_tokens: 256, image_tokens: 1000, text_tokens: 270 } },
    };
    const { usage } = adapter.chat.parseResponse(vl, jsonResponse(res), { model: 'x', messages: [] });
    expect(usage).toEqual({ textInput: 14, cachedInput: 256, imageInput: 1000, audioInput: 0, textOutput: 9, reasoningOutput: 0, imageOutput: 0, images: 0 });
  });

  it('collects usage from the final choices-less chunk of a stream', () => {
    const head = { id: 'q1', object: 'chat.completion.chunk', created: 1, model: 'qwen-plus' };
    const sse = openAISse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { reasoning_content: 'think' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }] },
      { ...head, choices: [], usage: { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38, completion_tokens_details: { reasoning_tokens: 6 } } },
    ]);
    const { state } = replayStream(adapter.chat, plus, { model: 'x', messages: [] }, sse);
    expect(state.usage).toMatchObject({ textInput: 30, textOutput: 2, reasoningOutput: 6 });
  });

  it('classifies DashScope content moderation as content_policy', () => {
    const err = adapter.classifyError(
      { status: 400, headers: {}, bodyText: '{"error":{"code":"data_inspection_failed","param":null,"message":"Input data may contain inappropriate content.","type":"data_inspection_failed"}}' },
      [],
    );
    expect(err.kind).toBe('content_policy');
    expect(err.fallbackAllowed).toBe(false);
  });
});

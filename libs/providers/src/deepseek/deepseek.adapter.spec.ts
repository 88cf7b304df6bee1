import { jsonResponse, openAISse, replayStream, streamedText, testModel } from '../testing/adapter-harness';
import type { ChatCompletionRequest } from '../types/chat';
import { createDeepSeekAdapter } from './deepseek.adapter';

const adapter = createDeepSeekAdapter();
const reasoner = testModel('deepseek', 'deepseek-reasoner', { reasoning: true });
const chatModel = testModel('deepseek', 'deepseek-chat');

describe('DeepSeek', () => {
  it('normalises prompt_cache_hit/miss tokens and reasoning tokens', () => {
    // usage object of https://api-docs.deepseek.com/api/create-chat-completion
    const body = {
      id: '930c60df-bf64-41c9-a88e-3ec75f81e00e',
      object: 'chat.completion',
      created: 1737000000,
      model: 'deepseek-reasoner',
      choices: [{ index: 0, message: { role: 'assistant', content: '9.11 < 9.9', reasoning_content: 'Compare decimals...' }, logprobs: null, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 500,
        total_tokens: 1700,
        prompt_tokens_details: { cached_tokens: 1024 },
        completion_tokens_details: { reasoning_tokens: 420 },
        prompt_cache_hit_tokens: 1024,
        prompt_cache_miss_tokens: 176,
      },
      system_fingerprint: 'fp_a1b2',
    };
    const { completion, usage } = adapter.chat.parseResponse(reasoner, jsonResponse(body), { model: 'x', messages: [] });
    expect(usage).toEqual({ textInput: 176, cachedInput: 1024, imageInput: 0, audioInput: 0, textOutput: 80, reasoningOutput: 420, imageOutput: 0, images: 0 });
    expect(completion.choices[0].message.reasoning_content).toBe('Compare decimals...');
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(1024);
  });

  it('streams reasoning_content then content with usage in the last chunk', () => {
    const head = { id: 'd1', object: 'chat.completion.chunk', created: 1, model: 'deepseek-reasoner', system_fingerprint: 'fp' };
    const sse = openAISse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null, reasoning_content: '' }, logprobs: null, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: null, reasoning_content: 'Hmm' }, logprobs: null, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'Yes', reasoning_content: null }, logprobs: null, finish_reason: null }] },
      {
        ...head,
        choices: [{ index: 0, delta: { content: '', reasoning_content: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 20, completion_tokens: 12, total_tokens: 32, prompt_cache_hit_tokens: 0, prompt_cache_miss_tokens: 20, completion_tokens_details: { reasoning_tokens: 10 } },
      },
    ]);
    const { chunks, state } = replayStream(adapter.chat, reasoner, { model: 'x', messages: [] }, sse, 11);
    expect(streamedText(chunks, 'reasoning_content')).toBe('Hmm');
    expect(streamedText(chunks)).toBe('Yes');
    expect(state.usage).toMatchObject({ textInput: 20, cachedInput: 0, textOutput: 2, reasoningOutput: 10 });
    expect(state.done).toBe(true);
  });

  it('drops earlier turns\' reasoning_content but keeps it inside the current tool-call loop', () => {
    const req: ChatCompletionRequest = {
      model: 'x',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'a1', reasoning_content: 'old thinking' },
        { role: 'user', content: 'second' },
        { role: 'assistant', content: null, reasoning_content: 'current thinking', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '42' },
      ],
    };
    const body = adapter.chat.buildRequest(reasoner, req, 'k').body;
    const messages = (body.kind === 'json' ? (body.value as { messages: Record<string, unknown>[] }).messages : []);
    expect(messages[1]).not.toHaveProperty('reasoning_content');
    expect(messages[3].reasoning_content).toBe('current thinking');
  });

  it('maps max_completion_tokens to max_tokens and never sends reasoning_effort', () => {
    for (const m of [chatModel, reasoner]) {
      const body = adapter.chat.buildRequest(m, { model: 'x', messages: [], max_completion_tokens: 10, reasoning_effort: 'low' }, 'k').body;
      const v = body.kind === 'json' ? (body.value as Record<string, unknown>) : {};
      expect(v.max_tokens).toBe(10);
      expect(v).not.toHaveProperty('reasoning_effort');
    }
  });

  it('classifies 402 Insufficient Balance as the gateway account failing (fallback allowed)', () => {
    const err = adapter.classifyError({ status: 402, headers: {}, bodyText: '{"error":{"message":"Insufficient Balance","type":"unknown_error"}}' }, []);
    expect(err.kind).toBe('auth');
    expect(err.fallbackAllowed).toBe(true);
  });
});

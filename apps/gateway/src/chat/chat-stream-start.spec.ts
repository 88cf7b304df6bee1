import { GOOGLE_FIELDS, type ChatCompletionChunk, type ChatCompletionDelta, type ChatStreamItem } from '@app/providers';
import { startsAnswer } from './chat-stream-start';

const chunk = (delta: ChatCompletionDelta, finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null): ChatStreamItem => ({
  type: 'chunk',
  chunk: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] },
});

describe('startsAnswer', () => {
  it('does not count a chunk that only names the role, with empty or null content', () => {
    expect(startsAnswer(chunk({ role: 'assistant', content: '' }))).toBe(false);
    expect(startsAnswer(chunk({ role: 'assistant', content: null, refusal: null }))).toBe(false);
    expect(startsAnswer(chunk({}))).toBe(false);
  });

  it('counts text, reasoning, a refusal, a tool call, an end, usage and Google-only fields as the answer', () => {
    expect(startsAnswer(chunk({ content: 'Hi' }))).toBe(true);
    expect(startsAnswer(chunk({ reasoning_content: 'Let me see' }))).toBe(true);
    expect(startsAnswer(chunk({ refusal: 'No.' }))).toBe(true);
    expect(startsAnswer(chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '' } }] }))).toBe(true);
    expect(startsAnswer(chunk({}, 'stop'))).toBe(true);
    const usage = chunk({ role: 'assistant', content: '' });
    if (usage.type === 'chunk') usage.chunk.usage = { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 };
    expect(startsAnswer(usage)).toBe(true);
    const google = chunk({ role: 'assistant', content: '' });
    if (google.type === 'chunk') google.chunk.choices[0][GOOGLE_FIELDS] = {};
    expect(startsAnswer(google)).toBe(true);
  });
});

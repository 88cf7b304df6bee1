import { jsonResponse, openAISse, replayStream, streamedText, testModel } from '../testing/adapter-harness';
import { createMoonshotAdapter } from './moonshot.adapter';

const adapter = createMoonshotAdapter();
const kimi = testModel('moonshot', 'kimi-k2-0905-preview');

describe('Moonshot (Kimi)', () => {
  it('reads the top-level cached_tokens of Kimi usage', () => {
    // usage of https://platform.kimi.ai/docs/api/chat
    const body = {
      id: 'chatcmpl-6810567267ee141b4630dccb',
      object: 'chat.completion',
      created: 1745901170,
      model: 'kimi-k2-0905-preview',
      choices: [{ index: 0, message: { role: 'assistant', content: '1+1=2' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 19, completion_tokens: 21, total_tokens: 40, cached_tokens: 10 },
    };
    const { usage, completion } = adapter.chat.parseResponse(kimi, jsonResponse(body), { model: 'x', messages: [] });
    expect(usage).toEqual({ textInput: 9, cachedInput: 10, imageInput: 0, audioInput: 0, textOutput: 21, reasoningOutput: 0, imageOutput: 0, images: 0 });
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(10);
  });

  it('finds stream usage inside the final choice', () => {
    const head = { id: 'cmpl-1305b94c570f447fbde3180560736287', object: 'chat.completion.chunk', created: 1698999575, model: 'kimi-k2-0905-preview' };
    const sse = openAISse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: '你好' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop', usage: { prompt_tokens: 19, completion_tokens: 13, total_tokens: 32, cached_tokens: 8 } }] },
    ]);
    const { chunks, state } = replayStream(adapter.chat, kimi, { model: 'x', messages: [] }, sse, 3);
    expect(streamedText(chunks)).toBe('你好');
    expect(state.usage).toMatchObject({ textInput: 11, cachedInput: 8, textOutput: 13 });
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe('stop');
  });
});

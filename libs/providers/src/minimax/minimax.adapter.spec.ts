import { UpstreamError } from '../errors';
import { jsonResponse, openAISse, replayStream, streamedText, testModel } from '../testing/adapter-harness';
import { createMiniMaxAdapter } from './minimax.adapter';

const adapter = createMiniMaxAdapter();
const m2 = testModel('minimax', 'MiniMax-M2', { reasoning: true });

describe('MiniMax', () => {
  it('sends max_completion_tokens and asks for reasoning split out of the content', () => {
    const req = adapter.chat.buildRequest(m2, { model: 'x', messages: [{ role: 'user', content: 'hi' }], max_tokens: 256, reasoning_effort: 'low' }, 'mm-key');
    const body = req.body.kind === 'json' ? (req.body.value as Record<string, unknown>) : {};
    expect(req.path).toBe('/chat/completions');
    expect(body).toMatchObject({ model: 'MiniMax-M2', max_completion_tokens: 256, reasoning_split: true });
    expect(body).not.toHaveProperty('max_tokens');
    expect(body).not.toHaveProperty('reasoning_effort');
  });

  it('returns reasoning_details as reasoning_content and reads usage', () => {
    const body = {
      id: '0524a1c7',
      object: 'chat.completion',
      created: 1761000000,
      model: 'MiniMax-M2',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', reasoning_details: [{ type: 'reasoning.text', id: 'r1', format: 'MiniMax-response-v1', index: 0, text: 'User greets.' }] }, finish_reason: 'stop' }],
      usage: { total_tokens: 95, prompt_tokens: 40, completion_tokens: 55, completion_tokens_details: { reasoning_tokens: 30 } },
      base_resp: { status_code: 0, status_msg: '' },
    };
    const { completion, usage } = adapter.chat.parseResponse(m2, jsonResponse(body), { model: 'x', messages: [] });
    expect(completion.choices[0].message.reasoning_content).toBe('User greets.');
    expect(completion.choices[0].message.content).toBe('Hello!');
    expect(usage).toMatchObject({ textInput: 40, textOutput: 25, reasoningOutput: 30 });
  });

  it('streams reasoning_details deltas', () => {
    const head = { id: 'm1', object: 'chat.completion.chunk', created: 1, model: 'MiniMax-M2' };
    const sse = openAISse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', reasoning_details: [{ type: 'reasoning.text', text: 'Think' }] }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }] },
      { ...head, choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } },
    ]);
    const { chunks, state } = replayStream(adapter.chat, m2, { model: 'x', messages: [] }, sse);
    expect(streamedText(chunks, 'reasoning_content')).toBe('Think');
    expect(streamedText(chunks)).toBe('Hi');
    expect(state.usage).toMatchObject({ textInput: 5, textOutput: 4 });
  });

  it.each([
    [1002, 'rate_limit'],
    [1004, 'auth'],
    [1008, 'auth'],
    [1026, 'content_policy'],
    [2013, 'invalid_request'],
    [1000, 'upstream_server'],
  ])('treats base_resp.status_code %i on HTTP 200 as %s', (code, kind) => {
    const body = { id: '', choices: null, base_resp: { status_code: code, status_msg: 'something failed' } };
    let caught: unknown;
    try {
      adapter.chat.parseResponse(m2, jsonResponse(body), { model: 'x', messages: [] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UpstreamError);
    expect((caught as UpstreamError).kind).toBe(kind);
  });
});

import { IMAGE_BASE64_FIELDS, liftBase64Strings } from '../http/lifted-base64';
import { PNG_1x1_B64, jsonResponse, openAISse, replayStream, streamedText, testModel } from '../testing/adapter-harness';
import { aspectRatioFromSize, createXaiAdapter } from './xai.adapter';

const adapter = createXaiAdapter();
const KEY = 'xai-test-key-abcdefghijkl';
const grok = testModel('xai', 'grok-4-fast-reasoning', { reasoning: true });
const imagine = testModel('xai', 'grok-imagine-image', { chat: false, imagesEndpoint: true });
const imaginePro = testModel('xai', 'grok-imagine-image-pro', { chat: false, imagesEndpoint: true });

describe('xAI chat', () => {
  it('uses the OpenAI dialect with bearer auth and always requests stream usage', () => {
    const req = adapter.chat.buildStreamRequest(grok, { model: 'x', messages: [{ role: 'developer', content: 'sys' }, { role: 'user', content: 'hi' }], max_completion_tokens: 100 }, KEY);
    expect(req.path).toBe('/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    const body = req.body.kind === 'json' ? (req.body.value as Record<string, unknown>) : {};
    expect(body).toMatchObject({ model: 'grok-4-fast-reasoning', stream: true, stream_options: { include_usage: true }, max_tokens: 100 });
    // only OpenAI knows the developer role
    expect((body.messages as { role: string }[])[0].role).toBe('system');
  });

  it('sends reasoning_effort only to the Grok models that accept it', () => {
    const effort = (id: string) => {
      const req = adapter.chat.buildRequest(testModel('xai', id, { reasoning: true }), { model: 'x', messages: [], reasoning_effort: 'high' }, KEY);
      return req.body.kind === 'json' ? (req.body.value as Record<string, unknown>).reasoning_effort : undefined;
    };
    expect(effort('grok-3-mini')).toBe('high');
    expect(effort('grok-4.3')).toBe('high');
    expect(effort('grok-4')).toBeUndefined();
    expect(effort('grok-4-fast-reasoning')).toBeUndefined();
    expect(effort('grok-code-fast-1')).toBeUndefined();
  });

  it('bills reasoning that xAI reports outside completion_tokens', () => {
    // recorded grok-4-fast usage (vercel/ai#9774): total = prompt + completion + reasoning
    const body = {
      id: 'a1b2',
      object: 'chat.completion',
      created: 1761300000,
      model: 'grok-4-fast-reasoning',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Done.', reasoning_content: 'Thinking...' }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 2640,
        completion_tokens: 182,
        total_tokens: 3494,
        prompt_tokens_details: { text_tokens: 2640, audio_tokens: 0, image_tokens: 0, cached_tokens: 473 },
        completion_tokens_details: { reasoning_tokens: 672, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        num_sources_used: 0,
      },
    };
    const { completion, usage } = adapter.chat.parseResponse(grok, jsonResponse(body), { model: 'x', messages: [] });
    expect(usage).toEqual({ textInput: 2167, cachedInput: 473, imageInput: 0, audioInput: 0, textOutput: 182, reasoningOutput: 672, imageOutput: 0, images: 0 });
    expect(completion.choices[0].message.reasoning_content).toBe('Thinking...');
    expect(completion.usage?.completion_tokens).toBe(854);
    expect(completion.usage?.total_tokens).toBe(3494);
  });

  it('does not double count when reasoning is inside completion_tokens', () => {
    const body = {
      choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150, completion_tokens_details: { reasoning_tokens: 30 }, prompt_tokens_details: { image_tokens: 60 } },
    };
    const { usage } = adapter.chat.parseResponse(grok, jsonResponse(body), { model: 'x', messages: [] });
    expect(usage).toMatchObject({ textInput: 40, imageInput: 60, textOutput: 20, reasoningOutput: 30 });
  });

  it('streams reasoning_content and content', () => {
    const head = { id: 'x1', object: 'chat.completion.chunk', created: 1, model: 'grok-4-fast-reasoning' };
    const sse = openAISse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'Let me think' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'Answer' }, finish_reason: 'stop' }] },
      { ...head, choices: [], usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 14, completion_tokens_details: { reasoning_tokens: 3 } } },
    ]);
    const { chunks, state } = replayStream(adapter.chat, grok, { model: 'x', messages: [] }, sse);
    expect(streamedText(chunks, 'reasoning_content')).toBe('Let me think');
    expect(streamedText(chunks)).toBe('Answer');
    expect(state.usage).toMatchObject({ textInput: 10, textOutput: 1, reasoningOutput: 3 });
  });
});

describe('xAI images', () => {
  it('asks Grok Imagine for base64 with an aspect ratio derived from the size', () => {
    for (const model of [imagine, imaginePro]) {
      const req = adapter.images!.buildRequest(model, { prompt: 'a fox', n: 3, size: '1792x1024', quality: 'hd' }, KEY);
      expect(req.path).toBe('/images/generations');
      expect(req.body.kind === 'json' && req.body.value).toEqual({ model: model.upstreamId, prompt: 'a fox', n: 3, response_format: 'b64_json', aspect_ratio: '16:9' });
    }
    const explicit = adapter.images!.buildRequest(imagine, { prompt: 'x', aspectRatio: '9:16', size: '1024x1024' }, KEY);
    expect(explicit.body.kind === 'json' && (explicit.body.value as Record<string, unknown>).aspect_ratio).toBe('9:16');
  });

  it('maps sizes to the nearest supported ratio', () => {
    expect(aspectRatioFromSize('1024x1024')).toBe('1:1');
    expect(aspectRatioFromSize('1024x1536')).toBe('2:3');
    expect(aspectRatioFromSize('1536x1024')).toBe('3:2');
    expect(aspectRatioFromSize('1024x1792')).toBe('9:16');
    expect(aspectRatioFromSize('auto')).toBeUndefined();
  });

  it('counts images for per-image billing', () => {
    const body = { data: [{ b64_json: PNG_1x1_B64, revised_prompt: 'A red fox in snow.' }, { b64_json: PNG_1x1_B64 }] };
    const result = adapter.images!.parseResponse(imagine, jsonResponse(body), { prompt: 'a fox', n: 2 });
    expect(result.images).toHaveLength(2);
    expect(result.images[0].revisedPrompt).toBe('A red fox in snow.');
    expect(result.usage.images).toBe(2);
    expect(result.usage.textInput + result.usage.imageOutput).toBe(0);
  });

  it('reads images the HTTP client lifted out of the body', () => {
    const text = JSON.stringify({ data: [{ b64_json: PNG_1x1_B64, revised_prompt: 'A red fox in snow.' }] });
    const { text: bodyText, lifted } = liftBase64Strings(Buffer.from(text), IMAGE_BASE64_FIELDS, 1);
    expect(lifted.size).toBe(1);
    const result = adapter.images!.parseResponse(imagine, { status: 200, headers: {}, bodyText, lifted }, { prompt: 'a fox' });
    expect(result.images[0].data.equals(Buffer.from(PNG_1x1_B64, 'base64'))).toBe(true);
    expect(result.images[0]).toMatchObject({ mimeType: 'image/png', revisedPrompt: 'A red fox in snow.' });
    expect(result.usage.images).toBe(1);
  });

  it('reports no_image when only a URL or nothing came back', () => {
    expect(() => adapter.images!.parseResponse(imagine, jsonResponse({ data: [{ url: 'https://imgen.x.ai/1.jpg' }] }), { prompt: 'x' })).toThrow(
      expect.objectContaining({ kind: 'no_image' }),
    );
  });
});

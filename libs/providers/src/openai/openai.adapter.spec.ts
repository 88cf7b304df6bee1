import sharp from 'sharp';
import type { MultipartPart } from '../adapter';
import { UpstreamError } from '../errors';
import { IMAGE_BASE64_FIELDS, liftBase64Strings } from '../http/lifted-base64';
import { PNG_1x1_B64, jsonResponse, openAISse, replayStream, streamedText, testModel } from '../testing/adapter-harness';
import type { ChatCompletionRequest } from '../types/chat';
import { createOpenAIAdapter, normalizeOpenAIImageUsage } from './openai.adapter';

const adapter = createOpenAIAdapter();
const chat = adapter.chat;
const images = adapter.images!;
const KEY = 'sk-test-openai-key-1234567890';
const gpt4o = testModel('openai', 'gpt-4o-mini', { vision: true });
const o4 = testModel('openai', 'o4-mini', { reasoning: true });
const search = testModel('openai', 'gpt-4o-search-preview', { webSearch: true });
const audioModel = testModel('openai', 'gpt-4o-audio-preview', { audioInput: true });
const gptImage = testModel('openai', 'gpt-image-1', { chat: false, imagesEndpoint: true, imageEditing: true });

function bodyOf(req: { body: { kind: string; value?: unknown } }): Record<string, unknown> {
  expect(req.body.kind).toBe('json');
  return req.body.value as Record<string, unknown>;
}

describe('OpenAI chat request', () => {
  const base: ChatCompletionRequest = {
    model: 'openai/gpt-4o-mini',
    messages: [
      { role: 'developer', content: 'Be terse.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this image?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
        ],
      },
    ],
    max_tokens: 64,
    temperature: 0.2,
    tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }],
    tool_choice: 'auto',
    parallel_tool_calls: false,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
    seed: 7,
    stop: ['END'],
    user: 'tenant-user-1',
  };

  it('maps to POST /chat/completions with the upstream model id and bearer auth', () => {
    const req = chat.buildRequest(gpt4o, base, KEY);
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/chat/completions');
    expect(req.stream).toBe(false);
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    const body = bodyOf(req);
    expect(body.model).toBe('gpt-4o-mini');
    expect(body.messages).toEqual(base.messages); // developer role and image parts pass through
    expect(body.max_completion_tokens).toBe(64);
    expect(body).not.toHaveProperty('max_tokens');
    expect(body.tools).toEqual(base.tools);
    expect(body.tool_choice).toBe('auto');
    expect(body.parallel_tool_calls).toBe(false);
    expect(body.response_format).toEqual(base.response_format);
    expect(body).toMatchObject({ temperature: 0.2, seed: 7, stop: ['END'], user: 'tenant-user-1' });
    expect(body).not.toHaveProperty('stream');
  });

  it('does not forward fields that are not part of the canonical request', () => {
    const withExtra = { ...base, extra_body: { models: ['a', 'b'] } } as ChatCompletionRequest;
    expect(bodyOf(chat.buildRequest(gpt4o, withExtra, KEY))).not.toHaveProperty('extra_body');
  });

  it('sends reasoning_effort only to reasoning models and web_search_options only to search models', () => {
    const req: ChatCompletionRequest = { ...base, reasoning_effort: 'high', web_search_options: { search_context_size: 'low' } };
    expect(bodyOf(chat.buildRequest(gpt4o, req, KEY))).not.toHaveProperty('reasoning_effort');
    expect(bodyOf(chat.buildRequest(o4, req, KEY)).reasoning_effort).toBe('high');
    expect(bodyOf(chat.buildRequest(gpt4o, req, KEY))).not.toHaveProperty('web_search_options');
    expect(bodyOf(chat.buildRequest(search, req, KEY)).web_search_options).toEqual({ search_context_size: 'low' });
  });

  it('passes input_audio parts through', () => {
    const req: ChatCompletionRequest = {
      model: 'x',
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] }],
    };
    expect(bodyOf(chat.buildRequest(audioModel, req, KEY)).messages).toEqual(req.messages);
  });

  it('always asks for usage on a stream', () => {
    const req = chat.buildStreamRequest(gpt4o, { ...base, stream: true }, KEY);
    expect(req.stream).toBe(true);
    const body = bodyOf(req);
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
  });
});

describe('OpenAI chat response', () => {
  // Shape of https://platform.openai.com/docs/api-reference/chat/object
  const completion = {
    id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
    object: 'chat.completion',
    created: 1741569952,
    model: 'o4-mini-2025-04-16',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello! How can I assist you today?', refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 192, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_44709d6fcb',
  };

  it('returns the canonical completion and disjoint usage', () => {
    const { completion: c, usage } = chat.parseResponse(o4, jsonResponse(completion), { model: 'x', messages: [] });
    expect(c.id).toBe(completion.id);
    expect(c.object).toBe('chat.completion');
    expect(c.model).toBe('o4-mini-2025-04-16');
    expect(c.choices[0].message).toEqual({ role: 'assistant', content: 'Hello! How can I assist you today?' });
    expect(c.choices[0].finish_reason).toBe('stop');
    expect(c.system_fingerprint).toBe('fp_44709d6fcb');
    expect(usage).toEqual({
      textInput: 86,
      cachedInput: 1920,
      imageInput: 0,
      audioInput: 0,
      textOutput: 108,
      reasoningOutput: 192,
      imageOutput: 0,
      images: 0,
    });
    expect(c.usage).toMatchObject({
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920 },
      completion_tokens_details: { reasoning_tokens: 192 },
    });
  });

  it('reads tool calls', () => {
    const body = {
      ...completion,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
    };
    const { completion: c } = chat.parseResponse(gpt4o, jsonResponse(body), { model: 'x', messages: [] });
    expect(c.choices[0].message.content).toBeNull();
    expect(c.choices[0].message.tool_calls).toEqual([
      { id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ]);
    expect(c.choices[0].finish_reason).toBe('tool_calls');
  });

  it('counts audio input tokens separately from text', () => {
    const body = {
      ...completion,
      usage: { prompt_tokens: 150, completion_tokens: 20, total_tokens: 170, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 120 } },
    };
    const { usage } = chat.parseResponse(audioModel, jsonResponse(body), { model: 'x', messages: [] });
    expect(usage).toMatchObject({ textInput: 30, audioInput: 120, textOutput: 20, reasoningOutput: 0 });
  });

  it('rejects a body that is not a completion', () => {
    expect(() => chat.parseResponse(gpt4o, { status: 200, headers: {}, bodyText: '<html>oops</html>' }, { model: 'x', messages: [] })).toThrow(
      expect.objectContaining({ kind: 'malformed_response' }),
    );
    expect(() => chat.parseResponse(gpt4o, jsonResponse({ id: 'x' }), { model: 'x', messages: [] })).toThrow(
      expect.objectContaining({ kind: 'malformed_response' }),
    );
  });
});

describe('OpenAI chat stream', () => {
  const req: ChatCompletionRequest = { model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true };
  const head = { id: 'chatcmpl-123', object: 'chat.completion.chunk', created: 1694268190, model: 'gpt-4o-mini', system_fingerprint: 'fp_44709d6fcb' };

  it('emits content chunks, keeps usage for the client, and ends on [DONE]', () => {
    const sse = openAISse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], usage: null },
      { ...head, choices: [{ index: 0, delta: { content: 'Hello' }, logprobs: null, finish_reason: null }], usage: null },
      { ...head, choices: [{ index: 0, delta: { content: ' wörld' }, logprobs: null, finish_reason: null }], usage: null },
      { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], usage: null },
      {
        ...head,
        choices: [],
        usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 1 } },
      },
    ]);
    const { chunks, state } = replayStream(chat, gpt4o, req, sse, 5);
    expect(streamedText(chunks)).toBe('Hello wörld');
    expect(chunks).toHaveLength(4); // the usage-only chunk is not forwarded by the adapter
    expect(chunks.every((c) => c.id === 'chatcmpl-123' && c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks[3].choices[0].finish_reason).toBe('stop');
    expect(state.done).toBe(true);
    expect(state.finished).toBe(true);
    expect(state.usage).toEqual({ textInput: 5, cachedInput: 4, imageInput: 0, audioInput: 0, textOutput: 2, reasoningOutput: 1, imageOutput: 0, images: 0 });
    expect(state.outputChars).toBe('Hello wörld'.length);
  });

  it('streams tool-call deltas with their indexes', () => {
    const sse = openAISse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      { ...head, choices: [], usage: { prompt_tokens: 50, completion_tokens: 15, total_tokens: 65 } },
    ]);
    const { chunks, state } = replayStream(chat, gpt4o, req, sse);
    const args = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []).map((t) => t.function?.arguments ?? '').join('');
    expect(args).toBe('{"city":"Paris"}');
    expect(chunks[0].choices[0].delta.tool_calls?.[0]).toEqual({ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe('tool_calls');
    expect(state.usage?.textInput).toBe(50);
    expect(state.usage?.textOutput).toBe(15);
  });

  it('turns an error event inside a 200 stream into a classified UpstreamError', () => {
    const sse =
      openAISse([{ ...head, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }], false) +
      `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null } })}\n\n`;
    let caught: unknown;
    try {
      replayStream(chat, gpt4o, req, sse);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UpstreamError);
    expect((caught as UpstreamError).kind).toBe('upstream_server');
  });

  it.each([
    [{ type: 'invalid_request_error', code: null }, 'invalid_request'],
    [{ type: 'BadRequestError', code: 400 }, 'invalid_request'],
    [{ type: 'rate_limit_error', code: null }, 'rate_limit'],
    [{ type: 'authentication_error', code: null }, 'auth'],
    [{ type: 'server_error', code: null }, 'upstream_server'],
    [{ type: 'toString', code: null }, 'upstream_server'],
    [{ type: 'invalid_request_error', code: 503 }, 'upstream_server'],
  ] as const)('classifies an error event %j inside a 200 stream by its numeric code, else by its type (%s)', (error, kind) => {
    const sse = `data: ${JSON.stringify({ error: { message: 'refused', ...error } })}\n\n`;
    let caught: unknown;
    try {
      replayStream(chat, gpt4o, req, sse);
    } catch (e) {
      caught = e;
    }
    expect((caught as UpstreamError).kind).toBe(kind);
  });

  it('leaves a stream cut before [DONE] and finish_reason visibly unfinished', () => {
    const sse = openAISse([{ ...head, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }], false);
    const { state } = replayStream(chat, gpt4o, req, sse);
    expect(state.done).toBe(false);
    expect(state.finished).toBe(false);
    expect(state.usage).toBeNull();
  });
});

describe('OpenAI images', () => {
  it('builds a GPT image generation request with format, compression, quality and background', () => {
    const req = images.buildRequest(
      gptImage,
      { prompt: 'an otter', n: 2, size: '1024x1536', quality: 'high', outputFormat: 'webp', outputCompression: 60, background: 'opaque', user: 'u1' },
      KEY,
    );
    expect(req.path).toBe('/images/generations');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(bodyOf(req)).toEqual({
      model: 'gpt-image-1',
      prompt: 'an otter',
      n: 2,
      size: '1024x1536',
      quality: 'high',
      user: 'u1',
      output_format: 'webp',
      output_compression: 60,
      background: 'opaque',
    });
  });

  it('never sends response_format to GPT image models but asks DALL·E for base64', () => {
    for (const id of ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2']) {
      expect(bodyOf(images.buildRequest(testModel('openai', id), { prompt: 'x' }, KEY))).not.toHaveProperty('response_format');
    }
    const dalle = bodyOf(images.buildRequest(testModel('openai', 'dall-e-3'), { prompt: 'x', style: 'vivid' }, KEY));
    expect(dalle).toMatchObject({ response_format: 'b64_json', style: 'vivid' });
  });

  it('drops output_compression for PNG, which has none', () => {
    expect(bodyOf(images.buildRequest(gptImage, { prompt: 'x', outputFormat: 'png', outputCompression: 50 }, KEY))).not.toHaveProperty(
      'output_compression',
    );
  });

  it('decodes images and splits usage into text/image input and image output tokens', () => {
    // Shape of https://platform.openai.com/docs/api-reference/images/object
    const body = {
      created: 1713833628,
      background: 'opaque',
      output_format: 'png',
      quality: 'high',
      size: '1024x1024',
      data: [{ b64_json: PNG_1x1_B64 }, { b64_json: PNG_1x1_B64, revised_prompt: 'an otter, watercolour' }],
      usage: { total_tokens: 8470, input_tokens: 50, output_tokens: 8420, input_tokens_details: { text_tokens: 10, image_tokens: 40 } },
    };
    const result = images.parseResponse(gptImage, jsonResponse(body), { prompt: 'an otter', n: 2 });
    expect(result.images).toHaveLength(2);
    expect(result.images[0].mimeType).toBe('image/png');
    expect(result.images[0].data.equals(Buffer.from(PNG_1x1_B64, 'base64'))).toBe(true);
    expect(result.images[1].revisedPrompt).toBe('an otter, watercolour');
    expect(result.usage).toEqual({ textInput: 10, cachedInput: 0, imageInput: 40, audioInput: 0, textOutput: 0, reasoningOutput: 0, imageOutput: 8420, images: 2 });
  });

  it('reads images the HTTP client lifted out of the body, with the rest parsed as usual', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    const text = JSON.stringify({
      output_format: 'png',
      data: [{ b64_json: png.toString('base64'), revised_prompt: 'an otter' }, { b64_json: png.toString('base64') }],
      usage: { input_tokens: 50, output_tokens: 8420, input_tokens_details: { text_tokens: 10, image_tokens: 40 } },
    }).replace(/\//g, '\\/');
    const { text: bodyText, lifted } = liftBase64Strings(Buffer.from(text), IMAGE_BASE64_FIELDS, 1);
    expect(lifted.size).toBe(2);
    const result = images.parseResponse(gptImage, { status: 200, headers: {}, bodyText, lifted }, { prompt: 'an otter', n: 2 });
    expect(result.images.map((i) => i.data.equals(png))).toEqual([true, true]);
    expect(result.images[0]).toMatchObject({ mimeType: 'image/png', revisedPrompt: 'an otter' });
    expect(result.usage).toMatchObject({ textInput: 10, imageInput: 40, imageOutput: 8420, images: 2 });
  });

  it('honours output_tokens_details when the model also produces text tokens', () => {
    const usage = normalizeOpenAIImageUsage(
      { input_tokens: 20, output_tokens: 1100, input_tokens_details: { text_tokens: 20, image_tokens: 0 }, output_tokens_details: { image_tokens: 1056, text_tokens: 44 } },
      1,
    );
    expect(usage).toMatchObject({ textInput: 20, imageInput: 0, imageOutput: 1056, textOutput: 44, images: 1 });
  });

  it('labels JPEG output from its bytes', async () => {
    const jpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    const result = images.parseResponse(gptImage, jsonResponse({ data: [{ b64_json: jpeg.toString('base64') }], output_format: 'jpeg' }), {
      prompt: 'x',
      outputFormat: 'jpeg',
    });
    expect(result.images[0].mimeType).toBe('image/jpeg');
  });

  it('fails with no_image when the answer has no image, and malformed_response when the bytes are not an image', () => {
    expect(() => images.parseResponse(gptImage, jsonResponse({ data: [] }), { prompt: 'x' })).toThrow(expect.objectContaining({ kind: 'no_image' }));
    expect(() => images.parseResponse(gptImage, jsonResponse({ data: [{ b64_json: Buffer.from('not an image').toString('base64') }] }), { prompt: 'x' })).toThrow(
      expect.objectContaining({ kind: 'malformed_response' }),
    );
  });

  it('builds a multipart edit with every input image as image[]', () => {
    const png = Buffer.from(PNG_1x1_B64, 'base64');
    const req = images.buildEditRequest!(
      gptImage,
      { prompt: 'add a hat', inputImages: [{ data: png, mimeType: 'image/png' }, { data: png, mimeType: 'image/png' }], outputFormat: 'jpeg', outputCompression: 80, size: '1024x1024' },
      KEY,
    );
    expect(req.path).toBe('/images/edits');
    expect(req.body.kind).toBe('multipart');
    const parts = (req.body as { parts: MultipartPart[] }).parts;
    const names = parts.map((p) => p.name);
    expect(names.filter((n) => n === 'image[]')).toHaveLength(2);
    const value = (name: string) => parts.find((p): p is { name: string; value: string } => p.name === name && 'value' in p)?.value;
    expect(value('model')).toBe('gpt-image-1');
    expect(value('prompt')).toBe('add a hat');
    expect(value('output_format')).toBe('jpeg');
    expect(value('output_compression')).toBe('80');
    expect(value('size')).toBe('1024x1024');
  });
});

describe('OpenAI error classification', () => {
  it('uses retry-after-ms and never leaks the key', () => {
    const err = adapter.classifyError(
      { status: 429, headers: { 'retry-after-ms': '1500' }, bodyText: `{"error":{"message":"Rate limit reached for key ${KEY}","type":"requests"}}` },
      [KEY],
    );
    expect(err.kind).toBe('rate_limit');
    expect(err.retryAfterMs).toBe(1500);
    expect(JSON.stringify(err) + err.message + (err.detail ?? '')).not.toContain(KEY);
  });
});

import { ApiError } from '@app/common';
import { ModelCatalog, type ModelSpec } from '@app/providers';
import {
  type ChatRequestToCheck,
  type ImagesRequestToCheck,
  chatFeatures,
  chatRequestForModel,
  checkChatChain,
  checkChatRequest,
  checkGeminiNativeChain,
  checkGeminiNativeRequest,
  checkImagesChain,
  checkImagesRequest,
} from './capabilities';
import { makeImageModel, makeModel } from './testing/model-spec.factory';

const catalog = new ModelCatalog();
function model(id: string): ModelSpec {
  const found = catalog.resolve(id);
  if (found === undefined) throw new Error(`${id} is not in the catalog`);
  return found;
}

const GPT_4O_MINI = model('openai/gpt-4o-mini'); // chat, streaming, tools, vision, json_schema; no audio, no reasoning
const GEMINI_FLASH = model('google/gemini-2.5-flash'); // + audio input, reasoning
const GEMINI_IMAGE = model('google/gemini-2.5-flash-image'); // image output via chat, Google
const GPT_IMAGE = model('openai/gpt-image-1'); // image output via chat and images endpoint, OpenAI, maxN 10
const IMAGEN = model('google/imagen-4.0-generate-001'); // images endpoint only, maxN 4
const IMAGEN_ULTRA = model('google/imagen-4.0-ultra-generate-001'); // maxN 1
const QWEN_TURBO = model('qwen/qwen-turbo'); // no tools
const MINIMAX_M27 = model('minimax/MiniMax-M2.7'); // no vision, no json_schema
const NOT_STREAMING = makeModel('openai/batch-only', { capabilities: { streaming: false } });
const WEB_SEARCH = makeModel('openai/searcher', { capabilities: { webSearch: true } });

function chat(overrides: Partial<ChatRequestToCheck> = {}): ChatRequestToCheck {
  return { model: 'x', messages: [{ role: 'user', content: 'hello' }], ...overrides };
}

const IMAGE_PART = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,AAAA' } };
const AUDIO_PART = { type: 'input_audio' as const, input_audio: { data: 'AAAA', format: 'wav' } };

function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

function rejection(fn: () => unknown): [number, string | null] {
  const e = apiErrorOf(fn);
  return [e.status, e.param];
}

describe('chatFeatures', () => {
  it('is all false for a plain text request', () => {
    expect(Object.values(chatFeatures(chat())).some(Boolean)).toBe(false);
  });

  it('sees image and audio parts, tools, json_schema, web search, stream, image output and n', () => {
    const f = chatFeatures(
      chat({
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: [{ type: 'text', text: 'what is this' }, IMAGE_PART] },
          { role: 'user', content: [AUDIO_PART] },
        ],
        tools: [{ type: 'function', function: { name: 'f' } }],
        response_format: { type: 'json_schema', json_schema: { name: 's' } },
        web_search_options: {},
        stream: true,
        modalities: ['text', 'image'],
        n: 2,
      }),
    );
    expect(f).toEqual({
      imageInput: true,
      audioInput: true,
      tools: true,
      jsonSchema: true,
      webSearch: true,
      stream: true,
      imageOutput: true,
      multipleChoices: true,
    });
  });

  it('does not count an empty tools list, json_object, stream false or n 1', () => {
    const f = chatFeatures(chat({ tools: [], response_format: { type: 'json_object' }, stream: false, n: 1, modalities: ['text'] }));
    expect(Object.values(f).some(Boolean)).toBe(false);
  });
});

describe('checkChatRequest', () => {
  it('accepts what a model supports', () => {
    expect(() =>
      checkChatRequest(
        GPT_4O_MINI,
        chat({
          stream: true,
          tools: [{ type: 'function', function: { name: 'f' } }],
          tool_choice: 'auto',
          response_format: { type: 'json_schema', json_schema: { name: 's' } },
          messages: [{ role: 'user', content: [IMAGE_PART] }],
          n: 3,
          logprobs: true,
        }),
      ),
    ).not.toThrow();
    expect(() => checkChatRequest(GEMINI_FLASH, chat({ messages: [{ role: 'user', content: [AUDIO_PART] }] }))).not.toThrow();
    expect(() => checkChatRequest(WEB_SEARCH, chat({ web_search_options: { search_context_size: 'low' } }))).not.toThrow();
  });

  it('refuses a model without chat, naming the model field it came from', () => {
    const e = apiErrorOf(() => checkChatRequest(IMAGEN, chat(), 'models[3]'));
    expect([e.status, e.param]).toEqual([400, 'models[3]']);
    expect(e.message).toContain('/v1/images/generations');
  });

  it('refuses stream on a model without streaming and on image-output models', () => {
    expect(rejection(() => checkChatRequest(NOT_STREAMING, chat({ stream: true })))).toEqual([400, 'stream']);
    expect(rejection(() => checkChatRequest(GEMINI_IMAGE, chat({ stream: true })))).toEqual([400, 'stream']);
    expect(rejection(() => checkChatRequest(GPT_IMAGE, chat({ stream: true })))).toEqual([400, 'stream']);
    expect(() => checkChatRequest(GEMINI_IMAGE, chat({ stream: false }))).not.toThrow();
  });

  it.each<[string, Partial<ChatRequestToCheck>]>([
    ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }],
    ['tool_choice', { tool_choice: 'none' }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['reasoning_effort', { reasoning_effort: 'low' }],
    ['logprobs', { logprobs: true }],
    ['top_logprobs', { top_logprobs: 2 }],
  ])('refuses %s on image-output models', (field, overrides) => {
    expect(rejection(() => checkChatRequest(GEMINI_IMAGE, chat(overrides)))).toEqual([400, field]);
    expect(rejection(() => checkChatRequest(GPT_IMAGE, chat(overrides)))).toEqual([400, field]);
  });

  it('lets an image-output model ignore fields sent empty or off', () => {
    expect(() => checkChatRequest(GEMINI_IMAGE, chat({ tools: [], logprobs: false, top_logprobs: null }))).not.toThrow();
  });

  it('allows n > 1 on image-output models only for GPT image models, up to their maxN', () => {
    expect(() => checkChatRequest(GPT_IMAGE, chat({ n: 4 }))).not.toThrow();
    expect(() => checkChatRequest(GPT_IMAGE, chat({ n: 10 }))).not.toThrow();
    expect(rejection(() => checkChatRequest(GPT_IMAGE, chat({ n: 11 })))).toEqual([400, 'n']);
    expect(rejection(() => checkChatRequest(GEMINI_IMAGE, chat({ n: 2 })))).toEqual([400, 'n']);
    // the rule is the provider, not the model's maxN
    const multiImageGemini = makeImageModel('google/multi', 40_000, { provider: 'google', capabilities: { maxN: 4 } });
    expect(rejection(() => checkChatRequest(multiImageGemini, chat({ n: 2 })))).toEqual([400, 'n']);
    expect(() => checkChatRequest(GEMINI_IMAGE, chat({ n: 1 }))).not.toThrow();
  });

  it('needs vision for image parts and audio input for audio parts, naming the part', () => {
    const messages: ChatRequestToCheck['messages'] = [
      { role: 'system', content: 'x' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, IMAGE_PART] },
    ];
    expect(rejection(() => checkChatRequest(MINIMAX_M27, chat({ messages })))).toEqual([400, 'messages[1].content[1]']);
    const audio: ChatRequestToCheck['messages'] = [{ role: 'user', content: [{ type: 'text', text: 'hear' }, AUDIO_PART] }];
    expect(rejection(() => checkChatRequest(GPT_4O_MINI, chat({ messages: audio })))).toEqual([400, 'messages[0].content[1]']);
  });

  it('needs tools for tools, json_schema for json_schema and web search for web_search_options', () => {
    expect(rejection(() => checkChatRequest(QWEN_TURBO, chat({ tools: [{ type: 'function', function: { name: 'f' } }] })))).toEqual([
      400,
      'tools',
    ]);
    const schema = { response_format: { type: 'json_schema' as const, json_schema: { name: 's' } } };
    expect(rejection(() => checkChatRequest(MINIMAX_M27, chat(schema)))).toEqual([400, 'response_format']);
    expect(() => checkChatRequest(MINIMAX_M27, chat({ response_format: { type: 'json_object' } }))).not.toThrow();
    expect(rejection(() => checkChatRequest(GPT_4O_MINI, chat({ web_search_options: {} })))).toEqual([400, 'web_search_options']);
  });

  it('accepts reasoning_effort on any text model (it is dropped where unsupported)', () => {
    expect(() => checkChatRequest(GPT_4O_MINI, chat({ reasoning_effort: 'high' }))).not.toThrow();
  });

  it('refuses text that cannot fit the context window even at 8 bytes per token, counting every text part', () => {
    const window = GPT_4O_MINI.capabilities.contextWindow ?? 0;
    expect(window).toBe(128_000);
    const fits = 'x'.repeat(window * 8);
    expect(() => checkChatRequest(GPT_4O_MINI, chat({ messages: [{ role: 'user', content: fits }] }))).not.toThrow();
    const parts = [{ type: 'text' as const, text: fits }, { type: 'text' as const, text: 'y' }];
    expect(rejection(() => checkChatRequest(GPT_4O_MINI, chat({ messages: [{ role: 'user', content: parts }] })))).toEqual([400, 'messages']);
    expect(apiErrorOf(() => checkChatRequest(GPT_4O_MINI, chat({ messages: [{ role: 'system', content: 'é'.repeat(window * 4 + 1) }] }))).code).toBe(
      'context_length_exceeded',
    );
    // A model with a million-token window takes the same text.
    expect(() => checkChatRequest(GEMINI_FLASH, chat({ messages: [{ role: 'user', content: parts }] }))).not.toThrow();
  });
});

describe('chatRequestForModel', () => {
  it('drops reasoning_effort for a model without reasoning and keeps it otherwise', () => {
    const request = chat({ reasoning_effort: 'high', temperature: 0.2 });
    const forMini = chatRequestForModel(GPT_4O_MINI, request);
    expect('reasoning_effort' in forMini).toBe(false);
    expect(forMini.temperature).toBe(0.2);
    expect(chatRequestForModel(GEMINI_FLASH, request).reasoning_effort).toBe('high');
    expect(request.reasoning_effort).toBe('high');
  });
});

describe('checkChatChain', () => {
  it('checks every model of the chain before anything runs, naming the fallback field', () => {
    const route = { chain: [GPT_4O_MINI, GEMINI_FLASH, IMAGEN], params: ['model', 'models[0]', 'models[1]'] };
    expect(rejection(() => checkChatChain(route, chat()))).toEqual([400, 'models[1]']);
    const audio = chat({ messages: [{ role: 'user', content: [AUDIO_PART] }] });
    expect(rejection(() => checkChatChain({ chain: [GEMINI_FLASH, GPT_4O_MINI] }, audio))).toEqual([400, 'messages[0].content[0]']);
    expect(() => checkChatChain({ chain: [GEMINI_FLASH, GPT_4O_MINI] }, chat({ stream: true }))).not.toThrow();
  });
});

describe('checkImagesRequest', () => {
  const ok = (m: ModelSpec, r: ImagesRequestToCheck) => expect(() => checkImagesRequest(m, r)).not.toThrow();

  it('accepts a request within the model limits', () => {
    ok(GPT_IMAGE, { n: 10, size: '1536x1024', quality: 'high', style: 'vivid', output_format: 'webp', output_compression: 0 });
    ok(IMAGEN, { n: 4, size: '2048x2048', quality: 'standard', output_format: 'jpeg', output_compression: 100 });
    ok(IMAGEN, {});
  });

  it('sends Gemini image models to the chat or Gemini-native route', () => {
    const e = apiErrorOf(() => checkImagesRequest(GEMINI_IMAGE, {}));
    expect([e.status, e.param]).toEqual([400, 'model']);
    expect(e.message).toContain('/v1/chat/completions');
    expect(e.message).toContain('/v1beta/models/{model}:generateContent');
  });

  it('refuses a text model', () => {
    expect(rejection(() => checkImagesRequest(GPT_4O_MINI, {}, 'models[0]'))).toEqual([400, 'models[0]']);
  });

  it('keeps n within 1..min(10, maxN) and says so', () => {
    for (const n of [0, -1, 1.5, 5]) {
      const e = apiErrorOf(() => checkImagesRequest(IMAGEN, { n }));
      expect([e.status, e.param]).toEqual([400, 'n']);
      expect(e.message).toContain('1 to 4');
    }
    expect(apiErrorOf(() => checkImagesRequest(IMAGEN_ULTRA, { n: 2 })).message).toContain('1 to 1');
    expect(apiErrorOf(() => checkImagesRequest(GPT_IMAGE, { n: 11 })).message).toContain('1 to 10');
  });

  it('refuses a size or quality the model does not offer, listing the ones it does', () => {
    const size = apiErrorOf(() => checkImagesRequest(IMAGEN, { size: '1536x1024' }));
    expect([size.status, size.param]).toEqual([400, 'size']);
    expect(size.message).toContain('1024x1024, 896x1280');
    const quality = apiErrorOf(() => checkImagesRequest(IMAGEN, { quality: 'hd' }));
    expect([quality.status, quality.param]).toEqual([400, 'quality']);
    expect(quality.message).toContain('standard');
  });

  it.each<[string, ImagesRequestToCheck]>([
    ['style', { style: 'cartoon' }],
    ['output_format', { output_format: 'gif' }],
    ['output_compression', { output_compression: 101 }],
    ['output_compression', { output_compression: -1 }],
    ['output_compression', { output_compression: 50.5 }],
    ['stream', { stream: true }],
  ])('refuses a bad %s', (param, request) => {
    expect(rejection(() => checkImagesRequest(GPT_IMAGE, request))).toEqual([400, param]);
  });

  it('checks every model of the chain', () => {
    const route = { chain: [GPT_IMAGE, IMAGEN], params: ['model', 'models[0]'] };
    expect(() => checkImagesChain(route, { size: '1024x1024', n: 2 })).not.toThrow();
    expect(rejection(() => checkImagesChain(route, { n: 5 }))).toEqual([400, 'n']);
    expect(rejection(() => checkImagesChain({ chain: [GPT_IMAGE, GEMINI_IMAGE], params: ['model', 'models[0]'] }, {}))).toEqual([
      400,
      'models[0]',
    ]);
  });
});

describe('checkGeminiNativeRequest', () => {
  it('accepts chat models, including image-output ones, and refuses images-only models', () => {
    expect(() => checkGeminiNativeRequest(GEMINI_FLASH)).not.toThrow();
    expect(() => checkGeminiNativeRequest(GEMINI_IMAGE)).not.toThrow();
    expect(rejection(() => checkGeminiNativeRequest(IMAGEN))).toEqual([400, 'model']);
    expect(rejection(() => checkGeminiNativeChain({ chain: [GEMINI_FLASH, IMAGEN], params: ['model', 'model'] }))).toEqual([400, 'model']);
  });
});

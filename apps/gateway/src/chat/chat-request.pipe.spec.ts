import { ApiError } from '@app/common';
import { ModelCatalog } from '@app/providers';
import { ModelResolver, checkChatChain } from '@app/routing';
import { checkGatewayFields } from './chat-request.checks';
import { findUnsafeText, parseChatRequest } from './chat-request.pipe';

const hello = [{ role: 'user', content: 'Hello' }];

function refusal(body: unknown): ApiError {
  try {
    parseChatRequest(body);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected a 400');
}

describe('parseChatRequest', () => {
  it('builds the canonical request from every documented field, dropping nulls and unknown fields', () => {
    const { request, models } = parseChatRequest({
      model: 'openai/gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.', extra: 1 },
        { role: 'user', name: 'ann', content: [{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png', detail: 'low' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '42' },
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] },
      ],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }],
      tool_choice: { type: 'function', function: { name: 'f' }, junk: true },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } },
      temperature: 0.5,
      top_p: null,
      max_tokens: 100,
      max_completion_tokens: 50,
      reasoning_effort: 'low',
      n: 1,
      stop: ['\n'],
      seed: 7,
      user: 'u1',
      modalities: ['text'],
      logprobs: false,
      unknown_field: 'ignored',
      extra_body: { models: ['anthropic/claude-haiku-4.5'], route: 'fallback' },
    });
    expect(models).toEqual(['anthropic/claude-haiku-4.5']);
    expect(request).toEqual({
      model: 'openai/gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', name: 'ann', content: [{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png', detail: 'low' } }] },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '42' },
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] },
      ],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } },
      temperature: 0.5,
      max_tokens: 100,
      max_completion_tokens: 50,
      reasoning_effort: 'low',
      n: 1,
      stop: ['\n'],
      seed: 7,
      user: 'u1',
      modalities: ['text'],
      logprobs: false,
    });
  });

  it('takes the fallback chain from the top level (the SDK extra_body) as well', () => {
    expect(parseChatRequest({ model: 'a', messages: hello, models: ['b', 'c'], route: 'fallback' }).models).toEqual(['b', 'c']);
    expect(refusal({ model: 'a', messages: hello, models: ['b'], extra_body: { models: ['c'] } }).param).toBe('extra_body.models');
  });

  it.each([
    [{ model: 'a', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content[0].image_url.url'],
    [{ model: 'a', messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'messages[0].content[0].image_url'],
    [{ model: 'a', messages: [{ role: 'user', content: [] }] }, 'messages[0].content'],
    [{ model: 'a', messages: [{ role: 'user' }] }, 'messages[0].content'],
    [{ model: 'a', messages: [{ role: 'assistant' }] }, 'messages[0].content'],
    [{ model: 'a', messages: [{ role: 'assistant', tool_calls: [{ id: 'x', function: { name: 'f' } }] }] }, 'messages[0].tool_calls[0].function.arguments'],
    [{ model: 'a', messages: [{ role: 'function', name: 'f', content: '1' }] }, 'messages[0].role'],
    [{ model: 'a', messages: ['hi'] }, 'messages[0]'],
    [{ model: 'a', messages: hello, stream_options: { include_usage: 'yes' } }, 'stream_options.include_usage'],
    [{ model: 'a', messages: hello, tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }, 'tools[0].function.parameters'],
    [{ model: 'a', messages: hello, tools: [{ type: 'retrieval' }] }, 'tools[0].type'],
    [{ model: 'a', messages: hello, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ model: 'a', messages: hello, n: 0 }, 'n'],
    [{ model: 'a', messages: hello, reasoning_effort: 'extreme' }, 'reasoning_effort'],
    [{ model: 'a', messages: hello, models: ['b', 7] }, 'models[1]'],
    [{ model: 'a', messages: hello, extra_body: { api_key: 'k' } }, 'extra_body.api_key'],
    [{ model: 'a', messages: [{ role: 'user', content: 'x', name: 'a\u0000' }] }, 'messages[0].name'],
    [{ model: 'a', messages: hello, stop: ['ok', '\udc00'] }, 'stop[1]'],
  ])('refuses %j naming %s', (body, param) => {
    const e = refusal(body);
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
  });

  it('passes JSON Schemas on whole whatever their property names, and ignores any unknown key', () => {
    // names that are also Object.prototype members: `constructor` used to throw (a 500), `toString` to vanish
    const parameters = { type: 'object', properties: { constructor: { type: 'string' }, toString: { type: 'string' }, city: { type: 'string' } }, required: ['constructor'] };
    const schema = { type: 'object', properties: { valueOf: { type: 'number' }, hasOwnProperty: { type: 'boolean' } } };
    const { request } = parseChatRequest(
      JSON.parse(
        JSON.stringify({
          model: 'a',
          messages: [{ role: 'user', content: 'x', constructor: 1, toString: 2 }],
          tools: [{ type: 'function', function: { name: 'f', parameters } }],
          response_format: { type: 'json_schema', json_schema: { name: 'out', schema } },
          web_search_options: { user_location: { type: 'approximate', approximate: { city: 'Paris', toString: 'x' } } },
        }),
      ),
    );
    expect(request.messages).toEqual([{ role: 'user', content: 'x' }]);
    expect(request.tools?.[0].function.parameters).toEqual(parameters);
    expect(Object.keys(request.tools?.[0].function.parameters?.properties as object)).toEqual(['constructor', 'toString', 'city']);
    expect(request.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'out', schema } });
    const format = request.response_format?.type === 'json_schema' ? request.response_format.json_schema : undefined;
    expect(Object.keys(format?.schema?.properties as object)).toEqual(['valueOf', 'hasOwnProperty']);
    expect(request.web_search_options?.user_location?.approximate).toEqual({ city: 'Paris', toString: 'x' });
  });

  it('drops unknown keys inside the nested objects it passes on', () => {
    const { request } = parseChatRequest({
      model: 'a',
      messages: hello,
      tools: [{ type: 'function', function: { name: 'f', description: 'd', extra: 1 }, extra: 2 }],
      response_format: { type: 'json_schema', json_schema: { name: 'out', extra: 3 }, extra: 4 },
      stream_options: { include_usage: false, extra: 5 },
      web_search_options: { search_context_size: 'low', user_location: { type: 'approximate', extra: 6 }, extra: 7 },
    });
    expect(JSON.parse(JSON.stringify(request))).toEqual({
      model: 'a',
      messages: hello,
      tools: [{ type: 'function', function: { name: 'f', description: 'd' } }],
      response_format: { type: 'json_schema', json_schema: { name: 'out' } },
      stream_options: { include_usage: false },
      web_search_options: { search_context_size: 'low', user_location: { type: 'approximate' } },
    });
  });

  it('accepts well-formed surrogate pairs (emoji) and finds lone ones', () => {
    expect(findUnsafeText({ a: ['ok 😀'] })).toBeUndefined();
    expect(findUnsafeText({ a: ['ok', 'x\ud83d'] })).toEqual({ param: 'a[1]', problem: expect.stringContaining('surrogate') });
  });
});

describe('checkGatewayFields with checkChatChain', () => {
  const resolver = new ModelResolver(new ModelCatalog());
  const check = (body: Record<string, unknown>) => {
    const { request, models } = parseChatRequest({ messages: hello, ...body });
    const route = resolver.resolve({ model: request.model, models, allowedModels: [] });
    checkChatChain(route, request);
    checkGatewayFields(route, request);
  };
  const paramOf = (body: Record<string, unknown>): string | null => {
    try {
      check(body);
    } catch (e) {
      if (e instanceof ApiError) return e.param;
      throw e;
    }
    return 'accepted';
  };

  it('accepts what every model of the chain can serve', () => {
    expect(paramOf({ model: 'openai/gpt-4o-mini', models: ['google/gemini-2.5-flash'], tools: [{ type: 'function', function: { name: 'f' } }] })).toBe('accepted');
    expect(paramOf({ model: 'google/gemini-2.5-flash-image', modalities: ['text', 'image'] })).toBe('accepted');
    expect(paramOf({ model: 'openai/gpt-image-1', n: 2 })).toBe('accepted');
  });

  it('refuses per model, naming the field or the model that cannot serve it', () => {
    expect(paramOf({ model: 'openai/gpt-4o-mini', models: ['anthropic/claude-haiku-4.5'], n: 3 })).toBe('n');
    expect(paramOf({ model: 'google/gemini-2.5-flash-image', stream: true })).toBe('stream');
    expect(paramOf({ model: 'google/gemini-2.5-flash-image', models: ['openai/gpt-4o-mini'] })).toBe('models[0]');
    expect(paramOf({ model: 'openai/gpt-4o-mini', modalities: ['image'] })).toBe('modalities');
    expect(paramOf({ model: 'openai/gpt-4o-mini', top_logprobs: 2 })).toBe('top_logprobs');
    expect(paramOf({ model: 'openai/gpt-4o-mini', models: ['anthropic/claude-haiku-4.5'], presence_penalty: 0.5 })).toBe('presence_penalty');
    expect(paramOf({ model: 'anthropic/claude-haiku-4.5', frequency_penalty: 0 })).toBe('accepted');
    expect(
      paramOf({
        model: 'google/gemini-2.5-flash',
        messages: [...hello, { role: 'tool', tool_call_id: 'nobody', content: '1' }],
      }),
    ).toBe('messages[1].tool_call_id');
    // OpenAI-dialect providers pass argument text through untouched
    expect(
      paramOf({
        model: 'openai/gpt-4o-mini',
        messages: [...hello, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{x' } }] }],
      }),
    ).toBe('accepted');
  });
});

/**
 * Keeps the hand-written checks of `chat-request.validator.ts` in step with the rules `chat-completion.dto.ts`
 * declares: class-validator, run on the DTOs the way the route used to run it, is the oracle. A decorator
 * added or changed without the same change in the validator fails here.
 */
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, type ValidationError } from 'class-validator';
import { ApiError } from '@app/common';
import {
  ChatCompletionRequestDto,
  ExtraBodyDto,
  FunctionDefinitionDto,
  JsonSchemaFormatDto,
  ResponseFormatDto,
  StreamOptionsDto,
  ToolDto,
  UserLocationDto,
  WebSearchOptionsDto,
} from './chat-completion.dto';
import { parseChatRequest } from './chat-request.pipe';
import { firstRequestProblem, type FieldProblem } from './chat-request.validator';

type Json = Record<string, unknown>;

function childPath(parent: string, key: string): string {
  if (/^\d+$/.test(key)) return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** The first class-validator problem, with its path written as the tenant would write it. */
function firstValidationProblem(errors: ValidationError[], parent = ''): FieldProblem | undefined {
  for (const e of errors) {
    const path = childPath(parent, e.property);
    if (e.constraints) {
      const message = Object.values(e.constraints)[0] ?? 'is invalid';
      return { param: path, message: message.startsWith(`${e.property} `) ? `${path}${message.slice(e.property.length)}` : `${path}: ${message}` };
    }
    const nested = firstValidationProblem(e.children ?? [], path);
    if (nested) return nested;
  }
  return undefined;
}

/** What the DTOs say about a body. */
function oracle(body: Json): FieldProblem | undefined {
  const dto = plainToInstance(ChatCompletionRequestDto, structuredClone(body));
  return firstValidationProblem(validateSync(dto, { whitelist: true, forbidUnknownValues: false, stopAtFirstError: true }));
}

/** What the pipe says: the 400's param and message, or undefined when it accepts the body. */
function verdict(body: Json): FieldProblem | undefined {
  try {
    parseChatRequest(structuredClone(body));
    return undefined;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    expect(e.status).toBe(400);
    return { param: e.param ?? '', message: e.message };
  }
}

/** The properties a DTO class validates, in declaration order. */
function validatedProperties(dto: new () => object): string[] {
  const names = getMetadataStorage()
    .getTargetValidationMetadatas(dto, '', true, false)
    .map((m) => m.propertyName);
  return [...new Set(names)];
}

const hello = [{ role: 'user', content: 'Hello' }];
const VALID: Json = { model: 'openai/gpt-4o-mini', messages: hello };
const withBody = (extra: Json): Json => ({ ...VALID, ...extra });
const tool = (fn: unknown): Json => ({ type: 'function', function: fn });
const long = (n: number, unit = 'a'): string => unit.repeat(n);

describe('firstRequestProblem against class-validator on the DTOs', () => {
  // [case, body, the param class-validator names (null: accepted)]
  const cases: [string, Json, string | null][] = [
    ['the smallest request', VALID, null],
    [
      'every field, valid',
      withBody({
        stream: true,
        stream_options: { include_usage: true },
        tools: [tool({ name: 'get_weather', description: 'd', parameters: { type: 'object' }, strict: true })],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        parallel_tool_calls: false,
        response_format: { type: 'json_schema', json_schema: { name: 'out', description: 'd', schema: { type: 'object' }, strict: false } },
        temperature: 2,
        top_p: 0,
        max_tokens: 1,
        max_completion_tokens: 4096,
        reasoning_effort: 'xhigh',
        web_search_options: { search_context_size: 'high', user_location: { type: 'approximate', approximate: { city: 'Paris' } } },
        n: 128,
        stop: ['a', 'b', 'c', 'd'],
        seed: -7,
        presence_penalty: -2,
        frequency_penalty: 2,
        user: long(256),
        modalities: ['text', 'image', 'audio'],
        logprobs: false,
        top_logprobs: 20,
        models: ['b'],
        route: 'fallback',
        extra_body: { models: ['b'], route: 'fallback' },
      }),
      null,
    ],
    [
      'null for every optional field',
      withBody(Object.fromEntries(validatedProperties(ChatCompletionRequestDto).filter((p) => p !== 'model' && p !== 'messages').map((p) => [p, null]))),
      null,
    ],
    ['unknown fields', withBody({ metadata: { a: 1 }, frobnicate: true, store: true }), null],
    ['a model of 200 emoji (counted as 200 characters)', withBody({ model: long(200, '😀') }), null],
    ['stop as one string', withBody({ stop: '\n' }), null],
    ['tool_choice none', withBody({ tool_choice: 'none' }), null],
    ['response_format text with a null json_schema', withBody({ response_format: { type: 'text', json_schema: null } }), null],
    ['no model', { messages: hello }, 'model'],
    ['a numeric model', withBody({ model: 42 }), 'model'],
    ['an empty model', withBody({ model: '' }), 'model'],
    ['a model of 201 characters', withBody({ model: long(201) }), 'model'],
    ['no messages', { model: 'a' }, 'messages'],
    ['empty messages', withBody({ messages: [] }), 'messages'],
    ['messages as a string', withBody({ messages: 'Hello' }), 'messages'],
    ['stream as a string', withBody({ stream: 'yes' }), 'stream'],
    ['stream_options as a string', withBody({ stream_options: 'x' }), 'stream_options'],
    ['include_usage as a string', withBody({ stream_options: { include_usage: 'yes' } }), 'stream_options.include_usage'],
    ['stream_options as a list, not an object', withBody({ stream_options: [{ include_usage: 1 }] }), 'stream_options'],
    ['a tool function as a list, not an object', withBody({ tools: [{ type: 'function', function: [{ name: 'f' }] }] }), 'tools[0].function'],
    ['web_search_options as a list', withBody({ web_search_options: [{}] }), 'web_search_options'],
    ['tools as an object', withBody({ tools: { type: 'function' } }), 'tools'],
    ['129 tools', withBody({ tools: Array.from({ length: 129 }, () => tool({ name: 'f' })) }), 'tools'],
    ['a tool that is a string', withBody({ tools: ['f'] }), 'tools'],
    ['a tool without its type', withBody({ tools: [{ function: { name: 'f' } }] }), 'tools[0].type'],
    ['a tool without its function', withBody({ tools: [{ type: 'function' }] }), 'tools[0].function'],
    ['a function that is a string', withBody({ tools: [tool('f')] }), 'tools[0].function'],
    ['the second tool at fault', withBody({ tools: [tool({ name: 'ok' }), tool({ name: 'has space' })] }), 'tools[1].function.name'],
    ['a function name of 65 characters', withBody({ tools: [tool({ name: long(65) })] }), 'tools[0].function.name'],
    ['a function description over 100000 characters', withBody({ tools: [tool({ name: 'f', description: long(100_001) })] }), 'tools[0].function.description'],
    ['function parameters as a list', withBody({ tools: [tool({ name: 'f', parameters: [] })] }), 'tools[0].function.parameters'],
    ['function strict as a string', withBody({ tools: [tool({ name: 'f', strict: 'yes' })] }), 'tools[0].function.strict'],
    ['a tool_choice mode out of range', withBody({ tool_choice: 'sometimes' }), 'tool_choice'],
    ['a tool_choice naming a bad function', withBody({ tool_choice: { type: 'function', function: { name: 'a b' } } }), 'tool_choice'],
    ['parallel_tool_calls as a number', withBody({ parallel_tool_calls: 1 }), 'parallel_tool_calls'],
    ['a response_format type out of range', withBody({ response_format: { type: 'xml' } }), 'response_format.type'],
    ['json_schema without its schema', withBody({ response_format: { type: 'json_schema' } }), 'response_format.json_schema'],
    ['a json_schema given with type text is still checked', withBody({ response_format: { type: 'text', json_schema: {} } }), 'response_format.json_schema.name'],
    ['a json_schema schema as a string', withBody({ response_format: { type: 'json_schema', json_schema: { name: 'o', schema: 'x' } } }), 'response_format.json_schema.schema'],
    ['a json_schema description as a number', withBody({ response_format: { type: 'json_schema', json_schema: { name: 'o', description: 5 } } }), 'response_format.json_schema.description'],
    ['a json_schema strict as a string', withBody({ response_format: { type: 'json_schema', json_schema: { name: 'o', strict: 'x' } } }), 'response_format.json_schema.strict'],
    ['temperature above 2', withBody({ temperature: 2.5 }), 'temperature'],
    ['temperature below 0', withBody({ temperature: -0.1 }), 'temperature'],
    ['temperature as a string', withBody({ temperature: 'hot' }), 'temperature'],
    ['an infinite temperature (1e999 in JSON)', withBody({ temperature: Infinity }), 'temperature'],
    ['top_p above 1', withBody({ top_p: 1.5 }), 'top_p'],
    ['max_tokens 0', withBody({ max_tokens: 0 }), 'max_tokens'],
    ['max_tokens 1.5', withBody({ max_tokens: 1.5 }), 'max_tokens'],
    ['max_completion_tokens as a string', withBody({ max_completion_tokens: '10' }), 'max_completion_tokens'],
    ['a reasoning_effort out of range', withBody({ reasoning_effort: 'extreme' }), 'reasoning_effort'],
    ['a search_context_size out of range', withBody({ web_search_options: { search_context_size: 'huge' } }), 'web_search_options.search_context_size'],
    ['a user_location without its type', withBody({ web_search_options: { user_location: {} } }), 'web_search_options.user_location.type'],
    ['an approximate location as a string', withBody({ web_search_options: { user_location: { type: 'approximate', approximate: 'Paris' } } }), 'web_search_options.user_location.approximate'],
    ['web_search_options as a number', withBody({ web_search_options: 1 }), 'web_search_options'],
    ['n 129', withBody({ n: 129 }), 'n'],
    ['n 0', withBody({ n: 0 }), 'n'],
    ['five stop sequences', withBody({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop'],
    ['a numeric stop sequence', withBody({ stop: [1] }), 'stop'],
    ['seed 1.5', withBody({ seed: 1.5 }), 'seed'],
    ['presence_penalty 3', withBody({ presence_penalty: 3 }), 'presence_penalty'],
    ['frequency_penalty -3', withBody({ frequency_penalty: -3 }), 'frequency_penalty'],
    ['a user of 257 characters', withBody({ user: long(257) }), 'user'],
    ['a numeric user', withBody({ user: 5 }), 'user'],
    ['modalities as a string', withBody({ modalities: 'text' }), 'modalities'],
    ['a modality out of range', withBody({ modalities: ['text', 'video'] }), 'modalities'],
    ['logprobs as a string', withBody({ logprobs: 'x' }), 'logprobs'],
    ['top_logprobs 21', withBody({ top_logprobs: 21 }), 'top_logprobs'],
    ['models as a string', withBody({ models: 'b' }), 'models'],
    ['a route out of range', withBody({ route: 'random' }), 'route'],
    ['extra_body as a string', withBody({ extra_body: 'x' }), 'extra_body'],
    ['extra_body.models as a string', withBody({ extra_body: { models: 'b' } }), 'extra_body.models'],
    ['extra_body.route out of range', withBody({ extra_body: { route: 'x' } }), 'extra_body.route'],
    ['two faults: the first declared wins', withBody({ temperature: 5, model: 5 }), 'model'],
    ['two faults after messages', withBody({ n: 0, tools: 'x' }), 'tools'],
  ];

  it.each(cases)('%s', (_name, body, param) => {
    const expected = oracle(body);
    expect(expected?.param ?? null).toBe(param);
    expect(firstRequestProblem(structuredClone(body))).toEqual(expected);
    const answer = verdict(body);
    expect(answer).toEqual(expected ? { param: expected.param, message: `Invalid request: ${expected.message}.` } : undefined);
  });

  describe('every validated property of every DTO, with values of every kind', () => {
    const everyFieldWrong = { type: 5, name: 5, function: 5, json_schema: 5, include_usage: 5, search_context_size: 5, user_location: 5, models: 5, route: 5 };
    const PROBES: unknown[] = [
      undefined, null, true, false,
      0, 1, -1, 0.5, 1.5, 2, 2.5, -2, -2.5, 20, 21, 32, 128, 129, 1e21, Infinity, -Infinity,
      '', 'x', '0.5', '10', 'true', 'has space', 'function', 'auto', 'none', 'required', 'text', 'json_object', 'json_schema',
      'approximate', 'fallback', 'low', 'high', 'xhigh', 'image', 'audio',
      long(64), long(65), long(200), long(201), long(256), long(257), long(200, '😀'), long(201, '😀'), long(200, 'a\uFE0F'), long(100_001),
      [], ['x'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e'], [1], ['text', 'image'], ['video'], [null], [[]], [{}], [everyFieldWrong], [[everyFieldWrong]],
      Array.from({ length: 129 }, () => tool({ name: 'f' })),
      {}, everyFieldWrong, { name: 'f' }, { type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'a b' } },
      { type: 'json_schema' }, { type: 'approximate' }, { include_usage: true },
    ];

    // [DTO, where it sits in the body, a valid instance, how to put an instance into a valid body]
    const SITES: [new () => object, string, Json, (o: Json) => Json][] = [
      [ChatCompletionRequestDto, '', VALID, (o) => o],
      [StreamOptionsDto, 'stream_options', { include_usage: true }, (o) => withBody({ stream_options: o })],
      [ToolDto, 'tools[0]', tool({ name: 'f' }), (o) => withBody({ tools: [o] })],
      [FunctionDefinitionDto, 'tools[0].function', { name: 'f' }, (o) => withBody({ tools: [tool(o)] })],
      [ResponseFormatDto, 'response_format', { type: 'json_schema', json_schema: { name: 'out' } }, (o) => withBody({ response_format: o })],
      [ResponseFormatDto, 'response_format', { type: 'text' }, (o) => withBody({ response_format: o })],
      [JsonSchemaFormatDto, 'response_format.json_schema', { name: 'out' }, (o) => withBody({ response_format: { type: 'json_schema', json_schema: o } })],
      [WebSearchOptionsDto, 'web_search_options', { search_context_size: 'low' }, (o) => withBody({ web_search_options: o })],
      [UserLocationDto, 'web_search_options.user_location', { type: 'approximate' }, (o) => withBody({ web_search_options: { user_location: o } })],
      [ExtraBodyDto, 'extra_body', { route: 'fallback' }, (o) => withBody({ extra_body: o })],
    ];

    it.each(SITES.map(([dto, at, base, place]) => [dto.name, at, base, place] as const))('%s at %s: the valid instance passes', (_dto, _at, base, place) => {
      expect(oracle(place(base))).toBeUndefined();
      expect(firstRequestProblem(place(base))).toBeUndefined();
    });

    it.each(SITES.flatMap(([dto, at, base, place]) => validatedProperties(dto).map((property) => [childPath(at, property), property, base, place] as const)))(
      '%s',
      (param, property, base, place) => {
        let refusedHere = 0;
        for (const value of PROBES) {
          const body = place({ ...base, [property]: value });
          const expected = oracle(body);
          if (expected?.param === param) refusedHere++;
          // the value is part of the comparison so a difference names the probe
          expect({ value, problem: firstRequestProblem(structuredClone(body)) }).toEqual({ value, problem: expected });
        }
        // some probe breaks this property's own rule, so the comparison above covered it
        expect(refusedHere).toBeGreaterThan(0);
      },
    );
  });
});

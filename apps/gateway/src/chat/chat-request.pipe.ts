/**
 * Turns the raw body of `POST /v1/chat/completions` into the canonical request, or a 400 naming the field.
 * The route uses this pipe instead of the global ValidationPipe because the global one names nested fields
 * with dots (`messages.2.content`) and cannot reach into the `messages` union; here every `param` reads as
 * the tenant wrote it (`messages[2].content[0].image_url.url`).
 */
import { Injectable, type PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { ApiError } from '@app/common';
import type { ChatCompletionRequest } from '@app/providers';
import type { ChatRequestToCheck } from '@app/routing';
import { ChatCompletionRequestDto } from './chat-completion.dto';
import { validateMessages } from './chat-messages.validator';

/** The validated request: what adapters take plus the fields only the checks read, and the fallbacks. */
export interface ChatRouteRequest {
  request: ChatRequestToCheck;
  /** fallback models after `model`, from `models` or `extra_body.models` */
  models: string[];
}

/** Fields that would point the gateway at another upstream or key; never honoured, always refused. */
const FORBIDDEN_FIELDS = ['api_base', 'base_url', 'api_key'] as const;

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number' || /^\d+$/.test(key)) return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The first string in the body that holds a NUL byte or a lone surrogate: upstreams reject such text (or
 * mangle it into U+FFFD), so it is refused before anything is reserved or sent.
 */
export function findUnsafeText(value: unknown, path = ''): { param: string; problem: string } | undefined {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { param: path, problem: 'contains a NUL character' };
    if (LONE_SURROGATE.test(value)) return { param: path, problem: 'contains a lone UTF-16 surrogate (invalid Unicode)' };
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findUnsafeText(item, childPath(path, i));
      if (found) return found;
    }
    return undefined;
  }
  if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      const found = findUnsafeText(item, childPath(path, key));
      if (found) return found;
    }
  }
  return undefined;
}

/** The first class-validator problem, with its path written as the tenant would write it. */
export function firstValidationProblem(errors: ValidationError[], parent = ''): { param: string; message: string } | undefined {
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

/** Drops null and undefined so adapters, which test `!== undefined`, never send a null upstream. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;
}

function refuseForbidden(body: Json, parent: string): void {
  for (const field of FORBIDDEN_FIELDS) {
    if (body[field] !== undefined) {
      const param = childPath(parent, field);
      throw ApiError.badRequest(`\`${param}\` is not accepted: Switchyard chooses the upstream and its credentials.`, param, 'unsupported_parameter');
    }
  }
}

/** Each entry checked here rather than with `each: true`, whose error names only the list. */
function modelNames(list: unknown[] | undefined, param: string): string[] | undefined {
  if (list === undefined) return undefined;
  return list.map((name, i) => {
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
      throw ApiError.badRequest(`Invalid request: ${param}[${i}] must be a model id of 1 to 200 characters.`, `${param}[${i}]`);
    }
    return name;
  });
}

function fallbackModels(dto: ChatCompletionRequestDto): string[] {
  const top = modelNames(dto.models ?? undefined, 'models');
  const extra = modelNames(dto.extra_body?.models ?? undefined, 'extra_body.models');
  if (top && extra && (top.length !== extra.length || top.some((m, i) => m !== extra[i]))) {
    throw ApiError.badRequest('Give the fallback models either as `models` or as `extra_body.models`, not both.', 'extra_body.models');
  }
  return [...(top ?? extra ?? [])];
}

export function parseChatRequest(body: unknown): ChatRouteRequest {
  if (!isRecord(body)) throw ApiError.badRequest('The request body must be a JSON object.', null, 'invalid_json');
  refuseForbidden(body, '');
  if (isRecord(body.extra_body)) refuseForbidden(body.extra_body, 'extra_body');
  const unsafe = findUnsafeText(body);
  if (unsafe) throw ApiError.badRequest(`Invalid request: ${unsafe.param} ${unsafe.problem}.`, unsafe.param, 'invalid_text');

  const dto = plainToInstance(ChatCompletionRequestDto, body);
  const problem = firstValidationProblem(validateSync(dto, { whitelist: true, forbidUnknownValues: false, stopAtFirstError: true }));
  if (problem) throw ApiError.badRequest(`Invalid request: ${problem.message}.`, problem.param);
  const messages = validateMessages(dto.messages);

  const base: ChatCompletionRequest = defined({
    model: dto.model,
    messages,
    tools: dto.tools?.map((t) => ({ type: 'function' as const, function: defined({ ...t.function }) })),
    tool_choice: typeof dto.tool_choice === 'object' && dto.tool_choice !== null
      ? { type: 'function' as const, function: { name: dto.tool_choice.function.name } }
      : dto.tool_choice,
    parallel_tool_calls: dto.parallel_tool_calls,
    response_format: dto.response_format ? toResponseFormat(dto) : undefined,
    temperature: dto.temperature,
    top_p: dto.top_p,
    max_tokens: dto.max_tokens,
    max_completion_tokens: dto.max_completion_tokens,
    reasoning_effort: dto.reasoning_effort,
    web_search_options: dto.web_search_options ? defined({ ...dto.web_search_options }) : undefined,
    n: dto.n,
    stop: dto.stop,
    seed: dto.seed,
    presence_penalty: dto.presence_penalty,
    frequency_penalty: dto.frequency_penalty,
    user: dto.user,
    stream: dto.stream,
    stream_options: dto.stream_options ? defined({ include_usage: dto.stream_options.include_usage }) : undefined,
  });
  const request: ChatRequestToCheck = defined({
    ...base,
    logprobs: dto.logprobs,
    top_logprobs: dto.top_logprobs,
    modalities: dto.modalities,
  });
  return { request, models: fallbackModels(dto) };
}

function toResponseFormat(dto: ChatCompletionRequestDto): ChatCompletionRequest['response_format'] {
  const rf = dto.response_format;
  if (!rf) return undefined;
  if (rf.type !== 'json_schema') return { type: rf.type };
  const js = rf.json_schema;
  // class-validator guarantees json_schema for this type; the check keeps the types honest.
  if (!js) throw ApiError.badRequest('Invalid request: response_format.json_schema is required.', 'response_format.json_schema');
  return { type: 'json_schema', json_schema: defined({ name: js.name, description: js.description, schema: js.schema, strict: js.strict }) };
}

/** `@Body(ChatRequestPipe)`: the route's own validation (see the file comment). */
@Injectable()
export class ChatRequestPipe implements PipeTransform<unknown, ChatRouteRequest> {
  transform(value: unknown): ChatRouteRequest {
    return parseChatRequest(value);
  }
}

/**
 * Turns the raw body of `POST /v1/chat/completions` into the canonical request, or a 400 naming the field.
 * The route uses this pipe instead of the global ValidationPipe because the global one names nested fields
 * with dots (`messages.2.content`) and cannot reach into the `messages` union; here every `param` reads as
 * the tenant wrote it (`messages[2].content[0].image_url.url`).
 *
 * The checks are hand-written (`chat-request.validator.ts`, `chat-messages.validator.ts`) rather than run by
 * class-transformer + class-validator: this is on the hot path of every chat request, and turning the body
 * into DTO instances and validating them through decorator metadata was the largest single item of the
 * gateway's own code in its CPU profile. `chat-completion.dto.ts` remains the route's documentation (Swagger) and the statement
 * of its rules; `chat-request.validator.spec.ts` runs class-validator on it as the oracle so the two stay in step.
 * Only the fields read below reach the canonical request, so unknown fields are dropped.
 */
import { Injectable, type PipeTransform } from '@nestjs/common';
import { ApiError } from '@app/common';
import type { ChatCompletionRequest, WebSearchOptions } from '@app/providers';
import type { ChatRequestToCheck } from '@app/routing';
import type { ChatCompletionRequestDto, FunctionDefinitionDto, WebSearchOptionsDto } from './chat-completion.dto';
import { validateMessages } from './chat-messages.validator';
import { firstRequestProblem } from './chat-request.validator';

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

/** Drops null and undefined so adapters, which test `!== undefined`, never send a null upstream. */
function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[key];
    if (v !== undefined && v !== null) out[key] = v;
  }
  return out as T;
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

  const problem = firstRequestProblem(body);
  if (problem) throw ApiError.badRequest(`Invalid request: ${problem.message}.`, problem.param);
  // The body now satisfies every rule the DTO declares; it is read, never changed.
  const dto = body as unknown as ChatCompletionRequestDto;
  const messages = validateMessages(dto.messages);

  const request: ChatRequestToCheck = defined({
    model: dto.model,
    messages,
    tools: dto.tools?.map((t) => ({ type: 'function' as const, function: functionDefinition(t.function) })),
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
    web_search_options: dto.web_search_options ? webSearchOptions(dto.web_search_options) : undefined,
    n: dto.n,
    stop: dto.stop,
    seed: dto.seed,
    presence_penalty: dto.presence_penalty,
    frequency_penalty: dto.frequency_penalty,
    user: dto.user,
    stream: dto.stream,
    stream_options: dto.stream_options ? defined({ include_usage: dto.stream_options.include_usage }) : undefined,
    logprobs: dto.logprobs,
    top_logprobs: dto.top_logprobs,
    modalities: dto.modalities,
  });
  return { request, models: fallbackModels(dto) };
}

type FunctionDefinition = NonNullable<ChatCompletionRequest['tools']>[number]['function'];

/**
 * The declared fields of a tool's function; anything else in the body is dropped. `f` is missing when the
 * tool itself was a list, which the DTO's `@ValidateNested()` lets through.
 */
function functionDefinition(f: FunctionDefinitionDto | undefined): FunctionDefinition {
  return defined({ name: f?.name, description: f?.description, parameters: f?.parameters, strict: f?.strict } as FunctionDefinition);
}

function webSearchOptions(w: WebSearchOptionsDto): WebSearchOptions {
  const location = w.user_location;
  return defined({
    search_context_size: w.search_context_size,
    user_location: location ? { type: location.type, approximate: location.approximate } : undefined,
  });
}

function toResponseFormat(dto: ChatCompletionRequestDto): ChatCompletionRequest['response_format'] {
  const rf = dto.response_format;
  if (!rf) return undefined;
  if (rf.type !== 'json_schema') return { type: rf.type };
  const js = rf.json_schema;
  // The validator requires json_schema for this type; the check keeps the types honest.
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

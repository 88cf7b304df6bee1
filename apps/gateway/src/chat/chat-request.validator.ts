/**
 * The top-level fields of a chat request and their nested objects (everything but `messages`, which
 * `chat-messages.validator.ts` checks), checked by hand against the rules `chat-completion.dto.ts` declares
 * with class-validator decorators.
 *
 * Why by hand: this runs on every chat request, and class-transformer + class-validator (an instance per
 * nested object, metadata lookups, an error tree per property) were the largest single item of the gateway's
 * own code in its CPU profile, about 6% of its CPU per request. The DTOs stay the documentation of the route
 * (Swagger); this file enforces the same rules with the same first problem and the same message, which
 * `chat-request.validator.spec.ts` proves by running class-validator on the DTOs as the oracle. A change to a
 * decorator needs the same change here.
 *
 * How class-validator behaves, and so how this does (with `stopAtFirstError`):
 * - properties are checked in the order the class declares them, nested objects depth first;
 * - a property's decorators run from the last to the first, and the first that fails gives the message;
 * - `@IsOptional()` skips null and undefined; `@IsDefined()` runs before the other constraints;
 * - `@ValidateNested()` walks an array element by element (paths `[i]`) and refuses a value that is neither
 *   an object nor an array.
 */
import { MAX_N, MAX_STOP_SEQUENCES, MAX_TOOLS, MODALITIES, REASONING_EFFORTS, TOOL_CHOICE_MODES } from './chat-completion.dto';

/** The first field at fault: its path as the tenant wrote it, and the message naming it. */
export interface FieldProblem {
  param: string;
  message: string;
}

type Json = Record<string, unknown>;

/** One decorator: `undefined` when the value passes, else class-validator's message for `property`. */
type Constraint = (value: unknown, property: string) => string | undefined;

/** The checks of one property of `holder`, at `path`, named `property` in messages. */
type Rule = (value: unknown, path: string, property: string, holder: Json) => FieldProblem | undefined;

/** A DTO: its properties in declaration order. */
type Shape = readonly (readonly [string, Rule])[];

const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const FUNCTION_NAME_MESSAGE = 'name must be 1-64 letters, digits, underscores or dashes';

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The problem as the pipe reports it: a message that starts with the property name is re-rooted at the path. */
function problem(path: string, property: string, message: string): FieldProblem {
  return {
    param: path,
    message: message.startsWith(`${property} `) ? `${path}${message.slice(property.length)}` : `${path}: ${message}`,
  };
}

/**
 * A string's length as `@MinLength`/`@MaxLength` count it (validator.js `isLength`): a surrogate pair counts
 * once, and so does a character followed by a variation selector (U+FE0E, U+FE0F).
 */
function counted(s: string): number {
  let discounted = 0;
  for (let i = 0; i + 1 < s.length; ) {
    const c = s.charCodeAt(i);
    const d = s.charCodeAt(i + 1);
    if (c !== 0xfe0e && c !== 0xfe0f && (d === 0xfe0e || d === 0xfe0f)) {
      discounted++;
      i += 2;
    } else i++;
  }
  for (let i = 0; i + 1 < s.length; ) {
    const c = s.charCodeAt(i);
    const d = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
      discounted++;
      i += 2;
    } else i++;
  }
  return s.length - discounted;
}

// ---------------------------------------------------------------------------------------------------------------
// Constraints: one per decorator, with class-validator's test and default message.

const isBoolean: Constraint = (v, p) => (typeof v === 'boolean' ? undefined : `${p} must be a boolean value`);
const isString: Constraint = (v, p) => (typeof v === 'string' ? undefined : `${p} must be a string`);
const isInt: Constraint = (v, p) => (typeof v === 'number' && Number.isInteger(v) ? undefined : `${p} must be an integer number`);
/** `@IsNumber({ allowNaN: false, allowInfinity: false })` */
const isFiniteNumber: Constraint = (v, p) =>
  typeof v === 'number' && Number.isFinite(v) ? undefined : `${p} must be a number conforming to the specified constraints`;
const isObject: Constraint = (v, p) => (isRecord(v) ? undefined : `${p} must be an object`);
/** `@IsObject({ each: true })`: every element of an array (or the value itself when it is none) is an object. */
const eachIsObject: Constraint = (v, p) =>
  (Array.isArray(v) ? v.every(isRecord) : isRecord(v)) ? undefined : `each value in ${p} must be an object`;
const isArray: Constraint = (v, p) => (Array.isArray(v) ? undefined : `${p} must be an array`);

const min =
  (n: number): Constraint =>
  (v, p) =>
    typeof v === 'number' && v >= n ? undefined : `${p} must not be less than ${n}`;
const max =
  (n: number): Constraint =>
  (v, p) =>
    typeof v === 'number' && v <= n ? undefined : `${p} must not be greater than ${n}`;
const minLength =
  (n: number): Constraint =>
  (v, p) =>
    typeof v === 'string' && counted(v) >= n ? undefined : `${p} must be longer than or equal to ${n} characters`;
// The counted length is never more than `length`, so a string that short needs no counting.
const maxLength =
  (n: number): Constraint =>
  (v, p) =>
    typeof v === 'string' && (v.length <= n || counted(v) <= n) ? undefined : `${p} must be shorter than or equal to ${n} characters`;
const arrayMinSize =
  (n: number): Constraint =>
  (v, p) =>
    Array.isArray(v) && v.length >= n ? undefined : `${p} must contain at least ${n} elements`;
const arrayMaxSize =
  (n: number): Constraint =>
  (v, p) =>
    Array.isArray(v) && v.length <= n ? undefined : `${p} must contain no more than ${n} elements`;
const isIn =
  (values: readonly unknown[]): Constraint =>
  (v, p) =>
    values.includes(v) ? undefined : `${p} must be one of the following values: ${values.join(', ')}`;
/** `@IsIn(values, { each: true })`: every element of an array, or the value itself when it is not one. */
const eachIn =
  (values: readonly unknown[]): Constraint =>
  (v, p) =>
    (Array.isArray(v) ? v.every((x) => values.includes(x)) : values.includes(v))
      ? undefined
      : `each value in ${p} must be one of the following values: ${values.join(', ')}`;
/** `@Matches(FUNCTION_NAME, { message })` */
const isFunctionName: Constraint = (v) => (typeof v === 'string' && FUNCTION_NAME.test(v) ? undefined : FUNCTION_NAME_MESSAGE);

/** `@IsStop()` of the DTO. */
const isStop: Constraint = (v) =>
  typeof v === 'string' || (Array.isArray(v) && v.length <= MAX_STOP_SEQUENCES && v.every((s) => typeof s === 'string'))
    ? undefined
    : `stop must be a string or an array of at most ${MAX_STOP_SEQUENCES} strings`;

/** `@IsToolChoice()` of the DTO. */
const isToolChoice: Constraint = (v) => {
  const ok =
    typeof v === 'string'
      ? (TOOL_CHOICE_MODES as readonly string[]).includes(v)
      : isRecord(v) && v.type === 'function' && isRecord(v.function) && typeof v.function.name === 'string' && FUNCTION_NAME.test(v.function.name);
  return ok ? undefined : `tool_choice must be one of ${TOOL_CHOICE_MODES.join(', ')} or {"type":"function","function":{"name":"..."}}`;
};

// ---------------------------------------------------------------------------------------------------------------
// Rules: how the decorators of one property combine.

/** The property's constraints, listed in the order class-validator runs them (its decorators bottom-up). */
function checks(...constraints: Constraint[]): Rule {
  return (value, path, property) => {
    for (const constraint of constraints) {
      const message = constraint(value, property);
      if (message !== undefined) return problem(path, property, message);
    }
    return undefined;
  };
}

/** `@IsOptional()`: null and undefined pass. */
function optional(rule: Rule): Rule {
  return (value, path, property, holder) => (value === undefined || value === null ? undefined : rule(value, path, property, holder));
}

/** `@IsDefined()`, then the rest. */
function defined(rule: Rule, message?: string): Rule {
  return (value, path, property, holder) =>
    value === undefined || value === null
      ? problem(path, property, message ?? `${property} should not be null or undefined`)
      : rule(value, path, property, holder);
}

/** `@ValidateIf(condition)`: the property is checked only when the condition holds. */
function when(condition: (holder: Json) => boolean, rule: Rule): Rule {
  return (value, path, property, holder) => (condition(holder) ? rule(value, path, property, holder) : undefined);
}

/** The first problem of the rules, in order (class-validator's custom constraints, then the nested object). */
function followedBy(first: Rule, second: Rule): Rule {
  return (value, path, property, holder) => first(value, path, property, holder) ?? second(value, path, property, holder);
}

function childPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** The first problem of an object against a shape. */
function checkShape(shape: Shape, o: Json, path: string): FieldProblem | undefined {
  for (const [key, rule] of shape) {
    const found = rule(o[key], childPath(path, key), key, o);
    if (found) return found;
  }
  return undefined;
}

/** `@ValidateNested()` (`each` for `{ each: true }`) with `@Type(() => shape)`. */
function nested(shape: Shape, each = false): Rule {
  const visit = (value: unknown, path: string, field: string): FieldProblem | undefined => {
    if (value === undefined) return undefined;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = visit(value[i], `${path}[${i}]`, field);
        if (found) return found;
      }
      return undefined;
    }
    if (typeof value === 'object' && value !== null) return checkShape(shape, value as Json, path);
    return { param: path, message: `${path}: ${each ? 'each value in ' : ''}nested property ${field} must be either object or array` };
  };
  return (value, path, property) => visit(value, path, property);
}

// ---------------------------------------------------------------------------------------------------------------
// The DTOs, property by property, in declaration order.

const STREAM_OPTIONS: Shape = [['include_usage', optional(checks(isBoolean))]];

const FUNCTION_DEFINITION: Shape = [
  ['name', checks(isFunctionName, isString)],
  ['description', optional(checks(maxLength(100_000), isString))],
  ['parameters', optional(checks(isObject))],
  ['strict', optional(checks(isBoolean))],
];

const TOOL: Shape = [
  ['type', checks(isIn(['function']))],
  ['function', defined(followedBy(checks(isObject), nested(FUNCTION_DEFINITION)))],
];

const JSON_SCHEMA_FORMAT: Shape = [
  ['name', checks(isFunctionName, isString)],
  ['description', optional(checks(isString))],
  ['schema', optional(checks(isObject))],
  ['strict', optional(checks(isBoolean))],
];

const RESPONSE_FORMAT: Shape = [
  ['type', checks(isIn(['text', 'json_object', 'json_schema']))],
  [
    'json_schema',
    when(
      (o) => o.type === 'json_schema' || (o.json_schema !== undefined && o.json_schema !== null),
      defined(followedBy(checks(isObject), nested(JSON_SCHEMA_FORMAT)), 'json_schema is required when type is json_schema'),
    ),
  ],
];

const USER_LOCATION: Shape = [
  ['type', checks(isIn(['approximate']))],
  ['approximate', optional(checks(isObject))],
];

const WEB_SEARCH_OPTIONS: Shape = [
  ['search_context_size', optional(checks(isIn(['low', 'medium', 'high'])))],
  ['user_location', optional(followedBy(checks(isObject), nested(USER_LOCATION)))],
];

const EXTRA_BODY: Shape = [
  ['models', optional(checks(isArray))],
  ['route', optional(checks(isIn(['fallback'])))],
];

const CHAT_COMPLETION_REQUEST: Shape = [
  ['model', checks(maxLength(200), minLength(1), isString)],
  ['messages', checks(arrayMinSize(1), isArray)],
  ['stream', optional(checks(isBoolean))],
  ['stream_options', optional(followedBy(checks(isObject), nested(STREAM_OPTIONS)))],
  ['tools', optional(followedBy(checks(arrayMaxSize(MAX_TOOLS), isArray, eachIsObject), nested(TOOL, true)))],
  ['tool_choice', optional(checks(isToolChoice))],
  ['parallel_tool_calls', optional(checks(isBoolean))],
  ['response_format', optional(followedBy(checks(isObject), nested(RESPONSE_FORMAT)))],
  ['temperature', optional(checks(max(2), min(0), isFiniteNumber))],
  ['top_p', optional(checks(max(1), min(0), isFiniteNumber))],
  ['max_tokens', optional(checks(min(1), isInt))],
  ['max_completion_tokens', optional(checks(min(1), isInt))],
  ['reasoning_effort', optional(checks(isIn(REASONING_EFFORTS)))],
  ['web_search_options', optional(followedBy(checks(isObject), nested(WEB_SEARCH_OPTIONS)))],
  ['n', optional(checks(max(MAX_N), min(1), isInt))],
  ['stop', optional(checks(isStop))],
  ['seed', optional(checks(isInt))],
  ['presence_penalty', optional(checks(max(2), min(-2), isFiniteNumber))],
  ['frequency_penalty', optional(checks(max(2), min(-2), isFiniteNumber))],
  ['user', optional(checks(maxLength(256), isString))],
  ['modalities', optional(checks(eachIn(MODALITIES), isArray))],
  ['logprobs', optional(checks(isBoolean))],
  ['top_logprobs', optional(checks(max(20), min(0), isInt))],
  ['models', optional(checks(isArray))],
  ['route', optional(checks(isIn(['fallback'])))],
  ['extra_body', optional(followedBy(checks(isObject), nested(EXTRA_BODY)))],
];

/**
 * The first problem of a chat request body outside `messages` (whose array is checked here, its elements by
 * `validateMessages`), or undefined. Reads the body, never changes it.
 */
export function firstRequestProblem(body: Json): FieldProblem | undefined {
  return checkShape(CHAT_COMPLETION_REQUEST, body, '');
}

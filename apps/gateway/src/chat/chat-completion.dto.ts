/**
 * The body of `POST /v1/chat/completions` (seed 003's `ChatCompletionRequest`, OpenAI's wire format) as
 * class-validator DTOs, which also document the route in Swagger UI. Top-level fields and the simple nested
 * objects are checked here; `messages` (a union by role, with content that is a string or a union of parts)
 * is checked by `chat-messages.validator.ts`, which names the exact element at fault.
 */
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';

export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export const MODALITIES = ['text', 'image', 'audio'] as const;
export const TOOL_CHOICE_MODES = ['auto', 'none', 'required'] as const;
/** OpenAI's own ceilings, so a request valid there is valid here. */
export const MAX_TOOLS = 128;
export const MAX_STOP_SEQUENCES = 4;
export const MAX_N = 128;
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `stop`: one sequence or up to four. */
function IsStop(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStop',
      validator: {
        validate: (v: unknown) =>
          typeof v === 'string' ||
          (Array.isArray(v) && v.length <= MAX_STOP_SEQUENCES && v.every((s) => typeof s === 'string')),
        defaultMessage: () => `stop must be a string or an array of at most ${MAX_STOP_SEQUENCES} strings`,
      },
    },
    options,
  );
}

/** `tool_choice`: a mode, or `{ type: 'function', function: { name } }`. */
function IsToolChoice(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isToolChoice',
      validator: {
        validate: (v: unknown) => {
          if (typeof v === 'string') return (TOOL_CHOICE_MODES as readonly string[]).includes(v);
          return (
            isRecord(v) && v.type === 'function' && isRecord(v.function) && typeof v.function.name === 'string' && FUNCTION_NAME.test(v.function.name)
          );
        },
        defaultMessage: () => `tool_choice must be one of ${TOOL_CHOICE_MODES.join(', ')} or {"type":"function","function":{"name":"..."}}`,
      },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Messages: documented here for Swagger; validated by chat-messages.validator.ts.

export class TextPartDto {
  @ApiProperty({ enum: ['text'] }) type!: 'text';
  @ApiProperty({ example: 'What is in this image?' }) text!: string;
}

export class ImageUrlDto {
  @ApiProperty({ description: 'An https URL or a `data:<mime>;base64,...` URI', example: 'https://example.com/cat.png' })
  url!: string;
  @ApiPropertyOptional({ enum: ['auto', 'low', 'high'] }) detail?: 'auto' | 'low' | 'high';
}

export class ImageUrlPartDto {
  @ApiProperty({ enum: ['image_url'] }) type!: 'image_url';
  @ApiProperty({ type: ImageUrlDto }) image_url!: ImageUrlDto;
}

export class InputAudioDto {
  @ApiProperty({ description: 'base64 audio bytes' }) data!: string;
  @ApiProperty({ enum: ['wav', 'mp3'] }) format!: 'wav' | 'mp3';
}

export class InputAudioPartDto {
  @ApiProperty({ enum: ['input_audio'] }) type!: 'input_audio';
  @ApiProperty({ type: InputAudioDto }) input_audio!: InputAudioDto;
}

export class ToolCallFunctionDto {
  @ApiProperty({ example: 'get_weather' }) name!: string;
  @ApiProperty({ description: 'JSON text of the arguments', example: '{"city":"Paris"}' }) arguments!: string;
}

export class ToolCallDto {
  @ApiProperty({ example: 'call_abc123' }) id!: string;
  @ApiProperty({ enum: ['function'] }) type!: 'function';
  @ApiProperty({ type: ToolCallFunctionDto }) function!: ToolCallFunctionDto;
}

export class ChatMessageDto {
  @ApiProperty({ enum: ['system', 'developer', 'user', 'assistant', 'tool', 'function'], example: 'user' })
  role!: string;

  @ApiPropertyOptional({
    description: 'A string, or content parts (text, image_url, input_audio; system and assistant messages take text parts only)',
    oneOf: [
      { type: 'string' },
      {
        type: 'array',
        items: { oneOf: [{ $ref: getSchemaPath(TextPartDto) }, { $ref: getSchemaPath(ImageUrlPartDto) }, { $ref: getSchemaPath(InputAudioPartDto) }] },
      },
    ],
    example: 'Say hello.',
  })
  content?: string | (TextPartDto | ImageUrlPartDto | InputAudioPartDto)[] | null;

  @ApiPropertyOptional({ example: 'alice' }) name?: string;
  @ApiPropertyOptional({ type: [ToolCallDto], description: 'assistant messages: the tool calls the model made' })
  tool_calls?: ToolCallDto[];
  @ApiPropertyOptional({ description: 'tool messages: the id of the call this answers', example: 'call_abc123' })
  tool_call_id?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Nested objects validated by class-validator.

export class StreamOptionsDto {
  @ApiPropertyOptional({ description: 'send a final chunk with `usage` (and empty `choices`) before `[DONE]`', example: true })
  @IsOptional() @IsBoolean()
  include_usage?: boolean;
}

export class FunctionDefinitionDto {
  @ApiProperty({ example: 'get_weather' })
  @IsString() @Matches(FUNCTION_NAME, { message: 'name must be 1-64 letters, digits, underscores or dashes' })
  name!: string;

  @ApiPropertyOptional({ example: 'Current weather for a city' })
  @IsOptional() @IsString() @MaxLength(100_000)
  description?: string;

  @ApiPropertyOptional({
    description: 'JSON Schema of the arguments',
    example: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  })
  @IsOptional() @IsObject()
  parameters?: Record<string, unknown>;

  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  strict?: boolean;
}

export class ToolDto {
  @ApiProperty({ enum: ['function'] })
  @IsIn(['function'])
  type!: 'function';

  @ApiProperty({ type: FunctionDefinitionDto })
  @IsDefined() @IsObject() @ValidateNested() @Type(() => FunctionDefinitionDto)
  function!: FunctionDefinitionDto;
}

export class JsonSchemaFormatDto {
  @ApiProperty({ example: 'answer' })
  @IsString() @Matches(FUNCTION_NAME, { message: 'name must be 1-64 letters, digits, underscores or dashes' })
  name!: string;

  @ApiPropertyOptional() @IsOptional() @IsString()
  description?: string;

  @ApiPropertyOptional({ example: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] } })
  @IsOptional() @IsObject()
  schema?: Record<string, unknown>;

  @ApiPropertyOptional() @IsOptional() @IsBoolean()
  strict?: boolean;
}

export class ResponseFormatDto {
  @ApiProperty({ enum: ['text', 'json_object', 'json_schema'], example: 'json_schema' })
  @IsIn(['text', 'json_object', 'json_schema'])
  type!: 'text' | 'json_object' | 'json_schema';

  @ApiPropertyOptional({ type: JsonSchemaFormatDto, description: 'required when type is json_schema' })
  @ValidateIf((o: ResponseFormatDto) => o.type === 'json_schema' || (o.json_schema !== undefined && o.json_schema !== null))
  @IsDefined({ message: 'json_schema is required when type is json_schema' })
  @IsObject() @ValidateNested() @Type(() => JsonSchemaFormatDto)
  json_schema?: JsonSchemaFormatDto;
}

export class UserLocationDto {
  @ApiProperty({ enum: ['approximate'] }) @IsIn(['approximate']) type!: 'approximate';
  @ApiPropertyOptional({ example: { city: 'Paris', country: 'FR' } }) @IsOptional() @IsObject()
  approximate?: Record<string, string>;
}

export class WebSearchOptionsDto {
  @ApiPropertyOptional({ enum: ['low', 'medium', 'high'] })
  @IsOptional() @IsIn(['low', 'medium', 'high'])
  search_context_size?: 'low' | 'medium' | 'high';

  @ApiPropertyOptional({ type: UserLocationDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => UserLocationDto)
  user_location?: UserLocationDto;
}

/** The routing extension, where seed 003 documents it; the OpenAI SDK's `extra_body` puts the same fields at the top level. */
export class ExtraBodyDto {
  @ApiPropertyOptional({
    type: [String],
    description: 'Ordered fallback chain after `model` (at most 5)',
    example: ['anthropic/claude-sonnet-4.6', 'google/gemini-2.5-flash'],
  })
  @IsOptional() @IsArray()
  models?: string[];

  @ApiPropertyOptional({ enum: ['fallback'] })
  @IsOptional() @IsIn(['fallback'])
  route?: 'fallback';
}

// ---------------------------------------------------------------------------------------------------------------

export class ChatCompletionRequestDto {
  @ApiProperty({
    description: 'Provider-prefixed id (`openai/gpt-4o-mini`), bare alias (`gpt-4o-mini`) or named router (`switchyard/auto`)',
    example: 'openai/gpt-4o-mini',
  })
  @IsString() @MinLength(1) @MaxLength(200)
  model!: string;

  @ApiProperty({ type: [ChatMessageDto], example: [{ role: 'user', content: 'Say hello.' }] })
  @IsArray() @ArrayMinSize(1)
  messages!: unknown[];

  @ApiPropertyOptional({ description: 'answer as Server-Sent Events in chunks, ending with `data: [DONE]`', example: false })
  @IsOptional() @IsBoolean()
  stream?: boolean;

  @ApiPropertyOptional({ type: StreamOptionsDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto;

  @ApiPropertyOptional({ type: [ToolDto] })
  @IsOptional() @IsObject({ each: true }) @IsArray() @ArrayMaxSize(MAX_TOOLS) @ValidateNested({ each: true }) @Type(() => ToolDto)
  tools?: ToolDto[];

  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', enum: [...TOOL_CHOICE_MODES] },
      { type: 'object', properties: { type: { type: 'string', enum: ['function'] }, function: { type: 'object', properties: { name: { type: 'string' } } } } },
    ],
    example: 'auto',
  })
  @IsOptional() @IsToolChoice()
  tool_choice?: (typeof TOOL_CHOICE_MODES)[number] | { type: 'function'; function: { name: string } };

  @ApiPropertyOptional({ default: true }) @IsOptional() @IsBoolean()
  parallel_tool_calls?: boolean;

  @ApiPropertyOptional({ type: ResponseFormatDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => ResponseFormatDto)
  response_format?: ResponseFormatDto;

  @ApiPropertyOptional({ minimum: 0, maximum: 2, example: 0.7 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(2)
  temperature?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, example: 1 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  top_p?: number;

  @ApiPropertyOptional({ minimum: 1, example: 256 })
  @IsOptional() @IsInt() @Min(1)
  max_tokens?: number;

  @ApiPropertyOptional({ minimum: 1, example: 256, description: 'takes precedence over max_tokens' })
  @IsOptional() @IsInt() @Min(1)
  max_completion_tokens?: number;

  @ApiPropertyOptional({ enum: REASONING_EFFORTS, description: 'dropped for models without reasoning' })
  @IsOptional() @IsIn(REASONING_EFFORTS)
  reasoning_effort?: (typeof REASONING_EFFORTS)[number];

  @ApiPropertyOptional({ type: WebSearchOptionsDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => WebSearchOptionsDto)
  web_search_options?: WebSearchOptionsDto;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_N, example: 1 })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_N)
  n?: number;

  @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: MAX_STOP_SEQUENCES }] })
  @IsOptional() @IsStop()
  stop?: string | string[];

  @ApiPropertyOptional({ example: 42 }) @IsOptional() @IsInt()
  seed?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(-2) @Max(2)
  presence_penalty?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(-2) @Max(2)
  frequency_penalty?: number;

  @ApiPropertyOptional({ description: 'an id of your end user', example: 'user-1234' })
  @IsOptional() @IsString() @MaxLength(256)
  user?: string;

  @ApiPropertyOptional({ enum: MODALITIES, isArray: true, description: '`["text","image"]` asks an image model for an image' })
  @IsOptional() @IsArray() @IsIn(MODALITIES, { each: true })
  modalities?: (typeof MODALITIES)[number][];

  @ApiPropertyOptional({ description: 'not available through the gateway: `true` is refused' })
  @IsOptional() @IsBoolean()
  logprobs?: boolean;

  @ApiPropertyOptional({ minimum: 0, maximum: 20, description: 'not available through the gateway: refused' })
  @IsOptional() @IsInt() @Min(0) @Max(20)
  top_logprobs?: number;

  @ApiPropertyOptional({ type: [String], description: 'Fallback chain after `model` (at most 5); same as `extra_body.models`', example: ['google/gemini-2.5-flash'] })
  @IsOptional() @IsArray()
  models?: string[];

  @ApiPropertyOptional({ enum: ['fallback'], description: 'same as `extra_body.route`' })
  @IsOptional() @IsIn(['fallback'])
  route?: 'fallback';

  @ApiPropertyOptional({ type: ExtraBodyDto })
  @IsOptional() @IsObject() @ValidateNested() @Type(() => ExtraBodyDto)
  extra_body?: ExtraBodyDto;
}

/** Swagger-only: the response of a non-streaming request. */
export class ChatCompletionResponseDto {
  @ApiProperty({ example: 'chatcmpl-abc123' }) id!: string;
  @ApiProperty({ enum: ['chat.completion'] }) object!: 'chat.completion';
  @ApiProperty({ example: 1764000000 }) created!: number;
  @ApiProperty({ description: 'the public id of the model that served the request', example: 'openai/gpt-4o-mini' }) model!: string;
  @ApiProperty({
    example: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
  })
  choices!: unknown[];
  @ApiProperty({ example: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } })
  usage!: Record<string, unknown>;
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { IMAGE_OUTPUT_FORMATS, IMAGE_STYLES, IMAGES_MAX_N, MAX_FALLBACK_MODELS } from '@app/routing';
import { IsSafeText } from '@app/common';

/** OpenAI's prompt limit for GPT image models, the most generous of the models served here. */
export const IMAGE_PROMPT_MAX_CHARS = 32_000;
export const IMAGE_QUALITIES = ['auto', 'standard', 'hd', 'high', 'medium', 'low'] as const;
export const IMAGE_RESPONSE_FORMATS = ['url', 'b64_json'] as const;
export const IMAGE_BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;

/**
 * Fields that would point the gateway at another upstream or key: refused by name rather than stripped
 * with the other unknown fields, so a client that believes it chose its upstream learns that it did not.
 */
function IsRefused(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isRefused',
      validator: {
        validate: (v: unknown) => v === undefined,
        defaultMessage: (args) => `${args?.property ?? 'this field'} is not accepted: Switchyard chooses the upstream and its credentials`,
      },
    },
    options,
  );
}

/** The fields `IsRefused` guards, on the body and on `extra_body`. */
class RefusedUpstreamFields {
  @ApiPropertyOptional({ description: 'refused: Switchyard chooses the upstream credentials', deprecated: true })
  @IsRefused()
  api_key?: unknown;

  @ApiPropertyOptional({ description: 'refused: Switchyard chooses the upstream', deprecated: true })
  @IsRefused()
  api_base?: unknown;

  @ApiPropertyOptional({ description: 'refused: Switchyard chooses the upstream', deprecated: true })
  @IsRefused()
  base_url?: unknown;
}

export class ImagesExtraBodyDto extends RefusedUpstreamFields {
  @ApiPropertyOptional({ type: [String], maxItems: MAX_FALLBACK_MODELS, description: 'fallback models, tried in order after `model`' })
  @IsOptional() @IsArray() @ArrayMaxSize(MAX_FALLBACK_MODELS, { message: `models may list at most ${MAX_FALLBACK_MODELS} fallback models` })
  @IsString({ each: true })
  models?: string[];
}

/** `POST /v1/images/generations` (OpenAI's Images API, plus Switchyard's fallback chain). */
export class CreateImageDto extends RefusedUpstreamFields {
  @ApiProperty({ example: 'openai/gpt-image-1' })
  @IsString() @IsNotEmpty()
  model!: string;

  @ApiProperty({ example: 'A watercolor otter wearing a tiny top hat', maxLength: IMAGE_PROMPT_MAX_CHARS })
  @IsString() @IsNotEmpty()
  @MaxLength(IMAGE_PROMPT_MAX_CHARS, { message: `prompt must be at most ${IMAGE_PROMPT_MAX_CHARS} characters long` })
  @IsSafeText()
  prompt!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: IMAGES_MAX_N, default: 1 })
  @IsOptional()
  @IsInt({ message: `n must be an integer from 1 to ${IMAGES_MAX_N}` })
  @Min(1, { message: `n must be an integer from 1 to ${IMAGES_MAX_N}` })
  @Max(IMAGES_MAX_N, { message: `n must be an integer from 1 to ${IMAGES_MAX_N}` })
  n?: number;

  @ApiPropertyOptional({ example: '1024x1024', description: "OpenAI-style size; which ones depends on the model (see /v1/models)" })
  @IsOptional() @IsString()
  size?: string;

  @ApiPropertyOptional({ enum: IMAGE_QUALITIES })
  @IsOptional() @IsIn(IMAGE_QUALITIES)
  quality?: string;

  @ApiPropertyOptional({ enum: IMAGE_STYLES })
  @IsOptional() @IsIn(IMAGE_STYLES)
  style?: string;

  @ApiPropertyOptional({
    enum: IMAGE_RESPONSE_FORMATS,
    description: '`url`: a signed link per image; `b64_json`: the image itself. Left out, each image comes as both.',
  })
  @IsOptional() @IsIn(IMAGE_RESPONSE_FORMATS)
  response_format?: 'url' | 'b64_json';

  @ApiPropertyOptional({ enum: IMAGE_OUTPUT_FORMATS })
  @IsOptional() @IsIn(IMAGE_OUTPUT_FORMATS)
  output_format?: 'png' | 'jpeg' | 'webp';

  @ApiPropertyOptional({ minimum: 0, maximum: 100 })
  @IsOptional()
  @IsInt({ message: 'output_compression must be an integer from 0 to 100' })
  @Min(0, { message: 'output_compression must be an integer from 0 to 100' })
  @Max(100, { message: 'output_compression must be an integer from 0 to 100' })
  output_compression?: number;

  @ApiPropertyOptional({ enum: IMAGE_BACKGROUNDS })
  @IsOptional() @IsIn(IMAGE_BACKGROUNDS)
  background?: 'transparent' | 'opaque' | 'auto';

  @ApiPropertyOptional({ description: 'an end-user id, passed upstream' })
  @IsOptional() @IsString() @MaxLength(256) @IsSafeText()
  user?: string;

  @ApiPropertyOptional({ type: [String], maxItems: MAX_FALLBACK_MODELS, description: 'fallback models, tried in order after `model`' })
  @IsOptional() @IsArray() @ArrayMaxSize(MAX_FALLBACK_MODELS, { message: `models may list at most ${MAX_FALLBACK_MODELS} fallback models` })
  @IsString({ each: true })
  models?: string[];

  @ApiPropertyOptional({ type: ImagesExtraBodyDto, description: 'the fallback chain as OpenAI SDKs send it (`extra_body.models`)' })
  @IsOptional() @ValidateNested() @Type(() => ImagesExtraBodyDto)
  extra_body?: ImagesExtraBodyDto;

  @ApiPropertyOptional({ enum: ['fallback'], description: 'accepted for compatibility; a chain always falls back' })
  @IsOptional() @IsIn(['fallback'])
  route?: string;

  /** kept so that the capability check can refuse it by name instead of it being dropped silently */
  @ApiPropertyOptional({ description: 'not supported on this route' })
  @IsOptional() @IsBoolean()
  stream?: boolean;
}

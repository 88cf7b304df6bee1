import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsNumber, IsObject, IsOptional, IsString, Matches, MaxLength, Min, ValidateNested } from 'class-validator';
import type { ModelPrice, PromptBand, TokenRates } from '@app/providers';
import { usdToMicros } from '@app/billing';
import { IsTimestamp } from '@app/common';

const USD = { maxDecimalPlaces: 6, allowNaN: false, allowInfinity: false };
/** `YYYY-MM-DD`, and a day that exists */
const CALENDAR_DATE = { message: 'date must be a calendar date, e.g. 2026-11-20' };

/** Rates for prompts longer than `threshold_tokens`, USD per 1,000,000 tokens. */
export class PromptBandDto {
  @ApiProperty({ example: 200000, description: 'the band applies to prompts longer than this many input tokens' })
  @IsInt() @Min(1) threshold_tokens!: number;
  @ApiProperty({ example: 2.5 }) @IsNumber(USD) @Min(0) input!: number;
  @ApiProperty({ example: 15 }) @IsNumber(USD) @Min(0) output!: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber(USD) @Min(0) cached_input?: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber(USD) @Min(0) cache_write?: number;
}

/** USD per 1,000,000 tokens. */
export class TokenRatesDto {
  @ApiProperty({ example: 0.15 }) @IsNumber(USD) @Min(0) input!: number;
  @ApiProperty({ example: 0.6 }) @IsNumber(USD) @Min(0) output!: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber(USD) @Min(0) cached_input?: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber(USD) @Min(0) reasoning_output?: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber(USD) @Min(0) image_input?: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber(USD) @Min(0) image_output?: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber(USD) @Min(0) audio_input?: number;
  @ApiPropertyOptional({ description: 'input tokens written to the prompt cache' }) @IsOptional() @IsNumber(USD) @Min(0) cache_write?: number;
  @ApiPropertyOptional({ type: [PromptBandDto], description: 'prompt-length bands, thresholds ascending' })
  @IsOptional() @IsArray() @ArrayMaxSize(8) @ValidateNested({ each: true }) @Type(() => PromptBandDto)
  long_context?: PromptBandDto[];
}

export class PriceOverrideDto {
  @ApiPropertyOptional({ type: TokenRatesDto, description: 'USD per 1M tokens' })
  @IsOptional() @ValidateNested() @Type(() => TokenRatesDto)
  tokens?: TokenRatesDto;

  @ApiPropertyOptional({ example: { '*': { '*': 0.04 } }, description: 'USD per image, by quality then size ("*" = any)' })
  @IsOptional() @IsObject()
  per_image?: Record<string, Record<string, number>>;

  @ApiPropertyOptional({ example: 'contract 2026-11' }) @IsOptional() @IsString() @MaxLength(500) source?: string;
  @ApiPropertyOptional({ example: '2026-11-20', description: 'the day the price took effect (a calendar date)' })
  @IsOptional() @Matches(/^\d{4}-\d{2}-\d{2}$/, CALENDAR_DATE) @IsTimestamp(CALENDAR_DATE)
  date?: string;
}

const opt = (v: number | undefined) => (v === undefined ? undefined : Number(usdToMicros(v)));

function defined<T extends object>(value: T): T {
  for (const k of Object.keys(value) as (keyof T)[]) if (value[k] === undefined) delete value[k];
  return value;
}

function toBands(bands: PromptBandDto[]): PromptBand[] {
  bands.forEach((b, i) => {
    if (i > 0 && b.threshold_tokens <= bands[i - 1].threshold_tokens) {
      throw new RangeError('tokens.long_context must list its bands by ascending threshold_tokens');
    }
  });
  return bands.map((b) =>
    defined<PromptBand>({
      thresholdTokens: b.threshold_tokens,
      input: Number(usdToMicros(b.input)),
      output: Number(usdToMicros(b.output)),
      cachedInput: opt(b.cached_input),
      cacheWrite: opt(b.cache_write),
    }),
  );
}

export function toModelPrice(dto: PriceOverrideDto): ModelPrice {
  let tokens: TokenRates | undefined;
  if (dto.tokens) {
    tokens = defined<TokenRates>({
      input: Number(usdToMicros(dto.tokens.input)),
      output: Number(usdToMicros(dto.tokens.output)),
      cachedInput: opt(dto.tokens.cached_input),
      cacheWrite: opt(dto.tokens.cache_write),
      reasoningOutput: opt(dto.tokens.reasoning_output),
      imageInput: opt(dto.tokens.image_input),
      imageOutput: opt(dto.tokens.image_output),
      audioInput: opt(dto.tokens.audio_input),
      longContext: dto.tokens.long_context?.length ? toBands(dto.tokens.long_context) : undefined,
    });
  }
  let perImage: ModelPrice['perImage'];
  if (dto.per_image) {
    perImage = {};
    for (const [quality, sizes] of Object.entries(dto.per_image)) {
      if (typeof sizes !== 'object' || sizes === null) throw new RangeError('per_image must map quality → size → USD');
      perImage[quality] = {};
      for (const [size, usd] of Object.entries(sizes)) perImage[quality][size] = Number(usdToMicros(usd));
    }
  }
  if (!tokens && !perImage) throw new RangeError('a price needs tokens or per_image');
  return { tokens, perImage, source: dto.source ?? 'operator override', date: dto.date ?? new Date().toISOString().slice(0, 10) };
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsSafeText, IsTimestamp } from '@app/common';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsNumber, IsOptional, IsString, IsUUID, Length, Max, MaxLength, Min } from 'class-validator';

const MAX_USD = 1_000_000_000;

export class CreateTenantDto {
  @ApiProperty({ example: 'acme' })
  @IsString() @Length(1, 200) @IsSafeText()
  name!: string;

  @ApiPropertyOptional({ example: 10, description: 'initial credit in USD' })
  @IsOptional() @IsNumber({ maxDecimalPlaces: 6, allowNaN: false, allowInfinity: false }) @Min(0) @Max(MAX_USD)
  credit_usd?: number;
}

export class AddCreditDto {
  @ApiProperty({ example: 25, description: 'USD to add (at most 6 decimals)' })
  @IsNumber({ maxDecimalPlaces: 6, allowNaN: false, allowInfinity: false }) @Min(0.000001) @Max(MAX_USD)
  amount_usd!: number;

  @ApiPropertyOptional({ example: 'invoice 2026-11' })
  @IsOptional() @IsString() @MaxLength(500) @IsSafeText()
  note?: string;
}

export class CreateKeyDto {
  @ApiPropertyOptional({ example: 'production' })
  @IsOptional() @IsString() @Length(1, 200) @IsSafeText()
  name?: string;

  @ApiPropertyOptional({ example: 600, description: 'requests per minute' })
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000)
  rpm_limit?: number;

  @ApiPropertyOptional({ example: 20, description: 'images per minute' })
  @IsOptional() @IsInt() @Min(1) @Max(100_000)
  images_per_minute?: number;

  @ApiPropertyOptional({ example: 50, description: 'the most this key may spend, in USD' })
  @IsOptional() @IsNumber({ maxDecimalPlaces: 6, allowNaN: false, allowInfinity: false }) @Min(0) @Max(MAX_USD)
  spend_limit_usd?: number;

  @ApiPropertyOptional({ example: ['openai/gpt-4o-mini'], description: 'model ids this key may call; empty = all' })
  @IsOptional() @IsArray() @ArrayMaxSize(500) @IsString({ each: true }) @MaxLength(200, { each: true })
  allowed_models?: string[];

  @ApiPropertyOptional({
    example: '2027-01-01T00:00:00Z',
    description:
      'when the key stops working: a date or date-time in the future (ISO 8601; without an offset, UTC); from then on it is refused like a revoked key. Omitted or null = never (as key listings show it)',
  })
  @IsOptional() @IsTimestamp()
  expires_at?: string | null;
}

export const AUDIT_LIMIT_DEFAULT = 50;
export const AUDIT_LIMIT_MAX = 200;

export class AuditQueryDto {
  @ApiPropertyOptional({ example: 50, default: AUDIT_LIMIT_DEFAULT, maximum: AUDIT_LIMIT_MAX, description: 'rows to return, newest first' })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(AUDIT_LIMIT_MAX)
  limit?: number;

  @ApiPropertyOptional({ description: "only this tenant's rows (its keys included)" })
  @IsOptional() @IsUUID('loose')
  tenant_id?: string;
}

import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IsTimestamp, requireTimestamp } from '@app/common';

export class UsageQueryDto {
  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z', description: 'inclusive start: a date or date-time (ISO 8601; without an offset, UTC)' })
  @IsOptional() @IsTimestamp()
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z', description: 'exclusive end: a date or date-time (ISO 8601; without an offset, UTC)' })
  @IsOptional() @IsTimestamp()
  to?: string;

  @ApiPropertyOptional({ enum: ['model', 'day', 'key'] })
  @IsOptional() @IsIn(['model', 'day', 'key'])
  group_by?: 'model' | 'day' | 'key';
}

export class AdminUsageQueryDto extends UsageQueryDto {
  @ApiPropertyOptional({ enum: ['json', 'csv'], description: 'csv exports the usage records themselves' })
  @IsOptional() @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}

export function toUsageQuery(q: UsageQueryDto) {
  const at = (v: string | undefined) => (v === undefined ? undefined : requireTimestamp(v));
  return { from: at(q.from), to: at(q.to), groupBy: q.group_by };
}

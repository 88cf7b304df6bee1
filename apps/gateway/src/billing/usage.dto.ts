import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional } from 'class-validator';

export class UsageQueryDto {
  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z', description: 'inclusive start (ISO 8601)' })
  @IsOptional() @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z', description: 'exclusive end (ISO 8601)' })
  @IsOptional() @IsISO8601({ strict: true })
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
  return { from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined, groupBy: q.group_by };
}

import { Injectable } from '@nestjs/common';
import { ApiError } from '@app/common';
import { PrismaService, type UsageRecord } from '@app/database';
import { DeferredSettlements } from './deferred-settlements.service';
import { formatUsd, microsToUsd } from './money';

export type UsageGroupBy = 'model' | 'day' | 'key';

export interface UsageQuery {
  from?: Date;
  to?: Date;
  groupBy?: UsageGroupBy;
}

interface GroupRow {
  group_key: string | null;
  requests: bigint;
  input_tokens: bigint | null;
  cached_tokens: bigint | null;
  output_tokens: bigint | null;
  reasoning_tokens: bigint | null;
  image_input_tokens: bigint | null;
  image_output_tokens: bigint | null;
  images: bigint | null;
  cost_micros: bigint | null;
}

const n = (v: bigint | null) => Number(v ?? 0n);

function totalsView(r: GroupRow) {
  return {
    requests: n(r.requests),
    input_tokens: n(r.input_tokens),
    cached_input_tokens: n(r.cached_tokens),
    output_tokens: n(r.output_tokens),
    reasoning_tokens: n(r.reasoning_tokens),
    image_input_tokens: n(r.image_input_tokens),
    image_output_tokens: n(r.image_output_tokens),
    images: n(r.images),
    cost_usd: microsToUsd(r.cost_micros ?? 0n),
  };
}

export function usageRecordView(u: UsageRecord) {
  return {
    id: u.id,
    object: 'usage.record',
    created_at: u.createdAt.toISOString(),
    endpoint: u.endpoint,
    api_key_id: u.apiKeyId,
    requested_model: u.requestedModel,
    served_model: u.servedModel,
    provider: u.provider,
    fallback_level: u.fallbackLevel,
    attempts: u.attempts,
    status: u.status,
    latency_ms: u.latencyMs,
    estimated: u.estimated,
    cost_usd: microsToUsd(u.costMicros),
    price_id: u.priceId,
    lines: u.lines,
    error: u.error,
    client_request_id: u.clientRequestId,
    attempt_log: u.attemptLog,
  };
}

/**
 * Usage as tenants and operators audit it. Every query is scoped by the tenant id passed in by the
 * caller (the authenticated tenant, or the tenant in an admin URL); no query parameter can widen it.
 */
@Injectable()
export class UsageService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly settlements: DeferredSettlements,
  ) {}

  async summary(tenantId: string, q: UsageQuery) {
    await this.settlements.flush(tenantId);
    const from = q.from ?? new Date(0);
    const to = q.to ?? new Date('9999-12-31T00:00:00Z');
    const groupExpr =
      q.groupBy === 'model'
        ? 'COALESCE(served_model, requested_model)'
        : q.groupBy === 'day'
          ? `to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`
          : q.groupBy === 'key'
            ? 'api_key_id::text'
            : 'NULL';
    // groupExpr is one of four constants above, never client text; the tenant and dates are parameters.
    const rows = await this.prisma.$queryRawUnsafe<GroupRow[]>(
      `SELECT ${groupExpr} AS group_key, count(*) AS requests, sum(input_tokens) AS input_tokens,
              sum(cached_tokens) AS cached_tokens, sum(output_tokens) AS output_tokens,
              sum(reasoning_tokens) AS reasoning_tokens, sum(image_input_tokens) AS image_input_tokens,
              sum(image_output_tokens) AS image_output_tokens, sum(images) AS images, sum(cost_micros) AS cost_micros
         FROM usage_records
        WHERE tenant_id = $1::uuid AND created_at >= $2 AND created_at < $3
        GROUP BY 1 ORDER BY 1`,
      tenantId,
      from,
      to,
    );
    const all = rows.reduce<GroupRow>(
      (acc, r) => {
        for (const k of Object.keys(acc) as (keyof GroupRow)[]) if (k !== 'group_key') (acc[k] as bigint) = ((acc[k] as bigint | null) ?? 0n) + ((r[k] as bigint | null) ?? 0n);
        return acc;
      },
      { group_key: null, requests: 0n, input_tokens: 0n, cached_tokens: 0n, output_tokens: 0n, reasoning_tokens: 0n, image_input_tokens: 0n, image_output_tokens: 0n, images: 0n, cost_micros: 0n },
    );
    return {
      object: 'usage.summary',
      from: q.from?.toISOString() ?? null,
      to: q.to?.toISOString() ?? null,
      group_by: q.groupBy ?? null,
      totals: totalsView(all),
      groups: q.groupBy ? rows.map((r) => ({ [q.groupBy as string]: r.group_key, ...totalsView(r) })) : [],
    };
  }

  async record(tenantId: string, id: string) {
    await this.settlements.flush(tenantId);
    // Ids are request and job ids; text Postgres cannot even compare (a NUL) names no record, so it is a 404, not a 500.
    const u = id.includes('\u0000') ? null : await this.prisma.usageRecord.findFirst({ where: { id, tenantId } });
    if (!u) throw ApiError.notFound(`No usage record with id ${id.slice(0, 100)}.`, 'usage_not_found');
    return usageRecordView(u);
  }

  /** CSV of a tenant's usage records, oldest first, for export. */
  async csv(tenantId: string, q: UsageQuery): Promise<string> {
    await this.settlements.flush(tenantId);
    const records = await this.prisma.usageRecord.findMany({
      where: { tenantId, createdAt: { gte: q.from ?? new Date(0), lt: q.to ?? new Date('9999-12-31T00:00:00Z') } },
      orderBy: { createdAt: 'asc' },
      take: 100_000,
    });
    const header = 'id,created_at,api_key_id,endpoint,requested_model,served_model,provider,fallback_level,attempts,status,latency_ms,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,image_input_tokens,image_output_tokens,images,cost_usd,client_request_id';
    const esc = (v: unknown) => {
      const s = v === null || v === undefined ? '' : String(v);
      return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const lines = records.map((u) =>
      [u.id, u.createdAt.toISOString(), u.apiKeyId, u.endpoint, u.requestedModel, u.servedModel, u.provider, u.fallbackLevel, u.attempts, u.status, u.latencyMs, u.inputTokens, u.cachedTokens, u.outputTokens, u.reasoningTokens, u.imageInputTokens, u.imageOutputTokens, u.images, formatUsd(u.costMicros), u.clientRequestId]
        .map(esc)
        .join(','),
    );
    return [header, ...lines].join('\n') + '\n';
  }
}

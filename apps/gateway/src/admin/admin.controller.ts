import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { requireTimestamp } from '@app/common';
import type { AdminAudit, ApiKey } from '@app/database';
import { DeferredSettlements, microsToUsd, usdToMicros } from '@app/billing';
import { AdminAuditService, AdminOnly, ApiKeyService, TenantService } from '@app/tenancy';
import { AddCreditDto, AUDIT_LIMIT_DEFAULT, AuditQueryDto, CreateKeyDto, CreateTenantDto } from './admin.dto';
import { UuidParam } from './uuid-param.pipe';

function keyView(k: ApiKey) {
  return {
    id: k.id,
    object: 'api_key',
    tenant_id: k.tenantId,
    name: k.name,
    prefix: k.prefix,
    rpm_limit: k.rpmLimit,
    images_per_minute: k.imagesPerMinute,
    spend_limit_usd: k.spendLimitMicros === null ? null : microsToUsd(k.spendLimitMicros),
    spent_usd: microsToUsd(k.spentMicros),
    allowed_models: k.allowedModels,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    expires_at: k.expiresAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
  };
}

function auditView(a: AdminAudit) {
  return {
    id: a.id,
    object: 'admin_audit',
    at: a.at.toISOString(),
    action: a.action,
    actor: a.actor,
    tenant_id: a.tenantId,
    key_id: a.keyId,
    detail: a.detail,
  };
}

/** Every mutation here writes an `admin_audit` row (in its service, so the admin CLI writes the same rows). */
@ApiTags('Admin')
@ApiBearerAuth('admin')
@AdminOnly()
@Controller('admin')
export class AdminController {
  constructor(
    private readonly tenants: TenantService,
    private readonly keys: ApiKeyService,
    private readonly settlements: DeferredSettlements,
    private readonly audit: AdminAuditService,
  ) {}

  @Post('tenants')
  @ApiOperation({ summary: 'Create a tenant, optionally with an initial credit' })
  async createTenant(@Body() dto: CreateTenantDto) {
    const t = await this.tenants.create(dto.name, dto.credit_usd ? usdToMicros(dto.credit_usd) : 0n, 'admin-token');
    return { id: t.id, object: 'tenant', name: t.name, balance_usd: microsToUsd(t.balanceMicros), created_at: t.createdAt.toISOString() };
  }

  @Get('tenants/:id')
  @ApiOperation({ summary: 'A tenant and its balance' })
  async getTenant(@Param('id', UuidParam) id: string) {
    await this.settlements.flush(id);
    const t = await this.tenants.get(id);
    return {
      id: t.id,
      object: 'tenant',
      name: t.name,
      balance_usd: microsToUsd(t.balanceMicros),
      reserved_usd: microsToUsd(t.reservedMicros),
      created_at: t.createdAt.toISOString(),
    };
  }

  @Post('tenants/:id/credits')
  @HttpCode(200)
  @ApiOperation({ summary: 'Add credit to a tenant (a ledger credit)' })
  async addCredit(@Param('id', UuidParam) id: string, @Body() dto: AddCreditDto) {
    const balance = await this.tenants.addCredit(id, usdToMicros(dto.amount_usd), dto.note, 'admin-token');
    return { tenant_id: id, balance_usd: microsToUsd(balance) };
  }

  @Post('tenants/:id/keys')
  @ApiOperation({ summary: 'Issue an API key; the response is the only time the key is shown' })
  async createKey(@Param('id', UuidParam) id: string, @Body() dto: CreateKeyDto) {
    const { record, key } = await this.keys.create(
      id,
      {
        name: dto.name,
        rpmLimit: dto.rpm_limit,
        imagesPerMinute: dto.images_per_minute,
        spendLimitMicros: dto.spend_limit_usd === undefined ? undefined : usdToMicros(dto.spend_limit_usd),
        allowedModels: dto.allowed_models,
        expiresAt: dto.expires_at == null ? undefined : requireTimestamp(dto.expires_at),
      },
      'admin-token',
    );
    return { ...keyView(record), key };
  }

  @Get('tenants/:id/keys')
  @ApiOperation({ summary: "A tenant's API keys (never the keys themselves)" })
  async listKeys(@Param('id', UuidParam) id: string) {
    return { object: 'list', data: (await this.keys.list(id)).map(keyView) };
  }

  @Delete('keys/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key (effective on every replica within 5 seconds)' })
  async revokeKey(@Param('id', UuidParam) id: string): Promise<void> {
    await this.keys.revoke(id, 'admin-token');
  }

  @Get('audit')
  @ApiOperation({ summary: 'The audit trail of admin mutations (API and CLI), newest first; keys are named by id only' })
  async listAudit(@Query() q: AuditQueryDto) {
    return { object: 'list', data: (await this.audit.list({ limit: q.limit ?? AUDIT_LIMIT_DEFAULT, tenantId: q.tenant_id?.toLowerCase() })).map(auditView) };
  }
}

import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { ApiKey } from '@app/database';
import { DeferredSettlements, microsToUsd, usdToMicros } from '@app/billing';
import { AdminOnly, ApiKeyService, TenantService } from '@app/tenancy';
import { AddCreditDto, CreateKeyDto, CreateTenantDto } from './admin.dto';
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
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
  };
}

@ApiTags('Admin')
@ApiBearerAuth('admin')
@AdminOnly()
@Controller('admin')
export class AdminController {
  constructor(
    private readonly tenants: TenantService,
    private readonly keys: ApiKeyService,
    private readonly settlements: DeferredSettlements,
  ) {}

  @Post('tenants')
  @ApiOperation({ summary: 'Create a tenant, optionally with an initial credit' })
  async createTenant(@Body() dto: CreateTenantDto) {
    const t = await this.tenants.create(dto.name, dto.credit_usd ? usdToMicros(dto.credit_usd) : 0n);
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
    const balance = await this.tenants.addCredit(id, usdToMicros(dto.amount_usd), dto.note);
    return { tenant_id: id, balance_usd: microsToUsd(balance) };
  }

  @Post('tenants/:id/keys')
  @ApiOperation({ summary: 'Issue an API key; the response is the only time the key is shown' })
  async createKey(@Param('id', UuidParam) id: string, @Body() dto: CreateKeyDto) {
    const { record, key } = await this.keys.create(id, {
      name: dto.name,
      rpmLimit: dto.rpm_limit,
      imagesPerMinute: dto.images_per_minute,
      spendLimitMicros: dto.spend_limit_usd === undefined ? undefined : usdToMicros(dto.spend_limit_usd),
      allowedModels: dto.allowed_models,
    });
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
    await this.keys.revoke(id);
  }
}

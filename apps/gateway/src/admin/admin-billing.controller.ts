import { Body, Controller, Get, Param, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiError } from '@app/common';
import { PriceBook, UsageService } from '@app/billing';
import { ModelCatalog } from '@app/providers';
import { AdminAuditService, AdminOnly, TenantService } from '@app/tenancy';
import { AdminUsageQueryDto, toUsageQuery } from '../billing/usage.dto';
import { PriceOverrideDto, toModelPrice } from './price.dto';
import { UuidParam } from './uuid-param.pipe';

@ApiTags('Admin')
@ApiBearerAuth('admin')
@AdminOnly()
@Controller('admin')
export class AdminBillingController {
  constructor(
    private readonly usage: UsageService,
    private readonly tenants: TenantService,
    private readonly prices: PriceBook,
    private readonly catalog: ModelCatalog,
    private readonly audit: AdminAuditService,
  ) {}

  @Get('tenants/:id/usage')
  @ApiOperation({ summary: "A tenant's usage totals (same filters as GET /v1/usage); format=csv exports the records" })
  async tenantUsage(@Param('id', UuidParam) id: string, @Query() q: AdminUsageQueryDto, @Res({ passthrough: true }) res: Response) {
    await this.tenants.get(id);
    if (q.format === 'csv') {
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="usage-${id}.csv"`);
      return this.usage.csv(id, toUsageQuery(q));
    }
    return this.usage.summary(id, toUsageQuery(q));
  }

  @Put('prices/*model')
  @ApiOperation({ summary: "Override a model's price (a new price version; later catalog updates leave it alone)" })
  async setPrice(@Param('model') model: string | string[], @Body() dto: PriceOverrideDto) {
    const name = Array.isArray(model) ? model.join('/') : model;
    const spec = this.catalog.resolve(name);
    if (!spec) throw ApiError.notFound(`The model '${name.slice(0, 200)}' does not exist.`, 'model_not_found', 'model');
    let price;
    try {
      price = toModelPrice(dto);
    } catch (e) {
      throw ApiError.badRequest(e instanceof Error ? e.message : 'invalid price', dto.per_image ? 'per_image' : 'tokens');
    }
    // The audit row commits with the new version; rates as in prices.rates (micro-USD per 1M tokens and per image).
    const current = await this.prices.setOverride(spec.id, price, (tx, written) =>
      this.audit.record(
        { action: 'price.set', actor: 'admin-token', detail: { model: spec.id, version: written.version, price_id: written.priceId, rates: price } },
        tx,
      ),
    );
    return { object: 'price', model: spec.id, version: current.version, id: current.priceId, is_override: true, rates: dto };
  }
}

import { Injectable } from '@nestjs/common';
import { ApiError } from '@app/common';
import { PrismaService, type Tenant } from '@app/database';
import { LedgerService } from '@app/billing';

@Injectable()
export class TenantService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly ledger: LedgerService,
  ) {}

  async create(name: string, creditMicros = 0n): Promise<Tenant> {
    const tenant = await this.prisma.tenant.create({ data: { name } });
    if (creditMicros > 0n) {
      const balanceMicros = await this.ledger.credit(tenant.id, creditMicros, 'initial credit');
      return { ...tenant, balanceMicros };
    }
    return tenant;
  }

  async get(id: string): Promise<Tenant> {
    const tenant = await this.prisma.tenant.findUnique({ where: { id } });
    if (!tenant) throw ApiError.notFound(`No tenant with id ${id}.`, 'tenant_not_found');
    return tenant;
  }

  async addCredit(id: string, amountMicros: bigint, note?: string): Promise<bigint> {
    await this.get(id);
    return this.ledger.credit(id, amountMicros, note);
  }
}

import { Injectable } from '@nestjs/common';
import { ApiError } from '@app/common';
import { PrismaService, type Tenant } from '@app/database';
import { LedgerService } from '@app/billing';
import { AdminAuditService, type AuditActor } from './admin-audit.service';

@Injectable()
export class TenantService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly ledger: LedgerService,
    private readonly audit: AdminAuditService,
  ) {}

  /** The tenant, its initial credit and its audit row commit together. */
  async create(name: string, creditMicros = 0n, actor: AuditActor = 'system'): Promise<Tenant> {
    return this.prisma.$transaction(async (tx) => {
      const created = await tx.tenant.create({ data: { name } });
      await this.audit.record({ action: 'tenant.create', actor, tenantId: created.id, detail: { name, credit_micros: creditMicros } }, tx);
      if (creditMicros === 0n) return created;
      return { ...created, balanceMicros: await this.ledger.credit(created.id, creditMicros, 'initial credit', tx) };
    });
  }

  async get(id: string): Promise<Tenant> {
    const tenant = await this.prisma.tenant.findUnique({ where: { id } });
    if (!tenant) throw ApiError.notFound(`No tenant with id ${id}.`, 'tenant_not_found');
    return tenant;
  }

  /** The credit and its audit row commit together. */
  async addCredit(id: string, amountMicros: bigint, note?: string, actor: AuditActor = 'system'): Promise<bigint> {
    await this.get(id);
    return this.prisma.$transaction(async (tx) => {
      const balanceMicros = await this.ledger.credit(id, amountMicros, note, tx);
      await this.audit.record(
        { action: 'tenant.credit', actor, tenantId: id, detail: { amount_micros: amountMicros, balance_micros: balanceMicros, note: note ?? null } },
        tx,
      );
      return balanceMicros;
    });
  }
}

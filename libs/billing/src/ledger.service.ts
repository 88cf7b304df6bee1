import { Injectable } from '@nestjs/common';
import { PrismaService, type Prisma } from '@app/database';

/**
 * The ledger: credits (top-ups) and debits (settled usage). A tenant's balance is changed only together
 * with a ledger entry, in one transaction, so balance = Σ credits − Σ debits holds at all times.
 */
@Injectable()
export class LedgerService {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Credits a tenant and returns its new balance. Inside the caller's transaction `tx` when given (so what the
   * caller writes with it, such as an audit row, commits or rolls back with the credit), else in its own.
   */
  async credit(tenantId: string, amountMicros: bigint, note?: string, tx?: Prisma.TransactionClient): Promise<bigint> {
    if (amountMicros <= 0n) throw new RangeError('a credit must be positive');
    if (!tx) return this.prisma.$transaction((own) => this.credit(tenantId, amountMicros, note, own));
    await tx.ledgerEntry.create({ data: { tenantId, kind: 'credit', amountMicros, note: note ?? null } });
    const tenant = await tx.tenant.update({ where: { id: tenantId }, data: { balanceMicros: { increment: amountMicros } } });
    return tenant.balanceMicros;
  }

  /** recomputes Σ credits − Σ debits from the ledger, for audits and tests */
  async ledgerBalance(tenantId: string): Promise<bigint> {
    const rows = await this.prisma.ledgerEntry.groupBy({ by: ['kind'], where: { tenantId }, _sum: { amountMicros: true } });
    let total = 0n;
    for (const r of rows) {
      const sum = r._sum.amountMicros ?? 0n;
      total += r.kind === 'credit' ? sum : -sum;
    }
    return total;
  }
}

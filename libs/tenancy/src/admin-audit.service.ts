import { Injectable } from '@nestjs/common';
import { PrismaService, type AdminAudit, type Prisma } from '@app/database';

export type AuditAction = 'tenant.create' | 'tenant.credit' | 'key.create' | 'key.revoke' | 'price.set';
/** who made the change: the admin API (ADMIN_TOKEN), the admin CLI, or another in-process caller (the demo) */
export type AuditActor = 'admin-token' | 'admin-cli' | 'system';

export interface AuditEntry {
  action: AuditAction;
  actor: AuditActor;
  tenantId?: string | null;
  keyId?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditQuery {
  limit: number;
  tenantId?: string;
}

/** A Switchyard key (`sk-sy-` + base62) or a 64-digit hex digest (a key's SHA-256), anywhere in a string. */
const SECRET_LIKE = /sk-sy-[0-9A-Za-z]{8,}|(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])/g;

/**
 * The detail as stored: micro-USD amounts (bigint) as decimal strings, times as ISO 8601, undefined fields
 * dropped, and anything shaped like a key or a key hash in operator text (a note, a name) redacted, so an
 * audit row can never carry a credential whatever an operator typed.
 */
export function auditDetail(value: unknown): Prisma.InputJsonValue {
  return clean(value) as Prisma.InputJsonValue;
}

function clean(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value.replace(SECRET_LIKE, '[redacted]');
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : clean(v)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = clean(v);
    return out;
  }
  return value ?? null;
}

/**
 * The audit trail of admin mutations (`admin_audit`). A service that changes something writes its row with
 * `record(entry, tx)` inside the transaction of the change, so the change and its row commit or roll back
 * together (the ledger and the price book take the caller's transaction for this).
 */
@Injectable()
export class AdminAuditService {
  constructor(private readonly prisma: PrismaService) {}

  async record(entry: AuditEntry, tx: Prisma.TransactionClient = this.prisma): Promise<void> {
    await tx.adminAudit.create({
      data: {
        action: entry.action,
        actor: entry.actor,
        tenantId: entry.tenantId ?? null,
        keyId: entry.keyId ?? null,
        detail: auditDetail(entry.detail ?? {}),
      },
    });
  }

  /** newest first */
  list(q: AuditQuery): Promise<AdminAudit[]> {
    return this.prisma.adminAudit.findMany({
      where: q.tenantId ? { tenantId: q.tenantId } : {},
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: q.limit,
    });
  }
}

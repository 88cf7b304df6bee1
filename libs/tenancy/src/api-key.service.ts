import { Injectable } from '@nestjs/common';
import { ApiError } from '@app/common';
import { PrismaService, type ApiKey } from '@app/database';
import { AdminAuditService, type AuditActor } from './admin-audit.service';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key';
import { KeyResolver } from './key-resolver.service';

export interface NewKeyOptions {
  name?: string;
  rpmLimit?: number;
  imagesPerMinute?: number;
  spendLimitMicros?: bigint;
  allowedModels?: string[];
  /** the key stops working at this time (it must be in the future) */
  expiresAt?: Date;
}

@Injectable()
export class ApiKeyService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly resolver: KeyResolver,
    private readonly audit: AdminAuditService,
  ) {}

  /**
   * Creates a key and returns it in clear: the only time it is ever seen. Only its hash is stored; the audit
   * row, written in the same transaction, names the key by id.
   */
  async create(tenantId: string, opts: NewKeyOptions = {}, actor: AuditActor = 'system'): Promise<{ record: ApiKey; key: string }> {
    if (opts.expiresAt && !(opts.expiresAt.getTime() > Date.now())) {
      throw ApiError.badRequest('Invalid request: expires_at must be a time in the future.', 'expires_at');
    }
    const tenant = await this.prisma.tenant.findUnique({ where: { id: tenantId }, select: { id: true } });
    if (!tenant) throw ApiError.notFound(`No tenant with id ${tenantId}.`, 'tenant_not_found');
    const key = generateApiKey();
    const record = await this.prisma.$transaction(async (tx) => {
      const created = await tx.apiKey.create({
        data: {
          tenantId,
          name: opts.name ?? null,
          hash: hashApiKey(key),
          prefix: displayPrefix(key),
          rpmLimit: opts.rpmLimit ?? null,
          imagesPerMinute: opts.imagesPerMinute ?? null,
          spendLimitMicros: opts.spendLimitMicros ?? null,
          allowedModels: opts.allowedModels ?? [],
          expiresAt: opts.expiresAt ?? null,
        },
      });
      await this.audit.record(
        {
          action: 'key.create',
          actor,
          tenantId,
          keyId: created.id,
          detail: {
            name: created.name,
            rpm_limit: created.rpmLimit,
            images_per_minute: created.imagesPerMinute,
            spend_limit_micros: created.spendLimitMicros,
            allowed_models: created.allowedModels,
            expires_at: created.expiresAt,
          },
        },
        tx,
      );
      return created;
    });
    return { record, key };
  }

  async list(tenantId: string): Promise<ApiKey[]> {
    // Only a missing row is "no tenant"; a database outage stays an outage (503), not a 404.
    const tenant = await this.prisma.tenant.findUnique({ where: { id: tenantId }, select: { id: true } });
    if (!tenant) throw ApiError.notFound(`No tenant with id ${tenantId}.`, 'tenant_not_found');
    return this.prisma.apiKey.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' } });
  }

  /** Revokes a key (revoking it again changes nothing, and is recorded as such); its audit row is in the same transaction. */
  async revoke(keyId: string, actor: AuditActor = 'system'): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.apiKey.updateMany({ where: { id: keyId, revokedAt: null }, data: { revokedAt: new Date() } });
      const key = await tx.apiKey.findUnique({ where: { id: keyId }, select: { tenantId: true, revokedAt: true } });
      if (!key) throw ApiError.notFound(`No API key with id ${keyId}.`, 'key_not_found');
      await this.audit.record(
        { action: 'key.revoke', actor, tenantId: key.tenantId, keyId, detail: { revoked_at: key.revokedAt, already_revoked: count === 0 } },
        tx,
      );
    });
    this.resolver.forgetKeyId(keyId);
  }
}

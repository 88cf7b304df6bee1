import { Injectable } from '@nestjs/common';
import { ApiError } from '@app/common';
import { PrismaService, type ApiKey } from '@app/database';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key';
import { KeyResolver } from './key-resolver.service';

export interface NewKeyOptions {
  name?: string;
  rpmLimit?: number;
  imagesPerMinute?: number;
  spendLimitMicros?: bigint;
  allowedModels?: string[];
}

@Injectable()
export class ApiKeyService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly resolver: KeyResolver,
  ) {}

  /** Creates a key and returns it in clear: the only time it is ever seen. Only its hash is stored. */
  async create(tenantId: string, opts: NewKeyOptions = {}): Promise<{ record: ApiKey; key: string }> {
    const tenant = await this.prisma.tenant.findUnique({ where: { id: tenantId }, select: { id: true } });
    if (!tenant) throw ApiError.notFound(`No tenant with id ${tenantId}.`, 'tenant_not_found');
    const key = generateApiKey();
    const record = await this.prisma.apiKey.create({
      data: {
        tenantId,
        name: opts.name ?? null,
        hash: hashApiKey(key),
        prefix: displayPrefix(key),
        rpmLimit: opts.rpmLimit ?? null,
        imagesPerMinute: opts.imagesPerMinute ?? null,
        spendLimitMicros: opts.spendLimitMicros ?? null,
        allowedModels: opts.allowedModels ?? [],
      },
    });
    return { record, key };
  }

  async list(tenantId: string): Promise<ApiKey[]> {
    await this.prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } }).catch(() => {
      throw ApiError.notFound(`No tenant with id ${tenantId}.`, 'tenant_not_found');
    });
    return this.prisma.apiKey.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' } });
  }

  async revoke(keyId: string): Promise<void> {
    const updated = await this.prisma.apiKey.updateMany({ where: { id: keyId, revokedAt: null }, data: { revokedAt: new Date() } });
    if (updated.count === 0) {
      const exists = await this.prisma.apiKey.findUnique({ where: { id: keyId }, select: { id: true } });
      if (!exists) throw ApiError.notFound(`No API key with id ${keyId}.`, 'key_not_found');
    }
    this.resolver.forgetKeyId(keyId);
  }
}

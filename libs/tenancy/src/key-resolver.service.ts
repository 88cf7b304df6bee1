import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/common';
import { PrismaService } from '@app/database';
import type { AuthContext } from './auth-context';
import { hashApiKey } from './api-key';

interface CacheEntry {
  auth: AuthContext | null;
  expiresAt: number;
}

const MAX_CACHE_ENTRIES = 50_000;
const LAST_USED_EVERY_MS = 60_000;
/** how long a key found valid stays "known" to this replica, for clients behind a throttled address */
export const KNOWN_VALID_KEY_MS = 24 * 60 * 60_000;

/**
 * Key → tenant, with a short in-process cache so the hot path rarely touches the database. The cache
 * lives at most KEY_CACHE_TTL_MS (≤ 5 s), which bounds how long a key revoked on another replica keeps
 * working; a revocation on this replica is dropped from the cache at once.
 */
@Injectable()
export class KeyResolver {
  private readonly logger = new Logger(KeyResolver.name);
  private readonly cache = new Map<string, CacheEntry>();
  private readonly lastUsedWritten = new Map<string, number>();
  /** hash → when the key was last found valid in the database; ordered oldest first */
  private readonly knownValid = new Map<string, number>();
  /** lookups in flight, by key hash */
  private readonly lookups = new Map<string, Promise<AuthContext | null>>();
  /** bumped by every local revocation, so a lookup that started before one does not cache its answer */
  private generation = 0;

  constructor(
    private readonly prisma: PrismaService,
    private readonly config: AppConfig,
  ) {}

  /** null for an unknown or revoked key; throws when the database cannot answer */
  async resolve(key: string): Promise<AuthContext | null> {
    const hash = hashApiKey(key);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.expiresAt > now) {
      // Refresh ahead: a key in use is re-read in the background during the last quarter of its cache life,
      // so its requests do not wait for the lookup when the entry expires. An entry is still never used
      // past its expiry, which keeps the bound on a revocation made on another replica.
      if (hit.expiresAt - now < this.config.KEY_CACHE_TTL_MS / 4 && !this.lookups.has(hash)) {
        this.lookup(hash, now).catch(() => undefined);
      }
      return hit.auth;
    }
    return this.lookup(hash, now);
  }

  /** One database lookup per key at a time: requests that miss together share it. */
  private lookup(hash: string, now: number): Promise<AuthContext | null> {
    let pending = this.lookups.get(hash);
    if (!pending) {
      pending = this.load(hash, now).finally(() => this.lookups.delete(hash));
      this.lookups.set(hash, pending);
    }
    return pending;
  }

  private async load(hash: string, now: number): Promise<AuthContext | null> {
    const generation = this.generation;
    const row = await this.prisma.apiKey.findUnique({ where: { hash } });
    const auth: AuthContext | null =
      row && !row.revokedAt
        ? {
            tenantId: row.tenantId,
            keyId: row.id,
            rpmLimit: row.rpmLimit,
            imagesPerMinute: row.imagesPerMinute,
            spendLimitMicros: row.spendLimitMicros,
            allowedModels: row.allowedModels,
          }
        : null;
    // A revocation on this replica while the row was being read: the answer may predate it, so it is not cached.
    if (generation !== this.generation) return auth;
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
    this.cache.set(hash, { auth, expiresAt: now + this.config.KEY_CACHE_TTL_MS });
    if (auth) {
      this.touch(auth.keyId, now);
      this.rememberValid(hash, now);
    }
    return auth;
  }

  /**
   * Whether this replica found the key valid within KNOWN_VALID_KEY_MS. An address throttled for failed
   * attempts still gets a lookup for such a key (which still honours revocation), so a busy client behind a
   * shared address keeps working while guesses from that address never reach the database. Answered from
   * memory only.
   */
  wasRecentlyValid(key: string): boolean {
    const seen = this.knownValid.get(hashApiKey(key));
    return seen !== undefined && Date.now() - seen < KNOWN_VALID_KEY_MS;
  }

  /** forget a key at once (after revocation on this replica) */
  forgetKeyId(keyId: string): void {
    this.generation++;
    for (const [hash, entry] of this.cache) {
      if (entry.auth?.keyId !== keyId) continue;
      this.cache.delete(hash);
      this.knownValid.delete(hash);
    }
  }

  private rememberValid(hash: string, now: number): void {
    this.knownValid.delete(hash);
    if (this.knownValid.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.knownValid.keys().next();
      if (!oldest.done) this.knownValid.delete(oldest.value);
    }
    this.knownValid.set(hash, now);
  }

  /** last_used_at is advisory: written at most once a minute per key, off the request path */
  private touch(keyId: string, now: number): void {
    const last = this.lastUsedWritten.get(keyId) ?? 0;
    if (now - last < LAST_USED_EVERY_MS) return;
    this.lastUsedWritten.set(keyId, now);
    this.prisma.apiKey
      .update({ where: { id: keyId }, data: { lastUsedAt: new Date(now) } })
      .catch((e: unknown) => this.logger.warn(`could not record last use of key ${keyId}: ${e instanceof Error ? e.message : String(e)}`));
  }
}

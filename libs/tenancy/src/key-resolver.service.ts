import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/common';
import { PrismaService } from '@app/database';
import type { AuthContext } from './auth-context';
import { hashApiKey } from './api-key';

interface CacheEntry {
  auth: AuthContext | null;
  expiresAt: number;
  /** false when the entry ends at the key's own expires_at: re-reading the key would not extend it */
  refreshAhead: boolean;
}

const MAX_CACHE_ENTRIES = 50_000;
const LAST_USED_EVERY_MS = 60_000;
/** how long a key found valid stays "known" to this replica, for clients behind a throttled address */
export const KNOWN_VALID_KEY_MS = 24 * 60 * 60_000;

/**
 * Key → tenant, with a short in-process cache so the hot path rarely touches the database. The cache
 * lives at most KEY_CACHE_TTL_MS (≤ 5 s), which bounds how long a key revoked on another replica keeps
 * working; a revocation on this replica is dropped from the cache at once. A key with an `expires_at` is
 * never cached past it: from that moment it resolves like an unknown or revoked key, on every replica.
 */
@Injectable()
export class KeyResolver {
  private readonly logger = new Logger(KeyResolver.name);
  private readonly cache = new Map<string, CacheEntry>();
  private readonly lastUsedWritten = new Map<string, number>();
  /**
   * hash → until when the key counts as recently valid (found valid + KNOWN_VALID_KEY_MS, never past its
   * expires_at); ordered by when it was last found valid, oldest first
   */
  private readonly knownValid = new Map<string, number>();
  /** lookups in flight, by key hash */
  private readonly lookups = new Map<string, Promise<AuthContext | null>>();
  /** bumped by every local revocation, so a lookup that started before one does not cache its answer */
  private generation = 0;

  constructor(
    private readonly prisma: PrismaService,
    private readonly config: AppConfig,
  ) {}

  /** null for an unknown, revoked or expired key; throws when the database cannot answer */
  async resolve(key: string): Promise<AuthContext | null> {
    const hash = hashApiKey(key);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.expiresAt > now) {
      // Refresh ahead: a key in use is re-read in the background during the last quarter of its cache life,
      // so its requests do not wait for the lookup when the entry expires. An entry is still never used
      // past its expiry, which keeps the bound on a revocation made on another replica.
      if (hit.refreshAhead && hit.expiresAt - now < this.config.KEY_CACHE_TTL_MS / 4 && !this.lookups.has(hash)) {
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
      const started: Promise<AuthContext | null> = this.load(hash, now).finally(() => {
        // a revocation may have dropped this lookup and a newer one taken its place
        if (this.lookups.get(hash) === started) this.lookups.delete(hash);
      });
      pending = started;
      this.lookups.set(hash, pending);
    }
    return pending;
  }

  private async load(hash: string, now: number): Promise<AuthContext | null> {
    const generation = this.generation;
    const row = await this.prisma.apiKey.findUnique({ where: { hash } });
    const keyExpiresAt = row?.expiresAt?.getTime();
    const expired = keyExpiresAt !== undefined && keyExpiresAt <= Date.now();
    const auth: AuthContext | null =
      row && !row.revokedAt && !expired
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
    const ttlEnd = now + this.config.KEY_CACHE_TTL_MS;
    const endsWithKey = auth !== null && keyExpiresAt !== undefined && keyExpiresAt < ttlEnd;
    this.cache.set(hash, { auth, expiresAt: endsWithKey ? keyExpiresAt : ttlEnd, refreshAhead: !endsWithKey });
    if (auth) {
      this.touch(auth.keyId, now);
      this.rememberValid(hash, Math.min(now + KNOWN_VALID_KEY_MS, keyExpiresAt ?? Infinity));
    } else {
      // No longer a key this replica vouches for (revoked or expired elsewhere): a throttled address waits.
      this.knownValid.delete(hash);
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
    const until = this.knownValid.get(hashApiKey(key));
    return until !== undefined && Date.now() < until;
  }

  /** forget a key at once (after revocation on this replica) */
  forgetKeyId(keyId: string): void {
    this.generation++;
    // Lookups in flight may have read the key before it was revoked: a request arriving from now on starts its own
    // instead of sharing their answer (which the generation check already keeps out of the cache).
    this.lookups.clear();
    for (const [hash, entry] of this.cache) {
      if (entry.auth?.keyId !== keyId) continue;
      this.cache.delete(hash);
      this.knownValid.delete(hash);
    }
  }

  private rememberValid(hash: string, until: number): void {
    this.knownValid.delete(hash);
    if (this.knownValid.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.knownValid.keys().next();
      if (!oldest.done) this.knownValid.delete(oldest.value);
    }
    this.knownValid.set(hash, until);
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

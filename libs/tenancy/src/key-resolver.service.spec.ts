import { loadConfig } from '@app/common';
import type { PrismaService } from '@app/database';
import { hashApiKey } from './api-key';
import { KeyResolver } from './key-resolver.service';

const KEY = ['sk', 'sy', 'resolver', 'spec', 'key', '0123456789'].join('-');
const row = (revokedAt: Date | null = null, expiresAt: Date | null = null) => ({
  id: 'k1',
  tenantId: 't1',
  revokedAt,
  expiresAt,
  rpmLimit: null,
  imagesPerMinute: null,
  spendLimitMicros: null,
  allowedModels: [],
});

/** The api_keys table as the resolver reads it: counts lookups, and can hold one until released. */
class Keys {
  lookups = 0;
  revoked: Date | null = null;
  expires: Date | null = null;
  private held: (() => void)[] = [];
  hold = false;
  asPrisma(): PrismaService {
    return {
      apiKey: {
        findUnique: async ({ where }: { where: { hash: string } }) => {
          this.lookups++;
          if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
          return where.hash === hashApiKey(KEY) ? row(this.revoked, this.expires) : null;
        },
        update: async () => undefined,
      },
    } as unknown as PrismaService;
  }
  release(): void {
    this.hold = false;
    for (const r of this.held.splice(0)) r();
  }
}

describe('KeyResolver', () => {
  let now: number;
  beforeEach(() => {
    now = 1_800_000_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());
  const make = (keys: Keys) => new KeyResolver(keys.asPrisma(), loadConfig({ KEY_CACHE_TTL_MS: '4000' }));

  it('does not let a request that arrives after a revocation share a lookup that started before it', async () => {
    let releaseFirst: () => void = () => undefined;
    let reads = 0;
    const prisma = {
      apiKey: {
        findUnique: async () => {
          reads++;
          if (reads > 1) return row(new Date(now));
          const before = row(); // read before the revocation, answered after it
          await new Promise<void>((resolve) => (releaseFirst = resolve));
          return before;
        },
        update: async () => undefined,
      },
    } as unknown as PrismaService;
    const resolver = new KeyResolver(prisma, loadConfig({ KEY_CACHE_TTL_MS: '4000' }));
    const inFlight = resolver.resolve(KEY);
    resolver.forgetKeyId('k1');
    const after = resolver.resolve(KEY);
    releaseFirst();
    expect((await inFlight)?.keyId).toBe('k1'); // already on its way when the key was revoked
    expect(await after).toBeNull();
    expect(await resolver.resolve(KEY)).toBeNull();
    expect(reads).toBe(2);
  });

  it('lets requests that miss together share one lookup', async () => {
    const keys = new Keys();
    const resolver = make(keys);
    const answers = await Promise.all(Array.from({ length: 20 }, () => resolver.resolve(KEY)));
    expect(keys.lookups).toBe(1);
    expect(answers.every((a) => a?.tenantId === 't1')).toBe(true);
  });

  it('re-reads a key in use before its entry expires, so no request waits for the lookup', async () => {
    const keys = new Keys();
    const resolver = make(keys);
    await resolver.resolve(KEY);
    now += 2_000;
    await resolver.resolve(KEY);
    expect(keys.lookups).toBe(1); // fresh: from memory
    now += 1_500; // the last quarter of the entry's life
    await resolver.resolve(KEY);
    await Promise.resolve();
    expect(keys.lookups).toBe(2); // refreshed in the background
    now += 1_000; // past the first entry's expiry, within the refreshed one's
    await resolver.resolve(KEY);
    expect(keys.lookups).toBe(2);
  });

  it('never uses an entry past its expiry: a key revoked elsewhere stops within the cache life', async () => {
    const keys = new Keys();
    const resolver = make(keys);
    await expect(resolver.resolve(KEY)).resolves.not.toBeNull();
    keys.revoked = new Date();
    now += 4_001;
    await expect(resolver.resolve(KEY)).resolves.toBeNull();
  });

  it('does not cache a lookup that a local revocation overtook', async () => {
    const keys = new Keys();
    const resolver = make(keys);
    keys.hold = true;
    const pending = resolver.resolve(KEY);
    await Promise.resolve();
    keys.revoked = new Date();
    resolver.forgetKeyId('k1');
    keys.release();
    await pending; // began before the revocation: may still answer with the key
    await expect(resolver.resolve(KEY)).resolves.toBeNull();
    expect(keys.lookups).toBe(2);
  });

  describe('a key with expires_at', () => {
    it('resolves like an unknown key once expires_at has come', async () => {
      const keys = new Keys();
      keys.expires = new Date(now);
      await expect(make(keys).resolve(KEY)).resolves.toBeNull();
      keys.expires = new Date(now - 60_000);
      await expect(make(keys).resolve(KEY)).resolves.toBeNull();
      keys.expires = new Date(now + 1);
      await expect(make(keys).resolve(KEY)).resolves.not.toBeNull();
    });

    it('never serves a cached entry past expires_at, however long the cache would keep it', async () => {
      const keys = new Keys();
      keys.expires = new Date(now + 1_000); // well inside the 4 s cache life
      const resolver = make(keys);
      await expect(resolver.resolve(KEY)).resolves.toMatchObject({ keyId: 'k1' });
      now += 999;
      await expect(resolver.resolve(KEY)).resolves.toMatchObject({ keyId: 'k1' });
      expect(keys.lookups).toBe(1); // from the cache until then…
      now += 1;
      await expect(resolver.resolve(KEY)).resolves.toBeNull(); // …and not one millisecond past it
      expect(keys.lookups).toBe(2);
      now += 1_000;
      await expect(resolver.resolve(KEY)).resolves.toBeNull(); // the refusal is cached like an unknown key's
      expect(keys.lookups).toBe(2);
    });

    it('does not re-read a key ahead of an entry that ends at its expiry (it could not extend it)', async () => {
      const keys = new Keys();
      keys.expires = new Date(now + 4_500);
      const resolver = make(keys);
      await resolver.resolve(KEY);
      now += 3_500; // the last quarter of the cache life: refreshed once, the new entry ending at expires_at
      await resolver.resolve(KEY);
      await Promise.resolve();
      expect(keys.lookups).toBe(2);
      for (let i = 0; i < 10; i++) {
        now += 90;
        await expect(resolver.resolve(KEY)).resolves.not.toBeNull();
        await Promise.resolve();
      }
      expect(keys.lookups).toBe(2);
      now += 100; // 4 500 ms after the first lookup
      await expect(resolver.resolve(KEY)).resolves.toBeNull();
    });

    it('stops counting an expired key as recently valid, so a throttled address gets no lookup for it', async () => {
      const keys = new Keys();
      keys.expires = new Date(now + 60_000);
      const resolver = make(keys);
      await resolver.resolve(KEY);
      expect(resolver.wasRecentlyValid(KEY)).toBe(true);
      now += 59_999;
      expect(resolver.wasRecentlyValid(KEY)).toBe(true);
      now += 1;
      expect(resolver.wasRecentlyValid(KEY)).toBe(false);
    });
  });

  it('forgets that a key was valid once a lookup finds it revoked elsewhere', async () => {
    const keys = new Keys();
    const resolver = make(keys);
    await resolver.resolve(KEY);
    expect(resolver.wasRecentlyValid(KEY)).toBe(true);
    keys.revoked = new Date();
    now += 4_001;
    await expect(resolver.resolve(KEY)).resolves.toBeNull();
    expect(resolver.wasRecentlyValid(KEY)).toBe(false);
  });
});

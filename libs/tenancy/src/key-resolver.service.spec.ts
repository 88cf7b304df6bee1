import { loadConfig } from '@app/common';
import type { PrismaService } from '@app/database';
import { hashApiKey } from './api-key';
import { KeyResolver } from './key-resolver.service';

const KEY = ['sk', 'sy', 'resolver', 'spec', 'key', '0123456789'].join('-');
const row = (revokedAt: Date | null = null) => ({
  id: 'k1',
  tenantId: 't1',
  revokedAt,
  rpmLimit: null,
  imagesPerMinute: null,
  spendLimitMicros: null,
  allowedModels: [],
});

/** The api_keys table as the resolver reads it: counts lookups, and can hold one until released. */
class Keys {
  lookups = 0;
  revoked: Date | null = null;
  private held: (() => void)[] = [];
  hold = false;
  asPrisma(): PrismaService {
    return {
      apiKey: {
        findUnique: async ({ where }: { where: { hash: string } }) => {
          this.lookups++;
          if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
          return where.hash === hashApiKey(KEY) ? row(this.revoked) : null;
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
});

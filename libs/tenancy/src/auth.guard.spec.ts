import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiError, loadConfig } from '@app/common';
import type { PrismaService } from '@app/database';
import { AUTH_KIND, type AuthContext, type AuthKind } from './auth-context';
import { AuthFailureThrottle } from './auth-failure-throttle';
import { AuthGuard } from './auth.guard';
import { hashApiKey } from './api-key';
import { KeyResolver } from './key-resolver.service';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const VALID = `sk-sy-valid${'0'.repeat(35)}`;

interface FakeRequest {
  ip: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  auth?: AuthContext;
}

function context(kind: AuthKind, req: FakeRequest): ExecutionContext {
  const handler = () => undefined;
  Reflect.defineMetadata(AUTH_KIND, kind, handler);
  return {
    getHandler: () => handler,
    getClass: () => class {},
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
}

function setup() {
  const findUnique = jest.fn(({ where }: { where: { hash: string } }) =>
    Promise.resolve(where.hash === hashApiKey(VALID) ? { id: 'k', tenantId: 't', revokedAt: null, rpmLimit: null, imagesPerMinute: null, spendLimitMicros: null, allowedModels: [] } : null),
  );
  const prisma = { apiKey: { findUnique, update: jest.fn(() => Promise.resolve()) } } as unknown as PrismaService;
  const config = loadConfig({ ADMIN_TOKEN, KEY_CACHE_TTL_MS: '0' });
  const resolver = new KeyResolver(prisma, config);
  const throttle = new AuthFailureThrottle({ maxFailures: 5 });
  const guard = new AuthGuard(new Reflector(), resolver, config, throttle);
  const call = (kind: AuthKind, ip: string, key?: string) =>
    guard.canActivate(context(kind, { ip, headers: key ? { authorization: `Bearer ${key}` } : {}, query: {} }));
  const status = (p: Promise<boolean>) => p.then(() => 200, (e: unknown) => (e instanceof ApiError ? e.status : 500));
  return { findUnique, call, status, throttle };
}

describe('AuthGuard and the invalid-credential throttle', () => {
  it('refuses an address after its failures with 429, without looking the key up', async () => {
    const { findUnique, call, status } = setup();
    for (let i = 0; i < 5; i++) expect(await status(call('tenant', '198.51.100.1', `sk-sy-guess${i}`))).toBe(401);
    expect(findUnique).toHaveBeenCalledTimes(5);
    const refused = await call('tenant', '198.51.100.1', 'sk-sy-guess-next').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(429);
    expect(Number((refused as ApiError).headers['Retry-After'])).toBeGreaterThanOrEqual(59);
    expect(findUnique).toHaveBeenCalledTimes(5);
    // Another address is not affected.
    expect(await status(call('tenant', '198.51.100.2', 'sk-sy-other'))).toBe(401);
  });

  it('keeps serving a key this replica found valid, and refuses one it has not seen, from a blocked address', async () => {
    const { call, status } = setup();
    expect(await status(call('tenant', '198.51.100.9', VALID))).toBe(200);
    for (let i = 0; i < 5; i++) await status(call('tenant', '198.51.100.1', `sk-sy-guess${i}`));
    expect(await status(call('tenant', '198.51.100.1', VALID))).toBe(200);
    expect(await status(call('tenant', '198.51.100.1', 'sk-sy-never-seen'))).toBe(429);
  });

  it('counts wrong admin tokens and then refuses even the right one from that address', async () => {
    const { call, status } = setup();
    expect(await status(call('admin', '198.51.100.3', ADMIN_TOKEN))).toBe(200);
    for (let i = 0; i < 5; i++) expect(await status(call('admin', '198.51.100.3', `wrong-${i}`))).toBe(403);
    expect(await status(call('admin', '198.51.100.3', ADMIN_TOKEN))).toBe(429);
    expect(await status(call('admin', '198.51.100.4', ADMIN_TOKEN))).toBe(200);
  });

  it('compares admin tokens of any length without failing (digests of equal length)', async () => {
    const { call, status } = setup();
    for (const token of ['x', ADMIN_TOKEN.slice(0, -1), `${ADMIN_TOKEN}x`, 'é'.repeat(300)]) {
      expect(await status(call('admin', '198.51.100.5', token))).toBe(403);
    }
  });

  it('does not count a missing key', async () => {
    const { call, status, throttle } = setup();
    for (let i = 0; i < 10; i++) expect(await status(call('tenant', '198.51.100.6'))).toBe(401);
    expect(throttle.blockedForMs('198.51.100.6')).toBe(0);
  });

  it('looks keys up by their SHA-256 only, never by the key itself', async () => {
    const { findUnique, call } = setup();
    await call('tenant', '198.51.100.7', VALID);
    expect(JSON.stringify(findUnique.mock.calls)).not.toContain(VALID);
    expect(findUnique).toHaveBeenCalledWith({ where: { hash: hashApiKey(VALID) } });
  });
});

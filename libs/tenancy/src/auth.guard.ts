import { timingSafeEqual, createHash } from 'node:crypto';
import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { addLogContext, ApiError, AppConfig } from '@app/common';
import { AUTH_KIND, type AuthKind } from './auth-context';
import { AuthFailureThrottle, clientAddress, tooManyAuthFailures } from './auth-failure-throttle';
import { KeyResolver } from './key-resolver.service';

/** The value of `Authorization: Bearer <value>`, if sent. */
function bearer(req: Request): string | undefined {
  const authz = req.headers.authorization;
  if (!authz) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(authz.trim());
  return m ? m[1].trim() : undefined;
}

/**
 * The key from `Authorization: Bearer`, `x-goog-api-key` or `?key=` (Google clients use the last two). Two
 * different keys in one request are refused (400) rather than one of them silently chosen: which tenant pays
 * must never depend on a precedence the client did not know about.
 */
export function extractKey(req: Request): string | undefined {
  const goog = req.headers['x-goog-api-key'];
  const q = req.query?.key;
  const sent = [bearer(req), typeof goog === 'string' ? goog.trim() : undefined, typeof q === 'string' ? q.trim() : undefined].filter(
    (k): k is string => k !== undefined && k !== '',
  );
  if (new Set(sent).size > 1) {
    throw ApiError.badRequest(
      'Two different API keys were sent (in "Authorization", "x-goog-api-key" or "?key="); send one.',
      null,
      'conflicting_api_keys',
    );
  }
  return sent[0];
}

function sameSecret(a: string, b: string): boolean {
  // Compare digests so the comparison is constant-time whatever the lengths.
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * The one global guard. Routes are tenant routes unless marked @Public() or @AdminOnly(), so a new route
 * is authenticated by default. An unknown key and a revoked key get the same answer; a database outage
 * answers 503, never "invalid key".
 *
 * Failed credentials are counted per client address (`AuthFailureThrottle`, `req.ip`, so behind a proxy
 * `trust proxy` decides which address that is). A blocked address gets 429 with Retry-After without any
 * lookup, except for a key this replica recently found valid: a legitimate client sharing the address
 * (NAT, office, proxy) keeps working, while guesses never reach the database. A wrong admin token from a
 * blocked address is refused the same way, and so is a right one, so the answer does not confirm a guess.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger(AuthGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: KeyResolver,
    private readonly config: AppConfig,
    private readonly throttle: AuthFailureThrottle,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const kind = this.reflector.getAllAndOverride<AuthKind | undefined>(AUTH_KIND, [ctx.getHandler(), ctx.getClass()]) ?? 'tenant';
    if (kind === 'public') return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    const address = clientAddress(req.ip);
    // The admin token only ever travels in the Authorization header: never in a URL (logs, proxies, history).
    if (kind === 'admin') return this.checkAdmin(bearer(req), address);
    const key = extractKey(req);

    if (!key) throw ApiError.missingCredential('Missing API key: send "Authorization: Bearer <key>", "x-goog-api-key: <key>" or "?key=<key>".');
    const blockedMs = this.throttle.blockedForMs(address);
    if (blockedMs > 0 && !this.keys.wasRecentlyValid(key)) throw tooManyAuthFailures(blockedMs);
    let auth;
    try {
      auth = await this.keys.resolve(key);
    } catch (e) {
      this.logger.error(`key lookup failed: ${e instanceof Error ? e.message : String(e)}`);
      throw ApiError.unavailable('The gateway cannot reach its database; try again shortly.');
    }
    if (!auth) {
      this.recordFailure(address);
      throw ApiError.unauthorized('Invalid API key.');
    }
    req.auth = auth;
    addLogContext(req, { tenantId: auth.tenantId, keyId: auth.keyId });
    return true;
  }

  private checkAdmin(token: string | undefined, address: string): boolean {
    if (!this.config.ADMIN_TOKEN) {
      throw ApiError.forbidden('The admin API is disabled: set ADMIN_TOKEN to enable it.', 'admin_api_disabled');
    }
    if (!token) throw ApiError.missingCredential('Missing admin token: send "Authorization: Bearer <ADMIN_TOKEN>".');
    const blockedMs = this.throttle.blockedForMs(address);
    if (blockedMs > 0) throw tooManyAuthFailures(blockedMs);
    if (!sameSecret(token, this.config.ADMIN_TOKEN)) {
      this.recordFailure(address);
      throw ApiError.forbidden('This credential may not use the admin API.');
    }
    return true;
  }

  private recordFailure(address: string): void {
    if (this.throttle.recordFailure(address)) {
      this.logger.warn(
        `${this.throttle.maxFailures} invalid credentials from ${address} within ${this.throttle.windowMs / 1000} s: ` +
          `refusing it for ${this.throttle.blockMs / 1000} s`,
      );
    }
  }
}

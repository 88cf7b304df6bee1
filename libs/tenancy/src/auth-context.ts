import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';

/** Who is calling: resolved from the API key by ApiKeyGuard and attached to the request. */
export interface AuthContext {
  tenantId: string;
  keyId: string;
  rpmLimit: number | null;
  imagesPerMinute: number | null;
  spendLimitMicros: bigint | null;
  allowedModels: string[];
}

declare module 'http' {
  interface IncomingMessage {
    auth?: AuthContext;
  }
}

export type AuthKind = 'tenant' | 'admin' | 'public';
export const AUTH_KIND = 'switchyard:auth-kind';

/** No credentials needed (health, metrics, signed image links). */
export const Public = () => SetMetadata(AUTH_KIND, 'public' satisfies AuthKind);
/** The operator's ADMIN_TOKEN is needed. */
export const AdminOnly = () => SetMetadata(AUTH_KIND, 'admin' satisfies AuthKind);

/** The caller's AuthContext, in a tenant route's handler. */
export const Auth = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = ctx.switchToHttp().getRequest<Request>().auth;
  if (!auth) throw new Error('Auth() used on a route without tenant authentication');
  return auth;
});

import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AdminAuditService } from './admin-audit.service';
import { ApiKeyService } from './api-key.service';
import { AuthFailureThrottle } from './auth-failure-throttle';
import { AuthGuard } from './auth.guard';
import { KeyResolver } from './key-resolver.service';
import { TenantService } from './tenant.service';

@Global()
@Module({
  providers: [KeyResolver, TenantService, ApiKeyService, AdminAuditService],
  exports: [KeyResolver, TenantService, ApiKeyService, AdminAuditService],
})
export class TenancyModule {}

/** Installs AuthGuard for every route of the app that imports it (the gateway). */
@Module({
  providers: [
    { provide: AuthFailureThrottle, useFactory: () => new AuthFailureThrottle() },
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [AuthFailureThrottle],
})
export class AuthGuardModule {}

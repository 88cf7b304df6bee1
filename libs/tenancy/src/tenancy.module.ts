import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from './api-key.service';
import { AuthFailureThrottle } from './auth-failure-throttle';
import { AuthGuard } from './auth.guard';
import { KeyResolver } from './key-resolver.service';
import { TenantService } from './tenant.service';

@Global()
@Module({
  providers: [KeyResolver, TenantService, ApiKeyService],
  exports: [KeyResolver, TenantService, ApiKeyService],
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

export * from './api-key';
export * from './auth-context';
export * from './auth-failure-throttle';
export * from './auth.guard';
export * from './key-resolver.service';
export * from './tenant.service';
export * from './api-key.service';
export * from './tenancy.module';

export * from './model-access';
export * from './routing.module';

export * from './worker.module';
export * from './worker-app.module';

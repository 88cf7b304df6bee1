export * from './queue.constants';
export * from './queue-connection';
export * from './queue.module';
export * from './queue-health';
export * from './image-job.types';
export * from './job-completion.signal';
export * from './health.controller';

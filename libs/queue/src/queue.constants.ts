import type { DefaultJobOptions } from 'bullmq';

/** Every queue Switchyard uses. A worker refuses to start when one of them has no processor. */
export const MAINTENANCE_QUEUE = 'maintenance';
export const ALL_QUEUES = [MAINTENANCE_QUEUE] as const;
export type QueueName = (typeof ALL_QUEUES)[number];

/** Job names on the maintenance queue. */
export const SWEEP_RESERVATIONS_JOB = 'sweep-reservations';
export const SWEEP_INTERVAL_MS = 30_000;

export const MAINTENANCE_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 1,
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
};

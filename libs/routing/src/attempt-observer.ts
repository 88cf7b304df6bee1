import { Injectable } from '@nestjs/common';
import { MetricsService } from '@app/common';
import type { FallbackHooks } from './fallback-executor';
import { ModelCooldowns } from './model-cooldowns';

/**
 * What every fallback run (chat, the image worker) does with its attempts, in one place: models cooling down are
 * passed over, every attempt is told to `ModelCooldowns`, and every failed one counts in
 * `switchyard_upstream_errors_total` by provider and kind.
 */
@Injectable()
export class AttemptObserver {
  constructor(
    private readonly cooldowns: ModelCooldowns,
    private readonly metrics: MetricsService,
  ) {}

  coolingDown(model: string): boolean {
    return this.cooldowns.coolingDown(model);
  }

  /** the caller's own hooks, with the shared ones around them (its `onAttempt` runs after the shared one; a model is passed over if either says so) */
  hooks(own: FallbackHooks = {}): FallbackHooks {
    return {
      ...own,
      passOver: (model) => this.cooldowns.coolingDown(model.id) || own.passOver?.(model) === true,
      onAttempt: (record, error) => {
        this.cooldowns.observe(record);
        if (error) this.metrics.upstreamErrors.inc({ provider: error.provider ?? 'unknown', kind: error.kind });
        own.onAttempt?.(record, error);
      },
    };
  }
}

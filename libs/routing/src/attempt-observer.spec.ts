import { MetricsService } from '@app/common';
import { UpstreamError, type ModelSpec } from '@app/providers';
import { AttemptObserver } from './attempt-observer';
import type { AttemptRecord } from './fallback-executor';
import { ModelCooldowns } from './model-cooldowns';

const MODEL = 'google/imagen-4.0-generate-001';
const failed: AttemptRecord = { model: MODEL, level: 0, attempt: 1, outcome: 'error', errorKind: 'upstream_server', status: 500, durationMs: 3 };

async function upstreamErrors(metrics: MetricsService): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric('switchyard_upstream_errors_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.provider}/${v.labels.kind}`, v.value]));
}

describe('AttemptObserver', () => {
  it('tells the cooldowns every attempt, counts failures by provider and kind, then runs the caller\'s own hook', async () => {
    const metrics = new MetricsService();
    const cooldowns = new ModelCooldowns({ failures: 2, cooldownMs: 30_000 }, () => undefined);
    const seen: string[] = [];
    const hooks = new AttemptObserver(cooldowns, metrics).hooks({
      onAttempt: (record, error) => seen.push(`${record.outcome}${error ? `:${error.kind}` : ''}`),
      onRetry: () => seen.push('retry'),
    });
    const error = new UpstreamError({ kind: 'upstream_server', provider: 'google', status: 500 });
    hooks.onAttempt!(failed, error);
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
    hooks.onAttempt!(failed, error);
    expect(cooldowns.coolingDown(MODEL)).toBe(true);
    expect(hooks.passOver!({ id: MODEL } as ModelSpec)).toBe(true);
    expect(hooks.passOver!({ id: 'openai/gpt-image-2' } as ModelSpec)).toBe(false);
    hooks.onAttempt!({ ...failed, outcome: 'success', errorKind: undefined, status: undefined });
    hooks.onRetry!(failed, 10);

    expect(seen).toEqual(['error:upstream_server', 'error:upstream_server', 'success', 'retry']);

    // a caller's own passOver adds to the cooldowns'
    const own = new AttemptObserver(cooldowns, metrics).hooks({ passOver: (model) => model.id === 'openai/gpt-image-2' });
    expect(own.passOver!({ id: 'openai/gpt-image-2' } as ModelSpec)).toBe(true);
    expect(own.passOver!({ id: 'xai/grok-imagine-image' } as ModelSpec)).toBe(false);
    hooks.onAttempt!(failed, error);
    hooks.onAttempt!(failed, error); // cooling down again (the success above had ended it)
    expect(own.passOver!({ id: MODEL } as ModelSpec)).toBe(true);
    expect(await upstreamErrors(metrics)).toEqual({ 'google/upstream_server': 4 });
  });
});

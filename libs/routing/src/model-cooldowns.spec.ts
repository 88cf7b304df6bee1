import type { UpstreamErrorKind } from '@app/providers';
import type { AttemptRecord } from './fallback-executor';
import { COOLDOWN_FAILURE_WINDOW_MS, ModelCooldowns, type CooldownStarted } from './model-cooldowns';

const MODEL = 'openai/gpt-4o-mini';

function setup(failures = 3, cooldownMs = 30_000) {
  let now = 1_000_000;
  const started: CooldownStarted[] = [];
  const cooldowns = new ModelCooldowns({ failures, cooldownMs }, (s) => started.push(s), () => now);
  const fail = (kind: UpstreamErrorKind = 'upstream_server', model = MODEL) =>
    cooldowns.observe({ model, level: 0, attempt: 1, outcome: 'error', errorKind: kind, durationMs: 1 } satisfies AttemptRecord);
  const succeed = (model = MODEL) => cooldowns.observe({ model, level: 0, attempt: 1, outcome: 'success', durationMs: 1 });
  const advance = (ms: number) => (now += ms);
  return { cooldowns, started, fail, succeed, advance };
}

describe('ModelCooldowns', () => {
  it('cools a model down after the configured consecutive failures, for the configured time', () => {
    const { cooldowns, started, fail, advance } = setup(3, 30_000);
    fail();
    fail('timeout');
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
    fail('connection');
    expect(cooldowns.coolingDown(MODEL)).toBe(true);
    expect(started).toEqual([{ model: MODEL, failures: 3, kind: 'connection', cooldownMs: 30_000 }]);
    expect(cooldowns.coolingDown('anthropic/claude-sonnet-4.6')).toBe(false);
    advance(29_999);
    expect(cooldowns.coolingDown(MODEL)).toBe(true);
    advance(1);
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
  });

  it('starts the count again after a success', () => {
    const { cooldowns, fail, succeed } = setup(3);
    fail();
    fail();
    succeed();
    fail();
    fail();
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
    fail();
    expect(cooldowns.coolingDown(MODEL)).toBe(true);
  });

  it('does not count what the tenant caused: refused requests, content policy, no image, cancellations', () => {
    const { cooldowns, started, fail } = setup(1);
    for (const kind of ['invalid_request', 'content_policy', 'no_image', 'cancelled'] as const) fail(kind);
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
    expect(started).toEqual([]);
    for (const kind of ['upstream_server', 'timeout', 'connection', 'malformed_response', 'rate_limit', 'auth'] as const) {
      const { cooldowns: c, fail: f } = setup(1);
      f(kind);
      expect({ kind, cooling: c.coolingDown(MODEL) }).toEqual({ kind, cooling: true });
    }
  });

  it('does not add up failures further apart than the window', () => {
    const { cooldowns, fail, advance } = setup(2);
    fail();
    advance(COOLDOWN_FAILURE_WINDOW_MS + 1);
    fail();
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
    advance(COOLDOWN_FAILURE_WINDOW_MS);
    fail();
    expect(cooldowns.coolingDown(MODEL)).toBe(true);
  });

  it('cools down again at the first failure after a cooldown (the probe), and clears at its first success', () => {
    const { cooldowns, started, fail, succeed, advance } = setup(3, 1_000);
    fail();
    fail();
    fail();
    advance(1_000);
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
    // The probe fails, even long after the last failure: a new cooldown at once.
    advance(COOLDOWN_FAILURE_WINDOW_MS * 2);
    fail();
    expect(cooldowns.coolingDown(MODEL)).toBe(true);
    expect(started).toHaveLength(2);
    advance(1_000);
    succeed();
    fail();
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
  });

  it('keeps a cooldown as it is when a model that cools down fails again (its whole chain was cooling down)', () => {
    const { cooldowns, started, fail, advance } = setup(1, 1_000);
    fail();
    advance(900);
    fail();
    expect(started).toHaveLength(1);
    advance(100);
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
  });

  it('never cools anything down when turned off (0 failures)', () => {
    const { cooldowns, fail } = setup(0);
    for (let i = 0; i < 10; i++) fail();
    expect(cooldowns.coolingDown(MODEL)).toBe(false);
  });
});

import type { UpstreamErrorKind } from '@app/providers';
import type { AttemptRecord } from './fallback-executor';

/**
 * Failures that say the model's upstream is unwell (its servers, its network, our account there), as opposed
 * to the tenant's request being refused (`invalid_request`, `content_policy`, `no_image`) or the tenant leaving.
 */
const COUNTED: ReadonlySet<UpstreamErrorKind> = new Set<UpstreamErrorKind>([
  'upstream_server',
  'timeout',
  'connection',
  'malformed_response',
  'rate_limit',
  'auth',
]);

/** Failures further apart than this are not one outage: the count starts again. */
export const COOLDOWN_FAILURE_WINDOW_MS = 60_000;

export interface CooldownPolicy {
  /** consecutive upstream failures of one model that start its cooldown; 0 turns cooldowns off */
  failures: number;
  /** how long a model is passed over once its cooldown starts */
  cooldownMs: number;
}

export interface CooldownStarted {
  model: string;
  /** consecutive failures that led to it */
  failures: number;
  /** the last failure's kind */
  kind: UpstreamErrorKind;
  cooldownMs: number;
}

interface ModelState {
  consecutive: number;
  lastFailureAt: number;
  /** end of the current or last cooldown; 0 = none in this run of failures */
  until: number;
}

/**
 * Which models to pass over for now because their upstream keeps failing, so that a provider outage costs
 * the tenants of a fallback chain one timeout or 5xx per cooldown instead of one per request.
 *
 * A model cools down after `failures` consecutive failures (attempts, retries included, each at most
 * `COOLDOWN_FAILURE_WINDOW_MS` after the previous one), for `cooldownMs`. The first attempt after that is the
 * probe: a failure cools the model down again at once, a success clears it. The executor only passes a model
 * over while a later model of the same chain is not cooling down (`runWithFallback`'s `passOver`): a chain
 * whose every model cools down is still tried in order, since a doubtful attempt beats a certain error.
 *
 * The state is this process's own (each replica learns from the failures it sees): nothing to coordinate, and a
 * replica that has seen no failure tries the model as usual.
 */
export class ModelCooldowns {
  private readonly state = new Map<string, ModelState>();

  constructor(
    readonly policy: Readonly<CooldownPolicy>,
    private readonly onCooldown: (started: CooldownStarted) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** whether `model` (a public model id) is passed over now */
  coolingDown(model: string): boolean {
    const s = this.state.get(model);
    return s !== undefined && s.until > this.now();
  }

  /** learns from one attempt of the fallback executor (`onAttempt`) */
  observe(record: AttemptRecord): void {
    if (record.outcome === 'success') this.state.delete(record.model);
    else if (record.errorKind !== undefined) this.failed(record.model, record.errorKind);
  }

  private failed(model: string, kind: UpstreamErrorKind): void {
    if (this.policy.failures <= 0 || !COUNTED.has(kind)) return;
    const now = this.now();
    let s = this.state.get(model);
    if (!s || (s.until === 0 && now - s.lastFailureAt > COOLDOWN_FAILURE_WINDOW_MS)) {
      s = { consecutive: 0, lastFailureAt: now, until: 0 };
      this.state.set(model, s);
    }
    s.consecutive++;
    s.lastFailureAt = now;
    if (s.until > now) return; // an attempt made while cooling down (its whole chain was): the cooldown stands
    // A failed probe (a cooldown already ended in this run of failures) starts the next one at once.
    if (s.until > 0 || s.consecutive >= this.policy.failures) {
      s.until = now + this.policy.cooldownMs;
      this.onCooldown({ model, failures: s.consecutive, kind, cooldownMs: this.policy.cooldownMs });
    }
  }
}

/**
 * Scripted rules and the call log. Rules are kept in the order they were scripted; the first one that
 * matches a request is used and loses one of its `times`.
 */
import type { SimCall, SimCallFilter, SimRule } from './sim-types';

const PROVIDER_ALIASES: Record<string, string> = { gemini: 'google', imagen: 'google', grok: 'xai', dashscope: 'qwen', kimi: 'moonshot' };

export function normalizeProvider(name: string): string {
  const lower = name.toLowerCase();
  return PROVIDER_ALIASES[lower] ?? lower;
}

interface ActiveRule {
  rule: SimRule;
  remaining: number;
}

export class RuleBook {
  private rules: ActiveRule[] = [];
  private log: SimCall[] = [];

  /** `maxCalls` bounds memory when the simulator serves a long benchmark; the oldest calls go first. */
  constructor(private readonly maxCalls = Infinity) {}

  script(rule: SimRule): void {
    const times = rule.times ?? 1;
    const remaining = times < 0 || !Number.isFinite(times) ? Infinity : Math.floor(times);
    if (remaining <= 0) return;
    this.rules.push({ rule: { ...rule, provider: rule.provider ? normalizeProvider(rule.provider) : undefined }, remaining });
  }

  /** Finds and consumes the first rule matching this request. */
  take(provider: string, model: string | null, path: string): SimRule | undefined {
    const index = this.rules.findIndex(
      ({ rule }) =>
        (rule.provider === undefined || rule.provider === provider) &&
        (rule.model === undefined || rule.model === model) &&
        (rule.path === undefined || path.includes(rule.path)),
    );
    if (index === -1) return undefined;
    const active = this.rules[index];
    if (!active) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) this.rules.splice(index, 1);
    return active.rule;
  }

  record(call: SimCall): void {
    this.log.push(call);
    // Trim in batches so a long run does not shift the array on every request.
    if (this.log.length > this.maxCalls + 1000) this.log.splice(0, this.log.length - this.maxCalls);
  }

  calls(filter: SimCallFilter = {}): SimCall[] {
    const provider = filter.provider ? normalizeProvider(filter.provider) : undefined;
    return this.log
      .filter((c) => (provider === undefined || c.provider === provider) && (filter.model === undefined || c.model === filter.model))
      .map((c) => ({ ...c }));
  }

  reset(): void {
    this.rules = [];
    this.log = [];
  }
}

import { ApiError } from '@app/common';
import { UpstreamError, type ModelSpec, type UpstreamErrorKind } from '@app/providers';
import {
  type AttemptRecord,
  ChainExhaustedError,
  DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS,
  DEFAULT_RETRY_POLICY,
  type FallbackHooks,
  type RetryPolicy,
  abortableSleep,
  backoffDelayMs,
  chainExhaustedToApiError,
  fallbackFailureToApiError,
  isFallbackFailure,
  runWithFallback,
  streamWithFallback,
} from './fallback-executor';
import { makeModel } from './testing/model-spec.factory';

const A = makeModel('openai/a');
const B = makeModel('google/b', { provider: 'google' });
const C = makeModel('xai/c', { provider: 'xai' });

/** Time stands still unless an attempt or a sleep moves it. */
class FakeClock {
  t = 1_000_000;
  readonly slept: number[] = [];
  readonly now = (): number => this.t;
  readonly sleep = async (ms: number): Promise<void> => {
    this.slept.push(ms);
    this.t += ms;
  };
}

function upstream(kind: UpstreamErrorKind, extra: { status?: number; retryAfterMs?: number } = {}): UpstreamError {
  return new UpstreamError({ kind, provider: 'openai', ...extra });
}

type Step = { ok: string; ms?: number } | { fail: unknown; ms?: number };

/** An attempt function that plays a script per model and logs every call. */
function scripted(clock: FakeClock, script: Record<string, Step[]>) {
  const calls: string[] = [];
  const signals: AbortSignal[] = [];
  const attempt = async (model: ModelSpec, level: number, attemptNo: number, signal: AbortSignal): Promise<string> => {
    calls.push(`${model.id}#${attemptNo}@${level}`);
    signals.push(signal);
    const step = script[model.id]?.shift();
    if (step === undefined) throw new Error(`no scripted step left for ${model.id}`);
    clock.t += step.ms ?? 0;
    if ('fail' in step) throw step.fail;
    return step.ok;
  };
  return { attempt, calls, signals };
}

function hooksFor(clock: FakeClock, extra: FallbackHooks = {}): FallbackHooks {
  return { now: clock.now, sleep: clock.sleep, random: () => 0.5, ...extra };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('backoffDelayMs', () => {
  it('doubles the full-jitter ceiling per retry from 250 ms and caps it at 4 s', () => {
    const half = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7].map((r) => backoffDelayMs(r, DEFAULT_RETRY_POLICY, half))).toEqual([125, 250, 500, 1000, 2000, 2000, 2000]);
    const almostOne = () => 0.9999;
    expect(backoffDelayMs(1, DEFAULT_RETRY_POLICY, almostOne)).toBe(249);
    expect(backoffDelayMs(10, DEFAULT_RETRY_POLICY, almostOne)).toBe(3999);
    expect(backoffDelayMs(3, DEFAULT_RETRY_POLICY, () => 0)).toBe(0);
  });
});

describe('runWithFallback', () => {
  it('returns the first success with the model, level and attempt record', async () => {
    const clock = new FakeClock();
    const { attempt } = scripted(clock, { 'openai/a': [{ ok: 'hello', ms: 120 }] });
    const out = await runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock));
    expect(out.result).toBe('hello');
    expect(out.model).toBe(A);
    expect(out.level).toBe(0);
    expect(out.attempts).toEqual([{ model: 'openai/a', level: 0, attempt: 1, outcome: 'success', durationMs: 120 }]);
    expect(clock.slept).toEqual([]);
  });

  it('retries a transient failure on the same model after a jittered backoff', async () => {
    const clock = new FakeClock();
    const { attempt, calls } = scripted(clock, {
      'openai/a': [{ fail: upstream('upstream_server', { status: 503 }), ms: 40 }, { ok: 'second time' }],
    });
    const out = await runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock));
    expect(out.result).toBe('second time');
    expect(calls).toEqual(['openai/a#1@0', 'openai/a#2@0']);
    expect(clock.slept).toEqual([125]);
    expect(out.attempts[0]).toEqual({
      model: 'openai/a',
      level: 0,
      attempt: 1,
      outcome: 'error',
      errorKind: 'upstream_server',
      status: 503,
      retryAfterMs: undefined,
      durationMs: 40,
    });
  });

  it('falls back to the next model once a model has used its attempts, and reports the level', async () => {
    const clock = new FakeClock();
    const fallbacks: string[] = [];
    const { attempt, calls } = scripted(clock, {
      'openai/a': [{ fail: upstream('timeout') }, { fail: upstream('connection') }],
      'google/b': [{ fail: upstream('malformed_response') }, { ok: 'from b' }],
    });
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, attemptsPerModel: 2 };
    const out = await runWithFallback(
      [A, B, C],
      attempt,
      policy,
      hooksFor(clock, { onFallback: (from, to, level) => fallbacks.push(`${from.id}->${to.id}@${level}`) }),
    );
    expect(out.result).toBe('from b');
    expect(out.model).toBe(B);
    expect(out.level).toBe(1);
    expect(calls).toEqual(['openai/a#1@0', 'openai/a#2@0', 'google/b#1@1', 'google/b#2@1']);
    expect(fallbacks).toEqual(['openai/a->google/b@1']);
    // a wait before each retry on the same model, none before moving to the next model
    expect(clock.slept).toEqual([125, 125]);
    expect(out.attempts.map((a) => [a.level, a.attempt, a.outcome, a.errorKind])).toEqual([
      [0, 1, 'error', 'timeout'],
      [0, 2, 'error', 'connection'],
      [1, 1, 'error', 'malformed_response'],
      [1, 2, 'success', undefined],
    ]);
  });

  it('honours a Retry-After up to the max wait, and moves on at once when it is longer', async () => {
    const clock = new FakeClock();
    const { attempt, calls } = scripted(clock, {
      'openai/a': [{ fail: upstream('rate_limit', { status: 429, retryAfterMs: 3_000 }) }, { fail: upstream('rate_limit', { retryAfterMs: 5_001 }) }],
      'google/b': [{ fail: upstream('rate_limit', { status: 429, retryAfterMs: 60_000 }) }],
      'xai/c': [{ ok: 'c' }],
    });
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, attemptsPerModel: 3, maxRetryAfterMs: 5_000 };
    const out = await runWithFallback([A, B, C], attempt, policy, hooksFor(clock));
    expect(calls).toEqual(['openai/a#1@0', 'openai/a#2@0', 'google/b#1@1', 'xai/c#1@2']);
    expect(clock.slept).toEqual([3_000]);
    expect(out.level).toBe(2);
  });

  it('does not retry an auth failure on the same model but falls back', async () => {
    const clock = new FakeClock();
    const { attempt, calls } = scripted(clock, { 'openai/a': [{ fail: upstream('auth', { status: 401 }) }], 'google/b': [{ ok: 'b' }] });
    const out = await runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock));
    expect(calls).toEqual(['openai/a#1@0', 'google/b#1@1']);
    expect(clock.slept).toEqual([]);
    expect(out.model).toBe(B);
  });

  it.each<UpstreamErrorKind>(['invalid_request', 'content_policy', 'cancelled'])(
    'rethrows %s at once without retry or fallback',
    async (kind) => {
      const clock = new FakeClock();
      const error = upstream(kind, { status: 400 });
      const records: AttemptRecord[] = [];
      const { attempt, calls } = scripted(clock, { 'openai/a': [{ fail: error }], 'google/b': [{ ok: 'b' }] });
      const thrown = await rejectionOf(runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock, { onAttempt: (r) => records.push(r) })));
      expect(thrown).toBe(error);
      expect(calls).toEqual(['openai/a#1@0']);
      expect(records.map((r) => r.errorKind)).toEqual([kind]);
    },
  );

  it('rethrows anything that is not an UpstreamError untouched', async () => {
    const clock = new FakeClock();
    const bug = new TypeError('bug');
    const { attempt, calls } = scripted(clock, { 'openai/a': [{ fail: bug }], 'google/b': [{ ok: 'b' }] });
    expect(await rejectionOf(runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock)))).toBe(bug);
    expect(calls).toEqual(['openai/a#1@0']);
  });

  it('throws ChainExhaustedError with every attempt and the last error when all models fail', async () => {
    const clock = new FakeClock();
    const last = upstream('upstream_server', { status: 500 });
    const { attempt } = scripted(clock, {
      'openai/a': [{ fail: upstream('auth', { status: 403 }) }],
      'google/b': [{ fail: upstream('connection') }, { fail: last }],
    });
    const thrown = await rejectionOf(runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock)));
    expect(thrown).toBeInstanceOf(ChainExhaustedError);
    const exhausted = thrown as ChainExhaustedError;
    expect(exhausted.lastError).toBe(last);
    expect(exhausted.budgetExhausted).toBe(false);
    expect(exhausted.attempts.map((a) => `${a.model}#${a.attempt}:${a.errorKind}`)).toEqual([
      'openai/a#1:auth',
      'google/b#1:connection',
      'google/b#2:upstream_server',
    ]);
  });

  describe('time budget', () => {
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, totalBudgetMs: 10_000 };

    it('starts no attempt once the budget is spent', async () => {
      const clock = new FakeClock();
      const { attempt, calls } = scripted(clock, {
        'openai/a': [{ fail: upstream('timeout'), ms: 6_000 }, { fail: upstream('timeout'), ms: 4_500 }],
        'google/b': [{ ok: 'b' }],
      });
      const thrown = await rejectionOf(runWithFallback([A, B], attempt, policy, hooksFor(clock)));
      expect(calls).toEqual(['openai/a#1@0', 'openai/a#2@0']);
      expect(thrown).toBeInstanceOf(ChainExhaustedError);
      expect((thrown as ChainExhaustedError).budgetExhausted).toBe(true);
    });

    it('skips a retry wait that would end past the budget and falls back instead', async () => {
      const clock = new FakeClock();
      const { attempt, calls } = scripted(clock, {
        'openai/a': [{ fail: upstream('rate_limit', { retryAfterMs: 4_000 }), ms: 7_000 }],
        'google/b': [{ ok: 'b' }],
      });
      const out = await runWithFallback([A, B], attempt, policy, hooksFor(clock));
      expect(calls).toEqual(['openai/a#1@0', 'google/b#1@1']);
      expect(clock.slept).toEqual([]);
      expect(out.level).toBe(1);
    });
  });

  describe('abort', () => {
    it('makes no attempt when the signal is already aborted', async () => {
      const clock = new FakeClock();
      const controller = new AbortController();
      controller.abort();
      const { attempt, calls } = scripted(clock, { 'openai/a': [{ ok: 'a' }] });
      const thrown = await rejectionOf(runWithFallback([A], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock, { signal: controller.signal })));
      expect(thrown).toBeInstanceOf(UpstreamError);
      expect((thrown as UpstreamError).kind).toBe('cancelled');
      expect(calls).toEqual([]);
    });

    it('hands the signal to the attempt and turns a failure after abort into cancelled, without fallback', async () => {
      const clock = new FakeClock();
      const controller = new AbortController();
      const calls: string[] = [];
      const attempt = async (model: ModelSpec, _level: number, _n: number, signal: AbortSignal): Promise<string> => {
        calls.push(model.id);
        expect(signal).toBe(controller.signal);
        controller.abort();
        throw upstream('connection');
      };
      const thrown = await rejectionOf(runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock, { signal: controller.signal })));
      expect((thrown as UpstreamError).kind).toBe('cancelled');
      expect(calls).toEqual(['openai/a']);
    });

    it('reports a transport abort error as cancelled, whatever its type', async () => {
      const clock = new FakeClock();
      const controller = new AbortController();
      const records: AttemptRecord[] = [];
      const attempt = async (): Promise<string> => {
        controller.abort();
        throw new DOMException('This operation was aborted', 'AbortError');
      };
      const thrown = await rejectionOf(
        runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock, { signal: controller.signal, onAttempt: (r) => records.push(r) })),
      );
      expect(thrown).toBeInstanceOf(UpstreamError);
      expect((thrown as UpstreamError).kind).toBe('cancelled');
      expect(records.map((r) => r.errorKind)).toEqual(['cancelled']);
    });

    it('stops after a retry wait during which the signal aborted', async () => {
      const clock = new FakeClock();
      const controller = new AbortController();
      const { attempt, calls } = scripted(clock, { 'openai/a': [{ fail: upstream('upstream_server') }, { ok: 'a' }] });
      const sleep = async (ms: number): Promise<void> => {
        clock.t += ms;
        controller.abort();
      };
      const thrown = await rejectionOf(
        runWithFallback([A], attempt, DEFAULT_RETRY_POLICY, { now: clock.now, sleep, random: () => 0.5, signal: controller.signal }),
      );
      expect((thrown as UpstreamError).kind).toBe('cancelled');
      expect(calls).toEqual(['openai/a#1@0']);
    });

    it('the default sleep ends early when the signal aborts', async () => {
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 20);
      await abortableSleep(10_000, controller.signal);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });

  it('refuses an empty chain', async () => {
    await expect(runWithFallback([], async () => 'x')).rejects.toThrow(RangeError);
  });

  describe('models passed over (cooling down)', () => {
    it('skips a model without an attempt while a later model of the chain is available', async () => {
      const clock = new FakeClock();
      const passed: string[] = [];
      const fallbacks: string[] = [];
      const { attempt, calls } = scripted(clock, { 'google/b': [{ ok: 'from b' }] });
      const out = await runWithFallback(
        [A, B, C],
        attempt,
        DEFAULT_RETRY_POLICY,
        hooksFor(clock, {
          passOver: (m) => m === A,
          onPassOver: (m, level) => passed.push(`${m.id}@${level}`),
          onFallback: (from, to, level) => fallbacks.push(`${from.id}->${to.id}@${level}`),
        }),
      );
      expect(calls).toEqual(['google/b#1@1']);
      expect(out).toMatchObject({ result: 'from b', model: B, level: 1 });
      expect(out.attempts).toHaveLength(1);
      expect(passed).toEqual(['openai/a@0']);
      expect(fallbacks).toEqual(['openai/a->google/b@1']);
    });

    it('tries a skipped model never, but the last available one like any other (retries, then the chain ends)', async () => {
      const clock = new FakeClock();
      const { attempt, calls } = scripted(clock, { 'xai/c': [{ fail: upstream('upstream_server') }, { fail: upstream('upstream_server') }] });
      const error = await rejectionOf(runWithFallback([A, B, C], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock, { passOver: (m) => m !== C })));
      expect(error).toBeInstanceOf(ChainExhaustedError);
      expect(calls).toEqual(['xai/c#1@2', 'xai/c#2@2']);
    });

    it('tries every model in order when all of them would be passed over', async () => {
      const clock = new FakeClock();
      const passed: string[] = [];
      const { attempt, calls } = scripted(clock, {
        'openai/a': [{ fail: upstream('connection') }, { fail: upstream('connection') }],
        'google/b': [{ ok: 'from b' }],
      });
      const out = await runWithFallback([A, B], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock, { passOver: () => true, onPassOver: (m) => passed.push(m.id) }));
      expect(calls).toEqual(['openai/a#1@0', 'openai/a#2@0', 'google/b#1@1']);
      expect(out.level).toBe(1);
      expect(passed).toEqual([]);
    });

    it('skips an unavailable model in the middle of the chain too, and only while a later one is available', async () => {
      const clock = new FakeClock();
      const { attempt, calls } = scripted(clock, {
        'openai/a': [{ fail: upstream('auth') }],
        'xai/c': [{ ok: 'from c' }],
      });
      const out = await runWithFallback([A, B, C], attempt, DEFAULT_RETRY_POLICY, hooksFor(clock, { passOver: (m) => m === B }));
      expect(calls).toEqual(['openai/a#1@0', 'xai/c#1@2']);
      expect(out.level).toBe(2);
    });
  });
});

describe('what the tenant sees', () => {
  function exhausted(failures: UpstreamError[]): ChainExhaustedError {
    const attempts: AttemptRecord[] = failures.map((e, i) => ({
      model: 'openai/a',
      level: i,
      attempt: 1,
      outcome: 'error',
      errorKind: e.kind,
      status: e.status,
      retryAfterMs: e.retryAfterMs,
      durationMs: 1,
    }));
    return new ChainExhaustedError(attempts, failures[failures.length - 1], false);
  }

  it('maps an exhausted chain to 502 upstream_error', () => {
    const e = chainExhaustedToApiError(exhausted([upstream('rate_limit'), upstream('upstream_server')]));
    expect([e.status, e.code]).toEqual([502, 'upstream_error']);
    expect(e.message).toContain('All upstream models failed');
  });

  it('maps a chain where every provider refused our own account (key or quota) to 503 upstream_unavailable, without their words', () => {
    const e = chainExhaustedToApiError(exhausted([upstream('auth', { status: 401 }), upstream('auth', { status: 429 })]));
    expect([e.status, e.code, e.type]).toEqual([503, 'upstream_unavailable', 'server_error']);
    const single = fallbackFailureToApiError(upstream('auth', { status: 403 }));
    expect([single.status, single.code]).toEqual([503, 'upstream_unavailable']);
    // A provider failing as well is a failing upstream: 502.
    expect(chainExhaustedToApiError(exhausted([upstream('auth'), upstream('upstream_server')])).status).toBe(502);
  });

  it('maps a chain whose last failure was a timeout to 504 upstream_timeout', () => {
    const e = chainExhaustedToApiError(exhausted([upstream('upstream_server'), upstream('timeout')]));
    expect([e.status, e.code]).toEqual([504, 'upstream_timeout']);
  });

  it('maps a chain where every attempt was rate limited to 429 with the soonest Retry-After', () => {
    const e = chainExhaustedToApiError(
      exhausted([upstream('rate_limit', { retryAfterMs: 12_300 }), upstream('rate_limit'), upstream('rate_limit', { retryAfterMs: 7_001 })]),
    );
    expect([e.status, e.code]).toEqual([429, 'rate_limit_exceeded']);
    expect(e.headers['Retry-After']).toBe('8');
    const noHint = chainExhaustedToApiError(exhausted([upstream('rate_limit'), upstream('rate_limit')]));
    expect(noHint.headers['Retry-After']).toBe(String(DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS));
  });

  it('maps the failures that stop a chain at once', () => {
    const cases: [UpstreamErrorKind, number, string][] = [
      ['invalid_request', 400, 'upstream_invalid_request'],
      ['content_policy', 400, 'content_policy_violation'],
      ['cancelled', 499, 'client_closed_request'],
    ];
    for (const [kind, status, code] of cases) {
      const e = fallbackFailureToApiError(upstream(kind));
      expect(e).toBeInstanceOf(ApiError);
      expect([e.status, e.code]).toEqual([status, code]);
    }
    expect(fallbackFailureToApiError(exhausted([upstream('timeout')])).status).toBe(504);
    expect(isFallbackFailure(upstream('auth'))).toBe(true);
    expect(isFallbackFailure(new Error('x'))).toBe(false);
  });
});

describe('streamWithFallback', () => {
  type Item = string;

  /** A stream that yields `items`, then throws `error` if given; records cancel/return. */
  function fakeStream(items: Item[], error?: UpstreamError) {
    const state = { cancelled: false, returned: false, pulled: 0 };
    const stream = {
      state,
      cancel: () => {
        state.cancelled = true;
      },
      [Symbol.asyncIterator](): AsyncIterator<Item> {
        let i = 0;
        return {
          next: async () => {
            state.pulled++;
            if (i < items.length) return { done: false, value: items[i++] };
            if (error) throw error;
            return { done: true, value: undefined };
          },
          return: async () => {
            state.returned = true;
            return { done: true, value: undefined };
          },
        };
      },
    };
    return stream;
  }

  async function collect(items: AsyncIterable<Item>): Promise<Item[]> {
    const out: Item[] = [];
    for await (const item of items) out.push(item);
    return out;
  }

  it('falls back while the stream has produced nothing, cancelling the failed stream', async () => {
    const clock = new FakeClock();
    const failing = fakeStream([], upstream('upstream_server'));
    const good = fakeStream(['a', 'b', 'c']);
    const opened: string[] = [];
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, attemptsPerModel: 1 };
    const out = await streamWithFallback<Item, ReturnType<typeof fakeStream>>(
      [A, B],
      async (model) => {
        opened.push(model.id);
        return model.id === A.id ? failing : good;
      },
      policy,
      hooksFor(clock),
    );
    expect(opened).toEqual(['openai/a', 'google/b']);
    expect(failing.state.cancelled).toBe(true);
    expect(out.level).toBe(1);
    expect(out.result.stream).toBe(good);
    expect(await collect(out.result.items)).toEqual(['a', 'b', 'c']);
  });

  it('falls back when opening the stream fails', async () => {
    const clock = new FakeClock();
    const good = fakeStream(['x']);
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, attemptsPerModel: 1 };
    const out = await streamWithFallback<Item, ReturnType<typeof fakeStream>>(
      [A, B],
      async (model) => {
        if (model.id === A.id) throw upstream('connection');
        return good;
      },
      policy,
      hooksFor(clock),
    );
    expect(out.model).toBe(B);
    expect(await collect(out.result.items)).toEqual(['x']);
  });

  it('does not retry once the first item exists: a later failure reaches the consumer', async () => {
    const clock = new FakeClock();
    const broken = fakeStream(['first'], upstream('connection'));
    let opens = 0;
    const out = await streamWithFallback<Item, ReturnType<typeof fakeStream>>(
      [A, B],
      async () => {
        opens++;
        return broken;
      },
      DEFAULT_RETRY_POLICY,
      hooksFor(clock),
    );
    const seen: Item[] = [];
    const thrown = await rejectionOf(
      (async () => {
        for await (const item of out.result.items) seen.push(item);
      })(),
    );
    expect(seen).toEqual(['first']);
    expect((thrown as UpstreamError).kind).toBe('connection');
    expect(opens).toBe(1);
  });

  describe('with startsAnswer (items before it hold the stream open to a fallback)', () => {
    const content = (item: Item) => item !== 'role';
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, attemptsPerModel: 1 };

    it('falls back on a failure after items that start no answer, and cancels that stream', async () => {
      const clock = new FakeClock();
      const failing = fakeStream(['role'], upstream('upstream_server'));
      const good = fakeStream(['role', 'a', 'b']);
      const out = await streamWithFallback<Item, ReturnType<typeof fakeStream>>(
        [A, B],
        async (model) => (model.id === A.id ? failing : good),
        policy,
        hooksFor(clock),
        content,
      );
      expect(failing.state.cancelled).toBe(true);
      expect(out.level).toBe(1);
      // the held item is replayed before the one that started the answer, then the rest follows
      expect(await collect(out.result.items)).toEqual(['role', 'a', 'b']);
    });

    it('succeeds on a stream that ends before any answer, replaying what it held', async () => {
      const clock = new FakeClock();
      const empty = fakeStream(['role']);
      const out = await streamWithFallback<Item, ReturnType<typeof fakeStream>>([A, B], async () => empty, policy, hooksFor(clock), content);
      expect(out.level).toBe(0);
      expect(await collect(out.result.items)).toEqual(['role']);
    });

    it('without it, the first item of any kind opens the answer: a failure after it reaches the consumer', async () => {
      const clock = new FakeClock();
      const broken = fakeStream(['role'], upstream('upstream_server'));
      const out = await streamWithFallback<Item, ReturnType<typeof fakeStream>>([A, B], async () => broken, policy, hooksFor(clock));
      expect(out.level).toBe(0);
      expect(await rejectionOf(collect(out.result.items))).toBeInstanceOf(UpstreamError);
    });
  });

  it('releases the upstream stream when the consumer stops early', async () => {
    const clock = new FakeClock();
    const stream = fakeStream(['a', 'b', 'c']);
    const out = await streamWithFallback<Item, ReturnType<typeof fakeStream>>([A], async () => stream, DEFAULT_RETRY_POLICY, hooksFor(clock));
    for await (const item of out.result.items) {
      expect(item).toBe('a');
      break;
    }
    expect(stream.state.returned).toBe(true);
    expect(stream.state.pulled).toBe(1);
  });
});

/**
 * The retry and fallback policy shared by chat and the image worker: try each model of the chain in
 * order, retry transient failures of the same model with backoff, move to the next model when one is
 * spent, and stop at once when retrying or falling back cannot help (the tenant's request or content is
 * the problem, or the tenant went away).
 *
 * The executor does no I/O: the caller's `attempt` makes the upstream call and throws an `UpstreamError`
 * on failure; time comes from injectable `now` / `sleep` so tests run on a fake clock.
 *
 * Streams use the same executor through `streamWithFallback`: the attempt opens the upstream stream and
 * reads its first item before it counts as a success. Until that item exists nothing has reached the
 * tenant, so a failure (connect error, upstream 5xx, an error event first) retries or falls back like any
 * other. Once it returns, the caller starts writing to the tenant and owns the stream: a failure after the
 * first byte is not retried (the tenant already holds part of an answer) and is billed for what was
 * produced.
 */
import { ApiError } from '@app/common';
import { UpstreamError, type ModelSpec, type UpstreamErrorKind } from '@app/providers';

export interface RetryPolicy {
  /** attempts on one model, the first included */
  attemptsPerModel: number;
  /** first backoff ceiling; doubles per retry (full jitter: the wait is uniform in [0, ceiling)) */
  baseDelayMs: number;
  /** backoff ceiling cap */
  maxDelayMs: number;
  /** an upstream `Retry-After` up to this long is waited out on the same model; a longer one moves on */
  maxRetryAfterMs: number;
  /**
   * wall time across the whole chain: no retry wait that would end past it and no attempt started after
   * it. A running attempt is bounded by the HTTP client's own timeouts, not by this budget.
   */
  totalBudgetMs: number;
}

/** Chat: the tenant is waiting on an open HTTP request. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attemptsPerModel: 2,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  maxRetryAfterMs: 5_000,
  totalBudgetMs: 60_000,
});

/** The image worker: one generation can take minutes and nobody holds a connection open for it. */
export const IMAGE_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  ...DEFAULT_RETRY_POLICY,
  totalBudgetMs: 600_000,
});

export interface AttemptRecord {
  /** public model id */
  model: string;
  /** index in the chain, 0 = primary */
  level: number;
  /** 1-based attempt number on this model */
  attempt: number;
  outcome: 'success' | 'error';
  errorKind?: UpstreamErrorKind;
  /** the upstream's HTTP status, when it answered with one */
  status?: number;
  retryAfterMs?: number;
  durationMs: number;
}

export interface FallbackResult<T> {
  result: T;
  /** the model that served the request */
  model: ModelSpec;
  /** its index in the chain, 0 = primary */
  level: number;
  /** every attempt, in order, the successful one last */
  attempts: AttemptRecord[];
}

export type AttemptFn<T> = (model: ModelSpec, level: number, attemptNo: number, signal: AbortSignal) => Promise<T>;

export type SleepFn = (ms: number, signal: AbortSignal) => Promise<void>;

export interface FallbackHooks {
  /** aborting it (the tenant went away) stops the chain; the running attempt receives it too */
  signal?: AbortSignal;
  /** defaults to `Date.now` */
  now?: () => number;
  /** defaults to a timer that ends early when `signal` aborts */
  sleep?: SleepFn;
  /** uniform in [0, 1); defaults to `Math.random` */
  random?: () => number;
  /** after every attempt, successful or not */
  onAttempt?: (record: AttemptRecord, error?: UpstreamError) => void;
  /** before waiting to retry the same model */
  onRetry?: (record: AttemptRecord, delayMs: number) => void;
  /** before the first attempt on a fallback model */
  onFallback?: (from: ModelSpec, to: ModelSpec, level: number) => void;
  /**
   * Models to skip for now (`ModelCooldowns`). A model is skipped only while a later model of the chain is not:
   * when every remaining model would be skipped, they are tried in order.
   */
  passOver?: (model: ModelSpec) => boolean;
  /** a model skipped because of `passOver`, without an attempt */
  onPassOver?: (model: ModelSpec, level: number) => void;
}

/** Every model of the chain failed (or the time budget ran out) with errors that allowed moving on. */
export class ChainExhaustedError extends Error {
  constructor(
    readonly attempts: AttemptRecord[],
    readonly lastError: UpstreamError,
    /** true when the chain stopped because the time budget ran out, not because every model was tried */
    readonly budgetExhausted: boolean,
  ) {
    super(`All upstream models failed (${attempts.length} attempts); last: ${lastError.message}`);
    this.name = 'ChainExhaustedError';
  }
}

/** Sleeps `ms`, ending early (without error) when `signal` aborts. */
export const abortableSleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** Full-jitter exponential backoff before retry number `retry` (1 = the first retry). */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

function cancelled(cause: unknown): UpstreamError {
  return new UpstreamError({ kind: 'cancelled', message: 'The request was cancelled by the client', cause });
}

export async function runWithFallback<T>(
  chain: readonly ModelSpec[],
  attempt: AttemptFn<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  hooks: FallbackHooks = {},
): Promise<FallbackResult<T>> {
  if (chain.length === 0) throw new RangeError('runWithFallback needs at least one model');
  const signal = hooks.signal ?? new AbortController().signal;
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? abortableSleep;
  const random = hooks.random ?? Math.random;
  const attempts: AttemptRecord[] = [];
  const start = now();
  let lastError: UpstreamError | undefined;
  let budgetExhausted = false;

  const passOver = hooks.passOver;
  chainLoop: for (const [level, model] of chain.entries()) {
    if (passOver?.(model) && chain.slice(level + 1).some((later) => !passOver(later))) {
      hooks.onPassOver?.(model, level);
      continue;
    }
    for (let attemptNo = 1; ; attemptNo++) {
      if (signal.aborted) throw cancelled(signal.reason);
      if (attempts.length > 0 && now() - start >= policy.totalBudgetMs) {
        budgetExhausted = true;
        break chainLoop;
      }
      if (level > 0 && attemptNo === 1) hooks.onFallback?.(chain[level - 1], model, level);
      const began = now();
      try {
        const result = await attempt(model, level, attemptNo, signal);
        const record: AttemptRecord = { model: model.id, level, attempt: attemptNo, outcome: 'success', durationMs: now() - began };
        attempts.push(record);
        hooks.onAttempt?.(record);
        return { result, model, level, attempts };
      } catch (thrown) {
        // A failure while the tenant is gone is the cancellation, whatever the transport made of it.
        const error = signal.aborted ? cancelled(thrown) : thrown;
        // Anything that is not an upstream failure (a bug, a billing refusal) is not ours to retry.
        if (!(error instanceof UpstreamError)) throw error;
        const record: AttemptRecord = {
          model: model.id,
          level,
          attempt: attemptNo,
          outcome: 'error',
          errorKind: error.kind,
          status: error.status,
          retryAfterMs: error.retryAfterMs,
          durationMs: now() - began,
        };
        attempts.push(record);
        hooks.onAttempt?.(record, error);
        if (!error.fallbackAllowed) throw error;
        lastError = error;

        if (!error.retryable || attemptNo >= policy.attemptsPerModel) continue chainLoop;
        let delay: number;
        if (error.retryAfterMs !== undefined) {
          if (error.retryAfterMs > policy.maxRetryAfterMs) continue chainLoop;
          delay = error.retryAfterMs;
        } else {
          delay = backoffDelayMs(attemptNo, policy, random);
        }
        if (now() - start + delay >= policy.totalBudgetMs) continue chainLoop;
        hooks.onRetry?.(record, delay);
        await sleep(delay, signal);
      }
    }
  }
  // The loop only ends here after at least one failed attempt that allowed moving on.
  throw new ChainExhaustedError(attempts, lastError as UpstreamError, budgetExhausted);
}

// ---------------------------------------------------------------------------------------------------------------
// Streams

/** A stream whose first items have been read; `items` replays them and then yields the rest. */
export interface OpenedStream<S, I> {
  /** the stream as the opener returned it (for `cancel`, `usageSoFar`, ...) */
  stream: S;
  items: AsyncIterable<I>;
}

export type StreamOpenFn<S> = (model: ModelSpec, level: number, attemptNo: number, signal: AbortSignal) => Promise<S>;

async function* replay<I>(read: readonly I[], ended: boolean, iterator: AsyncIterator<I>): AsyncGenerator<I> {
  try {
    yield* read;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // A consumer that stops early (the tenant disconnected) releases the upstream stream.
    await iterator.return?.();
  }
}

/**
 * `runWithFallback` for streamed answers: an attempt succeeds once the upstream stream yields an item that
 * `startsAnswer` accepts (by default its first item), so every failure before the tenant sees a byte retries
 * or falls back. Items before that one (an empty first chunk that only names the role) are held and replayed
 * with it. A stream that fails before it is cancelled (its `cancel()` when it has one) before the next attempt.
 */
export async function streamWithFallback<I, S extends AsyncIterable<I> & { cancel?: () => void }>(
  chain: readonly ModelSpec[],
  open: StreamOpenFn<S>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  hooks: FallbackHooks = {},
  startsAnswer: (item: I) => boolean = () => true,
): Promise<FallbackResult<OpenedStream<S, I>>> {
  return runWithFallback(
    chain,
    async (model, level, attemptNo, signal) => {
      const stream = await open(model, level, attemptNo, signal);
      const iterator = stream[Symbol.asyncIterator]();
      const read: I[] = [];
      let ended = false;
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done) {
            ended = true;
            break;
          }
          read.push(next.value);
          if (startsAnswer(next.value)) break;
        }
      } catch (error) {
        stream.cancel?.();
        try {
          await iterator.return?.();
        } catch {
          // the stream already failed; its cleanup error adds nothing
        }
        throw error;
      }
      return { stream, items: replay(read, ended, iterator) };
    },
    policy,
    hooks,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// What the tenant sees

/** Retry-After when every model rate-limited us without saying for how long. */
export const DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS = 5;

/**
 * The tenant-facing error for an exhausted chain: 429 with Retry-After when every attempt was rate
 * limited (the tenant should slow down, nothing is broken), 503 `upstream_unavailable` when every provider
 * refused the gateway's own account (key or quota), 504 when the last failure was a timeout, otherwise 502.
 */
export function chainExhaustedToApiError(error: ChainExhaustedError): ApiError {
  const failed = error.attempts.filter((a) => a.outcome === 'error');
  if (failed.length > 0 && failed.every((a) => a.errorKind === 'rate_limit')) {
    // The soonest any model said it would take requests again.
    const hints = failed.map((a) => a.retryAfterMs).filter((ms): ms is number => ms !== undefined);
    const seconds = retryAfterSeconds(hints.length > 0 ? Math.min(...hints) : undefined);
    return new ApiError(
      429,
      'rate_limit_error',
      `All upstream models are rate limiting requests; retry after ${seconds} s.`,
      'rate_limit_exceeded',
      null,
      { 'Retry-After': String(seconds) },
    );
  }
  if (failed.length > 0 && failed.every((a) => a.errorKind === 'auth')) return upstreamUnavailable();
  if (error.lastError.kind === 'timeout') {
    return new ApiError(504, 'server_error', `All upstream models failed; the last one timed out (${error.lastError.message}).`, 'upstream_timeout');
  }
  return new ApiError(502, 'server_error', `All upstream models failed; last error: ${error.lastError.message}`, 'upstream_error');
}

/** Whether `error` is one of the failures `runWithFallback` / `streamWithFallback` report. */
export function isFallbackFailure(error: unknown): error is ChainExhaustedError | UpstreamError {
  return error instanceof ChainExhaustedError || error instanceof UpstreamError;
}

function retryAfterSeconds(ms: number | undefined): number {
  return ms === undefined ? DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS : Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The tenant-facing error for what `runWithFallback` / `streamWithFallback` threw: an exhausted chain, or
 * an upstream failure that stopped the chain at once (the tenant's request or content was refused, or
 * the tenant went away).
 */
export function fallbackFailureToApiError(error: ChainExhaustedError | UpstreamError): ApiError {
  if (error instanceof ChainExhaustedError) return chainExhaustedToApiError(error);
  switch (error.kind) {
    case 'invalid_request':
      return ApiError.badRequest(error.message, null, 'upstream_invalid_request');
    case 'content_policy':
      return ApiError.badRequest(error.message, null, 'content_policy_violation');
    case 'cancelled':
      return new ApiError(499, 'invalid_request_error', 'The client closed the request.', 'client_closed_request');
    case 'timeout':
      return new ApiError(504, 'server_error', error.message, 'upstream_timeout');
    case 'rate_limit':
      return new ApiError(429, 'rate_limit_error', error.message, 'rate_limit_exceeded', null, {
        'Retry-After': String(retryAfterSeconds(error.retryAfterMs)),
      });
    case 'auth':
      return upstreamUnavailable();
    default:
      return new ApiError(502, 'server_error', error.message, 'upstream_error');
  }
}

/**
 * Our provider key refused or the provider account exhausted: nothing the tenant did or can change by retrying
 * soon, and not the provider failing either, so 503 rather than 502, without the provider's words.
 */
function upstreamUnavailable(): ApiError {
  return new ApiError(503, 'server_error', 'The upstream provider cannot serve this model right now (the gateway\'s provider account was refused).', 'upstream_unavailable');
}

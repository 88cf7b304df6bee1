/**
 * The one place that talks HTTP to upstream providers: an undici Pool per origin with keep-alive,
 * connect / first-byte / idle timeouts, cancellation through an AbortSignal, and network failures
 * mapped to UpstreamError kinds. `undici.request` over a pool is used rather than `fetch` because it
 * costs about half the CPU per proxied request on our machines.
 */
import { Readable } from 'node:stream';
import { type Dispatcher, FormData, Pool, request } from 'undici';
import type { ProviderId } from '../catalog/model-spec';
import type { UpstreamRequest, UpstreamResponse } from '../adapter';
import { UpstreamError, redactSecrets } from '../errors';
import { liftBase64Strings } from './lifted-base64';

export interface UpstreamTimeouts {
  /** TCP/TLS connect */
  connectMs: number;
  /** from sending the request to the response headers (time to first byte) */
  firstByteMs: number;
  /** longest silence between two body chunks (a stalled stream) */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = { connectMs: 10_000, firstByteMs: 60_000, idleMs: 60_000 };

export interface UpstreamHttpClientOptions {
  timeouts?: Partial<UpstreamTimeouts>;
  /** sockets per origin */
  connections?: number;
  keepAliveTimeoutMs?: number;
  /** largest buffered (non-stream) body; images in base64 are the biggest legitimate answers */
  maxBufferedBytes?: number;
}

export interface CallOptions {
  provider: ProviderId;
  signal?: AbortSignal;
  /** per-call override, e.g. the longer first-byte wait of image generation */
  timeouts?: Partial<UpstreamTimeouts>;
  /** values to mask in any error detail (the API key) */
  secrets?: readonly string[];
  /**
   * Called once the whole request (headers and body) has been written to the connection: from then on the
   * provider may be working on it (and bill it), even if the call is cancelled before an answer arrives.
   */
  onSent?: () => void;
}

export interface SendOptions extends CallOptions {
  /**
   * Fields whose long string values a 2xx JSON answer carries base64 payloads in (images): they are decoded
   * from the raw bytes and lifted out of `bodyText` (see `lifted-base64.ts`).
   */
  liftBase64?: readonly string[];
}

export interface UpstreamStreamResponse {
  status: number;
  headers: Record<string, string>;
  /** the body as it arrives; errors while reading are UpstreamErrors */
  body: AsyncIterable<Uint8Array>;
  /** releases the socket early when the consumer stops reading */
  cancel(): void;
}

/** Answers at least this large (by content-length) are read into a reused buffer. */
const REUSED_BODY_MIN_BYTES = 64 * 1024;

/**
 * Buffers that large answers (generated images) are read into, kept for the next answer: copying a body into
 * memory that is already mapped costs a fraction of faulting in fresh pages for every answer, and spares the
 * garbage collector a large external allocation each time. Sizes are rounded up to a power of two so buffers
 * fit later answers; at most `maxBytes` is kept.
 */
export class BodyBufferPool {
  private readonly free: Buffer[] = [];
  private kept = 0;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  /** A buffer of at least `size` bytes, owned by the caller until it is given back. */
  take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].length >= size && (best < 0 || this.free[i].length < this.free[best].length)) best = i;
    }
    if (best < 0) return Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(size)));
    const [buf] = this.free.splice(best, 1);
    this.kept -= buf.length;
    return buf;
  }

  /** Hands a buffer back; nothing may read it afterwards. */
  give(buf: Buffer): void {
    if (this.kept + buf.length > this.maxBytes) return;
    this.free.push(buf);
    this.kept += buf.length;
  }
}

export class UpstreamHttpClient {
  private readonly pools = new Map<string, Pool>();
  private readonly bodies = new BodyBufferPool();
  private readonly timeouts: UpstreamTimeouts;
  private readonly connections: number;
  private readonly keepAliveTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private closed = false;

  constructor(options: UpstreamHttpClientOptions = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.connections = options.connections ?? 64;
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 30_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 128 * 1024 * 1024;
  }

  /**
   * Sends the request and buffers the whole answer (JSON endpoints and every error answer). What it returns
   * (text, lifted bytes) is copied out of the buffer the body was read into, which is then reused.
   */
  async send(baseUrl: string, req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const res = await this.open(baseUrl, req, opts);
    const announced = Number(res.headers['content-length']);
    const reuse = Number.isSafeInteger(announced) && announced >= REUSED_BODY_MIN_BYTES && announced <= this.maxBufferedBytes;
    const into = reuse ? this.bodies.take(announced) : undefined;
    try {
      const body = await this.readBuffer(res.body, opts, announced, into);
      if (opts.liftBase64 && res.status >= 200 && res.status < 300) {
        const { text, lifted } = liftBase64Strings(body, opts.liftBase64);
        return { status: res.status, headers: res.headers, bodyText: text, ...(lifted.size > 0 ? { lifted } : {}) };
      }
      return { status: res.status, headers: res.headers, bodyText: body.toString('utf8') };
    } finally {
      if (into) this.bodies.give(into);
    }
  }

  /** Sends the request and hands the body on as it arrives (SSE). */
  async stream(baseUrl: string, req: UpstreamRequest, opts: CallOptions): Promise<UpstreamStreamResponse> {
    const res = await this.open(baseUrl, req, opts);
    const body = res.body;
    const wrapped = async function* (this: void): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of body as AsyncIterable<Uint8Array>) yield chunk;
      } catch (err) {
        throw mapNetworkError(err, opts);
      }
    };
    return {
      status: res.status,
      headers: res.headers,
      body: wrapped(),
      cancel: () => {
        if (!body.destroyed) body.destroy();
      },
    };
  }

  /** Reads an already opened body to text (error answers of streaming calls). */
  async readAll(body: AsyncIterable<Uint8Array>, opts: CallOptions): Promise<string> {
    return (await this.readBuffer(body, opts)).toString('utf8');
  }

  /**
   * Reads an already opened body into one buffer. With the length announced (`content-length`), the chunks are
   * copied into a buffer of that size (`into`, when given and large enough) as they arrive, so a large answer
   * exists once rather than as its chunks plus their concatenation.
   */
  async readBuffer(body: AsyncIterable<Uint8Array>, opts: CallOptions, announcedLength = Number.NaN, into?: Buffer): Promise<Buffer> {
    const tooLarge = (): UpstreamError =>
      new UpstreamError({ kind: 'malformed_response', provider: opts.provider, message: 'The upstream response was too large' });
    const known = Number.isSafeInteger(announcedLength) && announcedLength > 0;
    const fits = known && announcedLength <= this.maxBufferedBytes;
    const whole = !fits ? undefined : into && into.length >= announcedLength ? into.subarray(0, announcedLength) : Buffer.allocUnsafe(announcedLength);
    const chunks: Buffer[] = [];
    let size = 0;
    const take = (chunk: Uint8Array): void => {
      if ((known && !whole) || size + chunk.byteLength > this.maxBufferedBytes) throw tooLarge();
      if (whole && size + chunk.byteLength <= whole.length) whole.set(chunk, size);
      else chunks.push(Buffer.from(chunk));
      size += chunk.byteLength;
    };
    try {
      await eachChunk(body, take);
    } catch (err) {
      throw mapNetworkError(err, opts);
    }
    if (!whole) return Buffer.concat(chunks, size);
    // undici holds a body to its content-length, so only a shorter body is possible here; stay exact regardless.
    return chunks.length === 0 ? whole.subarray(0, size) : Buffer.concat([whole.subarray(0, size - sum(chunks)), ...chunks], size);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }

  private async open(baseUrl: string, req: UpstreamRequest, opts: CallOptions) {
    if (opts.signal?.aborted) throw mapNetworkError(opts.signal.reason, opts);
    const url = joinUrl(baseUrl, req.path);
    const pool = this.pool(url.origin);
    const t = { ...this.timeouts, ...opts.timeouts };
    const headers: Record<string, string> = { ...req.headers };
    let body: string | FormData | undefined;
    if (req.body.kind === 'json') {
      body = JSON.stringify(req.body.value);
      headers['content-type'] = 'application/json';
    } else if (req.body.kind === 'multipart') {
      const form = new FormData();
      for (const part of req.body.parts) {
        if ('data' in part) {
          form.append(part.name, new Blob([new Uint8Array(part.data)], { type: part.contentType }), part.filename);
        } else {
          form.append(part.name, part.value);
        }
      }
      body = form;
    }
    headers.accept = req.stream ? 'text/event-stream' : 'application/json';
    try {
      const res = await request(url, {
        dispatcher: opts.onSent ? tellingWhenSent(pool, opts.onSent) : pool,
        method: req.method,
        headers,
        body,
        signal: opts.signal,
        headersTimeout: t.firstByteMs,
        bodyTimeout: t.idleMs,
      });
      return { status: res.statusCode, headers: flattenHeaders(res.headers), body: res.body };
    } catch (err) {
      throw mapNetworkError(err, opts);
    }
  }

  private pool(origin: string): Pool {
    if (this.closed) throw new Error('UpstreamHttpClient is closed');
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.connections,
        keepAliveTimeout: this.keepAliveTimeoutMs,
        connect: { timeout: this.timeouts.connectMs },
        headersTimeout: this.timeouts.firstByteMs,
        bodyTimeout: this.timeouts.idleMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

type LegacyHandler = Dispatcher.DispatchHandler & {
  onRequestSent?: () => void;
  onBodySent?: (chunk: unknown) => void;
};

/**
 * `pool` for one request, telling `sent` when undici has written the request out (its `onRequestSent`, which
 * only the handler undici's `request` passes to `dispatch` receives). Every other callback goes to that handler.
 */
function tellingWhenSent(pool: Pool, sent: () => void): Dispatcher {
  // undici's `request` uses nothing of its dispatcher but `dispatch`.
  const dispatcher: Pick<Dispatcher, 'dispatch'> = {
    dispatch(opts, handler) {
      const inner = handler as LegacyHandler;
      const telling: LegacyHandler = {
        onConnect: (...args) => inner.onConnect?.(...args),
        onHeaders: (...args) => inner.onHeaders?.(...args) ?? true,
        onData: (...args) => inner.onData?.(...args) ?? true,
        onComplete: (...args) => inner.onComplete?.(...args),
        onError: (...args) => inner.onError?.(...args),
        onRequestSent: () => {
          sent();
          inner.onRequestSent?.();
        },
        ...(inner.onBodySent ? { onBodySent: (chunk: unknown) => inner.onBodySent?.(chunk) } : {}),
        ...(inner.onResponseStarted ? { onResponseStarted: () => inner.onResponseStarted?.() } : {}),
      };
      return pool.dispatch(opts, telling);
    },
  };
  return dispatcher as Dispatcher;
}

/**
 * Hands each chunk of a body to `take` until the body ends; a throw from `take` stops reading and releases the
 * body. A stream is read through its events, which costs less per chunk than async iteration.
 */
function eachChunk(body: AsyncIterable<Uint8Array>, take: (chunk: Uint8Array) => void): Promise<void> {
  if (!(body instanceof Readable)) {
    return (async () => {
      for await (const chunk of body) take(chunk);
    })();
  }
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      if (err === undefined) resolve();
      else {
        body.destroy();
        reject(err);
      }
    };
    const onData = (chunk: Uint8Array): void => {
      try {
        take(chunk);
      } catch (e) {
        settle(e);
      }
    };
    body.on('data', onData);
    body.once('end', () => settle());
    body.once('error', (e) => settle(e));
    body.once('close', () => settle(new Error('the upstream body was closed before it ended')));
  });
}

function sum(chunks: readonly Buffer[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

/** Base URL (which may carry a path prefix such as `/openai/v1`) plus the adapter's relative path. */
export function joinUrl(baseUrl: string, path: string): URL {
  const base = baseUrl.endsWith('/') ? baseUrl.slice(0, -1) : baseUrl;
  return new URL(base + (path.startsWith('/') ? path : `/${path}`));
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: unknown }).cause;
  return cause === undefined || cause === err ? undefined : errorCode(cause);
}

const TIMEOUT_CODES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'Connecting to the upstream provider timed out',
  UND_ERR_HEADERS_TIMEOUT: 'The upstream provider did not start answering in time',
  UND_ERR_BODY_TIMEOUT: 'The upstream provider stopped sending data',
  ETIMEDOUT: 'Connecting to the upstream provider timed out',
};

/** Any error thrown by undici (or an abort reason) as an UpstreamError. */
export function mapNetworkError(err: unknown, opts: Pick<CallOptions, 'provider' | 'signal' | 'secrets'>): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const reason: unknown = opts.signal?.aborted ? opts.signal.reason : undefined;
  // A caller-side deadline may abort with an UpstreamError of its own choosing (e.g. a `timeout`).
  if (reason instanceof UpstreamError) return reason;
  const rawMessage = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const detail = redactSecrets(rawMessage, opts.secrets ?? []);
  const code = errorCode(err);
  const name = err instanceof Error ? err.name : undefined;
  if (opts.signal?.aborted || name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') {
    return new UpstreamError({ kind: 'cancelled', provider: opts.provider, detail, cause: err });
  }
  if (code && TIMEOUT_CODES[code]) {
    return new UpstreamError({ kind: 'timeout', provider: opts.provider, message: TIMEOUT_CODES[code], detail, cause: err });
  }
  return new UpstreamError({ kind: 'connection', provider: opts.provider, detail: code ? `${code} ${detail}` : detail, cause: err });
}

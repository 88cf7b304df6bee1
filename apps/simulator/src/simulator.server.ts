/**
 * The simulator's HTTP server: routes each provider's path prefix to its handler, checks the provider's
 * auth header, records every call, and applies scripted rules (faults, delays, verbatim bodies) around
 * the normal answer. Plain `node:http`, because the simulator is also the upstream of a benchmark that
 * compares the gateway with a direct call and must cost as little as possible per request.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ImageFactory, isImageFormat } from './generation/image-factory';
import { RequestLifetime, sleep, waitForEnd } from './http/abortable';
import { boundaryOf, parseMultipart } from './http/multipart';
import { isRecord, type Handler, type HandlerContext, type SimResponse, type StreamResponse } from './http/sim-response';
import { handleAnthropic } from './providers/anthropic.handler';
import { authErrorResponse, errorBody, errorResponse } from './providers/error-envelopes';
import { geminiModelFromPath, handleGemini } from './providers/gemini.handler';
import { handleOpenAiChat } from './providers/openai-chat.handler';
import { handleOpenAiImageEdit, handleOpenAiImageGeneration, handleXaiImageGeneration } from './providers/openai-images.handler';
import { RuleBook } from './rule-book';
import type { SimCall, SimProvider, SimRule, SimulatorHandle, SimulatorOptions } from './sim-types';

type AuthStyle = 'bearer' | 'google' | 'anthropic';

interface ProviderRoute {
  prefix: string;
  provider: SimProvider;
  auth: AuthStyle;
  handler(path: string): Handler | null;
}

const openAiCompatibleChat = (path: string): Handler | null => (path === '/chat/completions' || path === '/v1/chat/completions' ? handleOpenAiChat : null);

/** Longer prefixes first, so `/dashscope/compatible-mode/v1` is not shadowed by anything shorter. */
const ROUTES: ProviderRoute[] = [
  { prefix: '/dashscope/compatible-mode/v1', provider: 'qwen', auth: 'bearer', handler: openAiCompatibleChat },
  {
    prefix: '/openai/v1',
    provider: 'openai',
    auth: 'bearer',
    handler: (path) =>
      path === '/chat/completions' ? handleOpenAiChat : path === '/images/generations' ? handleOpenAiImageGeneration : path === '/images/edits' ? handleOpenAiImageEdit : null,
  },
  {
    prefix: '/xai/v1',
    provider: 'xai',
    auth: 'bearer',
    handler: (path) => (path === '/chat/completions' ? handleOpenAiChat : path === '/images/generations' ? handleXaiImageGeneration : null),
  },
  { prefix: '/moonshot/v1', provider: 'moonshot', auth: 'bearer', handler: openAiCompatibleChat },
  { prefix: '/minimax/v1', provider: 'minimax', auth: 'bearer', handler: openAiCompatibleChat },
  { prefix: '/deepseek', provider: 'deepseek', auth: 'bearer', handler: openAiCompatibleChat },
  { prefix: '/anthropic', provider: 'anthropic', auth: 'anthropic', handler: (path) => (path.startsWith('/v1/') ? handleAnthropic : null) },
  { prefix: '/gemini', provider: 'google', auth: 'google', handler: (path) => (path.startsWith('/v1beta/models/') || path.startsWith('/v1/models/') ? handleGemini : null) },
];

/** What a load balancer in front of a provider answers when the backend is gone. */
const HTML_PAGE = (status: number): string => {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<!DOCTYPE html>\n<html><head><title>${title}</title></head>\n<body>\n<center><h1>${title}</h1></center>\n<hr><center>nginx</center>\n</body></html>\n`;
};

/** The header each provider uses for its request id (gateways log it to trace upstream failures). */
const REQUEST_ID_HEADER: Record<SimProvider, string> = {
  openai: 'x-request-id',
  xai: 'x-request-id',
  deepseek: 'x-request-id',
  qwen: 'x-request-id',
  moonshot: 'msh-request-id',
  minimax: 'trace-id',
  anthropic: 'request-id',
  google: 'x-goog-request-id',
};

/** A scripted stream (`SimRule.events`): one `data:` event per item, objects as JSON, strings as written. */
function verbatimStream(provider: SimProvider, events: unknown[]): StreamResponse {
  return {
    kind: 'stream',
    contentType: 'text/event-stream; charset=utf-8',
    frames: events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`),
    terminatorFrames: events[events.length - 1] === '[DONE]' ? 1 : 0,
    errorFrame: () => `data: ${JSON.stringify(errorBody(provider, 500))}\n\n`,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function credential(req: IncomingMessage, style: AuthStyle, query: URLSearchParams): string | undefined {
  if (style === 'google') {
    const h = req.headers['x-goog-api-key'];
    return (typeof h === 'string' ? h : undefined) ?? query.get('key') ?? undefined;
  }
  if (style === 'anthropic') {
    const h = req.headers['x-api-key'];
    return typeof h === 'string' ? h : undefined;
  }
  const auth = req.headers['authorization'];
  const m = typeof auth === 'string' ? /^Bearer\s+(.*)$/i.exec(auth) : null;
  return m?.[1]?.trim();
}

function modelOf(body: unknown, provider: SimProvider, path: string): string | null {
  if (provider === 'google') return geminiModelFromPath(path)?.model ?? null;
  if (isRecord(body)) {
    if (typeof body['model'] === 'string') return body['model'];
    if (isRecord(body['fields']) && typeof body['fields']['model'] === 'string') return body['fields']['model'];
  }
  return null;
}

export class SimulatorServer {
  private readonly server: Server;
  private readonly rules: RuleBook;
  private requestCount = 0;
  private readonly images = new ImageFactory();
  private readonly inFlight = new Set<RequestLifetime>();
  private baseUrl = '';

  constructor(private readonly options: SimulatorOptions = {}) {
    this.rules = new RuleBook(options.maxRecordedCalls ?? 10_000);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"simulator failure","type":"server_error"}}');
        } else res.destroy();
      });
    });
    // Benchmarks keep connections open between requests; the gateway's pool decides when to drop them.
    this.server.keepAliveTimeout = 30_000;
  }

  async listen(): Promise<SimulatorHandle> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.baseUrl = `http://${shownHost}:${address.port}`;
    return {
      url: this.baseUrl,
      close: () => this.close(),
      script: (rule) => this.rules.script(rule),
      reset: () => this.rules.reset(),
      calls: (filter) => this.rules.calls(filter),
    };
  }

  private close(): Promise<void> {
    for (const life of this.inFlight) life.end();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const pathname = url.pathname;
    if (pathname.startsWith('/_sim/')) return this.control(req, res, pathname, url.searchParams);

    const route = ROUTES.find((r) => pathname === r.prefix || pathname.startsWith(`${r.prefix}/`));
    const raw = await readBody(req);
    if (!route) {
      sendJson(res, 404, { error: { message: `Unknown path ${pathname}`, type: 'invalid_request_error' } });
      return;
    }
    const subPath = pathname.slice(route.prefix.length) || '/';
    const provider = route.provider;

    let body: unknown = undefined;
    let parseFailed = false;
    const boundary = boundaryOf(req.headers['content-type']);
    if (boundary) body = parseMultipart(raw, boundary);
    else if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        parseFailed = true;
        body = raw.toString('utf8');
      }
    }
    const model = modelOf(body, provider, subPath);
    const recordedBody = boundary && isRecord(body) && Array.isArray(body['files'])
      ? {
          fields: body['fields'],
          files: body['files'].map((f: unknown) => (isRecord(f) ? { field: f['field'], filename: f['filename'], contentType: f['contentType'], size: Buffer.isBuffer(f['data']) ? f['data'].length : 0 } : f)),
        }
      : body;
    const call: SimCall = {
      provider,
      path: pathname,
      model,
      headers: headerRecord(req),
      body: recordedBody,
      startedAt: Date.now(),
      aborted: false,
      chunksSent: 0,
      status: 0,
    };
    this.rules.record(call);
    res.setHeader(REQUEST_ID_HEADER[provider], `req_${call.startedAt.toString(36)}${(++this.requestCount).toString(36)}`);

    const life = new RequestLifetime();
    this.inFlight.add(life);
    let serverReset = false;
    res.on('close', () => {
      if (!res.writableFinished && !serverReset) call.aborted = true;
      call.finishedAt ??= Date.now();
      life.end();
      this.inFlight.delete(life);
    });
    const reset = (): void => {
      serverReset = true;
      call.finishedAt = Date.now();
      res.socket?.destroy();
      res.destroy();
    };

    const key = credential(req, route.auth, url.searchParams);
    if (!key) return this.send(res, call, authErrorResponse(provider, true), undefined, life, reset);
    if (key === 'invalid') return this.send(res, call, authErrorResponse(provider, false), undefined, life, reset);
    if (parseFailed) return this.send(res, call, errorResponse(provider, 400, { message: 'We could not parse the JSON body of your request.' }), undefined, life, reset);

    const rule = this.rules.take(provider, model, pathname);
    const delay = (this.options.latencyMs ?? 0) + (rule?.delayMs ?? 0);
    if (delay > 0 && !(await sleep(delay, life))) return;
    if (rule?.reset) return reset();
    if (rule?.html) {
      const status = rule.status ?? 502;
      call.status = status;
      res.writeHead(status, { 'content-type': 'text/html', ...(rule.headers ?? {}) });
      res.end(HTML_PAGE(status));
      call.finishedAt = Date.now();
      return;
    }
    if (rule?.body !== undefined) return this.send(res, call, { kind: 'json', status: rule.status ?? 200, body: rule.body, headers: rule.headers }, rule, life, reset);
    if (Array.isArray(rule?.events)) return this.send(res, call, verbatimStream(provider, rule.events), rule, life, reset);
    if (rule?.status !== undefined && rule.status >= 400) {
      return this.send(res, call, errorResponse(provider, rule.status, { headers: rule.headers }), rule, life, reset);
    }

    const handler = route.handler(subPath);
    if (!handler || req.method !== 'POST') {
      return this.send(res, call, errorResponse(provider, 404, { message: `Invalid URL (${req.method ?? 'GET'} ${pathname})` }), rule, life, reset);
    }
    const ctx: HandlerContext = {
      provider,
      path: subPath,
      query: url.searchParams,
      headers: req.headers,
      body,
      model,
      rule,
      streamChunks: Math.max(1, this.options.streamChunks ?? 8),
      baseUrl: this.baseUrl,
      images: this.images,
    };
    let response = await handler(ctx);
    if (response.kind === 'json' && rule?.streamErrorAfterChunks !== undefined) response = errorResponse(provider, 500);
    if (rule?.status !== undefined && response.kind === 'json') response = { ...response, status: rule.status };
    return this.send(res, call, response, rule, life, reset);
  }

  private async send(
    res: ServerResponse,
    call: SimCall,
    response: SimResponse,
    rule: SimRule | undefined,
    life: RequestLifetime,
    reset: () => void,
  ): Promise<void> {
    if (res.destroyed) return;
    const extra = { ...(rule?.headers ?? {}) };
    if (response.kind === 'binary') {
      call.status = response.status;
      res.writeHead(response.status, { 'content-type': response.contentType, 'content-length': response.data.length, ...extra });
      res.end(response.data);
      return;
    }
    if (response.kind === 'stream') return this.sendStream(res, call, response, rule, life, reset);

    const text = JSON.stringify(response.body);
    const headers = { 'content-type': 'application/json', ...(response.headers ?? {}), ...extra };
    call.status = response.status;
    if (rule?.truncate) {
      res.writeHead(response.status, headers);
      res.end(text.slice(0, Math.floor(text.length / 2)));
      return;
    }
    if (rule?.resetAfterChunks !== undefined) {
      res.writeHead(response.status, headers);
      res.write(text.slice(0, Math.floor(text.length / 2)));
      // Let the half body reach the client before the connection dies.
      setImmediate(reset);
      return;
    }
    if (rule?.stallAfterChunks !== undefined) {
      res.writeHead(response.status, headers);
      res.flushHeaders();
      await waitForEnd(life);
      return;
    }
    res.writeHead(response.status, { ...headers, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async sendStream(res: ServerResponse, call: SimCall, stream: StreamResponse, rule: SimRule | undefined, life: RequestLifetime, reset: () => void): Promise<void> {
    const status = rule?.status !== undefined && rule.status < 400 ? rule.status : 200;
    call.status = status;
    res.writeHead(status, {
      'content-type': stream.contentType,
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...(stream.headers ?? {}),
      ...(rule?.headers ?? {}),
    });
    res.flushHeaders();
    const gap = rule?.chunkDelayMs ?? this.options.streamChunkDelayMs ?? 0;
    let frames = stream.frames;
    let cut: 'stall' | 'reset' | 'error' | 'truncate' | null = null;
    let cutAt = frames.length;
    const candidates: Array<[number | undefined, 'stall' | 'reset' | 'error']> = [
      [rule?.stallAfterChunks, 'stall'],
      [rule?.resetAfterChunks, 'reset'],
      [rule?.streamErrorAfterChunks, 'error'],
    ];
    for (const [at, kind] of candidates) {
      if (at !== undefined && at < cutAt) {
        cutAt = Math.max(0, at);
        cut = kind;
      }
    }
    if (cut === null && rule?.truncate) {
      cut = 'truncate';
      cutAt = Math.floor((frames.length - stream.terminatorFrames) / 2);
    }
    frames = frames.slice(0, cutAt);
    for (let i = 0; i < frames.length; i++) {
      if (life.ended || res.destroyed) return;
      if (i > 0 && gap > 0 && !(await sleep(gap, life))) return;
      const ok = res.write(frames[i]);
      call.chunksSent += 1;
      if (!ok) {
        const drained = await new Promise<boolean>((resolve) => {
          const onDrain = (): void => {
            cancel();
            resolve(true);
          };
          const cancel = life.onEnd(() => {
            res.off('drain', onDrain);
            resolve(false);
          });
          res.once('drain', onDrain);
        });
        if (!drained) return;
      }
    }
    if (cut === 'stall') {
      await waitForEnd(life);
      return;
    }
    if (cut === 'reset') {
      setImmediate(reset);
      return;
    }
    if (cut === 'error') {
      if (gap > 0 && frames.length > 0 && !(await sleep(gap, life))) return;
      res.write(stream.errorFrame(call.chunksSent));
      call.chunksSent += 1;
    }
    res.end();
  }

  private async control(req: IncomingMessage, res: ServerResponse, pathname: string, query: URLSearchParams): Promise<void> {
    const raw = await readBody(req);
    if (pathname === '/_sim/rules' && req.method === 'POST') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'body must be a JSON rule or an array of rules' });
      }
      const rules = Array.isArray(parsed) ? parsed : [parsed];
      if (!rules.every(isRecord)) return sendJson(res, 400, { error: 'a rule must be a JSON object' });
      for (const r of rules) this.rules.script(r as SimRule);
      return sendJson(res, 201, { scripted: rules.length });
    }
    if (pathname === '/_sim/reset' && req.method === 'POST') {
      this.rules.reset();
      return sendJson(res, 200, { reset: true });
    }
    if (pathname === '/_sim/calls' && req.method === 'GET') {
      return sendJson(res, 200, this.rules.calls({ provider: query.get('provider') ?? undefined, model: query.get('model') ?? undefined }));
    }
    if (pathname === '/_sim/health') return sendJson(res, 200, { ok: true });
    const image = /^\/_sim\/images\/(\d+)x(\d+)\.(png|jpeg|webp)$/.exec(pathname);
    if (image && req.method === 'GET') {
      const format = image[3];
      if (!isImageFormat(format)) return sendJson(res, 404, { error: 'not found' });
      try {
        const encoded = await this.images.get(Number(image[1]), Number(image[2]), format);
        res.writeHead(200, { 'content-type': encoded.mimeType, 'content-length': encoded.data.length });
        res.end(encoded.data);
      } catch {
        sendJson(res, 404, { error: 'not found' });
      }
      return;
    }
    sendJson(res, 404, { error: `unknown control path ${pathname}` });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  return new SimulatorServer(options).listen();
}

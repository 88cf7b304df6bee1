import type { IncomingMessage, ServerResponse } from 'node:http';
import { unescape } from 'node:querystring';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Params } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';

/** Query parameters that carry secrets (Google clients send the API key as ?key=). */
const SECRET_PARAMS = new Set(['key', 'api_key', 'token']);

/**
 * A parameter name as the query parser reads it: `+` is a space and percent-escapes are decoded (`%6Bey` is
 * `key`, and authenticates as one), so a secret cannot slip past the redaction by being spelt differently.
 */
function isSecretParam(rawName: string): boolean {
  const name = unescape(rawName.replace(/\+/g, ' ')).trim().toLowerCase();
  const bracket = name.indexOf('[');
  return SECRET_PARAMS.has(bracket < 0 ? name : name.slice(0, bracket));
}

/** The URL with the value of every secret query parameter replaced by `[REDACTED]`. */
export function redactUrl(url: string | undefined): string | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (url === undefined || q < 0) return url;
  const params = url.slice(q + 1).split('&').map((param) => {
    const eq = param.indexOf('=');
    const name = eq < 0 ? param : param.slice(0, eq);
    return isSecretParam(name) ? `${name}=[REDACTED]` : param;
  });
  return `${url.slice(0, q + 1)}${params.join('&')}`;
}

/** Lines are written in batches of at least this many bytes, or after FLUSH_INTERVAL_MS at the latest. */
const LOG_BATCH_BYTES = 4096;
const FLUSH_INTERVAL_MS = 250;

let stdout: ReturnType<typeof pino.destination> | undefined;

/**
 * Standard output, written asynchronously in batches: the access log costs no write per request. A line
 * waits at most FLUSH_INTERVAL_MS, and what is still buffered is written synchronously at exit.
 */
function stdoutDestination(): DestinationStream {
  if (!stdout) {
    const dest = pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES });
    setInterval(() => {
      try {
        dest.flush();
      } catch {
        // not ready yet, or closing: the next tick or the exit flush writes it
      }
    }, FLUSH_INTERVAL_MS).unref();
    process.once('exit', () => {
      try {
        dest.flushSync();
      } catch {
        // a write still in flight at exit: nothing more can be done synchronously
      }
    });
    stdout = dest;
  }
  return stdout;
}

const loggers = new WeakMap<AppConfig, Logger>();

/** The process's root logger for a configuration (one per config, so in-process test gateways keep their own). */
export function rootLogger(config: AppConfig, destination?: DestinationStream): Logger {
  let logger = loggers.get(config);
  if (!logger) {
    logger = pino({ level: config.LOG_LEVEL }, destination ?? stdoutDestination());
    loggers.set(config, logger);
  }
  return logger;
}

/**
 * Structured JSON logs through nestjs-pino, on the root logger. The access log is `AccessLogMiddleware`
 * rather than pino-http's, which builds a child logger and serialises request and response objects for
 * every request: here one line per request is written from a handful of fields.
 */
export function loggerParams(config: AppConfig, destination?: DestinationStream): Params {
  // No per-request middleware from nestjs-pino (`forRoutes: []`): its request-scoped logger runs every
  // request inside an AsyncLocalStorage, which on Node 20 turns on async hooks for every promise of the
  // process. Logs from services go to the root logger; the access line carries the request's fields.
  return { pinoHttp: { logger: rootLogger(config, destination) }, useExisting: true, forRoutes: [] };
}

type LoggedRequest = IncomingMessage & { id?: unknown; logContext?: Record<string, unknown>; originalUrl?: string };

/**
 * One line per request when it ends: request id (and the client's, if sent), method, URL (secret query parameters redacted), status,
 * latency, and what the route added with `addLogContext` (tenant, key). Bodies, prompts and headers are
 * never logged. Health and metrics probes are not logged.
 */
export function accessLogMiddleware(logger: Logger): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    const url = (req as LoggedRequest).originalUrl ?? req.url ?? '';
    if (url.startsWith('/health') || url === '/metrics') return next();
    const started = process.hrtime.bigint();
    const done = (): void => {
      res.off('finish', done);
      res.off('close', done);
      const status = res.headersSent ? res.statusCode : 499;
      const level = status >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const r = req as LoggedRequest;
      const safeUrl = redactUrl(url);
      logger[level](
        {
          ...r.logContext,
          // the client's own id for the request, when it sent one (printable ASCII, checked by RequestIdMiddleware)
          req: { id: r.id, clientRequestId: req.clientRequestId, method: req.method, url: safeUrl },
          res: { statusCode: status },
          responseTime: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
        },
        `${req.method} ${safeUrl} ${status}`,
      );
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}

/** `AccessLogMiddleware` bound to the configuration's root logger, for `consumer.apply(...)`. */
@Injectable()
export class AccessLogMiddleware implements NestMiddleware {
  private readonly handle: ReturnType<typeof accessLogMiddleware>;
  constructor(config: AppConfig) {
    this.handle = accessLogMiddleware(rootLogger(config));
  }
  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    this.handle(req, res, next);
  }
}

/** Adds fields (tenant id, model, ...) to the request's access-log line. */
export function addLogContext(req: IncomingMessage, fields: Record<string, unknown>): void {
  const r = req as LoggedRequest;
  r.logContext = { ...(r.logContext ?? {}), ...fields };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config';

/** Query parameters that carry secrets (Google clients send the API key as ?key=). */
const SECRET_QUERY = /([?&](?:key|api_key|token)=)[^&#]*/gi;

export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, '$1[REDACTED]');
}

/**
 * Structured JSON logs: one line per request with request id, tenant, model, status and latency. Bodies,
 * prompts and credentials are never logged: headers are not serialised at all, and the URL's secret
 * query parameters are redacted.
 */
export function loggerParams(config: AppConfig, destination?: DestinationStream): Params {
  return {
    pinoHttp: {
      stream: destination,
      level: config.LOG_LEVEL,
      genReqId: (req: IncomingMessage) => req.id ?? 'unknown',
      autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') || req.url === '/metrics' },
      customProps: (req: IncomingMessage) => {
        const ctx = (req as IncomingMessage & { logContext?: Record<string, unknown> }).logContext;
        return ctx ? { ...ctx } : {};
      },
      serializers: {
        req: (req: { id?: string; method?: string; url?: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      customSuccessMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${redactUrl(req.url)} ${res.statusCode}`,
      customErrorMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${redactUrl(req.url)} ${res.statusCode}`,
      redact: { paths: ['req.headers', 'res.headers'], remove: true },
      quietReqLogger: true,
    },
  };
}

/** Adds fields (tenant id, model, ...) to the request's access-log line. */
export function addLogContext(req: IncomingMessage, fields: Record<string, unknown>): void {
  const r = req as IncomingMessage & { logContext?: Record<string, unknown> };
  r.logContext = { ...(r.logContext ?? {}), ...fields };
}

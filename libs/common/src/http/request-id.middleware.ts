import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import 'pino-http'; // declares IncomingMessage.id
import { ApiError } from '../errors/api-error';

export const REQUEST_ID_HEADER = 'X-Request-Id';
/** the client's own id for a request (OpenAI's name for it); a client's `X-Request-Id` is read the same way */
export const CLIENT_REQUEST_ID_HEADER = 'X-Client-Request-Id';
export const CLIENT_REQUEST_ID_MAX_LENGTH = 512;

declare module 'http' {
  interface IncomingMessage {
    /** the id the client gave the request, if any: kept for correlation, never used as an id of ours */
    clientRequestId?: string;
  }
}

/** Printable ASCII only: the id goes into log lines and a database column as it came. */
const PRINTABLE = /^[\x20-\x7e]+$/;

/**
 * The id the client sent in `X-Client-Request-Id`, or else in `X-Request-Id` (what proxies and tracing
 * set); undefined when none. Throws 400 for one that is not 1–512 printable ASCII characters.
 */
export function clientRequestId(req: IncomingMessage): string | undefined {
  const sent = req.headers['x-client-request-id'] ?? req.headers['x-request-id'];
  if (sent === undefined) return undefined;
  const name = req.headers['x-client-request-id'] !== undefined ? CLIENT_REQUEST_ID_HEADER : REQUEST_ID_HEADER;
  const value = Array.isArray(sent) ? sent.join(', ') : sent;
  if (value.length === 0 || value.length > CLIENT_REQUEST_ID_MAX_LENGTH || !PRINTABLE.test(value)) {
    throw ApiError.badRequest(`${name} must be 1 to ${CLIENT_REQUEST_ID_MAX_LENGTH} printable ASCII characters.`, null, 'invalid_client_request_id');
  }
  return value;
}

/**
 * Every response carries X-Request-Id. The id is always minted here (never taken from the client) because it
 * is also the id of the request's usage record (and of its image job, which is keyed by a UUID), which must
 * be unique. An id the client sent (`X-Client-Request-Id` or `X-Request-Id`) is kept beside it for
 * correlation: echoed as `X-Client-Request-Id`, written in the access log line and in the usage record.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const id = randomUUID();
    req.id = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    const client = clientRequestId(req);
    if (client !== undefined) {
      req.clientRequestId = client;
      res.setHeader(CLIENT_REQUEST_ID_HEADER, client);
    }
    next();
  }
}

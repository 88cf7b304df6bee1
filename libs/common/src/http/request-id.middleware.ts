import { randomUUID } from 'node:crypto';
import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import 'pino-http'; // declares IncomingMessage.id

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * Every response carries X-Request-Id. The id is always minted here (never taken from the client) because it
 * is also the id of the request's usage record (and of its image job, which is keyed by a UUID), which must
 * be unique.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const id = randomUUID();
    req.id = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    next();
  }
}

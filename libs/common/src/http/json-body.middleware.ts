import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';
import { AppConfig } from '../config/app-config';
import { ApiError } from '../errors/api-error';

/**
 * Parses JSON bodies inside Nest's middleware chain (Nest's own parser runs as plain Express middleware,
 * whose errors would reach Express's HTML error page instead of the envelope filter). A body with a
 * non-JSON content type is refused with 415, so a form post never reaches a handler as an empty object.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse: ReturnType<typeof json>;

  constructor(config: AppConfig) {
    this.parse = json({ limit: config.BODY_LIMIT_BYTES, strict: false, type: () => true });
  }

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || req.method === 'DELETE') return next();
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return next();
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (!/^application\/([a-z.+-]*\+)?json\b/.test(type.trim())) {
      throw new ApiError(415, 'invalid_request_error', `Content-Type must be application/json (got "${type.slice(0, 80) || 'none'}").`, 'unsupported_media_type');
    }
    await new Promise<void>((resolve, reject) => this.parse(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    next();
  }
}

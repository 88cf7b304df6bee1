import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { envelopeForPath, googleEnvelope } from './envelopes';
import { toApiError } from './to-api-error';

/**
 * The single exception filter. Every error, including 404s for unknown routes and body-parser failures,
 * answers as JSON in the envelope of the route's API family; never an HTML page, never a stack trace.
 */
@Catch()
export class EnvelopeExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const envelope = envelopeForPath(req.path);
    const error = toApiError(exception, envelope === googleEnvelope);
    if (error.status >= 500) {
      this.logger.error({ err: exception instanceof Error ? { name: exception.name, message: exception.message, stack: exception.stack } : String(exception) }, 'request failed');
    }
    if (res.headersSent) {
      // A stream already started: nothing can be sent as an envelope any more; end the response.
      if (!res.writableEnded) res.end();
      return;
    }
    for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
    res.status(error.status).json(envelope.body(error));
  }
}

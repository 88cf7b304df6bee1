/**
 * The tenant's end of one chat request: response headers, a JSON answer, or Server-Sent Events written
 * as they are produced. It also notices when the tenant goes away, so the service can cancel the upstream
 * call. Kept apart from the service so the service's decisions can be tested without a socket.
 */
import type { Response } from 'express';

export interface ChatExchangePort {
  /** aborted when the tenant closed the connection before the answer was complete */
  readonly signal: AbortSignal;
  setHeaders(headers: Record<string, string>): void;
  sendJson(status: number, body: unknown): void;
  /** sets status 200 and the streaming headers (SSE unless `contentType` says otherwise); they leave with the first write */
  startEvents(headers: Record<string, string>, contentType?: string): void;
  /** one `data:` event; resolves when the socket can take more (back-pressure), or at once when the tenant is gone */
  sendEvent(data: unknown): Promise<void>;
  /** raw text of a started stream, with the same back-pressure */
  write(text: string): Promise<void>;
  /** whether anything has been sent yet */
  readonly headersSent: boolean;
  /** ends the response (after `[DONE]`, or after an error event) */
  end(): void;
}

export const SSE_DONE = '[DONE]';

export class ChatExchange implements ChatExchangePort {
  private readonly gone = new AbortController();

  constructor(private readonly res: Response) {
    res.once('close', () => {
      if (!res.writableFinished) this.gone.abort(new Error('the client closed the connection'));
    });
  }

  get signal(): AbortSignal {
    return this.gone.signal;
  }

  setHeaders(headers: Record<string, string>): void {
    if (this.res.headersSent) return;
    for (const [name, value] of Object.entries(headers)) this.res.setHeader(name, value);
  }

  sendJson(status: number, body: unknown): void {
    // Written directly rather than through Express's res.json/res.send (ETag, freshness and charset work
    // an API answer never needs), on the path of every chat answer.
    const text = JSON.stringify(body);
    this.res.statusCode = status;
    this.res.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.res.setHeader('Content-Length', Buffer.byteLength(text));
    this.res.end(text);
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  startEvents(headers: Record<string, string>, contentType = 'text/event-stream; charset=utf-8'): void {
    this.setHeaders({
      ...headers,
      'Content-Type': contentType,
      // no-transform keeps compressing proxies from holding chunks back; X-Accel-Buffering does the same for nginx.
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.res.status(200);
    // Nagle would hold small chunks back for up to one round trip; every token matters to a reader.
    this.res.socket?.setNoDelay(true);
    // The headers leave with the first event, written right after (the stream opens only once the upstream
    // produced its first chunk): one packet instead of two before the first token.
  }

  sendEvent(data: unknown): Promise<void> {
    return this.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  }

  async write(text: string): Promise<void> {
    if (this.gone.signal.aborted || this.res.writableEnded) return;
    if (this.res.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.gone.signal.removeEventListener('abort', done);
        resolve();
      };
      this.res.on('drain', done);
      this.gone.signal.addEventListener('abort', done, { once: true });
    });
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}

/**
 * Incremental Server-Sent Events parser (WHATWG HTML §9.2.6 "Interpreting an event stream"). Upstream
 * bytes arrive in arbitrary pieces: a line, a CRLF pair or a multi-byte UTF-8 character may be split
 * across network chunks, so nothing is decided until a line is complete.
 */
import type { SseEvent } from '../adapter';

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** the previous piece ended with '\r', so a leading '\n' of the next one belongs to that line end */
  private pendingCr = false;
  private data: string[] = [];
  private hasData = false;
  private eventName: string | undefined;
  private lastId: string | undefined;

  /** Feeds bytes (or text) and returns the events completed by them. */
  push(piece: Uint8Array | string): SseEvent[] {
    let text = typeof piece === 'string' ? piece : this.decoder.decode(piece, { stream: true });
    if (text === '') return [];
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    return this.drainLines(false);
  }

  /** Flushes at end of stream; a final event without its blank line is still delivered. */
  end(): SseEvent[] {
    this.buffer += this.decoder.decode();
    const events = this.drainLines(true);
    const last = this.dispatch();
    if (last) events.push(last);
    return events;
  }

  private drainLines(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (ch === 13) {
        if (i + 1 < this.buffer.length) {
          if (this.buffer.charCodeAt(i + 1) === 10) i++;
        } else if (!final) {
          this.pendingCr = true;
        }
      }
      start = i + 1;
      const ev = this.processLine(line);
      if (ev) events.push(ev);
    }
    this.buffer = this.buffer.slice(start);
    if (final && this.buffer.length > 0) {
      const ev = this.processLine(this.buffer);
      this.buffer = '';
      if (ev) events.push(ev);
    }
    return events;
  }

  private processLine(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined; // comment, e.g. ": ping" keep-alives
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'event':
        this.eventName = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default:
        // 'retry' and unknown fields do not matter to a proxy
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const name = this.eventName;
    this.eventName = undefined;
    if (!this.hasData) {
      this.data = [];
      return undefined;
    }
    const ev: SseEvent = { data: this.data.join('\n') };
    if (name !== undefined && name !== '') ev.event = name;
    if (this.lastId !== undefined) ev.id = this.lastId;
    this.data = [];
    this.hasData = false;
    return ev;
  }
}

/** Async adapter over any byte stream (an undici body, a Readable, an array in tests). */
export async function* readSse(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  for await (const piece of source) {
    for (const ev of parser.push(piece)) yield ev;
  }
  for (const ev of parser.end()) yield ev;
}

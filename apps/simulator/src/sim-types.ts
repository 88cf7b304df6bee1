/**
 * The simulator's public contract: scripted rules (faults and verbatim answers) and the record of every
 * request it received. Shared by the in-process handle and the `/_sim/*` HTTP control API.
 */

export type SimProvider =
  | 'openai'
  | 'google'
  | 'xai'
  | 'anthropic'
  | 'deepseek'
  | 'qwen'
  | 'moonshot'
  | 'minimax';

export interface SimRule {
  /** match only this provider (see SimProvider) */
  provider?: string;
  /** match only this upstream model id (from the body, or the URL for Gemini/Imagen) */
  model?: string;
  /** match when the request path contains this substring, e.g. `chat/completions` or `:predict` */
  path?: string;
  /** how many requests the rule applies to; default 1; a negative number or Infinity = until reset */
  times?: number;

  /** answer with this status: the provider's own error envelope unless `body` is given */
  status?: number;
  /** extra response headers (e.g. `retry-after`) */
  headers?: Record<string, string>;
  /** answer with this JSON verbatim (status defaults to 200) */
  body?: unknown;
  /**
   * answer with a 200 stream of these SSE `data:` events verbatim (objects as JSON, strings as written, e.g.
   * `[DONE]`), whatever the provider; the stream faults below apply to them as to a generated stream
   */
  events?: unknown[];
  /** wait this long before the first byte */
  delayMs?: number;
  /** streams: send this many chunks, then hang until the client goes away; non-streams: send headers, then hang */
  stallAfterChunks?: number;
  /** destroy the socket after this many chunks (non-streams: after half the body) */
  resetAfterChunks?: number;
  /** destroy the socket without answering */
  reset?: boolean;
  /** send half the body (streams: half the chunks, without the terminator), then end cleanly */
  truncate?: boolean;
  /** answer with an HTML error page (status defaults to 502) */
  html?: boolean;
  /** streams: after this many chunks send an error object in the provider's stream format; non-streams: a 500 */
  streamErrorAfterChunks?: number;
  /** image requests: answer with text but no image */
  noImage?: boolean;
  /** streams: delay between chunks */
  chunkDelayMs?: number;
}

export interface SimCall {
  provider: string;
  path: string;
  model: string | null;
  /** request headers, lower-cased names */
  headers: Record<string, string>;
  /** parsed JSON body; multipart bodies as `{ fields, files: [{ field, filename, contentType, size }] }` */
  body: unknown;
  /** epoch milliseconds */
  startedAt: number;
  finishedAt?: number;
  /** true when the client went away before the response finished */
  aborted: boolean;
  /** stream chunks written (SSE events, or JSON-array elements for Gemini's non-SSE stream) */
  chunksSent: number;
  /** status sent; 0 when the socket was reset before any status */
  status: number;
}

export interface SimCallFilter {
  provider?: string;
  model?: string;
}

export interface SimulatorOptions {
  port?: number;
  host?: string;
  /** added before the first byte of every provider response */
  latencyMs?: number;
  /** content chunks per streamed text answer (the answer is lengthened to have at least this many tokens) */
  streamChunks?: number;
  /** delay between streamed chunks unless a rule says otherwise */
  streamChunkDelayMs?: number;
  /** most recent calls kept for `calls()` (default 10,000), so a long benchmark does not grow memory */
  maxRecordedCalls?: number;
}

export interface SimulatorHandle {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
  /** queue a scripted behaviour (first matching rule wins, consumed `times` times) */
  script(rule: SimRule): void;
  /** drop rules and recorded calls */
  reset(): void;
  /** requests received, in order */
  calls(filter?: SimCallFilter): SimCall[];
}

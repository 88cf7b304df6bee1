/**
 * What a provider handler answers, before the server applies scripted faults to it. Streams are a list
 * of already-encoded frames so that faults (stall, reset, truncate, in-stream error) can cut them anywhere
 * without knowing the provider's format.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ImageFactory } from '../generation/image-factory';
import type { SimProvider, SimRule } from '../sim-types';

export interface JsonResponse {
  kind: 'json';
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface StreamResponse {
  kind: 'stream';
  contentType: string;
  frames: string[];
  /** how many trailing frames only terminate the stream (`[DONE]`, `message_stop`); `truncate` drops them */
  terminatorFrames: number;
  /** the provider's in-stream error, given how many frames were already sent */
  errorFrame: (chunksSent: number) => string;
  headers?: Record<string, string>;
}

export interface BinaryResponse {
  kind: 'binary';
  status: number;
  contentType: string;
  data: Buffer;
}

export type SimResponse = JsonResponse | StreamResponse | BinaryResponse;

export interface HandlerContext {
  provider: SimProvider;
  /** path below the provider's prefix, e.g. `/chat/completions` or `/v1beta/models/x:generateContent` */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
  model: string | null;
  rule: SimRule | undefined;
  /** content chunks per streamed text answer */
  streamChunks: number;
  /** the simulator's own base URL, for image `url` answers */
  baseUrl: string;
  images: ImageFactory;
}

export type Handler = (ctx: HandlerContext) => Promise<SimResponse>;

export function json(status: number, body: unknown, headers?: Record<string, string>): JsonResponse {
  return { kind: 'json', status, body, headers };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

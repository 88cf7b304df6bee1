/**
 * Fetches a tenant-supplied image URL on Switchyard's side, so every provider receives the same bytes, limits
 * hold in one place, and no provider is asked to fetch an address for us. The guard against server-side
 * request forgery sits in the connector: every address a name resolves to is checked when the socket is
 * opened (not before), for every redirect hop, so a name that changes its answer between a check and the
 * connect (DNS rebinding) is still refused and no connection to a refused address is ever opened.
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { ApiError } from '@app/common';
import { sniffImageMimeType, type ImageMimeType } from '@app/storage';
import { isLoopbackAddress, isPublicAddress } from './image-fetch-address';

export const IMAGE_FETCH_DEFAULTS = {
  timeoutMs: 10_000,
  maxBytes: 20 * 1024 * 1024,
  maxRedirects: 3,
} as const;

/** Content types an image URL may answer with (`image/jpg` is a common mislabel of JPEG). */
const ACCEPTED_CONTENT_TYPES = new Set(['image/png', 'image/jpeg', 'image/jpg', 'image/webp', 'image/gif']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Resolves a host name to every address it has; injectable so tests can play a rebinding resolver. */
export type ImageFetchResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface ImageFetchOptions {
  /** whole fetch, redirects and body included */
  timeoutMs?: number;
  /** largest image, enforced while reading (and for data URLs, on the decoded bytes) */
  maxBytes?: number;
  maxRedirects?: number;
  /**
   * Loopback addresses become reachable on exactly these ports, so tests can serve a real image from a
   * loopback server. Production wiring never sets it; every other refused range stays refused.
   */
  allowLoopbackPorts?: readonly number[];
  resolver?: ImageFetchResolver;
}

export interface FetchedImage {
  data: Buffer;
  /** the type the bytes sniff as, never what the URL or server claimed */
  mimeType: ImageMimeType;
}

export type ImageFetchFailure =
  | 'invalid_url'
  | 'forbidden_address'
  | 'unresolvable'
  | 'too_many_redirects'
  | 'bad_status'
  | 'bad_content_type'
  | 'too_large'
  | 'not_an_image'
  | 'timeout'
  | 'network';

/** Why an image could not be loaded; the message is written for the tenant and names no internals. */
export class ImageFetchError extends Error {
  constructor(
    readonly failure: ImageFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ImageFetchError';
  }

  /** The 400 a tenant sees, naming the field that held the URL. */
  toApiError(param: string): ApiError {
    return ApiError.badRequest(`The image at ${param} was refused: ${this.message}`, param, 'invalid_image_url');
  }
}

const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/is;

/** Decodes a `data:image/...;base64,` URL locally, with the same type, sniffing and size rules as a fetch. */
export function decodeImageDataUrl(url: string, maxBytes: number = IMAGE_FETCH_DEFAULTS.maxBytes): FetchedImage {
  const m = DATA_URL.exec(url);
  if (!m) throw new ImageFetchError('invalid_url', 'it is not a data URL.');
  const mediaType = m[1].trim().toLowerCase();
  const params = m[2].split(';').map((p) => p.trim().toLowerCase());
  if (params[params.length - 1] !== 'base64') throw new ImageFetchError('invalid_url', 'a data URL must be base64-encoded (data:image/png;base64,...).');
  if (!ACCEPTED_CONTENT_TYPES.has(mediaType)) {
    throw new ImageFetchError('bad_content_type', 'the data URL type must be image/png, image/jpeg, image/webp or image/gif.');
  }
  const body = m[3].replace(/\s+/g, '');
  if (!BASE64_BODY.test(body) || body.length % 4 === 1 || (body.includes('=') && body.length % 4 !== 0)) {
    throw new ImageFetchError('invalid_url', 'the data URL is not valid base64.');
  }
  // Checked on the encoded length first, so an oversized body is refused before it is decoded.
  if (Math.floor((body.length * 3) / 4) - (body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0) > maxBytes) {
    throw new ImageFetchError('too_large', `the image is larger than ${maxBytes} bytes.`);
  }
  return sniffed(Buffer.from(body, 'base64'));
}

function sniffed(data: Buffer): FetchedImage {
  const mimeType = sniffImageMimeType(data);
  if (!mimeType) throw new ImageFetchError('not_an_image', 'the content is not a PNG, JPEG, WebP or GIF image.');
  return { data, mimeType };
}

/** The image as a data URL: what providers are given instead of the tenant's URL. */
export function imageDataUrl(image: FetchedImage): string {
  return `data:${image.mimeType};base64,${image.data.toString('base64')}`;
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** Closes the socket under an unwanted body; undici reports that as an abort error nobody needs to hear. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

const defaultResolver: ImageFetchResolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

export class ImageFetcher {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxRedirects: number;
  private readonly loopbackPorts: ReadonlySet<number>;
  private readonly resolver: ImageFetchResolver;
  private readonly agent: Agent;

  constructor(options: ImageFetchOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? IMAGE_FETCH_DEFAULTS.timeoutMs;
    this.maxBytes = options.maxBytes ?? IMAGE_FETCH_DEFAULTS.maxBytes;
    this.maxRedirects = options.maxRedirects ?? IMAGE_FETCH_DEFAULTS.maxRedirects;
    this.loopbackPorts = new Set(options.allowLoopbackPorts ?? []);
    this.resolver = options.resolver ?? defaultResolver;
    this.agent = new Agent({
      connect: this.guardedConnector(),
      connections: 8,
      keepAliveTimeout: 4_000,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** An http(s) URL is fetched, a data URL decoded; either way the bytes must be an accepted image. */
  async load(url: string, signal?: AbortSignal): Promise<FetchedImage> {
    if (/^data:/i.test(url)) return decodeImageDataUrl(url, this.maxBytes);
    return this.fetch(url, signal);
  }

  async fetch(url: string, signal?: AbortSignal): Promise<FetchedImage> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
    let target = this.target(url);
    for (let hop = 0; ; hop++) {
      const res = await this.send(target, combined, deadline);
      if (REDIRECT_STATUSES.has(res.statusCode)) {
        discard(res.body);
        const location = res.headers.location;
        if (typeof location !== 'string' || location === '') throw new ImageFetchError('bad_status', `the server answered HTTP ${res.statusCode} without a location.`);
        if (hop >= this.maxRedirects) throw new ImageFetchError('too_many_redirects', `it redirected more than ${this.maxRedirects} times.`);
        target = this.target(location, target);
        continue;
      }
      return this.readImage(res, deadline);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Checks what can be checked before connecting: scheme, credentials, and a literal address. */
  private target(raw: string, base?: URL): URL {
    let url: URL;
    try {
      url = new URL(raw, base);
    } catch {
      throw new ImageFetchError('invalid_url', 'it is not a valid URL.');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ImageFetchError('invalid_url', 'only http and https URLs can be fetched.');
    if (url.username !== '' || url.password !== '') throw new ImageFetchError('invalid_url', 'URLs with credentials are not accepted.');
    const host = bareHost(url.hostname);
    if (isIP(host) !== 0 && !this.allowed(host, Number(url.port) || defaultPort(url.protocol))) {
      throw new ImageFetchError('forbidden_address', 'it points to a private, local or reserved address.');
    }
    url.hash = '';
    return url;
  }

  private allowed(address: string, port: number): boolean {
    return isPublicAddress(address) || (this.loopbackPorts.has(port) && isLoopbackAddress(address));
  }

  private async send(url: URL, signal: AbortSignal, deadline: AbortSignal): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, {
        dispatcher: this.agent,
        method: 'GET',
        signal,
        headers: { accept: 'image/png, image/jpeg, image/webp, image/gif', 'user-agent': 'Switchyard-ImageFetcher/1' },
      });
    } catch (error) {
      throw this.classify(error, deadline);
    }
  }

  private async readImage(res: Dispatcher.ResponseData, deadline: AbortSignal): Promise<FetchedImage> {
    const fail = (error: ImageFetchError): never => {
      discard(res.body);
      throw error;
    };
    if (res.statusCode !== 200) fail(new ImageFetchError('bad_status', `the server answered HTTP ${res.statusCode}.`));
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!ACCEPTED_CONTENT_TYPES.has(contentType)) {
      fail(new ImageFetchError('bad_content_type', 'the server did not answer with an image/png, image/jpeg, image/webp or image/gif content type.'));
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxBytes) fail(this.tooLarge());

    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.byteLength;
        // Counted as the body streams in: a missing or lying Content-Length changes nothing.
        if (size > this.maxBytes) fail(this.tooLarge());
        chunks.push(chunk);
      }
    } catch (error) {
      throw this.classify(error, deadline);
    }
    return sniffed(Buffer.concat(chunks, size));
  }

  private tooLarge(): ImageFetchError {
    return new ImageFetchError('too_large', `the image is larger than ${this.maxBytes} bytes.`);
  }

  private classify(error: unknown, deadline: AbortSignal): ImageFetchError {
    if (error instanceof ImageFetchError) return error;
    const cause = error instanceof Error && error.cause instanceof ImageFetchError ? error.cause : undefined;
    if (cause) return cause;
    if (deadline.aborted) return new ImageFetchError('timeout', `it did not load within ${this.timeoutMs} ms.`);
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') return new ImageFetchError('unresolvable', 'its host name does not resolve.');
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new ImageFetchError('timeout', `it did not load within ${this.timeoutMs} ms.`);
    }
    return new ImageFetchError('network', 'it could not be fetched.');
  }

  /**
   * undici's connector with a `lookup` that refuses the connection when any address of the name is not
   * allowed; a literal address (which never goes through `lookup`) is checked here. Loopback ports allowed
   * for tests get their own connector, since `lookup` does not know the port.
   */
  private guardedConnector(): buildConnector.connector {
    const strict = buildConnector({ lookup: this.guardedLookup(false), timeout: this.timeoutMs });
    const loopback = this.loopbackPorts.size > 0 ? buildConnector({ lookup: this.guardedLookup(true), timeout: this.timeoutMs }) : strict;
    return (options, callback) => {
      const port = Number(options.port) || defaultPort(options.protocol);
      const host = bareHost(options.hostname);
      if (isIP(host) !== 0 && !this.allowed(host, port)) {
        callback(new ImageFetchError('forbidden_address', 'it points to a private, local or reserved address.'), null);
        return;
      }
      (this.loopbackPorts.has(port) ? loopback : strict)(options, (...args) => {
        const [error, socket] = args;
        // Belt and braces: the peer actually connected to must be allowed too.
        if (!error && socket.remoteAddress !== undefined && !this.allowed(socket.remoteAddress, port)) {
          socket.destroy();
          callback(new ImageFetchError('forbidden_address', 'it points to a private, local or reserved address.'), null);
          return;
        }
        callback(...args);
      });
    };
  }

  private guardedLookup(loopbackAllowed: boolean): LookupFunction {
    return (hostname, options, callback) => {
      this.resolver(hostname).then(
        (all) => {
          const family = options.family === 4 || options.family === 6 ? options.family : undefined;
          const addresses = all.filter((a) => family === undefined || a.family === family);
          if (addresses.length === 0) {
            callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
            return;
          }
          const refused = addresses.some((a) => !(isPublicAddress(a.address) || (loopbackAllowed && isLoopbackAddress(a.address))));
          if (refused) {
            callback(new ImageFetchError('forbidden_address', 'its host name resolves to a private, local or reserved address.'), '', 0);
            return;
          }
          if (options.all) callback(null, addresses.map((a) => ({ address: a.address, family: a.family })));
          else callback(null, addresses[0].address, addresses[0].family);
        },
        (error: unknown) => callback(error as NodeJS.ErrnoException, '', 0),
      );
    };
  }
}

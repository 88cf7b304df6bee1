import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '@app/common';

/** route that serves stored images; the link itself is the credential, so it needs no API key */
export const IMAGE_FILES_PATH = '/v1/images/files';
/** OpenAI's image links last an hour; ours do the same unless configured otherwise */
export const DEFAULT_IMAGE_URL_TTL_SECONDS = 60 * 60;
/** longer-lived links would outlast any sensible retention and could not be revoked short of a new secret */
export const MAX_IMAGE_URL_TTL_SECONDS = 7 * 24 * 60 * 60;
/** HMAC-SHA256 keys shorter than the hash output weaken it; 32 bytes is what `openssl rand -hex 32` gives */
export const MIN_URL_SECRET_BYTES = 32;

export type UrlVerdict = 'ok' | 'expired' | 'invalid';

export interface SignedImageParams {
  /** unix seconds after which the link is refused */
  expires: number;
  /** lowercase hex HMAC-SHA256 over the image id and `expires` */
  signature: string;
}

// Image ids are UUIDs today; the grammar only has to keep the signed message unambiguous and the path clean.
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// Only the canonical spelling is accepted: `0123` or `123.0` would otherwise verify as `123`, and an altered
// parameter must never be accepted.
const EXPIRES = /^[1-9][0-9]{0,11}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;
// Domain separation: a MAC made for image links is useless anywhere else the same secret might be used.
const CONTEXT = 'switchyard:image-url:v1';

/**
 * Signs and checks links to stored images: `<base>/v1/images/files/{id}?expires=<unix s>&signature=<hex>`.
 * The MAC covers the id and the expiry, so a link works for exactly one image until exactly one moment, and
 * every gateway replica holding the same secret accepts it.
 */
export class UrlSigner {
  private readonly key: Buffer;

  constructor(secret: Buffer | string) {
    const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (key.length < MIN_URL_SECRET_BYTES) {
      throw new RangeError(`The image URL secret must be at least ${MIN_URL_SECRET_BYTES} bytes long`);
    }
    this.key = key;
  }

  sign(id: string, ttlSeconds: number = DEFAULT_IMAGE_URL_TTL_SECONDS, nowMs: number = Date.now()): SignedImageParams {
    if (!ID.test(id)) throw new RangeError(`Cannot sign a link for image id ${JSON.stringify(id)}`);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_IMAGE_URL_TTL_SECONDS) {
      throw new RangeError(`Image URL lifetime must be an integer between 1 and ${MAX_IMAGE_URL_TTL_SECONDS} seconds`);
    }
    const expires = Math.floor(nowMs / 1000) + ttlSeconds;
    return { expires, signature: this.mac(id, String(expires)).toString('hex') };
  }

  buildUrl(publicBaseUrl: string, id: string, ttlSeconds: number = DEFAULT_IMAGE_URL_TTL_SECONDS, nowMs: number = Date.now()): string {
    const { expires, signature } = this.sign(id, ttlSeconds, nowMs);
    const base = publicBaseUrl.replace(/\/+$/, '');
    return `${base}${IMAGE_FILES_PATH}/${id}?expires=${expires}&signature=${signature}`;
  }

  /**
   * Takes the raw route and query values (a repeated query parameter arrives as an array) and never throws.
   * `expired` is only reported for a genuine link, so it reveals nothing to someone guessing signatures.
   */
  verify(id: unknown, expires: unknown, signature: unknown, nowMs: number = Date.now()): UrlVerdict {
    if (typeof id !== 'string' || !ID.test(id)) return 'invalid';
    const expiresText = typeof expires === 'number' ? String(expires) : expires;
    if (typeof expiresText !== 'string' || !EXPIRES.test(expiresText)) return 'invalid';
    if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return 'invalid';
    const expected = this.mac(id, expiresText);
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'invalid';
    return Math.floor(nowMs / 1000) >= Number(expiresText) ? 'expired' : 'ok';
  }

  /** `verify` for the image route: anything but `ok` becomes the 403 the tenant sees */
  assertValid(id: unknown, expires: unknown, signature: unknown, nowMs: number = Date.now()): void {
    const verdict = this.verify(id, expires, signature, nowMs);
    if (verdict === 'expired') throw ApiError.forbidden('This image URL has expired. Generate the image again or request b64_json.', 'url_expired');
    if (verdict === 'invalid') throw ApiError.forbidden('This image URL is not valid: its signature does not match.', 'invalid_signature');
  }

  private mac(id: string, expires: string): Buffer {
    return createHmac('sha256', this.key).update(`${CONTEXT}\n${id}\n${expires}`).digest();
  }
}

import type { Readable } from 'node:stream';

/**
 * Where generated images are kept so that `response_format: "url"` can hand out a link to them.
 *
 * Keys are opaque to the store but restricted (see `assertValidStorageKey`) so that every implementation can map
 * them onto a file path or an object key without escaping: one to eight `/`-separated segments of
 * `[A-Za-z0-9._-]`, each starting with a letter or digit. Callers that choose keys from tenant-visible ids
 * (`<tenantId>/<imageId>.png`) therefore cannot produce `..`, absolute paths or hidden files.
 *
 * Content types come from the bytes (`contentTypeForImage`), not from the caller's claim, and `put` returns the
 * type actually recorded so the caller can store that one alongside the image's row.
 *
 * An S3-compatible implementation (AWS S3, MinIO, R2, GCS in interoperability mode) fits this contract as is:
 * - `put`: one `PutObject` of `<prefix>/<key>` with `ContentType` set to the sniffed type and
 *   `ContentLength` = bytes.length; S3 makes an object visible only once the whole upload succeeded, which gives
 *   the same all-or-nothing guarantee the local store gets from rename.
 * - `get`: `GetObject`; `NoSuchKey` → null; the body becomes `stream`, `ContentLength` becomes `size` and
 *   `ContentType` becomes `mimeType` (re-sniffed from the first chunk when the bucket may be written by others).
 * - `delete`: `DeleteObject`; S3 answers success for a missing key, so `HeadObject` first when the boolean
 *   matters, or accept `true` as "no longer there".
 * - Switchyard deletes images after IMAGE_RETENTION_HOURS itself (the worker's `ImageRetentionPurger`, through
 *   `delete`). Lifecycle rules on the bucket could expire them too; rows in `stored_images` are then dangling,
 *   which the routes already handle (`get` → null → 410 `image_expired`).
 * Serving could then redirect to a presigned S3 URL instead of streaming, as long as the gateway still checks
 * its own signature first.
 */
export interface ImageStore {
  /** stores the bytes under `key`, replacing what was there; readers see the old or the new image, never a mix */
  put(key: string, bytes: Uint8Array, mimeType: string): Promise<StoredImageInfo>;
  /** null when nothing is stored under `key`; a returned `stream` must be consumed or destroyed */
  get(key: string): Promise<ImageObject | null>;
  /** true when something was removed, false when nothing was stored under `key` */
  delete(key: string): Promise<boolean>;
}

/** Nest injection token for the configured `ImageStore` (interfaces do not exist at run time) */
export const IMAGE_STORE = Symbol('IMAGE_STORE');

export interface StoredImageInfo {
  key: string;
  /** the sniffed type, which may differ from the one passed to `put` */
  mimeType: string;
  size: number;
}

/** a stored image: small implementations may hand back bytes, streaming ones a stream */
export type ImageObject = { mimeType: string; size: number } & (
  | { bytes: Buffer; stream?: undefined }
  | { stream: Readable; bytes?: undefined }
);

/** reads an `ImageObject` fully, e.g. for `b64_json` responses; images are bounded, so buffering is fine here */
export async function readImageObject(image: ImageObject): Promise<Buffer> {
  if (image.bytes) return image.bytes;
  const chunks: Buffer[] = [];
  for await (const chunk of image.stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** a key that could name something outside the store's namespace; a programming error, never a tenant's */
export class InvalidStorageKeyError extends Error {
  constructor(readonly key: string) {
    super(`Invalid storage key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)}`);
    this.name = 'InvalidStorageKeyError';
  }
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_SEGMENTS = 8;
const MAX_KEY_LENGTH = 512;

export function isValidStorageKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  const segments = key.split('/');
  return segments.length <= MAX_SEGMENTS && segments.every((s) => SEGMENT.test(s));
}

export function assertValidStorageKey(key: unknown): asserts key is string {
  if (!isValidStorageKey(key)) throw new InvalidStorageKeyError(String(key));
}

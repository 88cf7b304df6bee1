import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { contentTypeForImage, IMAGE_SNIFF_BYTES } from './image-type';
import { assertValidStorageKey, InvalidStorageKeyError, type ImageObject, type ImageStore, type StoredImageInfo } from './image-store';

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** lookups that mean "nothing stored under this key" rather than a broken disk */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/**
 * Images as files under one root folder (`<DATA_DIR>/images` by default): the embedded and single-host store.
 * Several gateway replicas can share it only through a shared filesystem; otherwise use an object store.
 */
export class LocalDiskImageStore implements ImageStore {
  /** the folder the files live in, resolved */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  // The claimed type is not kept: the type is read back from the bytes on every `get` (see image-type.ts).
  async put(key: string, bytes: Uint8Array, _mimeType: string): Promise<StoredImageInfo> {
    const target = this.pathFor(key);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    // The temporary name starts with a dot, which no valid key segment can, so a reader can never open a
    // half-written file and a key can never collide with a temporary file. Same folder = same filesystem,
    // so the rename is atomic.
    const temp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'wx', 0o640);
      await handle.writeFile(bytes);
      // Flush before the rename makes the file visible, so a crash cannot leave a complete name over empty data.
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, target);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    return { key, mimeType: contentTypeForImage(bytes), size: bytes.length };
  }

  async get(key: string): Promise<ImageObject | null> {
    const path = this.pathFor(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (ABSENT.has(errorCode(err) ?? '')) return null;
      throw err;
    }
    // Everything below reads through this one handle: a concurrent `put` renames a new file over the name, but the
    // open handle keeps the old inode, so size, type and content always describe the same image.
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        return null;
      }
      const head = Buffer.alloc(Math.min(IMAGE_SNIFF_BYTES, stat.size));
      if (head.length > 0) await handle.read(head, 0, head.length, 0);
      const stream = handle.createReadStream({ start: 0, autoClose: true });
      return { stream, mimeType: contentTypeForImage(head), size: stat.size };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.pathFor(key));
      return true;
    } catch (err) {
      if (ABSENT.has(errorCode(err) ?? '')) return false;
      throw err;
    }
  }

  private pathFor(key: string): string {
    assertValidStorageKey(key);
    const path = resolve(this.root, key);
    // The key grammar already excludes escapes; this second check keeps it that way if the grammar is ever loosened.
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) throw new InvalidStorageKeyError(key);
    return path;
  }
}

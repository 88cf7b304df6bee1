import { mkdtemp, readdir, readFile, rm, stat, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { InvalidStorageKeyError, isValidStorageKey, readImageObject } from './image-store';
import { LocalDiskImageStore } from './local-disk-image-store';

async function makeImage(format: 'png' | 'jpeg' | 'webp', width = 8, height = 8): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 10, g: 120, b: 220 } } }).toFormat(format).toBuffer();
}

/** every file under `dir`, relative, including dot files */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

describe('LocalDiskImageStore', () => {
  let base: string;
  let root: string;
  let store: LocalDiskImageStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'switchyard-images-'));
    root = join(base, 'images');
    store = new LocalDiskImageStore(root);
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('round-trips an image, creating folders on demand', async () => {
    const png = await makeImage('png');
    const info = await store.put('tenant-a/3f1c2a9e.png', png, 'image/png');
    expect(info).toEqual({ key: 'tenant-a/3f1c2a9e.png', mimeType: 'image/png', size: png.length });
    expect(await readFile(join(root, 'tenant-a', '3f1c2a9e.png'))).toEqual(png);

    const got = await store.get('tenant-a/3f1c2a9e.png');
    expect(got).not.toBeNull();
    expect(got!.mimeType).toBe('image/png');
    expect(got!.size).toBe(png.length);
    expect(got!.stream).toBeDefined();
    expect(await readImageObject(got!)).toEqual(png);
  });

  it('labels files by their bytes, not by the type the caller claimed', async () => {
    const jpeg = await makeImage('jpeg');
    const webp = await makeImage('webp');
    expect((await store.put('a.png', jpeg, 'image/png')).mimeType).toBe('image/jpeg');
    expect((await store.put('b', webp, 'text/html')).mimeType).toBe('image/webp');
    expect((await store.put('c.html', Buffer.from('<script>alert(1)</script>'), 'image/png')).mimeType).toBe('application/octet-stream');
    for (const [key, mime] of [['a.png', 'image/jpeg'], ['b', 'image/webp'], ['c.html', 'application/octet-stream']]) {
      const got = await store.get(key);
      expect(got!.mimeType).toBe(mime);
      got!.stream!.destroy();
    }
  });

  it('keeps empty files readable', async () => {
    await store.put('empty', Buffer.alloc(0), 'image/png');
    const got = await store.get('empty');
    expect(got).toMatchObject({ size: 0, mimeType: 'application/octet-stream' });
    expect(await readImageObject(got!)).toEqual(Buffer.alloc(0));
  });

  it('answers null for keys with nothing stored, including folders and paths through files', async () => {
    await store.put('t/one', await makeImage('png'), 'image/png');
    expect(await store.get('missing')).toBeNull();
    expect(await store.get('t')).toBeNull();
    expect(await store.get('t/one/deeper')).toBeNull();
    expect(await store.get('nowhere/at/all')).toBeNull();
  });

  it('deletes, and reports whether anything was there', async () => {
    await store.put('t/one', await makeImage('png'), 'image/png');
    expect(await store.delete('t/one')).toBe(true);
    expect(await store.get('t/one')).toBeNull();
    expect(await store.delete('t/one')).toBe(false);
    expect(await store.delete('t')).toBe(false);
    expect(await stat(join(root, 't'))).toBeTruthy();
  });

  const procFd = '/proc/self/fd';
  (process.platform === 'linux' ? it : it.skip)('closes the file once a stream is consumed or destroyed, and for misses', async () => {
    const open = async () => (await readdir(procFd)).length;
    await store.put('t/one', await makeImage('png'), 'image/png');
    await mkdir(join(root, 'dir'));
    const before = await open();
    const held = await store.get('t/one');
    expect(await open()).toBe(before + 1);
    held!.stream!.destroy();
    await new Promise((r) => held!.stream!.once('close', r));
    const read = (await store.get('t/one'))!;
    await readImageObject(read);
    if (!read.stream!.closed) await new Promise((r) => read.stream!.once('close', r));
    expect(await store.get('dir')).toBeNull();
    expect(await open()).toBe(before);
  });

  describe('refuses keys that could leave the root', () => {
    const bad = [
      '',
      '..',
      '.',
      '../outside',
      'a/../../outside',
      'a/../b',
      './a',
      '/etc/passwd',
      '//a',
      'a//b',
      'a/',
      '.hidden',
      'a/.temp.tmp',
      'a\\..\\..\\outside',
      'C:\\windows',
      '%2e%2e/outside',
      'a\0b',
      'a b',
      'ä',
      'a\n',
      'x'.repeat(129),
      Array.from({ length: 9 }, () => 'a').join('/'),
    ];

    it.each(bad.map((k) => [JSON.stringify(k), k]))('%s', async (_label, key) => {
      expect(isValidStorageKey(key)).toBe(false);
      await expect(store.put(key, Buffer.from('x'), 'image/png')).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
    });

    it('and writes nothing anywhere when it does', async () => {
      await writeFile(join(base, 'outside'), 'keep');
      for (const key of bad) await store.put(key, Buffer.from('x'), 'image/png').catch(() => undefined);
      expect(await readFile(join(base, 'outside'), 'utf8')).toBe('keep');
      expect(await readdir(base)).toEqual(['outside']);
    });

    it('while accepting the keys the gateway uses', () => {
      for (const key of ['3f1c2a9e-5b7d-4c1e-9f00-0123456789ab', 'tenant/3f1c2a9e.png', 'a/b/c/d/e/f/g/h', 'v1..2', 'A_b-c.d']) {
        expect(isValidStorageKey(key)).toBe(true);
      }
    });
  });

  describe('writes atomically', () => {
    it('leaves no temporary files behind, also when the rename fails', async () => {
      await store.put('t/a.png', await makeImage('png'), 'image/png');
      await mkdir(join(root, 't', 'folder'));
      // renaming a file over a folder fails after the temporary file was written
      await expect(store.put('t/folder', await makeImage('png'), 'image/png')).rejects.toThrow();
      expect(await listFiles(root)).toEqual(['t/a.png']);
    });

    it('never shows a reader a partly written image', async () => {
      const big = Buffer.alloc(8 * 1024 * 1024, 1);
      const other = Buffer.alloc(8 * 1024 * 1024 + 7, 2);
      const seen = new Set<string>();
      for (const bytes of [big, other, big]) {
        const writing = store.put('t/big', bytes, 'image/png');
        let done = false;
        void writing.finally(() => (done = true));
        while (!done) {
          const got = await store.get('t/big');
          if (got === null) {
            seen.add('absent');
            continue;
          }
          const content = await readImageObject(got);
          expect(content.length).toBe(got.size);
          expect(content.equals(big) || content.equals(other)).toBe(true);
          seen.add(content.equals(big) ? 'big' : 'other');
        }
        await writing;
      }
      expect((await readImageObject((await store.get('t/big'))!)).equals(big)).toBe(true);
      expect(seen.size).toBeGreaterThan(0);
    });

    it('keeps serving the old image to a reader that opened it before an overwrite', async () => {
      const before = await makeImage('png', 64, 64);
      const after = await makeImage('jpeg', 32, 32);
      await store.put('t/x', before, 'image/png');
      const opened = await store.get('t/x');
      await store.put('t/x', after, 'image/jpeg');
      expect(opened).toMatchObject({ mimeType: 'image/png', size: before.length });
      expect(await readImageObject(opened!)).toEqual(before);
      expect(await readImageObject((await store.get('t/x'))!)).toEqual(after);
    });

    it('ends concurrent writers of one key with one complete image', async () => {
      const images = await Promise.all([makeImage('png', 40, 40), makeImage('jpeg', 50, 50), makeImage('webp', 60, 60)]);
      await Promise.all(images.map((img) => store.put('t/same', img, 'image/png')));
      const final = await readImageObject((await store.get('t/same'))!);
      expect(images.some((img) => img.equals(final))).toBe(true);
      expect(await listFiles(root)).toEqual(['t/same']);
    });
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { ImageFetchError, ImageFetcher, decodeImageDataUrl, imageDataUrl, type ImageFetchFailure } from './image-fetcher';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');

interface TestServer {
  port: number;
  /** TCP connections accepted so far */
  connections: number;
  /** request paths seen */
  paths: string[];
  close(): Promise<void>;
}

/** A server on every loopback address (dual-stack `::` when the machine has IPv6) that counts connections. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.end('hello')): Promise<TestServer> {
  const paths: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    handler(req, res);
  });
  const state = { connections: 0 };
  server.on('connection', (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => {
    server.once('error', () => server.listen(0, '127.0.0.1', resolve));
    server.listen({ port: 0, host: '::', ipv6Only: false }, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ImageFetchFailure> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ImageFetchError) return error.failure;
    throw error;
  }
  throw new Error('expected the fetch to fail');
}

function resolverOf(table: Record<string, string[] | (() => string[])>) {
  const calls: string[] = [];
  const resolver = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const entry = table[hostname];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const list = typeof entry === 'function' ? entry() : entry;
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolver, calls };
}

describe('ImageFetcher', () => {
  let images: TestServer;
  let forbidden: TestServer;
  const fetchers: ImageFetcher[] = [];
  const fetcher = (options: ConstructorParameters<typeof ImageFetcher>[0] = {}): ImageFetcher => {
    const f = new ImageFetcher(options);
    fetchers.push(f);
    return f;
  };

  beforeAll(async () => {
    images = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const to = url.searchParams.get('to');
      if (url.pathname === '/png') res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
      else if (url.pathname === '/png-close') res.writeHead(200, { 'content-type': 'image/png', connection: 'close' }).end(PNG);
      else if (url.pathname === '/jpeg-as-png') res.writeHead(200, { 'content-type': 'image/png; charset=binary' }).end(JPEG);
      else if (url.pathname === '/gif-as-jpg') res.writeHead(200, { 'content-type': 'image/jpg' }).end(GIF);
      else if (url.pathname === '/html') res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
      else if (url.pathname === '/svg') res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg/>');
      else if (url.pathname === '/no-type') res.writeHead(200).end(PNG);
      else if (url.pathname === '/html-as-png') res.writeHead(200, { 'content-type': 'image/png' }).end('<html><script></script></html>');
      else if (url.pathname === '/missing') res.writeHead(404, { 'content-type': 'image/png' }).end();
      else if (url.pathname === '/big-declared') res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(10 * 1024 * 1024) }).write(PNG);
      else if (url.pathname === '/endless') {
        // No Content-Length: chunked, and it never stops unless the reader hangs up.
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(PNG);
        const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 1);
        res.on('close', () => clearInterval(timer));
      } else if (url.pathname === '/hang') res.writeHead(200, { 'content-type': 'image/png' }).write(PNG);
      else if (url.pathname === '/silent') void 0;
      else if (url.pathname === '/redirect' && to) res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: to }).end();
      else if (url.pathname === '/redirect-no-location') res.writeHead(302).end();
      else if (url.pathname.startsWith('/hops/')) {
        const left = Number(url.pathname.slice('/hops/'.length));
        if (left === 0) res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
        else res.writeHead(307, { location: `/hops/${left - 1}` }).end();
      } else res.writeHead(500).end();
    });
    forbidden = await serve();
  });

  afterAll(async () => {
    await Promise.all(fetchers.map((f) => f.close()));
    await images.close();
    await forbidden.close();
  });

  afterEach(() => {
    // Every test here runs against refused targets on this port; not one connection may ever reach it.
    expect(forbidden.connections).toBe(0);
  });

  describe('happy path (loopback allowed on the image server port only)', () => {
    it('fetches a PNG and labels it by its bytes', async () => {
      const image = await fetcher({ allowLoopbackPorts: [images.port] }).fetch(`http://127.0.0.1:${images.port}/png`);
      expect(image.mimeType).toBe('image/png');
      expect(image.data.equals(PNG)).toBe(true);
      expect(imageDataUrl(image)).toBe(`data:image/png;base64,${PNG.toString('base64')}`);
    });

    it('trusts the bytes over the declared type, within the accepted types', async () => {
      const f = fetcher({ allowLoopbackPorts: [images.port] });
      expect((await f.fetch(`http://127.0.0.1:${images.port}/jpeg-as-png`)).mimeType).toBe('image/jpeg');
      expect((await f.fetch(`http://127.0.0.1:${images.port}/gif-as-jpg`)).mimeType).toBe('image/gif');
    });

    it('follows up to three redirects, relative ones included', async () => {
      const f = fetcher({ allowLoopbackPorts: [images.port] });
      expect((await f.fetch(`http://127.0.0.1:${images.port}/hops/3`)).mimeType).toBe('image/png');
      expect(await failureOf(f.fetch(`http://127.0.0.1:${images.port}/hops/4`))).toBe('too_many_redirects');
    });

    it('connects through the injected resolver', async () => {
      const { resolver, calls } = resolverOf({ 'images.test': ['127.0.0.1'] });
      const image = await fetcher({ allowLoopbackPorts: [images.port], resolver }).fetch(`http://images.test:${images.port}/png`);
      expect(image.mimeType).toBe('image/png');
      expect(calls).toEqual(['images.test']);
    });
  });

  describe('refused targets open no connection', () => {
    const forms = (port: number): string[] => [
      `http://127.0.0.1:${port}/x.png`,
      `http://127.9.9.9:${port}/x.png`,
      `http://2130706433:${port}/x.png`,
      `http://0x7f000001:${port}/x.png`,
      `http://0177.0.0.1:${port}/x.png`,
      `http://127.1:${port}/x.png`,
      `http://0.0.0.0:${port}/x.png`,
      `http://0:${port}/x.png`,
      `http://[::1]:${port}/x.png`,
      `http://[::]:${port}/x.png`,
      `http://[::ffff:127.0.0.1]:${port}/x.png`,
      `http://[::ffff:7f00:1]:${port}/x.png`,
      `https://127.0.0.1:${port}/x.png`,
      `http://169.254.169.254/latest/meta-data/`,
      `http://10.0.0.1:${port}/`,
      `http://[fd00::1]:${port}/`,
      `http://[fe80::1]:${port}/`,
      `http://100.64.0.1/`,
      `http://224.0.0.1/`,
      `http://255.255.255.255/`,
    ];

    it('refuses every literal form of a refused address, without connecting', async () => {
      const f = fetcher({ allowLoopbackPorts: [images.port] });
      for (const url of forms(forbidden.port)) {
        expect([url, await failureOf(f.fetch(url))]).toEqual([url, 'forbidden_address']);
      }
      expect(forbidden.connections).toBe(0);
    });

    it('refuses a name that resolves to a refused address, or to any refused address among others', async () => {
      const { resolver } = resolverOf({
        'loop.test': ['127.0.0.1'],
        'mixed.test': ['8.8.8.8', '10.0.0.7'],
        'mapped.test': ['::ffff:127.0.0.1'],
        'v6.test': ['::1'],
      });
      const f = fetcher({ resolver });
      for (const host of ['loop.test', 'mixed.test', 'mapped.test', 'v6.test']) {
        expect([host, await failureOf(f.fetch(`http://${host}:${forbidden.port}/x.png`))]).toEqual([host, 'forbidden_address']);
      }
    });

    it('refuses localhost through the system resolver', async () => {
      expect(await failureOf(fetcher().fetch(`http://localhost:${forbidden.port}/x.png`))).toBe('forbidden_address');
    });

    it('checks the address at every connect, so a name that rebinds after an allowed answer is refused', async () => {
      let answer = '127.0.0.1';
      const { resolver, calls } = resolverOf({ 'rebind.test': () => [answer] });
      const f = fetcher({ allowLoopbackPorts: [images.port], resolver });
      // The server closes the connection, so the next fetch must connect (and resolve) again.
      expect((await f.fetch(`http://rebind.test:${images.port}/png-close`)).mimeType).toBe('image/png');
      answer = '10.1.2.3';
      expect(await failureOf(f.fetch(`http://rebind.test:${images.port}/png-close`))).toBe('forbidden_address');
      expect(calls).toEqual(['rebind.test', 'rebind.test']);
    });

    it('does not extend the loopback allowance to other ports or to other refused ranges', async () => {
      const { resolver } = resolverOf({ 'private.test': ['192.168.1.10'] });
      const f = fetcher({ allowLoopbackPorts: [images.port], resolver });
      expect(await failureOf(f.fetch(`http://127.0.0.1:${forbidden.port}/`))).toBe('forbidden_address');
      expect(await failureOf(f.fetch(`http://10.0.0.1:${images.port}/`))).toBe('forbidden_address');
      expect(await failureOf(f.fetch(`http://private.test:${images.port}/`))).toBe('forbidden_address');
    });

    it('refuses the allowed image server itself when no allowance is given', async () => {
      const before = images.connections;
      expect(await failureOf(fetcher().fetch(`http://127.0.0.1:${images.port}/png`))).toBe('forbidden_address');
      expect(images.connections).toBe(before);
    });
  });

  describe('redirects are checked hop by hop', () => {
    it.each([
      ['a loopback address on another port', (p: number) => `http://127.0.0.1:${p}/x.png`],
      ['a decimal loopback form', (p: number) => `http://2130706433:${p}/x.png`],
      ['an IPv4-mapped loopback form', (p: number) => `http://[::ffff:127.0.0.1]:${p}/x.png`],
      ['localhost', (p: number) => `http://localhost:${p}/x.png`],
      ['the metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ])('refuses a redirect to %s', async (_name, target) => {
      const f = fetcher({ allowLoopbackPorts: [images.port] });
      const to = encodeURIComponent(target(forbidden.port));
      for (const status of [301, 302, 303, 307, 308]) {
        expect(await failureOf(f.fetch(`http://127.0.0.1:${images.port}/redirect?status=${status}&to=${to}`))).toBe('forbidden_address');
      }
    });

    it('refuses a redirect to another scheme or with credentials', async () => {
      const f = fetcher({ allowLoopbackPorts: [images.port] });
      for (const to of ['file:///etc/passwd', 'ftp://example.com/x.png', `data:image/png;base64,${PNG.toString('base64')}`, `http://user:pw@127.0.0.1:${images.port}/png`]) {
        expect(await failureOf(f.fetch(`http://127.0.0.1:${images.port}/redirect?to=${encodeURIComponent(to)}`))).toBe('invalid_url');
      }
    });

    it('refuses a redirect without a location', async () => {
      expect(await failureOf(fetcher({ allowLoopbackPorts: [images.port] }).fetch(`http://127.0.0.1:${images.port}/redirect-no-location`))).toBe('bad_status');
    });
  });

  describe('URL, type and size rules', () => {
    it.each([
      ['ftp://example.com/x.png'],
      ['file:///etc/passwd'],
      ['gopher://example.com/'],
      ['javascript:alert(1)'],
      ['not a url'],
      ['//example.com/x.png'],
      ['http://user:secret@example.com/x.png'],
      ['http://user@example.com/x.png'],
    ])('refuses %s before any lookup', async (url) => {
      const { resolver, calls } = resolverOf({});
      expect(await failureOf(fetcher({ resolver }).fetch(url))).toBe('invalid_url');
      expect(calls).toEqual([]);
    });

    it.each<[string, ImageFetchFailure]>([
      ['/html', 'bad_content_type'],
      ['/svg', 'bad_content_type'],
      ['/no-type', 'bad_content_type'],
      ['/html-as-png', 'not_an_image'],
      ['/missing', 'bad_status'],
      ['/big-declared', 'too_large'],
      ['/endless', 'too_large'],
    ])('refuses %s with %s', async (path, failure) => {
      const f = fetcher({ allowLoopbackPorts: [images.port], maxBytes: 64 * 1024 });
      expect(await failureOf(f.fetch(`http://127.0.0.1:${images.port}${path}`))).toBe(failure);
    });

    it('gives up after the total time limit, headers or body', async () => {
      const f = fetcher({ allowLoopbackPorts: [images.port], timeoutMs: 300 });
      const started = Date.now();
      expect(await failureOf(f.fetch(`http://127.0.0.1:${images.port}/silent`))).toBe('timeout');
      expect(await failureOf(f.fetch(`http://127.0.0.1:${images.port}/hang`))).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('reports a name that does not resolve', async () => {
      expect(await failureOf(fetcher({ resolver: resolverOf({}).resolver }).fetch('http://nowhere.test/x.png'))).toBe('unresolvable');
    });

    it('stops when the caller aborts', async () => {
      const controller = new AbortController();
      const pending = fetcher({ allowLoopbackPorts: [images.port] }).fetch(`http://127.0.0.1:${images.port}/silent`, controller.signal);
      setTimeout(() => controller.abort(), 50);
      expect(await failureOf(pending)).toBe('network');
    });
  });

  describe('load', () => {
    it('decodes data URLs locally and fetches the rest', async () => {
      const { resolver, calls } = resolverOf({});
      const f = fetcher({ resolver });
      expect((await f.load(`data:image/png;base64,${PNG.toString('base64')}`)).data.equals(PNG)).toBe(true);
      expect(calls).toEqual([]);
      expect(await failureOf(f.load('http://nowhere.test/x.png'))).toBe('unresolvable');
    });

    it('applies the fetcher size limit to data URLs', async () => {
      const big = Buffer.concat([PNG, Buffer.alloc(2048)]);
      expect(await failureOf(fetcher({ maxBytes: 1024 }).load(`data:image/png;base64,${big.toString('base64')}`))).toBe('too_large');
    });
  });
});

describe('decodeImageDataUrl', () => {
  const b64 = PNG.toString('base64');

  it('decodes a base64 image and labels it by its bytes', () => {
    expect(decodeImageDataUrl(`data:image/png;base64,${b64}`)).toEqual({ data: PNG, mimeType: 'image/png' });
    expect(decodeImageDataUrl(`DATA:IMAGE/PNG;BASE64,${b64}`).mimeType).toBe('image/png');
    expect(decodeImageDataUrl(`data:image/jpeg;base64,${b64}`).mimeType).toBe('image/png');
    expect(decodeImageDataUrl(`data:image/png;name=a.png;base64,${b64.slice(0, 20)}\n${b64.slice(20)}`).data.equals(PNG)).toBe(true);
    expect(decodeImageDataUrl(`data:image/png;base64,${b64.replace(/=+$/, '')}`).data.equals(PNG)).toBe(true);
  });

  it.each<[string, string, ImageFetchFailure]>([
    ['no base64 marker', `data:image/png,${b64}`, 'invalid_url'],
    ['not a data URL', 'https://example.com/x.png', 'invalid_url'],
    ['characters outside base64', 'data:image/png;base64,iVBORw0K$$$', 'invalid_url'],
    ['padding in the middle', 'data:image/png;base64,iVBO=Rw0KGgo=', 'invalid_url'],
    ['an impossible length', 'data:image/png;base64,iVBORw0KG', 'invalid_url'],
    ['an SVG', `data:image/svg+xml;base64,${Buffer.from('<svg/>').toString('base64')}`, 'bad_content_type'],
    ['a non-image type', `data:text/html;base64,${b64}`, 'bad_content_type'],
    ['no type', `data:;base64,${b64}`, 'bad_content_type'],
    ['bytes that are not an image', `data:image/png;base64,${Buffer.from('<html></html>').toString('base64')}`, 'not_an_image'],
    ['an empty body', 'data:image/png;base64,', 'not_an_image'],
  ])('refuses %s', (_name, url, failure) => {
    let caught: unknown;
    try {
      decodeImageDataUrl(url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ImageFetchError);
    expect((caught as ImageFetchError).failure).toBe(failure);
  });

  it('refuses more bytes than the limit, decoded', () => {
    const body = Buffer.concat([PNG, Buffer.alloc(1000)]);
    expect(decodeImageDataUrl(`data:image/png;base64,${body.toString('base64')}`, body.length).data.length).toBe(body.length);
    expect(() => decodeImageDataUrl(`data:image/png;base64,${body.toString('base64')}`, body.length - 1)).toThrow(/larger than/);
  });

  it('becomes a 400 invalid_image_url naming the field', () => {
    const error = new ImageFetchError('forbidden_address', 'it points to a private, local or reserved address.').toApiError('messages[0].content[1].image_url.url');
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_image_url');
    expect(error.param).toBe('messages[0].content[1].image_url.url');
  });
});

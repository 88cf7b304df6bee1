import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PrismaService } from '@app/database';
import { ImageFetcher, ImageInputInliner } from '@app/providers';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(60_000);

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const PNG_DATA_URL = `data:image/png;base64,${PNG.toString('base64')}`;
const IMAGE_PARAM = 'messages[0].content[1].image_url.url';

interface Listener {
  port: number;
  readonly connections: number;
  /** request paths received */
  readonly paths: string[];
  close(): Promise<void>;
}

/** A server on every loopback address (dual-stack `::` where the machine has IPv6) that counts connections. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  const sockets = new Set<Socket>();
  const paths: string[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    handler(req, res);
  });
  server.on('connection', (socket: Socket) => {
    connections++;
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
      return connections;
    },
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('tenant image URLs are fetched by the gateway, public addresses only', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let tenant: { tenantId: string; key: string };
  /** stands in for an internal service: nothing may ever connect to it */
  let internal: Listener;
  /** an image host; reachable only once the test allows its port */
  let images: Listener;
  let startingBalance: bigint;

  const post = async (body: unknown): Promise<{ status: number; body: any; headers: Headers }> => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  };
  const askAbout = (url: string, model = 'openai/gpt-4o-mini', extra: Record<string, unknown> = {}) => ({
    model,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url } }] }],
    ...extra,
  });

  /** refused with 400 naming the part, before anything was reserved, recorded or sent upstream */
  async function expectRefused(body: unknown): Promise<void> {
    const res = await post(body);
    expect([res.status, res.body.error?.code, res.body.error?.param]).toEqual([400, 'invalid_image_url', IMAGE_PARAM]);
    expect(res.body.error.type).toBe('invalid_request_error');
    expect(gw.sim.calls()).toEqual([]);
    expect(internal.connections).toBe(0);
    const row = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
    expect(row.reservedMicros).toBe(0n);
    expect(row.balanceMicros).toBe(startingBalance);
    expect(await prisma.reservation.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
    expect(await prisma.usageRecord.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
    expect(await prisma.imageJob.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
  }

  beforeAll(async () => {
    internal = await listen((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG));
    images = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const to = url.searchParams.get('to');
      if (url.pathname === '/cat.png') res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
      else if (url.pathname === '/redirect' && to) res.writeHead(302, { location: to }).end();
      else res.writeHead(404).end();
    });
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(10);
    startingBalance = (await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } })).balanceMicros;
  });
  afterAll(async () => {
    await gw?.close();
    await internal?.close();
    await images?.close();
  });
  beforeEach(() => gw.sim.reset());

  describe('as wired in production', () => {
    const forms = (port: number): [string, string][] => [
      ['loopback', `http://127.0.0.1:${port}/x.png`],
      ['loopback elsewhere in 127/8', `http://127.0.0.2:${port}/x.png`],
      ['decimal', `http://2130706433:${port}/x.png`],
      ['hex', `http://0x7f000001:${port}/x.png`],
      ['octal', `http://0177.0.0.1:${port}/x.png`],
      ['short', `http://127.1:${port}/x.png`],
      ['unspecified IPv4', `http://0.0.0.0:${port}/x.png`],
      ['IPv6 loopback', `http://[::1]:${port}/x.png`],
      ['IPv6 unspecified', `http://[::]:${port}/x.png`],
      ['IPv4-mapped IPv6', `http://[::ffff:127.0.0.1]:${port}/x.png`],
      ['IPv4-mapped IPv6, hex', `http://[::ffff:7f00:1]:${port}/x.png`],
      ['https to loopback', `https://127.0.0.1:${port}/x.png`],
      ['a name resolving to loopback', `http://localhost:${port}/x.png`],
      ['cloud metadata', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
      ['IPv4-mapped metadata', 'http://[::ffff:169.254.169.254]/latest/meta-data/'],
      ['private 10/8', 'http://10.0.0.1/x.png'],
      ['private 172.16/12', 'http://172.16.5.4/x.png'],
      ['private 192.168/16', 'http://192.168.1.1/x.png'],
      ['CGNAT', 'http://100.64.0.1/x.png'],
      ['IPv6 unique-local', 'http://[fd00::1]/x.png'],
      ['IPv6 link-local', 'http://[fe80::1]/x.png'],
      ['multicast', 'http://224.0.0.1/x.png'],
      ['broadcast', 'http://255.255.255.255/x.png'],
      ['credentials in the URL', 'http://user:secret@images.example.com/x.png'],
    ];

    it.each(forms(0).map(([name]) => [name]))('refuses %s with 400 invalid_image_url, nothing reserved or sent', async (name) => {
      const url = forms(internal.port).find(([n]) => n === name)?.[1] as string;
      await expectRefused(askAbout(url));
    });

    it('refuses before a stream starts', async () => {
      await expectRefused(askAbout(`http://[::ffff:127.0.0.1]:${internal.port}/x.png`, 'openai/gpt-4o-mini', { stream: true }));
    });

    it('refuses for an image model too, naming the part', async () => {
      await expectRefused(askAbout(`http://127.0.0.1:${internal.port}/x.png`, 'google/gemini-2.5-flash-image'));
    });

    it('refuses the image host itself while its port is not allowed', async () => {
      await expectRefused(askAbout(`http://127.0.0.1:${images.port}/cat.png`));
      expect(images.connections).toBe(0);
    });

    it('refuses an internal address given as a Gemini fileData fileUri on the Gemini-native route, nothing reserved or sent', async () => {
      for (const fileUri of [`http://127.0.0.1:${internal.port}/x.png`, 'http://169.254.169.254/latest/meta-data/']) {
        const res = await fetch(`${gw.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
          method: 'POST',
          headers: { 'x-goog-api-key': tenant.key, 'content-type': 'application/json' },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'What is in this picture?' }, { fileData: { mimeType: 'image/png', fileUri } }] }] }),
        });
        const body = (await res.json()) as { error: { code: number; status: string; message: string } };
        expect([res.status, body.error.code, body.error.status]).toEqual([400, 400, 'INVALID_ARGUMENT']);
        expect(body.error.message).not.toContain('169.254');
        expect(gw.sim.calls()).toEqual([]);
        expect(internal.connections).toBe(0);
        const row = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
        expect([row.reservedMicros, row.balanceMicros]).toEqual([0n, startingBalance]);
        expect(await prisma.usageRecord.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
      }
    });

    it('refuses a data URL that is not an accepted image', async () => {
      await expectRefused(askAbout(`data:image/svg+xml;base64,${Buffer.from('<svg/>').toString('base64')}`));
      await expectRefused(askAbout(`data:image/png;base64,${Buffer.from('<html></html>').toString('base64')}`));
    });
  });

  describe('with the image host port allowed (as a test may; production never does)', () => {
    beforeAll(() => {
      // The route's inliner is swapped for one whose fetcher may reach loopback on the image host's port only.
      const inliner = gw.app.get(ImageInputInliner);
      const previous = Reflect.get(inliner, 'fetcher') as ImageFetcher;
      expect(previous).toBeInstanceOf(ImageFetcher);
      Reflect.set(inliner, 'fetcher', new ImageFetcher({ allowLoopbackPorts: [images.port] }));
      void previous.close();
    });

    it('fetches the image and sends the provider a data URL instead of the tenant URL', async () => {
      const url = `http://127.0.0.1:${images.port}/cat.png`;
      const res = await post(askAbout(url));
      expect(res.status).toBe(200);
      const sent = gw.sim.calls({ provider: 'openai' });
      expect(sent).toHaveLength(1);
      const parts = (sent[0].body as any).messages[0].content;
      expect(parts[1]).toEqual({ type: 'image_url', image_url: { url: PNG_DATA_URL } });
      expect(JSON.stringify(sent[0].body)).not.toContain(`${images.port}`);
    });

    it('gives an image model the fetched bytes as its input image', async () => {
      const res = await post({
        model: 'google/gemini-3.1-flash-image-preview',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Make the sky orange.' }, { type: 'image_url', image_url: { url: `http://127.0.0.1:${images.port}/cat.png` } }] }],
      });
      expect(res.status).toBe(200);
      const call = gw.sim.calls({ provider: 'google' }).at(-1);
      const inputParts = (call?.body as { contents: { parts: { inlineData?: { data: string } }[] }[] }).contents.at(-1)?.parts ?? [];
      expect(inputParts.some((p) => p.inlineData?.data === PNG.toString('base64'))).toBe(true);
    });

    it.each([
      ['a loopback port that is not allowed', (p: number) => `http://127.0.0.1:${p}/x.png`],
      ['a decimal loopback form', (p: number) => `http://2130706433:${p}/x.png`],
      ['an IPv4-mapped loopback form', (p: number) => `http://[::ffff:127.0.0.1]:${p}/x.png`],
      ['a name resolving to loopback', (p: number) => `http://localhost:${p}/x.png`],
      ['the metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
      ['another scheme', () => 'file:///etc/passwd'],
    ])('refuses a redirect from the allowed host to %s', async (_name, target) => {
      const redirectsBefore = images.paths.filter((p) => p.startsWith('/redirect')).length;
      // The tenant's balance moved with the successful calls above; only the refusal's own effect is checked.
      const row = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
      const usage = await prisma.usageRecord.count({ where: { tenantId: tenant.tenantId } });
      const res = await post(askAbout(`http://127.0.0.1:${images.port}/redirect?to=${encodeURIComponent(target(internal.port))}`));
      expect([res.status, res.body.error?.code, res.body.error?.param]).toEqual([400, 'invalid_image_url', IMAGE_PARAM]);
      // The first hop really was fetched: the refusal came at the redirect.
      expect(images.paths.filter((p) => p.startsWith('/redirect')).length).toBe(redirectsBefore + 1);
      expect(gw.sim.calls()).toEqual([]);
      expect(internal.connections).toBe(0);
      const after = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
      expect([after.balanceMicros, after.reservedMicros]).toEqual([row.balanceMicros, 0n]);
      expect(await prisma.usageRecord.count({ where: { tenantId: tenant.tenantId } })).toBe(usage);
    });
  });
});

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamRequest } from '../adapter';
import { UpstreamError } from '../errors';
import { BodyBufferPool, UpstreamHttpClient, joinUrl, mapNetworkError } from './upstream-http-client';

describe('joinUrl', () => {
  it('keeps the base URL path prefix', () => {
    expect(joinUrl('http://127.0.0.1:8080/openai/v1', '/chat/completions').href).toBe('http://127.0.0.1:8080/openai/v1/chat/completions');
    expect(joinUrl('https://api.x.ai/v1/', 'images/generations').href).toBe('https://api.x.ai/v1/images/generations');
    expect(joinUrl('http://h/gemini', '/v1beta/models/g:streamGenerateContent?alt=sse').search).toBe('?alt=sse');
  });
});

describe('mapNetworkError', () => {
  const opts = { provider: 'openai' as const, secrets: ['sk-secret-123456'] };
  const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });

  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'timeout'],
    ['ECONNREFUSED', 'connection'],
    ['ECONNRESET', 'connection'],
    ['UND_ERR_SOCKET', 'connection'],
    ['ENOTFOUND', 'connection'],
    ['UND_ERR_ABORTED', 'cancelled'],
  ])('%s → %s', (code, kind) => {
    expect(mapNetworkError(withCode(code), opts).kind).toBe(kind);
  });

  it('reads the code of a wrapped cause', () => {
    const err = new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') });
    expect(mapNetworkError(err, opts).kind).toBe('connection');
  });

  it('prefers an UpstreamError given as the abort reason', () => {
    const ac = new AbortController();
    ac.abort(new UpstreamError({ kind: 'timeout', message: 'deadline' }));
    expect(mapNetworkError(new Error('aborted'), { ...opts, signal: ac.signal }).kind).toBe('timeout');
    const plain = new AbortController();
    plain.abort();
    expect(mapNetworkError(new Error('x'), { ...opts, signal: plain.signal }).kind).toBe('cancelled');
  });

  it('keeps the raw message only in the redacted detail', () => {
    const err = mapNetworkError(withCode('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:443 key sk-secret-123456'), opts);
    expect(err.message).not.toContain('10.1.2.3');
    expect(err.detail).toContain('10.1.2.3');
    expect(err.detail).not.toContain('sk-secret-123456');
  });
});

describe('UpstreamHttpClient.send', () => {
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(150_000)]);
  const answer = JSON.stringify({ created: 1, data: [{ b64_json: png.toString('base64') }], usage: { input_tokens: 3 } }).replace(/\//g, '\\/');
  const otherPng = Buffer.concat([png.subarray(0, 8), randomBytes(140_000)]);
  const other = JSON.stringify({ created: 2, data: [{ b64_json: otherPng.toString('base64') }], usage: { input_tokens: 4 } });
  let server: Server;
  let base: string;
  const client = new UpstreamHttpClient({ maxBufferedBytes: 1_000_000 });

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/chunked') {
        // no content-length: the body arrives in pieces of arbitrary size
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < answer.length; i += 7777) res.write(answer.slice(i, i + 7777));
        res.end();
      } else if (req.url === '/error') {
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      } else if (req.url?.startsWith('/other')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(other) });
        res.end(other);
      } else if (req.url === '/huge') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2_000_000 });
        res.end(Buffer.alloc(2_000_000, 0x20));
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const request = (path: string): UpstreamRequest => ({ method: 'POST', path, headers: {}, body: { kind: 'json', value: {} }, stream: false });

  it.each(['/sized', '/chunked'])('lifts the base64 payloads of a 2xx answer out of its text when asked (%s)', async (path) => {
    const res = await client.send(base, request(path), { provider: 'openai', liftBase64: ['b64_json'] });
    const body = JSON.parse(res.bodyText) as { data: { b64_json: string }[]; usage: unknown };
    expect(res.bodyText.length).toBeLessThan(500);
    expect(body.usage).toEqual({ input_tokens: 3 });
    expect(res.lifted?.get(body.data[0].b64_json)?.equals(png)).toBe(true);
  });

  it('keeps each answer intact when the next one is read into the same reused buffer', async () => {
    const first = await client.send(base, request('/sized'), { provider: 'openai', liftBase64: ['b64_json'] });
    const firstText = first.bodyText;
    const plain = await client.send(base, request('/sized'), { provider: 'openai' });
    const second = await client.send(base, request('/other'), { provider: 'openai', liftBase64: ['b64_json'] });
    expect(first.bodyText).toBe(firstText);
    expect(plain.bodyText).toBe(answer);
    const [a, b] = [first, second].map((r) => r.lifted?.get((JSON.parse(r.bodyText) as { data: { b64_json: string }[] }).data[0].b64_json));
    expect(a?.equals(png)).toBe(true);
    expect(b?.equals(otherPng)).toBe(true);
  });

  it('hands over the whole text when not asked, and for an error answer', async () => {
    for (const [path, lift] of [['/sized', undefined], ['/error', ['b64_json']]] as const) {
      const res = await client.send(base, request(path), { provider: 'openai', liftBase64: lift });
      expect(res.bodyText).toBe(answer);
      expect(res.lifted).toBeUndefined();
    }
  });

  it('refuses an answer announced larger than the buffering limit', async () => {
    const err = await client.send(base, request('/huge'), { provider: 'openai' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('malformed_response');
  });
});

describe('UpstreamHttpClient: onSent', () => {
  let server: Server;
  let base: string;
  /** requests the server received, and answers it may give them */
  const held: { respond(): void }[] = [];
  const client = new UpstreamHttpClient();
  const req = (stream: boolean): UpstreamRequest => ({ method: 'POST', path: '/v1/x', headers: {}, body: { kind: 'json', value: { prompt: 'hello' } }, stream });

  beforeAll(async () => {
    server = createServer((r, res) => {
      r.resume();
      r.on('end', () => held.push({ respond: () => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: {}\n\n') }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('tells when the request has been written, before any answer, for plain calls and streams', async () => {
    for (const stream of [false, true]) {
      let sent = 0;
      const answered = stream ? client.stream(base, req(stream), { provider: 'openai', onSent: () => sent++ }) : client.send(base, req(stream), { provider: 'openai', onSent: () => sent++ });
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(sent).toBe(1);
      held.shift()?.respond();
      const res = await answered;
      expect(res.status).toBe(200);
      if ('body' in res) for await (const _chunk of res.body) void _chunk;
      expect(sent).toBe(1);
    }
  });

  it('does not tell for a call cancelled before it was sent, and still cancels one sent', async () => {
    const early = new AbortController();
    early.abort();
    let sent = 0;
    await expect(client.send(base, req(false), { provider: 'openai', signal: early.signal, onSent: () => sent++ })).rejects.toMatchObject({ kind: 'cancelled' });
    expect(sent).toBe(0);

    const late = new AbortController();
    const pending = client.send(base, req(false), { provider: 'openai', signal: late.signal, onSent: () => sent++ });
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(sent).toBe(1);
    late.abort();
    await expect(pending).rejects.toMatchObject({ kind: 'cancelled' });
    held.shift();
  });
});

describe('BodyBufferPool', () => {
  it('hands out a kept buffer that fits, the smallest first, and keeps no more than its limit', () => {
    const pool = new BodyBufferPool(3 * 1024 * 1024);
    const a = pool.take(1_500_000);
    expect(a.length).toBe(2 ** 21);
    const b = pool.take(100_000);
    pool.give(a);
    pool.give(b);
    expect(pool.take(90_000)).toBe(b);
    expect(pool.take(1_000_000)).toBe(a);
    // with `a` kept, a second 2 MiB buffer would pass the 3 MiB limit: it is let go
    const d = pool.take(2_000_000);
    expect(d).not.toBe(a);
    pool.give(a);
    pool.give(d);
    expect(pool.take(2_000_000)).toBe(a);
    expect(pool.take(2_000_000)).not.toBe(d);
  });
});

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrismaService } from '@app/database';
import { createPostgresDatabase, realPostgresUrl } from '../support/databases';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(60_000);

interface Arrival {
  at: number;
  text: string;
}

/** Posts with node:http and records when each piece of the body arrives, and when the headers did. */
function postTimed(url: string, key: string, body: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; headersAt: number; arrivals: Arrival[]; endAt: number; start: number }> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      const headersAt = Date.now();
      const arrivals: Arrival[] = [];
      res.setEncoding('utf8');
      res.on('data', (text: string) => arrivals.push({ at: Date.now(), text }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, headersAt, arrivals, endAt: Date.now(), start }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** A stream read as it arrives: `firstEvent` settles with the first `data:` event, `done` with everything. */
function openStream(url: string, key: string, body: unknown): { firstEvent: Promise<void>; done: Promise<{ status: number; id: string; events: string[] }> } {
  let seen!: () => void;
  const firstEvent = new Promise<void>((resolve) => (seen = resolve));
  const done = fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (res) => {
    let text = '';
    const decoder = new TextDecoder();
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(piece, { stream: true });
      if (text.includes('data: ')) seen();
    }
    seen();
    const events = text.split('\n\n').map((e) => e.trim()).filter((e) => e.startsWith('data: ')).map((e) => e.slice('data: '.length));
    return { status: res.status, id: res.headers.get('x-request-id') as string, events };
  });
  return { firstEvent, done };
}

describe('chat streaming on the wire', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    // a short key cache, as a deployment may configure it: revocations elsewhere take effect within it
    gw = await startGateway({ KEY_CACHE_TTL_MS: '1000' });
    ({ key } = await gw.newTenant(5));
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  it('writes each chunk as the upstream produces it, with headers sent before the first chunk', async () => {
    // 8 chunks, 150 ms apart: a buffering gateway would deliver everything at the end
    gw.sim.script({ provider: 'anthropic', chunkDelayMs: 150 });
    const res = await postTimed(gw.url, key, { model: 'anthropic/claude-haiku-4.5', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['cache-control']).toContain('no-transform');
    expect(res.headers['x-accel-buffering']).toBe('no');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['x-switchyard-fallback-model']).toBe('anthropic/claude-haiku-4.5');

    const dataArrivals = res.arrivals.filter((a) => a.text.includes('data: '));
    expect(dataArrivals.length).toBeGreaterThanOrEqual(4);
    const first = dataArrivals[0].at;
    expect(res.endAt - first).toBeGreaterThan(600);
    // arrivals spread over the stream's life, not bunched at the end
    const spread = dataArrivals.filter((a) => a.at < res.endAt - 300);
    expect(spread.length).toBeGreaterThanOrEqual(3);
    const body = res.arrivals.map((a) => a.text).join('');
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    // every event is a complete `data: {json}` line pair
    for (const event of body.split('\n\n').filter((e) => e.trim() !== '')) {
      expect(event.startsWith('data: ')).toBe(true);
      const payload = event.slice(6);
      if (payload !== '[DONE]') expect(JSON.parse(payload).object).toBe('chat.completion.chunk');
    }
  });

  it('a key revoked while 10 of its streams are in flight: the streams finish, new requests get 401, every stream is billed', async () => {
    const prisma = gw.app.get(PrismaService);
    const tenant = await gw.newTenant(5);
    // A replica that has served the key, to see the revocation made on the other one (one shared database).
    const other = realPostgresUrl ? await startGateway({ DATABASE_URL: gw.config.DATABASE_URL as string, QUEUE_PREFIX: gw.config.QUEUE_PREFIX, KEY_CACHE_TTL_MS: '1000' }) : undefined;
    try {
      const body = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Tell me a story.' }], stream: true, stream_options: { include_usage: true } };
      // 8 content chunks and the closing events, 250 ms apart: each stream lasts over 2 s
      gw.sim.script({ provider: 'openai', chunkDelayMs: 250, times: 10 });
      const streams = Array.from({ length: 10 }, () => openStream(gw.url, tenant.key, body));
      await Promise.all(streams.map((s) => s.firstEvent));
      if (other) {
        const seen = await fetch(`${other.url}/v1/balance`, { headers: { authorization: `Bearer ${tenant.key}` } });
        expect(seen.status).toBe(200);
      }

      const revokedAt = Date.now();
      expect((await gw.admin(`/admin/keys/${tenant.keyId}`, { method: 'DELETE' })).status).toBe(204);
      // all ten were still streaming when the key was revoked
      const calls = gw.sim.calls({ provider: 'openai' });
      expect(calls).toHaveLength(10);
      for (const c of calls) expect(c.finishedAt).toBeUndefined();

      // New requests on the replica that revoked the key: refused at once, before any upstream call.
      const fresh = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fetch(`${gw.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
            body: JSON.stringify(i % 2 === 0 ? body : { ...body, stream: false }),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { type: string; code: string } } })),
        ),
      );
      for (const r of fresh) {
        expect(r.status).toBe(401);
        expect(r.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
      }
      expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(10);

      // Another replica, which had the key cached, refuses it within KEY_CACHE_TTL_MS of the revocation.
      if (other) {
        let refusedAt: number | undefined;
        while (refusedAt === undefined && Date.now() - revokedAt < 5_000) {
          const r = await fetch(`${other.url}/v1/balance`, { headers: { authorization: `Bearer ${tenant.key}` } });
          await r.arrayBuffer();
          if (r.status === 401) refusedAt = Date.now();
          else await new Promise((res) => setTimeout(res, 50));
        }
        expect(refusedAt).toBeDefined();
        expect((refusedAt as number) - revokedAt).toBeLessThanOrEqual(other.config.KEY_CACHE_TTL_MS + 250);
      }

      // The in-flight policy: a request is authorised when it arrives; a stream admitted before the revocation
      // runs to its normal end ([DONE]), with no error event and nothing cut.
      const finished = await Promise.all(streams.map((s) => s.done));
      for (const f of finished) {
        expect(f.status).toBe(200);
        expect(f.events[f.events.length - 1]).toBe('[DONE]');
        const chunks = f.events.slice(0, -1).map((e) => JSON.parse(e) as { error?: unknown; choices: { finish_reason: string | null }[]; usage?: unknown });
        expect(chunks.filter((c) => c.error !== undefined)).toEqual([]);
        expect(chunks.some((c) => c.choices.some((choice) => choice.finish_reason === 'stop'))).toBe(true);
        expect(chunks[chunks.length - 1].usage).toBeDefined();
      }
      for (const c of gw.sim.calls({ provider: 'openai' })) expect(c.aborted).toBe(false);

      // Each in-flight stream has its usage record, settled in full; nothing stays held; the refusals left none.
      await gw.settled();
      const records = await prisma.usageRecord.findMany({ where: { tenantId: tenant.tenantId } });
      expect(records.map((r) => r.id).sort()).toEqual(finished.map((f) => f.id).sort());
      for (const r of records) {
        expect(r).toMatchObject({ status: 'succeeded', apiKeyId: tenant.keyId });
        expect(r.costMicros).toBeGreaterThan(0n);
      }
      const k = await prisma.apiKey.findUniqueOrThrow({ where: { id: tenant.keyId } });
      expect(k.revokedAt).not.toBeNull();
      expect(k.reservedMicros).toBe(0n);
      expect(k.spentMicros).toBe(records.reduce((a, r) => a + r.costMicros, 0n));
      expect(await prisma.reservation.count({ where: { apiKeyId: tenant.keyId } })).toBe(0);
    } finally {
      await other?.close();
    }
  });

  it('documents the route in the OpenAPI document with the seed schema', async () => {
    const doc = (await (await fetch(`${gw.url}/docs-json`)).json()) as any;
    const op = doc.paths['/v1/chat/completions'].post;
    expect(op.tags).toContain('Chat');
    const schemaName = op.requestBody.content['application/json'].schema.$ref.split('/').pop();
    const schema = doc.components.schemas[schemaName];
    expect(schema.required).toEqual(expect.arrayContaining(['model', 'messages']));
    for (const field of ['stream', 'stream_options', 'tools', 'tool_choice', 'response_format', 'reasoning_effort', 'web_search_options', 'models', 'extra_body', 'modalities']) {
      expect(schema.properties[field]).toBeDefined();
    }
    expect(schema.properties.model.example).toBe('openai/gpt-4o-mini');
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '402', '404', '429', '502', '504']));
    expect(op.responses['200'].headers['X-Switchyard-Fallback-Level']).toBeDefined();
  });
});

describe('a shutdown (app.close(), as SIGTERM runs it) while calls outlast the grace period', () => {
  it('ends the streams with an error event in each route\'s shape (never a clean end), answers the non-streamed call 503, settles all three for what they used before the process closes, and holds nothing', async () => {
    // The gateway's data must outlive it to be read afterwards: the embedded database on disk, or a database of
    // this test's own on the real server; a second gateway then reads the books on it.
    const dataDir = mkdtempSync(join(tmpdir(), 'sy-shutdown-'));
    const pg = realPostgresUrl ? await createPostgresDatabase(realPostgresUrl) : undefined;
    const env = { DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: '3000', ...(pg ? { DATABASE_URL: pg.url } : {}) };
    let reader: TestGateway | undefined;
    try {
      const gw = await startGateway(env);
      const tenant = await gw.newTenant(5);
      // a second of silence between chunks, and an answer a minute away: all far longer than the 3 s grace period
      gw.sim.script({ provider: 'openai', chunkDelayMs: 1_000 });
      gw.sim.script({ provider: 'google', chunkDelayMs: 1_000 });
      gw.sim.script({ provider: 'anthropic', delayMs: 60_000 });
      const openai = openStream(gw.url, tenant.key, { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Tell me a story.' }], stream: true });
      const google = fetch(`${gw.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
        method: 'POST',
        headers: { 'x-goog-api-key': tenant.key, 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Tell me a story.' }] }] }),
      }).then(async (res) => ({ status: res.status, id: res.headers.get('x-request-id') as string, text: await res.text() }));
      const slow = fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'anthropic/claude-haiku-4.5', messages: [{ role: 'user', content: 'Tell me a story.' }] }),
      }).then(async (res) => ({ status: res.status, id: res.headers.get('x-request-id') as string, body: (await res.json()) as { error: { code: string; type: string } } }));
      await openai.firstEvent;
      while (gw.sim.calls().length < 3) await new Promise((r) => setTimeout(r, 20));

      await gw.close();
      const [streamed, gemini, cut] = await Promise.all([openai.done, google, slow]);

      expect(streamed.status).toBe(200);
      expect(streamed.events).not.toContain('[DONE]');
      expect(JSON.parse(streamed.events[streamed.events.length - 1]).error).toMatchObject({ type: 'server_error', code: 'server_shutting_down' });
      expect(streamed.events.length).toBeGreaterThanOrEqual(2);
      expect(gemini.status).toBe(200);
      const geminiEvents = gemini.text.split(/\r?\n\r?\n/).map((e) => e.trim()).filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)));
      expect(geminiEvents[geminiEvents.length - 1]).toEqual({ error: expect.objectContaining({ code: 503, status: 'UNAVAILABLE' }) });
      expect(geminiEvents.some((e) => e.candidates)).toBe(true);
      expect(cut.status).toBe(503);
      expect(cut.body.error).toMatchObject({ type: 'server_error', code: 'server_shutting_down' });
      for (const c of gw.sim.calls()) expect(c.aborted).toBe(true);
      // written before the gateway closed, not spooled for the next start
      expect(existsSync(join(dataDir, 'unsettled')) ? readdirSync(join(dataDir, 'unsettled')) : []).toEqual([]);

      reader = await startGateway(env);
      const prisma = reader.app.get(PrismaService);
      const records = await prisma.usageRecord.findMany({ where: { tenantId: tenant.tenantId } });
      const byId = new Map(records.map((r) => [r.id, r]));
      expect(records).toHaveLength(3);
      // OpenAI reports usage only at the end (estimated from what was streamed); Google in every chunk (its own count so far)
      for (const [id, estimated] of [[streamed.id, true], [gemini.id, false]] as const) {
        expect(byId.get(id)).toMatchObject({ status: 'partial', estimated, error: expect.stringContaining('shutting down') });
        expect(byId.get(id)?.outputTokens).toBeGreaterThan(0);
        expect(byId.get(id)?.costMicros).toBeGreaterThan(0n);
      }
      expect(byId.get(cut.id)).toMatchObject({ status: 'partial', servedModel: 'anthropic/claude-haiku-4.5', estimated: true, outputTokens: 0 });
      expect(byId.get(cut.id)?.inputTokens).toBeGreaterThan(0);
      expect(byId.get(cut.id)?.costMicros).toBeGreaterThan(0n);
      const after = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
      expect(after.reservedMicros).toBe(0n);
      expect(after.balanceMicros).toBe(5_000_000n - records.reduce((a, r) => a + r.costMicros, 0n));
      expect(await prisma.reservation.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
    } finally {
      await reader?.close();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { BillingService } from '@app/billing';
import { PrismaService } from '@app/database';
import { ImageFetcher, ImageInputInliner } from '@app/providers';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

const hello: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Tell me a story.' }];
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads SSE `data:` payloads until the stream ends. */
async function readEvents(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((e) => e.trim())
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}

describe('chat streams when something breaks', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let tenant: { tenantId: string; keyId: string; key: string };
  let client: OpenAI;

  const stream = (body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: hello, stream: true, ...body }),
      signal,
    });

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(10);
    client = new OpenAI({ apiKey: tenant.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  it('ends with an error event (never [DONE]) when the upstream fails after some chunks, and bills what was produced', async () => {
    gw.sim.script({ provider: 'openai', streamErrorAfterChunks: 3 });
    const res = await stream({ models: ['deepseek/deepseek-chat'] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-fallback-level')).toBe('0');
    const events = await readEvents(res);
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events[events.length - 1]);
    expect(last.error).toMatchObject({ type: 'server_error' });
    expect(typeof last.error.message).toBe('string');
    const content = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(content.length).toBeGreaterThanOrEqual(2);
    for (const chunk of content) expect(chunk.model).toBe('openai/gpt-4o-mini');
    // after the first byte there is no fallback
    expect(gw.sim.calls({ provider: 'deepseek' })).toHaveLength(0);

    const record = await waitFor(() => prisma.usageRecord.findUnique({ where: { id: res.headers.get('x-request-id') as string } }).then((r) => r ?? undefined));
    expect(record.status).toBe('partial');
    expect(record.servedModel).toBe('openai/gpt-4o-mini');
    expect(record.costMicros).toBeGreaterThan(0n);
    expect(record.error).toBeTruthy();
  });

  it('surfaces the mid-stream failure as an error in the openai SDK', async () => {
    gw.sim.script({ provider: 'openai', resetAfterChunks: 3 });
    const s = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: hello, stream: true });
    let chunks = 0;
    await expect(
      (async () => {
        for await (const _chunk of s) chunks++;
      })(),
    ).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(chunks).toBeGreaterThan(0);
  });

  it('falls back when the stream fails before its first chunk', async () => {
    gw.sim.script({ provider: 'openai', streamErrorAfterChunks: 0, times: 2 });
    const res = await stream({ models: ['qwen/qwen-turbo'], stream_options: { include_usage: true } });
    expect(res.headers.get('x-switchyard-fallback-level')).toBe('1');
    const events = await readEvents(res);
    expect(events[events.length - 1]).toBe('[DONE]');
    const usage = JSON.parse(events[events.length - 2]);
    expect(usage.choices).toEqual([]);
    expect(usage.usage.total_tokens).toBeGreaterThan(0);
    expect(usage.model).toBe('qwen/qwen-turbo');
  });

  describe('an error event inside a 200 stream before any content (the vLLM/sglang shape)', () => {
    /** every `delta.content` the tenant received, joined */
    const contentOf = (events: string[]): string =>
      events
        .filter((e) => e !== '[DONE]')
        .map((e) => JSON.parse(e) as { choices?: { delta?: { content?: string | null } }[] })
        .flatMap((chunk) => chunk.choices ?? [])
        .map((c) => c.delta?.content ?? '')
        .join('');

    it('a 4xx inside: the tenant gets a 400 error, no assistant text, no retry or fallback, and nothing is billed', async () => {
      const message = 'bad request: prompt-marker-f10 is not a valid field';
      gw.sim.script({ provider: 'openai', times: -1, events: [{ error: { message, type: 'invalid_request_error', code: 400 } }, '[DONE]'] });
      const res = await stream({ models: ['qwen/qwen-turbo'] });
      const text = await res.text();
      expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status: 400, type: expect.stringContaining('application/json') });
      expect(JSON.parse(text).error).toMatchObject({ type: 'invalid_request_error', code: 'upstream_invalid_request' });
      expect(text).not.toContain('"delta"');
      // the tenant's request is the problem: another attempt or model cannot help
      expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(1);
      expect(gw.sim.calls({ provider: 'qwen' })).toHaveLength(0);

      const record = await waitFor(() => prisma.usageRecord.findUnique({ where: { id: res.headers.get('x-request-id') as string } }).then((r) => r ?? undefined));
      expect(record).toMatchObject({ status: 'failed', costMicros: 0n });
      const key = await prisma.apiKey.findUniqueOrThrow({ where: { id: tenant.keyId } });
      expect(key.reservedMicros).toBe(0n);

      // the official SDK sees the same refusal as an error, not as a stream of text
      await expect(client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: hello, stream: true })).rejects.toMatchObject({ status: 400 });
    });

    it('a 5xx inside: the gateway falls back, and the tenant sees one clean stream from the next model', async () => {
      const message = 'internal failure: worker-marker-f10 crashed';
      gw.sim.script({ provider: 'openai', times: -1, events: [{ error: { message, type: 'InternalServerError', code: 500 } }, '[DONE]'] });
      const res = await stream({ models: ['qwen/qwen-turbo'], stream_options: { include_usage: true } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchyard-fallback-level')).toBe('1');
      expect(res.headers.get('x-switchyard-fallback-model')).toBe('qwen/qwen-turbo');
      const events = await readEvents(res);
      expect(events[events.length - 1]).toBe('[DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { model: string; error?: unknown });
      expect(chunks.filter((c) => c.error !== undefined)).toEqual([]);
      for (const chunk of chunks) expect(chunk.model).toBe('qwen/qwen-turbo');
      const content = contentOf(events);
      expect(content.length).toBeGreaterThan(0);
      expect(events.join('\n')).not.toContain('worker-marker-f10');
      // every attempt on the failing model was made before the first byte reached the tenant
      expect(gw.sim.calls({ provider: 'openai' }).length).toBeGreaterThanOrEqual(1);
      expect(gw.sim.calls({ provider: 'qwen' })).toHaveLength(1);

      const record = await waitFor(() => prisma.usageRecord.findUnique({ where: { id: res.headers.get('x-request-id') as string } }).then((r) => r ?? undefined));
      expect(record).toMatchObject({ status: 'succeeded', servedModel: 'qwen/qwen-turbo', fallbackLevel: 1 });
      expect(record.costMicros).toBeGreaterThan(0n);
    });

    it('a 5xx after a role-only chunk, still before any content: the gateway falls back all the same', async () => {
      // vLLM sends the assistant role (empty content) with the first engine output; an error processing that output
      // follows it, before any text
      const role = { id: 'chatcmpl-f10', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
      const message = 'internal failure: worker-marker-f10 crashed';
      gw.sim.script({ provider: 'openai', times: -1, events: [role, { error: { message, type: 'InternalServerError', code: 500 } }, '[DONE]'] });
      const res = await stream({ models: ['qwen/qwen-turbo'] });
      expect(res.status).toBe(200);
      const events = await readEvents(res);
      expect(events.join('\n')).not.toContain('worker-marker-f10');
      expect({ served: res.headers.get('x-switchyard-fallback-model'), fallbackCalls: gw.sim.calls({ provider: 'qwen' }).length, last: events[events.length - 1] }).toEqual({
        served: 'qwen/qwen-turbo',
        fallbackCalls: 1,
        last: '[DONE]',
      });
      expect(events.slice(0, -1).map((e) => JSON.parse(e) as { error?: unknown }).filter((c) => c.error !== undefined)).toEqual([]);
      expect(contentOf(events).length).toBeGreaterThan(0);
    });

    it('a 5xx inside on the only model: an error, never the error text as assistant content', async () => {
      const message = 'internal failure: worker-marker-f10 crashed';
      gw.sim.script({ provider: 'openai', times: -1, events: [{ error: { message, type: 'InternalServerError', code: 500 } }, '[DONE]'] });
      const res = await stream({});
      const text = await res.text();
      expect(res.status).toBe(502);
      expect(JSON.parse(text).error).toMatchObject({ type: 'server_error', code: 'upstream_error' });
      expect(text).not.toContain('"delta"');
      expect(text).not.toContain('worker-marker-f10');
    });
  });

  it('cancels the upstream when the tenant disconnects, bills the partial output, and holds nothing', async () => {
    const before = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
    gw.sim.script({ provider: 'openai', stallAfterChunks: 3 });
    const abort = new AbortController();
    const res = await stream({}, abort.signal);
    const requestId = res.headers.get('x-request-id') as string;
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let received = '';
    while ((received.match(/data: /g) ?? []).length < 3) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended early');
      received += new TextDecoder().decode(value);
    }
    // the upstream is still open while the tenant reads
    expect(gw.sim.calls({ provider: 'openai' })[0].aborted).toBe(false);
    abort.abort();

    const call = await waitFor(() => gw.sim.calls({ provider: 'openai' }).find((c) => c.aborted));
    expect(call.aborted).toBe(true);
    expect(call.chunksSent).toBe(3);

    const record = await waitFor(() => prisma.usageRecord.findUnique({ where: { id: requestId } }).then((r) => r ?? undefined));
    expect(record.status).toBe('partial');
    expect(record.costMicros).toBeGreaterThan(0n);
    expect(record.outputTokens).toBeGreaterThan(0);

    const after = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
    expect(after.reservedMicros).toBe(0n);
    expect(before.balanceMicros - after.balanceMicros).toBe(record.costMicros);
    const debit = await prisma.ledgerEntry.findUniqueOrThrow({ where: { usageId: requestId } });
    expect(debit.amountMicros).toBe(record.costMicros);
    const key = await prisma.apiKey.findUniqueOrThrow({ where: { id: tenant.keyId } });
    expect(key.reservedMicros).toBe(0n);
  });

  describe('a tenant that disconnects before the first chunk', () => {
    /** the tenant's records, reservations and balance, read from the database */
    async function books(t: { tenantId: string; keyId: string }, clientRequestId: string) {
      const [record, tenantRow, key] = await Promise.all([
        prisma.usageRecord.findFirst({ where: { tenantId: t.tenantId, clientRequestId } }),
        prisma.tenant.findUniqueOrThrow({ where: { id: t.tenantId } }),
        prisma.apiKey.findUniqueOrThrow({ where: { id: t.keyId } }),
      ]);
      const holds = await prisma.reservation.count({ where: { tenantId: t.tenantId } });
      return { record, tenant: tenantRow, key, holds };
    }

    it('after the upstream call started: cancels it and bills the prompt (estimated input tokens, never $0), holding nothing', async () => {
      const t = await gw.newTenant(10);
      const sdk = new OpenAI({ apiKey: t.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const before = await prisma.tenant.findUniqueOrThrow({ where: { id: t.tenantId } });
      // the provider has the prompt and is still working on it: no first byte for a minute
      gw.sim.script({ provider: 'openai', delayMs: 60_000 });
      const clientRequestId = `f08-before-first-chunk-${Date.now()}`;
      const abort = new AbortController();
      const pending = sdk.chat.completions.create(
        { model: 'openai/gpt-4o-mini', messages: hello, stream: true },
        { signal: abort.signal, headers: { 'X-Client-Request-Id': clientRequestId } },
      );
      pending.catch(() => undefined);
      await waitFor(() => gw.sim.calls({ provider: 'openai' })[0]);
      abort.abort();
      await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);

      // the upstream call is cancelled rather than left to run
      const call = await waitFor(() => gw.sim.calls({ provider: 'openai' }).find((c) => c.aborted));
      expect(call.chunksSent).toBe(0);
      const { record, tenant: after, key, holds } = await waitFor(async () => {
        const b = await books(t, clientRequestId);
        return b.record ? b : undefined;
      });
      expect(record).toMatchObject({ status: 'partial', servedModel: 'openai/gpt-4o-mini', estimated: true, outputTokens: 0 });
      expect(record?.inputTokens).toBeGreaterThan(0);
      expect(record?.costMicros).toBeGreaterThan(0n);
      expect(record?.error).toMatch(/disconnected/);
      expect({ tenantReserved: after.reservedMicros, keyReserved: key.reservedMicros, holds }).toEqual({ tenantReserved: 0n, keyReserved: 0n, holds: 0 });
      expect(before.balanceMicros - after.balanceMicros).toBe(record?.costMicros);
      const debit = await prisma.ledgerEntry.findUniqueOrThrow({ where: { usageId: record?.id } });
      expect(debit.amountMicros).toBe(record?.costMicros);
    });

    describe('before any upstream call (while the gateway still fetches the image the request refers to)', () => {
      let images: { port: number; requests: number; release(): void; close(): Promise<void> };
      let previousFetcher: ImageFetcher;

      beforeAll(async () => {
        // An image host that holds every request until released: the gateway fetches a tenant's image URLs
        // after its checks and before it reserves or calls any upstream, so a tenant can leave in between.
        const held: ServerResponse[] = [];
        let requests = 0;
        const answer = (res: ServerResponse): void => {
          res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length });
          res.end(PNG);
        };
        const server = createServer((_req, res) => {
          requests++;
          held.push(res);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        images = {
          port: (server.address() as AddressInfo).port,
          get requests() {
            return requests;
          },
          /** answers the requests held so far (later ones are held again) */
          release() {
            for (const res of held.splice(0)) answer(res);
          },
          close: () => new Promise<void>((resolve) => server.close(() => resolve())),
        };
        // The route's inliner gets a fetcher that may reach loopback on that port only (as ssrf.int-spec does).
        const inliner = gw.app.get(ImageInputInliner);
        previousFetcher = Reflect.get(inliner, 'fetcher') as ImageFetcher;
        Reflect.set(inliner, 'fetcher', new ImageFetcher({ allowLoopbackPorts: [images.port] }));
      });
      afterAll(async () => {
        const inliner = gw.app.get(ImageInputInliner);
        await (Reflect.get(inliner, 'fetcher') as ImageFetcher).close();
        Reflect.set(inliner, 'fetcher', previousFetcher);
        await images.close();
      });

      it.each([
        ['streamed', true],
        ['not streamed', false],
      ])('%s: no upstream call, no usage record, nothing held', async (_name, streamed) => {
        const t = await gw.newTenant(10);
        const sdk = new OpenAI({ apiKey: t.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
        const before = await prisma.tenant.findUniqueOrThrow({ where: { id: t.tenantId } });
        const billing = gw.app.get(BillingService);
        const released = jest.spyOn(billing, 'release');
        const reserved = jest.spyOn(billing, 'reserve');
        try {
          const clientRequestId = `f08-before-upstream-${String(streamed)}-${Date.now()}`;
          const abort = new AbortController();
          const seen = images.requests;
          const pending = sdk.chat.completions.create(
            {
              model: 'openai/gpt-4o-mini',
              messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: `http://127.0.0.1:${images.port}/cat.png` } }] }],
              stream: streamed,
            },
            { signal: abort.signal, headers: { 'X-Client-Request-Id': clientRequestId } },
          );
          pending.catch(() => undefined);
          await waitFor(() => (images.requests > seen ? true : undefined));
          abort.abort();
          await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
          // Once the gateway has seen the tenant go (the request's access log line is written when its connection
          // closes), the image arrives, and the request goes on to its reservation.
          await waitFor(() => (gw.logs.lines.some((l) => l.includes(clientRequestId) && l.includes('"statusCode":499')) ? true : undefined));
          images.release();
          const { id } = await waitFor(() => reserved.mock.results[0]?.value as Promise<{ id: string }> | undefined);
          // the gateway ends the request by releasing that hold (it is never settled)
          const release = await waitFor(() => {
            const i = released.mock.calls.findIndex(([r]) => r.id === id);
            return i >= 0 ? { done: released.mock.results[i].value as Promise<void> } : undefined;
          });
          await release.done;

          expect(gw.sim.calls()).toHaveLength(0);
          const { record, tenant: after, key, holds } = await books(t, clientRequestId);
          expect(record).toBeNull();
          expect(await prisma.usageRecord.count({ where: { id } })).toBe(0);
          expect({ tenantReserved: after.reservedMicros, keyReserved: key.reservedMicros, holds, balance: after.balanceMicros }).toEqual({
            tenantReserved: 0n,
            keyReserved: 0n,
            holds: 0,
            balance: before.balanceMicros,
          });
        } finally {
          released.mockRestore();
          reserved.mockRestore();
        }
      });
    });
  });
});

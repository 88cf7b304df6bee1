import OpenAI from 'openai';
import { PrismaService } from '@app/database';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

const hello: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Tell me a story.' }];

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
});

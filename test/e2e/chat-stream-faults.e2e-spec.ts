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

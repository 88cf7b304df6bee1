import { PrismaService } from '@app/database';
import type { SimRule } from '../../apps/simulator/src';
import { startGateway, type TestGateway } from '../support/gateway';

/**
 * What the upstream can do wrong, one row each, for chat (plain and streamed) and for the image queue:
 * the gateway must retry, fall back or answer the right error, never show the tenant the provider's own
 * message, key or address, and leave exactly one usage record and no held reservation per request that
 * reached an upstream. Tenant disconnects from many streams at once are the last case.
 */
jest.setTimeout(120_000);

const TIMEOUT_MS = 1_000;
const hello = [{ role: 'user', content: 'Tell me a story.' }];

interface Row {
  name: string;
  rules: SimRule[];
  /** fields added to the request body (`models` for a fallback, `stream`) */
  extra?: Record<string, unknown>;
  status: number;
  /** upstream calls per provider */
  calls: Record<string, number>;
  /** X-Switchyard-Fallback-Level of a success */
  level?: number;
  usage: 'succeeded' | 'partial' | 'failed';
  /** Retry-After the tenant must get */
  retryAfter?: string;
  /** the error's `code` the tenant must get */
  code?: string;
  /** elapsed bounds in ms */
  atLeastMs?: number;
  atMostMs?: number;
  /** streams: how the event stream must end */
  ends?: 'done' | 'error';
}

const short429 = { status: 429, headers: { 'retry-after': '1' } };
/** OpenAI's answer when the account has no quota left: a 429 that no wait cures */
const quota429 = {
  status: 429,
  body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } },
};
const long429 = { status: 429, headers: { 'retry-after': '30' } };

/** chat on openai/gpt-4o-mini; `deepseek/deepseek-chat` is the fallback where a row lists it */
const CHAT_ROWS: Row[] = [
  { name: '500 then 200: retried on the same model', rules: [{ provider: 'openai', status: 500 }], status: 200, calls: { openai: 2, deepseek: 0 }, level: 0, usage: 'succeeded' },
  {
    name: '429 with a short Retry-After: waited out on the same model',
    rules: [{ provider: 'openai', ...short429 }], extra: { models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 2, deepseek: 0 }, level: 0, usage: 'succeeded', atLeastMs: 900,
  },
  {
    name: '429 with a long Retry-After: falls back at once',
    rules: [{ provider: 'openai', ...long429, times: -1 }], extra: { models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 1, deepseek: 1 }, level: 1, usage: 'succeeded', atMostMs: 3_000,
  },
  {
    name: '429 with a long Retry-After and nothing to fall back to: 429 with Retry-After',
    rules: [{ provider: 'openai', ...long429, times: -1 }],
    status: 429, calls: { openai: 1 }, usage: 'failed', retryAfter: '30', atMostMs: 3_000,
  },
  {
    name: 'our provider key rejected (401): no retry on that provider, falls back',
    rules: [{ provider: 'openai', status: 401, times: -1 }], extra: { models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 1, deepseek: 1 }, level: 1, usage: 'succeeded',
  },
  {
    name: 'our provider key rejected (403), nothing to fall back to: 503 upstream_unavailable without the provider’s words',
    rules: [{ provider: 'openai', status: 403, times: -1 }],
    status: 503, code: 'upstream_unavailable', calls: { openai: 1 }, usage: 'failed',
  },
  {
    name: 'our provider account out of quota (429 insufficient_quota): no retry on that provider, falls back',
    rules: [{ provider: 'openai', ...quota429, times: -1 }], extra: { models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 1, deepseek: 1 }, level: 1, usage: 'succeeded',
  },
  {
    name: 'our provider account out of quota, nothing to fall back to: 503 upstream_unavailable, not a rate limit',
    rules: [{ provider: 'openai', ...quota429, times: -1 }],
    status: 503, code: 'upstream_unavailable', calls: { openai: 1 }, usage: 'failed',
  },
  {
    name: 'no first byte within the attempt timeout: abandoned and retried',
    rules: [{ provider: 'openai', delayMs: 10_000 }],
    status: 200, calls: { openai: 2 }, level: 0, usage: 'succeeded', atLeastMs: TIMEOUT_MS, atMostMs: 4_000,
  },
  { name: 'connection reset: retried', rules: [{ provider: 'openai', reset: true }], status: 200, calls: { openai: 2 }, level: 0, usage: 'succeeded' },
  {
    name: 'an HTML error page every time: retried, then falls back',
    rules: [{ provider: 'openai', html: true, times: -1 }], extra: { models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 2, deepseek: 1 }, level: 1, usage: 'succeeded',
  },
  { name: 'truncated JSON: retried', rules: [{ provider: 'openai', truncate: true }], status: 200, calls: { openai: 2 }, level: 0, usage: 'succeeded' },
  {
    name: 'stream: no first byte within the attempt timeout: retried',
    rules: [{ provider: 'openai', delayMs: 10_000 }], extra: { stream: true },
    status: 200, calls: { openai: 2 }, level: 0, usage: 'succeeded', ends: 'done', atMostMs: 4_000,
  },
  {
    name: 'stream: an error object before the first chunk: falls back',
    rules: [{ provider: 'openai', streamErrorAfterChunks: 0, times: -1 }], extra: { stream: true, models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 2, deepseek: 1 }, level: 1, usage: 'succeeded', ends: 'done',
  },
  {
    name: 'stream: an error object inside a 200 stream: error event, billed for what was produced, no fallback',
    rules: [{ provider: 'openai', streamErrorAfterChunks: 3 }], extra: { stream: true, models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 1, deepseek: 0 }, level: 0, usage: 'partial', ends: 'error',
  },
  {
    name: 'stream: a stall mid-stream: cut at the idle timeout with an error event, billed for what was produced',
    rules: [{ provider: 'openai', stallAfterChunks: 3 }], extra: { stream: true, models: ['deepseek/deepseek-chat'] },
    status: 200, calls: { openai: 1, deepseek: 0 }, level: 0, usage: 'partial', ends: 'error', atLeastMs: TIMEOUT_MS, atMostMs: 5_000,
  },
  {
    name: 'stream: a connection reset mid-stream: error event, billed for what was produced',
    rules: [{ provider: 'openai', resetAfterChunks: 3 }], extra: { stream: true },
    status: 200, calls: { openai: 1 }, level: 0, usage: 'partial', ends: 'error',
  },
];

/** images on grok/grok-imagine-image (xAI); `google/imagen-4.0-fast-generate-001` is the fallback where listed */
const IMAGE_FALLBACK = { models: ['google/imagen-4.0-fast-generate-001'] };
const IMAGE_ROWS: Row[] = [
  { name: '500 then 200: retried on the same model', rules: [{ provider: 'xai', status: 500 }], status: 200, calls: { xai: 2, google: 0 }, level: 0, usage: 'succeeded' },
  {
    name: '429 with a short Retry-After: waited out on the same model',
    rules: [{ provider: 'xai', ...short429 }], extra: IMAGE_FALLBACK,
    status: 200, calls: { xai: 2, google: 0 }, level: 0, usage: 'succeeded', atLeastMs: 900,
  },
  {
    name: '429 with a long Retry-After: falls back at once',
    rules: [{ provider: 'xai', ...long429, times: -1 }], extra: IMAGE_FALLBACK,
    status: 200, calls: { xai: 1, google: 1 }, level: 1, usage: 'succeeded', atMostMs: 4_000,
  },
  {
    name: '429 with a long Retry-After and nothing to fall back to: 429 with Retry-After',
    rules: [{ provider: 'xai', ...long429, times: -1 }],
    status: 429, calls: { xai: 1 }, usage: 'failed', retryAfter: '30', atMostMs: 4_000,
  },
  {
    name: 'our provider key rejected (401): no retry on that provider, falls back',
    rules: [{ provider: 'xai', status: 401, times: -1 }], extra: IMAGE_FALLBACK,
    status: 200, calls: { xai: 1, google: 1 }, level: 1, usage: 'succeeded',
  },
  {
    name: 'our provider key rejected (403), nothing to fall back to: 503 upstream_unavailable without the provider’s words',
    rules: [{ provider: 'xai', status: 403, times: -1 }],
    status: 503, code: 'upstream_unavailable', calls: { xai: 1 }, usage: 'failed',
  },
  {
    name: 'no first byte within the attempt timeout: abandoned and retried',
    rules: [{ provider: 'xai', delayMs: 10_000 }],
    status: 200, calls: { xai: 2 }, level: 0, usage: 'succeeded', atLeastMs: TIMEOUT_MS, atMostMs: 5_000,
  },
  { name: 'connection reset: retried', rules: [{ provider: 'xai', reset: true }], status: 200, calls: { xai: 2 }, level: 0, usage: 'succeeded' },
  {
    name: 'an HTML error page every time: retried, then falls back',
    rules: [{ provider: 'xai', html: true, times: -1 }], extra: IMAGE_FALLBACK,
    status: 200, calls: { xai: 2, google: 1 }, level: 1, usage: 'succeeded',
  },
  { name: 'truncated JSON: retried', rules: [{ provider: 'xai', truncate: true }], status: 200, calls: { xai: 2 }, level: 0, usage: 'succeeded' },
];

/** SSE `data:` payloads, in order */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .map((e) => e.trim())
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}

describe('upstream faults', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let tenant: { tenantId: string; keyId: string; key: string };
  /** what must never reach a tenant: provider keys, the upstream's address, the upstream's own error words */
  let secrets: string[];

  beforeAll(async () => {
    gw = await startGateway({
      CHAT_ATTEMPT_TIMEOUT_MS: String(TIMEOUT_MS),
      CHAT_IDLE_TIMEOUT_MS: String(TIMEOUT_MS),
      IMAGE_ATTEMPT_TIMEOUT_MS: String(TIMEOUT_MS),
      IMAGE_SYNC_TIMEOUT_MS: '30000',
      // Each row is one request's retry and fallback on its own; cooldowns (state across requests) have theirs below.
      MODEL_COOLDOWN_FAILURES: '0',
    });
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(100);
    secrets = [
      gw.config.OPENAI_API_KEY as string,
      gw.config.XAI_API_KEY as string,
      gw.config.DEEPSEEK_API_KEY as string,
      gw.config.GEMINI_API_KEY as string,
      new URL(gw.sim.url).host,
      'Incorrect API key provided',
      'Permission denied',
      '<html',
    ];
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  async function post(path: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<{ res: Response; text: string; ms: number }> {
    const started = Date.now();
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    return { res, text, ms: Date.now() - started };
  }

  async function expectRow(row: Row, res: Response, text: string, ms: number, recordId: string): Promise<void> {
    expect(res.status).toBe(row.status);
    for (const [provider, n] of Object.entries(row.calls)) expect(gw.sim.calls({ provider })).toHaveLength(n);
    if (row.level !== undefined) expect(res.headers.get('x-switchyard-fallback-level')).toBe(String(row.level));
    if (row.retryAfter !== undefined) expect(res.headers.get('retry-after')).toBe(row.retryAfter);
    if (row.atLeastMs !== undefined) expect(ms).toBeGreaterThanOrEqual(row.atLeastMs - 50);
    if (row.atMostMs !== undefined) expect(ms).toBeLessThan(row.atMostMs);
    for (const s of secrets) expect(text).not.toContain(s);
    if (row.status >= 400) expect(JSON.parse(text).error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
    if (row.code !== undefined) expect(JSON.parse(text).error.code).toBe(row.code);

    if (row.ends) {
      const list = events(text);
      if (row.ends === 'done') expect(list[list.length - 1]).toBe('[DONE]');
      else {
        expect(list).not.toContain('[DONE]');
        expect(JSON.parse(list[list.length - 1]).error).toMatchObject({ type: 'server_error' });
        expect(list.length).toBeGreaterThan(1);
      }
    }

    // exactly one usage record, and nothing held for the request
    await gw.settled();
    const records = await prisma.usageRecord.findMany({ where: { id: recordId } });
    expect(records).toHaveLength(1);
    expect(records[0].status).toBe(row.usage);
    if (row.usage === 'failed') expect(records[0].costMicros).toBe(0n);
    else expect(records[0].costMicros).toBeGreaterThan(0n);
    expect(await prisma.reservation.findUnique({ where: { id: recordId } })).toBeNull();
  }

  describe('chat', () => {
    it.each(CHAT_ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
      for (const rule of row.rules) gw.sim.script(rule);
      const { res, text, ms } = await post('/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages: hello, ...row.extra });
      await expectRow(row, res, text, ms, res.headers.get('x-request-id') as string);
    });
  });

  describe('image queue', () => {
    it.each(IMAGE_ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
      for (const rule of row.rules) gw.sim.script(rule);
      const { res, text, ms } = await post('/v1/images/generations', { model: 'grok/grok-imagine-image', prompt: 'A lighthouse', ...row.extra });
      const jobId = res.headers.get('x-switchyard-job-id') as string;
      expect(jobId).toBeTruthy();
      await expectRow(row, res, text, ms, jobId);
    });
  });

  it('the usage record lists every upstream attempt in order: model, level, outcome, error kind and status', async () => {
    gw.sim.script({ provider: 'openai', status: 500, times: 1 });
    const retried = await post('/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages: hello });
    expect(retried.res.status).toBe(200);
    gw.sim.script({ provider: 'xai', status: 503, times: 2 });
    const image = await post('/v1/images/generations', { model: 'grok/grok-imagine-image', prompt: 'A harbour', ...IMAGE_FALLBACK });
    expect(image.res.status).toBe(200);
    await gw.settled();
    const log = async (id: string) => {
      const res = await fetch(`${gw.url}/v1/usage/${id}`, { headers: { authorization: `Bearer ${tenant.key}` } });
      const body = (await res.json()) as { attempts: number; attempt_log: Record<string, unknown>[] };
      expect(body.attempts).toBe(body.attempt_log.length);
      return body.attempt_log.map(({ duration_ms, ...rest }) => (expect(duration_ms).toEqual(expect.any(Number)), rest));
    };
    expect(await log(retried.res.headers.get('x-request-id') as string)).toEqual([
      { model: 'openai/gpt-4o-mini', level: 0, attempt: 1, outcome: 'error', error_kind: 'upstream_server', upstream_status: 500 },
      { model: 'openai/gpt-4o-mini', level: 0, attempt: 2, outcome: 'success', error_kind: null, upstream_status: null },
    ]);
    expect(await log(image.res.headers.get('x-switchyard-job-id') as string)).toEqual([
      { model: 'grok/grok-imagine-image', level: 0, attempt: 1, outcome: 'error', error_kind: 'upstream_server', upstream_status: 503 },
      { model: 'grok/grok-imagine-image', level: 0, attempt: 2, outcome: 'error', error_kind: 'upstream_server', upstream_status: 503 },
      { model: 'google/imagen-4.0-fast-generate-001', level: 1, attempt: 1, outcome: 'success', error_kind: null, upstream_status: null },
    ]);
  });

  it('tenant disconnects from 50 parallel streams: every upstream call cancelled within 1 s, each billed for its part, nothing held', async () => {
    const streams = 50;
    gw.sim.script({ provider: 'openai', stallAfterChunks: 3, times: streams });
    const aborts = Array.from({ length: streams }, () => new AbortController());
    const opened = await Promise.all(
      aborts.map(async (abort) => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: hello, stream: true }),
          signal: abort.signal,
        });
        expect(res.status).toBe(200);
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        let received = '';
        while ((received.match(/data: /g) ?? []).length < 3) {
          const { value, done } = await reader.read();
          if (done) throw new Error('stream ended early');
          received += new TextDecoder().decode(value);
        }
        return res.headers.get('x-request-id') as string;
      }),
    );
    // every upstream call is still open while the tenants read
    expect(gw.sim.calls({ provider: 'openai' }).filter((c) => !c.aborted && c.finishedAt === undefined)).toHaveLength(streams);

    const abortedAt = Date.now();
    for (const abort of aborts) abort.abort();
    const until = Date.now() + 5_000;
    while (gw.sim.calls({ provider: 'openai' }).filter((c) => c.aborted).length < streams && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const calls = gw.sim.calls({ provider: 'openai' });
    expect(calls.filter((c) => c.aborted)).toHaveLength(streams);
    for (const c of calls) expect((c.finishedAt as number) - abortedAt).toBeLessThan(1_000);

    let records = await prisma.usageRecord.findMany({ where: { id: { in: opened } } });
    for (let i = 0; i < 100 && records.length < streams; i++) {
      await new Promise((r) => setTimeout(r, 50));
      records = await prisma.usageRecord.findMany({ where: { id: { in: opened } } });
    }
    expect(records).toHaveLength(streams);
    for (const r of records) {
      expect(r.status).toBe('partial');
      expect(r.costMicros).toBeGreaterThan(0n);
    }
    expect(await prisma.reservation.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
    expect(t.reservedMicros).toBe(0n);
  });
});

describe('a model whose upstream keeps failing (cooldown)', () => {
  const COOLDOWN_MS = 2_000;
  let gw: TestGateway;
  let tenant: { key: string };
  beforeAll(async () => {
    gw = await startGateway({ MODEL_COOLDOWN_FAILURES: '2', MODEL_COOLDOWN_MS: String(COOLDOWN_MS), IMAGE_SYNC_TIMEOUT_MS: '30000' });
    tenant = await gw.newTenant(100);
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, level: res.headers.get('x-switchyard-fallback-level'), text: await res.text(), id: res.headers.get('x-request-id') as string };
  };
  const cooldownsCounted = async (model: string) => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`switchyard_model_cooldowns_total{model="${model}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('chat: after two failures in a row the model is passed over for the cooldown, billed at the fallback, then tried again', async () => {
    gw.sim.script({ provider: 'openai', status: 503, times: -1 });
    const chain = { model: 'openai/gpt-4o-mini', messages: hello, models: ['deepseek/deepseek-chat'] };

    // Two attempts (a retry) on the primary, both 503: the request falls back, and the primary cools down.
    const first = await post('/v1/chat/completions', chain);
    expect([first.status, first.level]).toEqual([200, '1']);
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(2);
    expect(await cooldownsCounted('openai/gpt-4o-mini')).toBe(1);

    // While it cools down, plain and streamed requests go straight to the fallback: no call to the primary.
    const second = await post('/v1/chat/completions', chain);
    const streamed = await post('/v1/chat/completions', { ...chain, stream: true });
    expect([second.status, second.level, streamed.status, streamed.level]).toEqual([200, '1', 200, '1']);
    expect(streamed.text.trim().endsWith('data: [DONE]')).toBe(true);
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(2);
    expect(gw.sim.calls({ provider: 'deepseek' })).toHaveLength(3);
    await gw.settled();
    const records = await gw.app.get(PrismaService).usageRecord.findMany({ where: { id: { in: [second.id, streamed.id] } } });
    expect(records.map((r) => [r.servedModel, r.provider, r.fallbackLevel, r.status])).toEqual([
      ['deepseek/deepseek-chat', 'deepseek', 1, 'succeeded'],
      ['deepseek/deepseek-chat', 'deepseek', 1, 'succeeded'],
    ]);

    // A chain with nothing else to try still tries the model (a doubtful attempt beats a certain error).
    const alone = await post('/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages: hello });
    expect(alone.status).toBe(502);
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(4);

    // Once the cooldown is over and the upstream has recovered, the primary serves again.
    gw.sim.reset();
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 100));
    const recovered = await post('/v1/chat/completions', chain);
    expect([recovered.status, recovered.level]).toEqual([200, '0']);
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(1);
    expect(gw.sim.calls({ provider: 'deepseek' })).toHaveLength(0);
    expect(await cooldownsCounted('openai/gpt-4o-mini')).toBe(1);
  });

  it('chat: errors the tenant caused (400) never cool a model down', async () => {
    gw.sim.script({ provider: 'xai', status: 400, times: 3 });
    const chain = { model: 'grok/grok-4.7', messages: hello, models: ['deepseek/deepseek-chat'] };
    for (let i = 0; i < 3; i++) expect((await post('/v1/chat/completions', chain)).status).toBe(400);
    const next = await post('/v1/chat/completions', chain);
    expect([next.status, next.level]).toEqual([200, '0']);
    expect(gw.sim.calls({ provider: 'xai' })).toHaveLength(4);
    expect(await cooldownsCounted('grok/grok-4.7')).toBe(0);
  });

  it('images: the queue worker passes a cooling model over the same way', async () => {
    gw.sim.script({ provider: 'xai', status: 500, times: -1 });
    const body = { model: 'grok/grok-imagine-image', prompt: 'A lighthouse', models: ['google/imagen-4.0-fast-generate-001'] };
    const first = await post('/v1/images/generations', body);
    expect(first.status).toBe(200);
    expect(gw.sim.calls({ provider: 'xai' })).toHaveLength(2);
    const second = await post('/v1/images/generations', body);
    expect(second.status).toBe(200);
    expect(gw.sim.calls({ provider: 'xai' })).toHaveLength(2);
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(2);
    expect(await cooldownsCounted('grok/grok-imagine-image')).toBe(1);
  });
});

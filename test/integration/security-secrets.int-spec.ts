import Redis from 'ioredis';
import { request } from 'undici';
import { PrismaService } from '@app/database';
import { gatewayEnvForSimulator } from '../../apps/simulator/src/gateway-env';
import { realRedisUrl } from '../support/databases';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway';

/**
 * Secrets after real traffic through every metered route (chat, images, the Gemini-native route), the
 * admin API and their error paths: no issued key is stored anywhere (every row of every table of every
 * schema, and every Redis key of the deployment), and no tenant key, admin token or provider key appears
 * in a log line, a response (body or header) or a usage record, even when an upstream echoes its key.
 */

jest.setTimeout(180_000);

type Via = 'bearer' | 'goog' | 'query' | 'query-encoded';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const HELLO = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello?' }] };
const GEMINI_HELLO = { contents: [{ role: 'user', parts: [{ text: 'Hello?' }] }] };

/** the forms a secret could be stored or echoed in besides plain text */
function encodings(secret: string): string[] {
  return [secret, Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('base64').replace(/=+$/, ''), encodeURIComponent(secret)];
}

describe('secrets', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  /** every tenant key issued in this file, including revoked ones */
  const issued: string[] = [];
  /** every response the gateway gave in this file */
  const answers: Answer[] = [];
  let providerKeys: string[];

  async function call(path: string, init: { key?: string; via?: Via; body?: unknown; method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const { key, via = 'bearer', body } = init;
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    let url = `${gw.url}${path}`;
    if (key && via === 'bearer') headers.authorization = `Bearer ${key}`;
    if (key && via === 'goog') headers['x-goog-api-key'] = key;
    if (key && via === 'query') url += `${path.includes('?') ? '&' : '?'}key=${encodeURIComponent(key)}`;
    // the parameter's name percent-encoded, which the query parser decodes to `key`
    if (key && via === 'query-encoded') url += `${path.includes('?') ? '&' : '?'}%6Bey=${encodeURIComponent(key)}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await request(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = { status: r.statusCode, headers: r.headers, text: await r.body.text() };
    answers.push(answer);
    return answer;
  }

  async function tenant(creditUsd = 5, keyOptions: Record<string, unknown> = {}) {
    const t = await gw.newTenant(creditUsd, keyOptions);
    issued.push(t.key);
    return t;
  }

  async function waitForJob(key: string, id: string): Promise<Answer> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const job = await call(`/v1/images/generations/${id}`, { key });
      if ((JSON.parse(job.text) as { status: string }).status === 'succeeded' || Date.now() > deadline) return job;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    providerKeys = Object.entries(gatewayEnvForSimulator(gw.sim.url))
      .filter(([name]) => name.endsWith('_API_KEY'))
      .map(([, value]) => value);

    const a = await tenant(20);
    const b = await tenant(5, { rpm_limit: 2 });
    const broke = await tenant(0);
    const revoked = await tenant(1);
    expect((await gw.admin(`/admin/keys/${revoked.keyId}`, { method: 'DELETE' })).status).toBe(204);
    const second = await gw.admin(`/admin/tenants/${a.tenantId}/keys`, { body: { name: 'second' } });
    issued.push(second.body.key);
    expect((await gw.admin(`/admin/tenants/${a.tenantId}/credits`, { body: { amount_usd: 1, note: 'top-up' } })).status).toBe(200);

    // Chat: every way of sending the key, streaming, fallback, an image model.
    for (const via of ['bearer', 'goog', 'query'] as const) expect((await call('/v1/chat/completions', { key: a.key, via, body: HELLO })).status).toBe(200);
    expect((await call('/v1/chat/completions', { key: second.body.key, body: { ...HELLO, stream: true, stream_options: { include_usage: true } } })).status).toBe(200);
    gw.sim.script({ provider: 'openai', status: 500, times: 10 });
    const fallback = await call('/v1/chat/completions', { key: a.key, body: { ...HELLO, models: ['anthropic/claude-sonnet-4.6'] } });
    expect(fallback.status).toBe(200);
    gw.sim.reset();
    expect((await call('/v1/chat/completions', { key: a.key, body: { model: 'google/gemini-2.5-flash-image', messages: [{ role: 'user', content: 'Draw a kite.' }] } })).status).toBe(200);

    // Images: a link, base64, an async job with an idempotency key, and the signed link itself.
    const url = await call('/v1/images/generations', { key: a.key, body: { model: 'openai/gpt-image-1', prompt: 'A kite', size: '1024x1024' } });
    expect(url.status).toBe(200);
    expect((await call(new URL((JSON.parse(url.text) as { data: { url: string }[] }).data[0].url).pathname + new URL((JSON.parse(url.text) as { data: { url: string }[] }).data[0].url).search)).status).toBe(200);
    expect((await call('/v1/images/generations', { key: a.key, via: 'goog', body: { model: 'grok/grok-imagine-image', prompt: 'A kite', response_format: 'b64_json' } })).status).toBe(200);
    const job = await call('/v1/images/generations', {
      key: a.key,
      via: 'query',
      body: { model: 'google/imagen-4.0-fast-generate-001', prompt: 'A kite' },
      headers: { prefer: 'respond-async', 'idempotency-key': 'kite-1' },
    });
    expect(job.status).toBe(202);
    expect((await waitForJob(a.key, (JSON.parse(job.text) as { id: string }).id)).status).toBe(200);

    // The Gemini-native route, with the key in each of Google's places.
    expect((await call('/v1beta/models/gemini-2.5-flash:generateContent', { key: a.key, via: 'query', body: GEMINI_HELLO })).status).toBe(200);
    expect((await call('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', { key: a.key, via: 'goog', body: GEMINI_HELLO })).status).toBe(200);
    expect((await call('/v1beta/models/gemini-2.5-flash-image:generateContent', { key: a.key, via: 'bearer', body: { contents: [{ parts: [{ text: 'Draw a kite.' }] }] } })).status).toBe(200);

    expect((await call('/v1beta/models/gemini-2.5-flash:generateContent', { key: a.key, via: 'query-encoded', body: GEMINI_HELLO })).status).toBe(200);
    // An unknown route says which route it did not find, but not its query.
    expect((await call('/v1beta/no-such-route?alt=sse', { key: a.key, via: 'query' })).status).toBe(404);

    // Reads, and the error paths: unknown, revoked, no balance, rate limit, bad input, upstream failure.
    expect((await call('/v1/usage?group_by=key', { key: a.key, via: 'query' })).status).toBe(200);
    expect((await call(`/v1/usage/${String(fallback.headers['x-request-id'])}`, { key: a.key })).status).toBe(200);
    expect((await call('/v1/balance', { key: a.key, via: 'goog' })).status).toBe(200);
    expect((await call('/v1/chat/completions', { key: `sk-sy-${'unknown'.repeat(5)}00`, via: 'query', body: HELLO })).status).toBe(401);
    expect((await call('/v1beta/models/gemini-2.5-flash:generateContent', { key: revoked.key, via: 'query', body: GEMINI_HELLO })).status).toBe(401);
    expect((await call('/v1/chat/completions', { key: broke.key, body: HELLO })).status).toBe(402);
    expect((await call('/v1beta/models/gemini-2.5-flash:generateContent', { key: broke.key, via: 'query', body: GEMINI_HELLO })).status).toBe(402);
    for (let i = 0; i < 3; i++) await call('/v1/chat/completions', { key: b.key, via: 'query', body: HELLO });
    expect(answers.at(-1)?.status).toBe(429);
    expect((await call('/v1/chat/completions', { key: a.key, via: 'query', body: { ...HELLO, api_key: 'x' } })).status).toBe(400);
    gw.sim.script({ provider: 'openai', status: 500, times: 10 });
    expect((await call('/v1/chat/completions', { key: a.key, via: 'query', body: HELLO })).status).toBe(502);
    gw.sim.reset();

    // The admin API, including a CSV export of usage.
    expect((await call(`/admin/tenants/${a.tenantId}/usage?format=csv`, { key: ADMIN_TOKEN })).status).toBe(200);
    expect((await call(`/admin/tenants/${a.tenantId}/keys`, { key: ADMIN_TOKEN })).status).toBe(200);
    expect((await call('/admin/tenants', { key: a.key, body: { name: 'x' } })).status).toBe(403);
    // Settlement of the last requests and log lines are written off the response path.
    await new Promise((r) => setTimeout(r, 300));
  });
  afterAll(async () => gw?.close());

  it('stores no issued key: every row of every table of every schema, and every Redis key of this deployment', async () => {
    const tables = await prisma.$queryRaw<{ table_schema: string; table_name: string }[]>`
      SELECT table_schema, table_name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`;
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['api_keys', 'usage_records', 'image_jobs', 'ledger_entries', 'stored_images']));
    let dump = '';
    for (const { table_schema, table_name } of tables) {
      const rows = await prisma.$queryRawUnsafe<{ j: string }[]>(`SELECT row_to_json(t)::text AS j FROM "${table_schema}"."${table_name}" t`);
      dump += rows.map((r) => r.j).join('\n');
    }
    if (realRedisUrl) {
      const redis = new Redis(realRedisUrl);
      try {
        let cursor = '0';
        let keys = 0;
        do {
          const [next, batch] = await redis.scan(cursor, 'MATCH', `${gw.config.QUEUE_PREFIX}:*`, 'COUNT', 500);
          cursor = next;
          for (const k of batch) {
            keys++;
            const type = await redis.type(k);
            if (type === 'string') dump += await redis.get(k);
            else if (type === 'hash') dump += JSON.stringify(await redis.hgetall(k));
            else if (type === 'list') dump += JSON.stringify(await redis.lrange(k, 0, -1));
            else if (type === 'set') dump += JSON.stringify(await redis.smembers(k));
            else if (type === 'zset') dump += JSON.stringify(await redis.zrange(k, 0, -1));
            else if (type === 'stream') dump += JSON.stringify(await redis.xrange(k, '-', '+'));
          }
        } while (cursor !== '0');
        expect(keys).toBeGreaterThan(0); // the image queue ran on this Redis
      } finally {
        redis.disconnect();
      }
    }
    // The rows are there (usage of every route, the image jobs) and show the keys' display prefixes…
    expect(dump).toContain('/v1beta/models/');
    expect(dump).toContain(issued[0].slice(0, 12));
    // …but never a key, the admin token or a provider key, in clear, hex, base64 or URL-encoded.
    for (const secret of [...issued, ADMIN_TOKEN, ...providerKeys]) {
      for (const form of encodings(secret)) expect(dump).not.toContain(form);
    }
  });

  it('writes no tenant key, admin token or provider key into any log line', () => {
    expect(gw.logs.lines.length).toBeGreaterThan(30);
    expect(gw.logs.text).toContain('/v1beta/models/gemini-2.5-flash:generateContent?key=[REDACTED]');
    for (const secret of [...issued, `sk-sy-${'unknown'.repeat(5)}00`, ADMIN_TOKEN, ...providerKeys]) {
      for (const form of encodings(secret)) expect(gw.logs.text).not.toContain(form);
    }
  });

  it('sends no tenant key, provider key, admin token or upstream address in any response body or header', () => {
    expect(answers.length).toBeGreaterThanOrEqual(30);
    const everything = answers.map((a) => `${JSON.stringify(a.headers)}\n${a.text}`).join('\n');
    for (const secret of [ADMIN_TOKEN, ...providerKeys, new URL(gw.sim.url).host]) {
      for (const form of encodings(secret)) expect(everything).not.toContain(form);
    }
    for (const key of issued) expect(everything).not.toContain(key);
  });

  describe('an upstream error that echoes the provider key never reaches the tenant', () => {
    const chatModels: [string, string][] = [
      ['openai', 'openai/gpt-4o-mini'],
      ['anthropic', 'anthropic/claude-sonnet-4.6'],
      ['google', 'google/gemini-2.5-flash'],
      ['xai', 'grok/grok-4-1-fast-non-reasoning'],
      ['deepseek', 'deepseek/deepseek-chat'],
      ['qwen', 'qwen/qwen-turbo'],
      ['moonshot', 'moonshot/kimi-k2.6'],
      ['minimax', 'minimax/MiniMax-M2.7'],
    ];
    let key: string;
    beforeAll(async () => {
      key = (await tenant(20)).key;
    });
    beforeEach(() => gw.sim.reset());

    /** an upstream error body that quotes the key every way a provider might */
    function echo(secret: string, status: number) {
      const message = `Incorrect API key provided: ${secret}. You can find your API key at https://platform.example/account (key=${encodeURIComponent(secret)}, Bearer ${secret})`;
      return { status, body: { error: { message, type: 'invalid_request_error', code: secret, param: secret, status: 'INVALID_ARGUMENT', details: [{ key: secret }] } } };
    }

    it.each(chatModels)('%s chat: 400, 401, 403, 404, 429 and 500 echoing the key', async (provider, model) => {
      const secret = providerKeys.find((k) => gatewayEnvForSimulator(gw.sim.url)[`${envName(provider)}_API_KEY`] === k) ?? '';
      expect(secret).not.toBe('');
      for (const status of [400, 401, 403, 404, 429, 500]) {
        gw.sim.reset();
        gw.sim.script({ provider, times: Infinity, ...echo(secret, status) });
        const res = await call('/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'Hello?' }] } });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(gw.sim.calls({ provider }).length).toBeGreaterThan(0);
        for (const form of encodings(secret)) expect(`${JSON.stringify(res.headers)}${res.text}`).not.toContain(form);
        expect(res.text).not.toContain(new URL(gw.sim.url).host);
      }
    });

    it('streaming chat: a refusal before the first chunk echoing the key', async () => {
      gw.sim.script({ provider: 'openai', times: Infinity, ...echo('sk-sim-openai', 400) });
      const res = await call('/v1/chat/completions', { key, body: { ...HELLO, stream: true } });
      expect(res.status).toBe(400);
      expect(res.text).not.toContain('sk-sim-openai');
    });

    it.each<[string, string, string]>([
      ['openai', 'openai/gpt-image-1', 'sk-sim-openai'],
      ['google', 'google/imagen-4.0-fast-generate-001', 'sim-gemini-key'],
      ['xai', 'grok/grok-imagine-image', 'xai-sim-key'],
    ])('%s images: errors echoing the key, on the response and on the job', async (provider, model, secret) => {
      for (const status of [400, 401, 500]) {
        gw.sim.reset();
        gw.sim.script({ provider, times: Infinity, ...echo(secret, status) });
        const res = await call('/v1/images/generations', { key, body: { model, prompt: 'A kite' } });
        expect(res.status).toBeGreaterThanOrEqual(400);
        const jobId = String(res.headers['x-switchyard-job-id']);
        const job = await call(`/v1/images/generations/${jobId}`, { key });
        expect(job.status).toBe(200);
        for (const form of encodings(secret)) expect(`${res.text}${job.text}`).not.toContain(form);
      }
    });

    it('the Gemini-native route: Google errors echoing the key, with the tenant key in ?key=', async () => {
      for (const status of [400, 403, 500]) {
        gw.sim.reset();
        gw.sim.script({ provider: 'google', times: Infinity, ...echo('sim-gemini-key', status) });
        const res = await call('/v1beta/models/gemini-2.5-flash:generateContent', { key, via: 'query', body: GEMINI_HELLO });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(JSON.parse(res.text)).toEqual({ error: { code: res.status, message: expect.any(String), status: expect.any(String) } });
        for (const form of encodings('sim-gemini-key')) expect(res.text).not.toContain(form);
        expect(res.text).not.toContain(key);
      }
    });

    it('keeps echoed keys out of the usage records and the logs as well', async () => {
      await new Promise((r) => setTimeout(r, 200));
      const rows = await prisma.$queryRawUnsafe<{ j: string }[]>(`SELECT row_to_json(u)::text AS j FROM usage_records u`);
      const failed = await prisma.usageRecord.count({ where: { status: 'failed' } });
      expect(failed).toBeGreaterThan(5);
      const text = rows.map((r) => r.j).join('\n') + gw.logs.text;
      for (const secret of providerKeys) for (const form of encodings(secret)) expect(text).not.toContain(form);
    });
  });
});

function envName(provider: string): string {
  return { openai: 'OPENAI', anthropic: 'ANTHROPIC', google: 'GEMINI', xai: 'XAI', deepseek: 'DEEPSEEK', qwen: 'DASHSCOPE', moonshot: 'MOONSHOT', minimax: 'MINIMAX' }[provider] ?? provider;
}

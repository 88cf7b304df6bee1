import OpenAI from 'openai';
import { PrismaService } from '@app/database';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

const hello: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hello?' }];

/** The error the SDK threw, for matching on status / code / param / headers. */
async function failure(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  throw new Error('expected the request to fail');
}

describe('POST /v1/chat/completions errors, in the OpenAI envelope', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let tenant: { tenantId: string; keyId: string; key: string };
  let client: OpenAI;

  const post = async (body: unknown, key = tenant.key) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  const usageCount = () => prisma.usageRecord.count({ where: { tenantId: tenant.tenantId } });

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(20);
    client = new OpenAI({ apiKey: tenant.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  describe('400 naming the field, before anything is reserved or sent upstream', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    it.each<[string, Record<string, unknown>, string]>([
      ['no messages', { model: 'openai/gpt-4o-mini' }, 'messages'],
      ['empty messages', { model: 'openai/gpt-4o-mini', messages: [] }, 'messages'],
      ['no model', { messages: hello }, 'model'],
      ['a bad role', { model: 'openai/gpt-4o-mini', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
      [
        'a bad image URL deep in the content',
        {
          model: 'openai/gpt-4o-mini',
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'assistant', content: 'Hi.' },
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/x.png' } }] },
          ],
        },
        'messages[2].content[0].image_url.url',
      ],
      ['an image detail out of range', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: png, detail: 'ultra' } }] }] }, 'messages[0].content[0].image_url.detail'],
      ['an unknown part type', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'video', video: {} }] }] }, 'messages[0].content[1].type'],
      ['an audio format out of range', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'flac' } }] }] }, 'messages[0].content[0].input_audio.format'],
      ['an image in a system message', { model: 'openai/gpt-4o-mini', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: png } }] }] }, 'messages[0].content[0].type'],
      ['a tool message without tool_call_id', { model: 'openai/gpt-4o-mini', messages: [...hello, { role: 'tool', content: 'x' }] }, 'messages[1].tool_call_id'],
      ['a temperature out of range', { model: 'openai/gpt-4o-mini', messages: hello, temperature: 5 }, 'temperature'],
      ['a string for max_tokens', { model: 'openai/gpt-4o-mini', messages: hello, max_tokens: '10' }, 'max_tokens'],
      ['a bad tool name', { model: 'openai/gpt-4o-mini', messages: hello, tools: [{ type: 'function', function: { name: 'has space' } }] }, 'tools[0].function.name'],
      ['json_schema without its schema', { model: 'openai/gpt-4o-mini', messages: hello, response_format: { type: 'json_schema' } }, 'response_format.json_schema'],
      ['a bad tool_choice', { model: 'openai/gpt-4o-mini', messages: hello, tool_choice: 'sometimes' }, 'tool_choice'],
      ['a NUL byte in text', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'a\u0000b' }] }, 'messages[0].content'],
      ['a lone surrogate in a part', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'text', text: 'a\ud800b' }] }] }, 'messages[0].content[0].text'],
      ['a client api_key', { model: 'openai/gpt-4o-mini', messages: hello, api_key: 'sk-mine' }, 'api_key'],
      ['a client api_base', { model: 'openai/gpt-4o-mini', messages: hello, api_base: 'https://evil.example' }, 'api_base'],
      ['a client base_url in extra_body', { model: 'openai/gpt-4o-mini', messages: hello, extra_body: { base_url: 'https://evil.example' } }, 'extra_body.base_url'],
      ['six fallbacks', { model: 'openai/gpt-4o-mini', messages: hello, models: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'models'],
      ['a bad route', { model: 'openai/gpt-4o-mini', messages: hello, models: ['openai/gpt-4.1-nano'], route: 'random' }, 'route'],
      ['logprobs', { model: 'openai/gpt-4o-mini', messages: hello, logprobs: true }, 'logprobs'],
      ['audio output', { model: 'openai/gpt-4o-mini', messages: hello, modalities: ['text', 'audio'] }, 'modalities'],
      ['web search (no model bills it)', { model: 'openai/gpt-4o-mini', messages: hello, web_search_options: { search_context_size: 'low' } }, 'web_search_options'],
      ['n > 1 on Anthropic', { model: 'anthropic/claude-sonnet-4.6', messages: hello, n: 2 }, 'n'],
      ['audio input to a model without it', { model: 'anthropic/claude-sonnet-4.6', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 'messages[0].content[0]'],
      ['tool arguments that are not JSON, for Gemini', {
        model: 'google/gemini-2.5-flash',
        messages: [...hello, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{oops' } }] }, { role: 'tool', tool_call_id: 'c1', content: '1' }],
      }, 'messages[1].tool_calls[0].function.arguments'],
      ['a fallback that is not a chat model', { model: 'openai/gpt-4o-mini', messages: hello, models: ['google/imagen-4.0-generate-001'] }, 'models[0]'],
    ])('%s', async (_name, body, param) => {
      const before = await usageCount();
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
      expect(typeof res.body.error.message).toBe('string');
      expect(gw.sim.calls()).toHaveLength(0);
      expect(await usageCount()).toBe(before);
    });

    it('answers a body that is not an object, and malformed JSON', async () => {
      expect((await post([1, 2])).status).toBe(400);
      const bad = await post('{"model":');
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('invalid_json');
    });

    it('names the field through the SDK too', async () => {
      const err = await failure(
        client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'nope' } }] }] }),
      );
      expect(err.status).toBe(400);
      expect(err.param).toBe('messages[0].content[0].image_url.url');
    });

    it('ignores unknown fields instead of passing them upstream', async () => {
      const res = await post({ model: 'openai/gpt-4o-mini', messages: hello, frobnicate: true, metadata: { a: 1 } });
      expect(res.status).toBe(200);
      const sent = gw.sim.calls({ provider: 'openai' })[0].body as Record<string, unknown>;
      expect(sent.frobnicate).toBeUndefined();
      expect(sent.metadata).toBeUndefined();
    });
  });

  describe('image models on the chat route', () => {
    const model = 'google/gemini-2.5-flash-image';
    it.each<[string, Record<string, unknown>, string]>([
      ['stream', { stream: true }, 'stream'],
      ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
      ['response_format', { response_format: { type: 'json_object' } }, 'response_format'],
      ['reasoning_effort', { reasoning_effort: 'low' }, 'reasoning_effort'],
      ['logprobs', { logprobs: true }, 'logprobs'],
      ['n > 1 on a Gemini image model', { n: 2 }, 'n'],
      ['a text model in the chain', { models: ['openai/gpt-4o-mini'] }, 'models[0]'],
    ])('refuses %s with a 400', async (_name, extra, param) => {
      const res = await post({ model, messages: [{ role: 'user', content: 'A red fox.' }], ...extra });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(param);
      expect(gw.sim.calls()).toHaveLength(0);
    });

    it('refuses image modalities on a text model', async () => {
      const res = await post({ model: 'openai/gpt-4o-mini', messages: hello, modalities: ['text', 'image'] });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('modalities');
    });
  });

  it('401 for a bad key', async () => {
    const err = await failure(new OpenAI({ apiKey: 'sk-sy-wrong', baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: hello }));
    expect(err.status).toBe(401);
    expect(err.code).toBe('invalid_api_key');
    expect(gw.sim.calls()).toHaveLength(0);
  });

  it('402 when the balance cannot cover the worst case, with no upstream call and nothing held', async () => {
    const poor = await gw.newTenant(0.000001);
    const poorClient = new OpenAI({ apiKey: poor.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const err = await failure(poorClient.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: hello }));
    expect(err.status).toBe(402);
    expect(err.code).toBe('insufficient_balance');
    expect(gw.sim.calls()).toHaveLength(0);
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: poor.tenantId } });
    expect(t.reservedMicros).toBe(0n);
    expect(t.balanceMicros).toBe(1n);
    expect(await prisma.usageRecord.count({ where: { tenantId: poor.tenantId } })).toBe(0);
  });

  it('402 when the key spend limit is too small', async () => {
    const limited = await gw.newTenant(10, { spend_limit_usd: 0.000001 });
    const res = await post({ model: 'openai/gpt-4o-mini', messages: hello }, limited.key);
    expect(res.status).toBe(402);
    expect(res.body.error.code).toBe('spend_limit_exceeded');
    expect(gw.sim.calls()).toHaveLength(0);
  });

  it('404 model_not_found for an unknown model, naming where it was given', async () => {
    const err = await failure(client.chat.completions.create({ model: 'openai/gpt-nope', messages: hello }));
    expect(err.status).toBe(404);
    expect(err.code).toBe('model_not_found');
    expect(err.param).toBe('model');
    const res = await post({ model: 'openai/gpt-4o-mini', messages: hello, models: ['openai/gpt-4.1-nano', 'nope/nothing'] });
    expect(res.status).toBe(404);
    expect(res.body.error.param).toBe('models[1]');
    expect(gw.sim.calls()).toHaveLength(0);
  });

  it('403 for a model the key may not use', async () => {
    const restricted = await gw.newTenant(1, { allowed_models: ['openai/gpt-4o-mini'] });
    const res = await post({ model: 'openai/gpt-4o-mini', messages: hello, models: ['anthropic/claude-sonnet-4.6'] }, restricted.key);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'model_not_allowed', param: 'models[0]' });
  });

  it('429 with Retry-After over the key rpm_limit', async () => {
    const limited = await gw.newTenant(1, { rpm_limit: 1 });
    const ok = await post({ model: 'openai/gpt-4o-mini', messages: hello }, limited.key);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit-requests')).toBe('1');
    expect(ok.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const refused = await post({ model: 'openai/gpt-4o-mini', messages: hello }, limited.key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limit_exceeded');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(gw.sim.calls()).toHaveLength(1);
    // The reservation goes out beside the rate-limit check; a refused request holds nothing and records nothing.
    await gw.settled();
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: limited.tenantId } });
    expect(t.reservedMicros).toBe(0n);
    expect(await prisma.reservation.count({ where: { tenantId: limited.tenantId } })).toBe(0);
    expect(await prisma.usageRecord.count({ where: { tenantId: limited.tenantId } })).toBe(1);
  });

  it('429 wins over what the route checks after the rate limit: an unknown model, a balance too small', async () => {
    const limited = await gw.newTenant(0.000001, { rpm_limit: 1 });
    const first = await post({ model: 'openai/gpt-4o-mini', messages: hello }, limited.key);
    expect(first.status).toBe(402);
    for (const body of [
      { model: 'openai/gpt-4o-mini', messages: hello },
      { model: 'openai/gpt-nope', messages: hello },
    ]) {
      const res = await post(body, limited.key);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('rate_limit_exceeded');
    }
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: limited.tenantId } });
    expect(t.reservedMicros).toBe(0n);
    expect(t.balanceMicros).toBe(1n);
    expect(await prisma.reservation.count({ where: { tenantId: limited.tenantId } })).toBe(0);
    expect(gw.sim.calls()).toHaveLength(0);
  });

  it('502 upstream_error when every model of the chain fails; a failed usage record and nothing held', async () => {
    gw.sim.script({ provider: 'openai', status: 503, times: -1 });
    gw.sim.script({ provider: 'deepseek', status: 500, times: -1 });
    const res = await post({ model: 'openai/gpt-4o-mini', messages: hello, models: ['deepseek/deepseek-chat'], route: 'fallback' });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ type: 'server_error', code: 'upstream_error' });
    // the raw upstream body and URL never reach the tenant
    expect(JSON.stringify(res.body)).not.toMatch(/127\.0\.0\.1|sk-sim/);
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(2);
    expect(gw.sim.calls({ provider: 'deepseek' })).toHaveLength(2);
    const record = await prisma.usageRecord.findUniqueOrThrow({ where: { id: res.headers.get('x-request-id') as string } });
    expect(record).toMatchObject({ status: 'failed', costMicros: 0n, attempts: 4, servedModel: null });
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
    expect(t.reservedMicros).toBe(0n);
  });

  it('does not retry or fall back on an invalid request or a content-policy refusal', async () => {
    gw.sim.script({ provider: 'openai', status: 400, times: -1 });
    const invalid = await post({ model: 'openai/gpt-4o-mini', messages: hello, models: ['deepseek/deepseek-chat'] });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('upstream_invalid_request');
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(1);
    expect(gw.sim.calls({ provider: 'deepseek' })).toHaveLength(0);

    gw.sim.reset();
    gw.sim.script({
      provider: 'openai',
      status: 400,
      body: { error: { message: 'Your request was rejected by the safety system.', type: 'invalid_request_error', code: 'content_policy_violation', param: null } },
      times: -1,
    });
    const refused = await post({ model: 'openai/gpt-4o-mini', messages: hello, models: ['deepseek/deepseek-chat'] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('content_policy_violation');
    expect(gw.sim.calls()).toHaveLength(1);
    const record = await prisma.usageRecord.findUniqueOrThrow({ where: { id: refused.headers.get('x-request-id') as string } });
    expect(record.status).toBe('failed');
  });
});

describe('504 on upstream timeout', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    gw = await startGateway({ CHAT_ATTEMPT_TIMEOUT_MS: '400' });
    ({ key } = await gw.newTenant(5));
  });
  afterAll(async () => gw?.close());

  it('answers 504 upstream_timeout when the upstream is slower than the configured attempt timeout', async () => {
    gw.sim.script({ provider: 'openai', delayMs: 3_000, times: -1 });
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const started = Date.now();
    const err = await failure(client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: hello }));
    expect(err.status).toBe(504);
    expect(err.code).toBe('upstream_timeout');
    expect(Date.now() - started).toBeLessThan(2_500);
    // the slow attempts were abandoned, not waited out
    const calls = gw.sim.calls({ provider: 'openai' });
    expect(calls).toHaveLength(2);
  });

  it('falls back to the next model when the first one times out', async () => {
    gw.sim.reset();
    gw.sim.script({ provider: 'openai', delayMs: 3_000, times: -1 });
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const { response } = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: hello, models: ['qwen/qwen-flash'] } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .withResponse();
    expect(response.headers.get('x-switchyard-fallback-level')).toBe('1');
    expect(response.headers.get('x-switchyard-fallback-model')).toBe('qwen/qwen-flash');
  });
});

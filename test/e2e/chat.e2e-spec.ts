import OpenAI from 'openai';
import { PrismaService } from '@app/database';
import { ModelCatalog, type TokenRates } from '@app/providers';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

const catalog = new ModelCatalog();

/** quantity × rate / 1M, half-up, per line: what the provider's list price says, computed independently. */
function line(quantity: number, rate: number | undefined): bigint {
  return (BigInt(quantity) * BigInt(rate ?? 0) + 500_000n) / 1_000_000n;
}

interface UsageRow {
  input_tokens: number;
  cached_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  image_input_tokens: number;
  created_at: Date;
}

/** The rates in force when the request ran: the base ones, or a time-of-day band (DeepSeek's off-peak) covering it. */
function ratesAt(base: TokenRates, at: Date): TokenRates {
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes();
  const hhmm = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const band = base.timeOfDay?.find((t) => t.windows.some((w) => w.days.includes(at.getUTCDay()) && minute >= hhmm(w.from) && minute < hhmm(w.to)));
  return band ? { ...base, input: band.input, output: band.output, cachedInput: band.cachedInput ?? band.input } : base;
}

function listCost(modelId: string, u: UsageRow): bigint {
  const rates = ratesAt(catalog.resolve(modelId)?.price?.tokens as TokenRates, u.created_at);
  return (
    line(u.input_tokens, rates.input) +
    line(u.cached_tokens, rates.cachedInput ?? rates.input) +
    line(u.image_input_tokens, rates.imageInput ?? rates.input) +
    line(u.output_tokens, rates.output) +
    line(u.reasoning_tokens, rates.reasoningOutput ?? rates.output)
  );
}

describe('POST /v1/chat/completions through the openai SDK', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let tenant: { tenantId: string; keyId: string; key: string };
  let client: OpenAI;
  let startBalance: bigint;

  const usageRecord = async (id: string) => {
    await gw.settled();
    const rows = await prisma.$queryRaw<(UsageRow & { served_model: string; status: string; cost_micros: bigint; fallback_level: number; price_id: string | null; provider: string; requested_model: string })[]>`
      SELECT * FROM usage_records WHERE id = ${id}`;
    expect(rows).toHaveLength(1);
    return rows[0];
  };

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(50);
    client = new OpenAI({ apiKey: tenant.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
    startBalance = t.balanceMicros;
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  it.each([
    ['openai/gpt-4o-mini', 'openai', 'gpt-4o-mini'],
    ['google/gemini-2.5-flash', 'google', 'gemini-2.5-flash'],
    ['grok/grok-4-1-fast-non-reasoning', 'xai', 'grok-4-1-fast-non-reasoning'],
    ['anthropic/claude-sonnet-4.6', 'anthropic', undefined],
    ['deepseek/deepseek-chat', 'deepseek', 'deepseek-chat'],
    ['qwen/qwen-plus', 'qwen', 'qwen-plus'],
    ['moonshot/kimi-k2.6', 'moonshot', undefined],
    ['minimax/MiniMax-M2.7', 'minimax', 'MiniMax-M2.7'],
  ])('answers a plain completion from %s at its list price', async (model, provider, upstreamModel) => {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }], max_tokens: 64 })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe(model);
    expect(typeof data.choices[0].message.content).toBe('string');
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-switchyard-fallback-level')).toBe('0');
    expect(response.headers.get('x-switchyard-fallback-model')).toBe(model);
    expect(response.headers.get('x-switchyard-router')).toBeNull();

    const calls = gw.sim.calls({ provider });
    expect(calls).toHaveLength(1);
    if (upstreamModel) expect(calls[0].model).toBe(upstreamModel);
    // The provider key never travels back; the tenant's key never travels upstream.
    expect(JSON.stringify(calls[0].headers)).not.toContain(tenant.key);

    const id = response.headers.get('x-request-id') as string;
    const record = await usageRecord(id);
    expect(record).toMatchObject({ status: 'succeeded', served_model: model, provider, fallback_level: 0, requested_model: model });
    expect(record.cost_micros).toBeGreaterThan(0n);
    expect(record.cost_micros).toBe(listCost(model, record));
    const header = response.headers.get('x-switchyard-cost-usd') as string;
    expect(BigInt(Math.round(Number(header) * 1_000_000))).toBe(record.cost_micros);
  });

  it('streams chunks with a final usage chunk when include_usage is set', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Count to five.' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-switchyard-fallback-level')).toBe('0');
    expect(response.headers.get('x-switchyard-fallback-model')).toBe('openai/gpt-4o-mini');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('x-switchyard-cost-usd')).toBeNull();
    let text = '';
    const usages: OpenAI.CompletionUsage[] = [];
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.model).toBe('openai/gpt-4o-mini');
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usages.push(chunk.usage);
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text.length).toBeGreaterThan(0);
    expect(usages).toHaveLength(1);
    const record = await usageRecord(response.headers.get('x-request-id') as string);
    expect(record.status).toBe('succeeded');
    expect(record.output_tokens).toBe(usages[0].completion_tokens);
    expect(record.cost_micros).toBe(listCost('openai/gpt-4o-mini', record));
  });

  it('streams without a usage chunk when include_usage is not set, but still bills the usage', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'anthropic/claude-haiku-4.5', messages: [{ role: 'user', content: 'Count to five.' }], stream: true })
      .withResponse();
    let usageChunks = 0;
    let text = '';
    for await (const chunk of stream) {
      if (chunk.usage) usageChunks++;
      expect(chunk.choices.length).toBeGreaterThan(0);
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(usageChunks).toBe(0);
    expect(text.length).toBeGreaterThan(0);
    const record = await usageRecord(response.headers.get('x-request-id') as string);
    expect(record.status).toBe('succeeded');
    expect(record.output_tokens).toBeGreaterThan(0);
    expect(record.cost_micros).toBe(listCost('anthropic/claude-haiku-4.5', record));
  });

  it('round-trips a tool call', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
    for (const model of ['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4.6', 'google/gemini-2.5-flash']) {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
      const first = await client.chat.completions.create({ model, messages, tools, tool_choice: 'auto' });
      const call = first.choices[0].message.tool_calls?.[0];
      expect(first.choices[0].finish_reason).toBe('tool_calls');
      expect(call?.type).toBe('function');
      if (call?.type !== 'function') throw new Error('expected a function call');
      expect(call.function.name).toBe('get_weather');
      expect(typeof JSON.parse(call.function.arguments).city).toBe('string');

      messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temperature_c":21}' });
      const second = await client.chat.completions.create({ model, messages, tools });
      expect(second.choices[0].finish_reason).toBe('stop');
      expect(typeof second.choices[0].message.content).toBe('string');
    }
  });

  // Image URLs are fetched by the gateway (public addresses only) and sent upstream as data URLs; that path,
  // with a real image served from a test server, is covered in test/integration/ssrf.int-spec.ts.
  it('accepts vision input as data URIs and sends it upstream', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const res = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these images?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'high' } },
          ],
        },
      ],
    });
    expect(res.choices[0].message.content).toBeTruthy();
    const body = gw.sim.calls({ provider: 'openai' })[0].body as any;
    expect(body.messages[0].content[1]).toEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } });
    expect(body.messages[0].content[2].image_url.url).toBe(`data:image/png;base64,${png}`);

    const gemini = await client.chat.completions.create({
      model: 'google/gemini-2.5-flash',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe.' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
    });
    expect(gemini.usage?.prompt_tokens).toBeGreaterThan(258);
  });

  it('returns JSON matching a json_schema response format', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' }, confidence: { type: 'number' } },
      required: ['answer', 'confidence'],
      additionalProperties: false,
    };
    // Anthropic has no JSON mode (the adapter turns the schema into an instruction the simulator does not follow).
    for (const model of ['openai/gpt-4o-mini', 'google/gemini-2.5-flash']) {
      const res = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Answer as JSON.' }],
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
      });
      const parsed = JSON.parse(res.choices[0].message.content as string);
      expect(typeof parsed.answer).toBe('string');
      expect(typeof parsed.confidence).toBe('number');
    }
    const sent = gw.sim.calls({ provider: 'openai' })[0].body as any;
    expect(sent.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } });
  });

  it('falls back when the first model fails, bills the serving model, and says so in headers', async () => {
    gw.sim.script({ provider: 'openai', model: 'gpt-4o-mini', status: 500, times: 10 });
    const { data, response } = await client.chat.completions
      .create({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hello?' }],
        // where the OpenAI SDK's extra_body puts them
        models: ['openai/gpt-4o-mini', 'google/gemini-2.5-flash-lite'],
        route: 'fallback',
      } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .withResponse();
    expect(response.headers.get('x-switchyard-fallback-level')).toBe('1');
    expect(response.headers.get('x-switchyard-fallback-model')).toBe('google/gemini-2.5-flash-lite');
    expect(data.model).toBe('google/gemini-2.5-flash-lite');
    // retried once on the primary (transient 500), then moved on
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(2);
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);

    const record = await usageRecord(response.headers.get('x-request-id') as string);
    expect(record).toMatchObject({ status: 'succeeded', served_model: 'google/gemini-2.5-flash-lite', provider: 'google', fallback_level: 1 });
    expect(record.cost_micros).toBe(listCost('google/gemini-2.5-flash-lite', record));
    const price = await prisma.price.findUniqueOrThrow({ where: { id: record.price_id as string } });
    expect(price.model).toBe('google/gemini-2.5-flash-lite');
  });

  it('reads the fallback chain from an extra_body object as well, and streams from the fallback', async () => {
    gw.sim.script({ provider: 'anthropic', status: 529, times: 10 });
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'anthropic/claude-haiku-4.5',
        messages: [{ role: 'user', content: 'Hello?' }],
        stream: true,
        extra_body: { models: ['deepseek/deepseek-chat'], route: 'fallback' },
      } as unknown as OpenAI.ChatCompletionCreateParamsStreaming)
      .withResponse();
    expect(response.headers.get('x-switchyard-fallback-level')).toBe('1');
    expect(response.headers.get('x-switchyard-fallback-model')).toBe('deepseek/deepseek-chat');
    let text = '';
    for await (const chunk of stream) {
      expect(chunk.model).toBe('deepseek/deepseek-chat');
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(text.length).toBeGreaterThan(0);
    const record = await usageRecord(response.headers.get('x-request-id') as string);
    expect(record).toMatchObject({ status: 'succeeded', served_model: 'deepseek/deepseek-chat', fallback_level: 1 });
    expect(record.cost_micros).toBe(listCost('deepseek/deepseek-chat', record));
  });

  it('serves the named router switchyard/auto and names the model it picked', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'switchyard/auto', messages: [{ role: 'user', content: 'Hello?' }] })
      .withResponse();
    const resolved = response.headers.get('x-switchyard-resolved-model') as string;
    expect(response.headers.get('x-switchyard-router')).toBe('switchyard/auto');
    expect(catalog.resolve(resolved)?.capabilities.chat).toBe(true);
    expect(response.headers.get('x-switchyard-fallback-model')).toBe(resolved);
    expect(data.model).toBe(resolved);
    const record = await usageRecord(response.headers.get('x-request-id') as string);
    expect(record.requested_model).toBe('switchyard/auto');
    expect(record.served_model).toBe(resolved);

    // a request that needs tools picks a model with tools
    const tools = await client.chat.completions
      .create({
        model: 'switchyard/auto',
        messages: [{ role: 'user', content: 'Weather?' }],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
      })
      .withResponse();
    const picked = tools.response.headers.get('x-switchyard-resolved-model') as string;
    expect(catalog.resolve(picked)?.capabilities.tools).toBe(true);
  });

  it('keeps the books exact: balance change = sum of usage costs = sum of ledger debits, nothing left reserved', async () => {
    await gw.settled();
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
    const usage = await prisma.usageRecord.aggregate({ where: { tenantId: tenant.tenantId }, _sum: { costMicros: true }, _count: true });
    const debits = await prisma.ledgerEntry.aggregate({ where: { tenantId: tenant.tenantId, kind: 'debit' }, _sum: { amountMicros: true } });
    expect(usage._count).toBeGreaterThan(10);
    expect(startBalance - t.balanceMicros).toBe(usage._sum.costMicros);
    expect(debits._sum.amountMicros).toBe(usage._sum.costMicros);
    expect(t.reservedMicros).toBe(0n);
    const key = await prisma.apiKey.findUniqueOrThrow({ where: { id: tenant.keyId } });
    expect(key.reservedMicros).toBe(0n);
    expect(key.spentMicros).toBe(usage._sum.costMicros);
  });
});

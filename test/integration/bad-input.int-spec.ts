import { Readable } from 'node:stream';
import { request } from 'undici';
import { PrismaService } from '@app/database';
import { startGateway, type TestGateway } from '../support/gateway';

/**
 * Bad input on every metered route: each answer is a 4xx in the route family's envelope, the database is
 * exactly as it was (every table, every row), and no upstream was called.
 */

jest.setTimeout(120_000);

type Route = 'chat' | 'images';
const PATHS: Record<Route, string> = { chat: '/v1/chat/completions', images: '/v1/images/generations' };
const CHAT = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello?' }] };
const IMAGES = { model: 'openai/gpt-image-1', prompt: 'A lighthouse at dusk' };
const VALID: Record<Route, Record<string, unknown>> = { chat: CHAT, images: IMAGES };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Expectation {
  status: number;
  /** `param` of the OpenAI envelope; a RegExp when the exact element is the route's choice */
  param?: string | RegExp | null;
  code?: string;
}

describe('bad input is refused with a 4xx, changes nothing and calls no upstream', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let key: string;
  let restrictedKey: string;

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    key = (await gw.newTenant(5)).key;
    restrictedKey = (await gw.newTenant(5, { allowed_models: ['openai/gpt-4o-mini'] })).key;
    // Warm up: the key's first use writes last_used_at, which is advisory and not part of "nothing changed".
    await send('/v1/balance', undefined, {}, 'GET');
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  async function send(path: string, body: string | Buffer | Readable | undefined, headers: Record<string, string> = {}, method = 'POST', auth = key): Promise<Answer> {
    const r = await request(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${auth}`, ...headers }, body });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  }
  const sendJson = (route: Route, body: unknown, auth = key) =>
    send(PATHS[route], JSON.stringify(body), { 'content-type': 'application/json' }, 'POST', auth);

  /** every row of every table, as text; the advisory last_used_at and the rate-limit counters left out */
  async function databaseState(): Promise<string> {
    const tables = await prisma.$queryRaw<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`;
    let dump = '';
    for (const { table_name } of tables) {
      if (table_name === 'rate_limit_counters') continue;
      const rows = await prisma.$queryRawUnsafe<{ j: string }[]>(
        `SELECT (row_to_json(t)::jsonb - 'last_used_at')::text AS j FROM "${table_name}" t ORDER BY 1`,
      );
      dump += `${table_name}:${rows.map((r) => r.j).join('\n')}\n`;
    }
    return dump;
  }

  async function expectRefused(answer: () => Promise<Answer>, envelope: 'openai' | 'google', want: Expectation): Promise<Answer> {
    const before = await databaseState();
    const res = await answer();
    expect(res.status).toBe(want.status);
    expect(String(res.headers['content-type'])).toContain('application/json');
    const body = JSON.parse(res.text) as { error: Record<string, unknown> };
    if (envelope === 'openai') {
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(typeof body.error.message).toBe('string');
      expect(typeof body.error.type).toBe('string');
      if (want.param instanceof RegExp) expect(String(body.error.param)).toMatch(want.param);
      else if (want.param !== undefined) expect(body.error.param).toBe(want.param);
      if (want.code) expect(body.error.code).toBe(want.code);
    } else {
      expect(body.error).toEqual({ code: want.status, message: expect.any(String), status: expect.any(String) });
    }
    expect(gw.sim.calls()).toEqual([]);
    expect(await databaseState()).toBe(before);
    return res;
  }

  describe.each<Route>(['chat', 'images'])('POST %s', (route) => {
    const path = PATHS[route];
    const json = { 'content-type': 'application/json' };

    it('malformed JSON → 400 invalid_json', async () => {
      await expectRefused(() => send(path, '{"model": "openai/gpt-4o-mini", ', json), 'openai', { status: 400, code: 'invalid_json' });
    });

    it('an empty body, with and without a content type → 400', async () => {
      await expectRefused(() => send(path, '', json), 'openai', { status: 400 });
      await expectRefused(() => send(path, undefined), 'openai', { status: 400 });
    });

    it.each<[string, string]>([
      ['an array', JSON.stringify([VALID[route]])],
      ['a string', '"hello"'],
      ['a number', '42'],
      ['null', 'null'],
    ])('a JSON body that is %s, not an object → 400', async (_label, body) => {
      await expectRefused(() => send(path, body, json), 'openai', { status: 400 });
    });

    it('a non-JSON content type → 415, and a body without any content type → 415', async () => {
      const body = JSON.stringify(VALID[route]);
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        await expectRefused(() => send(path, body, { 'content-type': type }), 'openai', { status: 415, code: 'unsupported_media_type' });
      }
      await expectRefused(() => send(path, body), 'openai', { status: 415, code: 'unsupported_media_type' });
    });

    it('a JSON body in a charset JSON does not allow → 415', async () => {
      await expectRefused(() => send(path, Buffer.from(JSON.stringify(VALID[route]), 'latin1'), { 'content-type': 'application/json; charset=iso-8859-1' }), 'openai', {
        status: 415,
        code: 'unsupported_media_type',
      });
    });

    it('an oversize body → 413, with Content-Length and chunked without it', async () => {
      const limit = gw.config.BODY_LIMIT_BYTES;
      const filler = 'x'.repeat(limit + 1024);
      const body = Buffer.from(JSON.stringify({ ...VALID[route], user: filler }));
      await expectRefused(() => send(path, body, json), 'openai', { status: 413, code: 'request_too_large' });
      const chunks = function* () {
        yield Buffer.from(`{"model":"${String(VALID[route].model)}","user":"`);
        for (let sent = 0; sent <= limit; sent += 1024 * 1024) yield Buffer.alloc(1024 * 1024, 0x61);
        yield Buffer.from('"}');
      };
      await expectRefused(() => send(path, Readable.from(chunks()), json), 'openai', { status: 413, code: 'request_too_large' });
    });

    it.each(['api_key', 'api_base', 'base_url'])('a client-supplied %s → 400 naming it, never used', async (field) => {
      await expectRefused(() => sendJson(route, { ...VALID[route], [field]: 'http://127.0.0.1:1/steal' }), 'openai', { status: 400, param: field });
      await expectRefused(() => sendJson(route, { ...VALID[route], extra_body: { [field]: 'http://127.0.0.1:1/steal' } }), 'openai', {
        status: 400,
        param: `extra_body.${field}`,
      });
    });

    it('an unknown model → 4xx naming model', async () => {
      await expectRefused(() => sendJson(route, { ...VALID[route], model: 'openai/no-such-model' }), 'openai', {
        status: route === 'chat' ? 404 : 400,
        param: 'model',
        code: 'model_not_found',
      });
    });

    it('a model the key may not use → 403', async () => {
      const model = route === 'chat' ? 'openai/gpt-4.1-mini' : 'openai/gpt-image-1';
      await expectRefused(() => sendJson(route, { ...VALID[route], model }, restrictedKey), 'openai', { status: 403 });
    });
  });

  describe('POST /v1/chat/completions fields', () => {
    it.each<[string, unknown, string | RegExp]>([
      ['model', 42, 'model'],
      ['model', '', 'model'],
      ['messages', 'Hello?', 'messages'],
      ['messages', [42], 'messages[0]'],
      ['messages', [{ role: 'user', content: 42 }], 'messages[0].content'],
      ['stream', 'yes', 'stream'],
      ['stream_options', 'x', /^stream_options/],
      ['tools', { type: 'function' }, 'tools'],
      ['tool_choice', 5, 'tool_choice'],
      ['parallel_tool_calls', 'yes', 'parallel_tool_calls'],
      ['response_format', 'json', /^response_format/],
      ['temperature', 'hot', 'temperature'],
      ['top_p', '0.5', 'top_p'],
      ['max_tokens', 1.5, 'max_tokens'],
      ['max_completion_tokens', '10', 'max_completion_tokens'],
      ['reasoning_effort', 5, 'reasoning_effort'],
      ['web_search_options', 'x', /^web_search_options/],
      ['n', '2', 'n'],
      ['stop', 5, 'stop'],
      ['seed', 'x', 'seed'],
      ['presence_penalty', 'x', 'presence_penalty'],
      ['frequency_penalty', 'x', 'frequency_penalty'],
      ['user', 5, 'user'],
      ['modalities', 'text', 'modalities'],
      ['logprobs', 'x', 'logprobs'],
      ['top_logprobs', 'x', 'top_logprobs'],
      ['models', 'openai/gpt-4.1-mini', 'models'],
      ['route', 5, 'route'],
      ['extra_body', 'x', /^extra_body/],
    ])('%s of the wrong type (%j) → 400 naming it', async (field, value, param) => {
      await expectRefused(() => sendJson('chat', { ...CHAT, [field]: value }), 'openai', { status: 400, param });
    });

    it.each(['model', 'messages'])('missing %s → 400 naming it', async (field) => {
      const body: Record<string, unknown> = { ...CHAT };
      delete body[field];
      await expectRefused(() => sendJson('chat', body), 'openai', { status: 400, param: field });
    });

    it.each([0, -1, 129, 1.5])('n = %j → 400 naming n', async (n) => {
      await expectRefused(() => sendJson('chat', { ...CHAT, n }), 'openai', { status: 400, param: 'n' });
    });

    it('stream on an image model → 400 naming stream', async () => {
      await expectRefused(() => sendJson('chat', { ...CHAT, model: 'google/gemini-2.5-flash-image', stream: true }), 'openai', { status: 400, param: 'stream' });
    });

    it.each<[string, string, string]>([
      ['a NUL byte in the content', '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"a\\u0000b"}]}', 'messages[0].content'],
      ['a lone high surrogate in a text part', '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"a\\ud800b"}]}]}', 'messages[0].content[0].text'],
      ['a lone low surrogate in the system prompt', '{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"\\udc00"},{"role":"user","content":"x"}]}', 'messages[0].content'],
      ['a NUL byte in user', '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"x"}],"user":"a\\u0000"}', 'user'],
    ])('%s → 400 naming it', async (_label, body, param) => {
      await expectRefused(() => send('/v1/chat/completions', body, { 'content-type': 'application/json' }), 'openai', { status: 400, param, code: 'invalid_text' });
    });

    it('a 1 MB prompt for a model whose context window it cannot fit → 400 naming messages', async () => {
      // gpt-4o-mini reads 128k tokens; a megabyte of ordinary words is several times that.
      const words = 'the quick brown fox jumps over a lazy dog '.repeat(Math.ceil(1_048_576 / 42)).slice(0, 1_048_576);
      await expectRefused(() => sendJson('chat', { ...CHAT, messages: [{ role: 'user', content: words }] }), 'openai', { status: 400, param: /^messages/ });
    });
  });

  describe('POST /v1beta/models/{model}:generateContent (Google envelope)', () => {
    const path = '/v1beta/models/gemini-2.5-flash:generateContent';
    const GEMINI = { contents: [{ role: 'user', parts: [{ text: 'Hello?' }] }] };
    const json = { 'content-type': 'application/json' };
    const sendGemini = (body: unknown, target = path, auth = key) => send(target, JSON.stringify(body), json, 'POST', auth);

    it.each<[string, string | undefined, Record<string, string>, number]>([
      ['malformed JSON', '{"contents": [', json, 400],
      ['an empty body with a JSON type', '', json, 400],
      ['an empty body without a type', undefined, {}, 400],
      ['a JSON array', JSON.stringify([GEMINI]), json, 400],
      ['a JSON string', '"hello"', json, 400],
      ['null', 'null', json, 400],
      ['a text/plain body', JSON.stringify(GEMINI), { 'content-type': 'text/plain' }, 415],
      ['a form body', 'contents=x', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
    ])('%s → %s', async (_label, body, headers, status) => {
      await expectRefused(() => send(path, body, headers), 'google', { status });
    });

    it('an oversize body → 413, with Content-Length and chunked without it', async () => {
      const limit = gw.config.BODY_LIMIT_BYTES;
      await expectRefused(() => send(path, Buffer.from(JSON.stringify({ ...GEMINI, x: 'x'.repeat(limit + 1024) })), json), 'google', { status: 413 });
      const chunks = function* () {
        yield Buffer.from('{"contents":"');
        for (let sent = 0; sent <= limit; sent += 1024 * 1024) yield Buffer.alloc(1024 * 1024, 0x61);
        yield Buffer.from('"}');
      };
      await expectRefused(() => send(path, Readable.from(chunks()), json), 'google', { status: 413 });
    });

    it.each<[string, unknown]>([
      ['contents', 'Hello?'],
      ['contents', []],
      ['contents', [42]],
      ['contents', [{ role: 'robot', parts: [{ text: 'x' }] }]],
      ['contents', [{ role: 'user', parts: 'x' }]],
      ['contents', [{ role: 'user', parts: [{ text: 42 }] }]],
      ['systemInstruction', 5],
      ['generationConfig', 'hot'],
      ['generationConfig', { temperature: 'hot' }],
      ['generationConfig', { maxOutputTokens: 1.5 }],
      ['generationConfig', { candidateCount: 0 }],
      ['generationConfig', { candidateCount: 9 }],
      ['safetySettings', { category: 'x' }],
      ['tools', { functionDeclarations: [] }],
      ['toolConfig', 'auto'],
    ])('%s of the wrong type or out of range (%j) → 400', async (field, value) => {
      await expectRefused(() => sendGemini({ ...GEMINI, [field]: value }), 'google', { status: 400 });
    });

    it('missing contents → 400', async () => {
      await expectRefused(() => sendGemini({ generationConfig: {} }), 'google', { status: 400 });
    });

    it.each<[string, string]>([
      ['a NUL byte', 'a\\u0000b'],
      ['a lone high surrogate', 'a\\ud800b'],
      ['a lone low surrogate', '\\udc00'],
    ])('%s in a text part → 400', async (_label, text) => {
      await expectRefused(() => send(path, `{"contents":[{"role":"user","parts":[{"text":"${text}"}]}]}`, json), 'google', { status: 400 });
    });

    it('streaming from an image model → 400', async () => {
      await expectRefused(() => sendGemini(GEMINI, '/v1beta/models/gemini-2.5-flash-image:streamGenerateContent?alt=sse'), 'google', { status: 400 });
    });

    it('a 1 MB prompt for a model whose context window it cannot fit → 400', async () => {
      const words = 'the quick brown fox jumps over a lazy dog '.repeat(Math.ceil(1_048_576 / 42)).slice(0, 1_048_576);
      await expectRefused(() => sendGemini({ contents: [{ role: 'user', parts: [{ text: words }] }] }, '/v1beta/models/openai/gpt-4o-mini:generateContent'), 'google', {
        status: 400,
      });
    });

    it.each(['api_key', 'api_base', 'base_url'])('a client-supplied %s → 400, never used', async (field) => {
      await expectRefused(() => sendGemini({ ...GEMINI, [field]: 'http://127.0.0.1:1/steal' }), 'google', { status: 400 });
    });

    it('an unknown model → 404, an unknown method → 404', async () => {
      await expectRefused(() => sendGemini(GEMINI, '/v1beta/models/gemini-0-nonexistent:generateContent'), 'google', { status: 404 });
      await expectRefused(() => sendGemini(GEMINI, '/v1beta/models/gemini-2.5-flash:explode'), 'google', { status: 404 });
    });

    it('a model the key may not use → 403', async () => {
      await expectRefused(() => sendGemini(GEMINI, path, restrictedKey), 'google', { status: 403 });
    });
  });

  describe('POST /v1/images/generations fields', () => {
    it.each<[string, unknown]>([
      ['model', 42],
      ['prompt', 42],
      ['prompt', ''],
      ['n', '1'],
      ['n', 1.5],
      ['size', 1024],
      ['quality', 1],
      ['style', true],
      ['response_format', 'png'],
      ['output_format', 'gif'],
      ['output_compression', '50'],
      ['background', 1],
      ['user', 5],
      ['models', 'openai/gpt-image-1-mini'],
      ['route', 'random'],
      ['stream', 'yes'],
    ])('%s of the wrong type or value (%j) → 400 naming it', async (field, value) => {
      await expectRefused(() => sendJson('images', { ...IMAGES, [field]: value }), 'openai', { status: 400, param: field });
    });

    it('extra_body of the wrong type → 400 naming it', async () => {
      await expectRefused(() => sendJson('images', { ...IMAGES, extra_body: { models: 'x' } }), 'openai', { status: 400, param: /^extra_body/ });
    });

    it.each(['model', 'prompt'])('missing %s → 400 naming it', async (field) => {
      const body: Record<string, unknown> = { ...IMAGES };
      delete body[field];
      await expectRefused(() => sendJson('images', body), 'openai', { status: 400, param: field });
    });

    it.each([0, -1, 11, 100])('n = %j → 400 naming n', async (n) => {
      await expectRefused(() => sendJson('images', { ...IMAGES, n }), 'openai', { status: 400, param: 'n' });
    });

    it.each(['999x999', '1024X1024', 'big', '0x0'])('an unsupported size %j → 400 naming size', async (size) => {
      await expectRefused(() => sendJson('images', { ...IMAGES, size }), 'openai', { status: 400, param: 'size' });
    });

    it('stream on an image model → 400 naming stream', async () => {
      await expectRefused(() => sendJson('images', { ...IMAGES, stream: true }), 'openai', { status: 400, param: 'stream' });
    });

    it.each<[string, string]>([
      ['a NUL byte', 'a\\u0000b'],
      ['a lone high surrogate', 'a\\ud800b'],
      ['a lone low surrogate', '\\udc00'],
    ])('%s in the prompt → 400 naming prompt', async (_label, text) => {
      await expectRefused(() => send('/v1/images/generations', `{"model":"openai/gpt-image-1","prompt":"${text}"}`, { 'content-type': 'application/json' }), 'openai', {
        status: 400,
        param: 'prompt',
      });
    });

    it('a 1 MB prompt → 400 naming prompt', async () => {
      await expectRefused(() => sendJson('images', { ...IMAGES, prompt: 'x'.repeat(1_048_576) }), 'openai', { status: 400, param: 'prompt' });
    });
  });
});

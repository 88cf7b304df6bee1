import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startGateway, type TestGateway } from '../support/gateway';

/**
 * Prompts and answers never reach the logs: distinctive markers sent in the prompts of chat (plain and
 * streamed), image generation and the Gemini-native route, and given back by the upstream in its answers,
 * appear in no log line, at the most verbose level the configuration allows, on success and on every error
 * path (upstream failures, unreadable answers, a stream broken off, refused requests).
 *
 * A file of its own: nestjs-pino keeps the logger of the first gateway a test file starts for the Nest loggers
 * of every later one (services' warnings and errors would go to that first gateway's log), so the gateway
 * whose log is read here is the only one its file starts.
 */

jest.setTimeout(60_000);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** the forms a secret could be written in besides plain text */
function encodings(secret: string): string[] {
  return [secret, Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('base64').replace(/=+$/, ''), encodeURIComponent(secret)];
}

describe('prompts and answers in the logs', () => {
  let gw: TestGateway;
  let key: string;
  /** in every prompt sent, and in every answer the upstream gives */
  const PROMPT = `prompt-marker-${randomBytes(8).toString('hex')}`;
  const ANSWER = `answer-marker-${randomBytes(8).toString('hex')}`;
  const said = `Please repeat after me: ${PROMPT}`;
  const chatBody = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: said }] };
  const geminiBody = { contents: [{ role: 'user', parts: [{ text: said }] }] };
  /** choices first, so that the first half of the body (what `truncate` sends) carries the answer */
  const completion = {
    choices: [{ index: 0, message: { role: 'assistant', content: `You said: ${ANSWER}` }, finish_reason: 'stop' }],
    id: 'chatcmpl-markers',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o-mini',
    usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
  };
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    id: 'chatcmpl-markers',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  });
  const streamed = [
    chunk({ role: 'assistant', content: '' }),
    chunk({ content: `You said: ${ANSWER}` }),
    chunk({}, 'stop'),
    { id: 'chatcmpl-markers', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', choices: [], usage: completion.usage },
    '[DONE]',
  ];
  const geminiAnswer = {
    candidates: [{ content: { role: 'model', parts: [{ text: `You said: ${ANSWER}` }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 9, totalTokenCount: 21 },
    modelVersion: 'gemini-2.5-flash',
  };

  async function call(path: string, body: unknown, raw?: string): Promise<Answer> {
    const r = await request(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: raw ?? JSON.stringify(body),
    });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  }

  beforeAll(async () => {
    // the most verbose level the configuration allows
    gw = await startGateway({ LOG_LEVEL: 'trace' });
    ({ key } = await gw.newTenant(20));
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  it('logs neither the prompt nor the answer of chat (plain and streamed), images and the Gemini-native route, at trace level', async () => {
    gw.sim.script({ provider: 'openai', body: completion });
    const plain = await call('/v1/chat/completions', chatBody);
    expect(plain.status).toBe(200);
    expect(plain.text).toContain(ANSWER);

    gw.sim.script({ provider: 'openai', events: streamed });
    const stream = await call('/v1/chat/completions', { ...chatBody, stream: true });
    expect(stream.status).toBe(200);
    expect(stream.text).toContain(ANSWER);
    expect(stream.text.trimEnd().endsWith('data: [DONE]')).toBe(true);

    const image = await call('/v1/images/generations', { model: 'openai/gpt-image-1', prompt: said, size: '1024x1024', response_format: 'b64_json' });
    expect(image.status).toBe(200);

    gw.sim.script({ provider: 'google', body: geminiAnswer });
    const gemini = await call('/v1beta/models/gemini-2.5-flash:generateContent', geminiBody);
    expect(gemini.status).toBe(200);
    expect(gemini.text).toContain(ANSWER);
    const geminiStream = await call('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', geminiBody);
    expect(geminiStream.status).toBe(200);

    // every request carried the prompt to the upstream
    const upstream = gw.sim.calls();
    expect(upstream).toHaveLength(5);
    for (const c of upstream) expect(JSON.stringify(c.body)).toContain(PROMPT);

    await new Promise((r) => setTimeout(r, 300));
    expect(gw.config.LOG_LEVEL).toBe('trace');
    expect(gw.logs.lines.filter((l) => l.includes('POST /v1'))).toHaveLength(5);
    for (const marker of [PROMPT, ANSWER]) for (const form of encodings(marker)) expect(gw.logs.text).not.toContain(form);
  });

  it('logs neither when the upstream fails, answers unreadably or breaks off mid-stream, nor when the request is refused', async () => {
    const from = gw.logs.lines.length;

    gw.sim.script({ provider: 'openai', status: 500, times: -1 });
    expect((await call('/v1/chat/completions', chatBody)).status).toBe(502);
    expect((await call('/v1/images/generations', { model: 'openai/gpt-image-1', prompt: said, size: '1024x1024' })).status).toBe(502);
    gw.sim.reset();

    gw.sim.script({ provider: 'openai', status: 400, times: -1 });
    expect((await call('/v1/chat/completions', chatBody)).status).toBe(400);
    gw.sim.reset();

    // half a body whose answer the gateway cannot parse (the raw text lands in the error's detail)
    expect(JSON.stringify(completion).slice(0, Math.floor(JSON.stringify(completion).length / 2))).toContain(ANSWER);
    gw.sim.script({ provider: 'openai', body: completion, truncate: true, times: -1 });
    expect((await call('/v1/chat/completions', chatBody)).status).toBe(502);
    gw.sim.reset();

    // the answer streamed, then the upstream's error event
    gw.sim.script({ provider: 'openai', events: streamed, streamErrorAfterChunks: 2 });
    const cut = await call('/v1/chat/completions', { ...chatBody, stream: true });
    expect(cut.status).toBe(200);
    expect(cut.text).toContain(ANSWER);
    expect(cut.text).not.toContain('[DONE]');

    gw.sim.script({ provider: 'google', status: 500, times: -1 });
    expect((await call('/v1beta/models/gemini-2.5-flash:generateContent', geminiBody)).status).toBeGreaterThanOrEqual(500);
    gw.sim.reset();

    // refused before any upstream call: malformed JSON, a NUL byte in the prompt
    expect((await call('/v1/chat/completions', undefined, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"${said}"}`)).status).toBe(400);
    expect((await call('/v1/chat/completions', { ...chatBody, messages: [{ role: 'user', content: `${said}\u0000` }] })).status).toBe(400);

    await new Promise((r) => setTimeout(r, 300));
    const lines = gw.logs.lines.slice(from);
    // the failures were logged (each failed attempt, each 5xx answer with its error and stack)…
    expect(lines.filter((l) => l.includes('chat attempt failed')).length).toBeGreaterThanOrEqual(4);
    expect(lines.filter((l) => l.includes('"msg":"request failed"'))).toHaveLength(4);
    // …without a word of the prompt or the answer
    const text = lines.join('\n');
    for (const marker of [PROMPT, ANSWER]) for (const form of encodings(marker)) expect(text).not.toContain(form);
  });
});

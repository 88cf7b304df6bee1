import { request } from 'node:http';
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

describe('chat streaming on the wire', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    gw = await startGateway();
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

/**
 * The upstream simulator over real HTTP on loopback: each provider's wire format through the official
 * SDKs (openai, @google/genai) or plain undici, and every scripted fault.
 */
import { GoogleGenAI, Type } from '@google/genai';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { request } from 'undici';
import { simulatorBaseUrls, startSimulator, type SimulatorHandle } from '../../apps/simulator/src';

type Json = Record<string, unknown>;

function asRecord(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`not an object: ${JSON.stringify(value)}`);
  return value as Json;
}

function parseSse(text: string): Array<{ event?: string; data: string }> {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim().length > 0)
    .map((block) => {
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trim());
      }
      return { event, data: data.join('\n') };
    });
}

async function post(url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const waitFor = async (predicate: () => boolean, timeoutMs = 2000): Promise<void> => {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('upstream simulator', () => {
  let sim: SimulatorHandle;
  let base: Record<string, string>;
  let openai: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    base = simulatorBaseUrls(sim.url);
    openai = new OpenAI({ apiKey: 'sk-test', baseURL: base['openai'], maxRetries: 0 });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(() => sim.reset());

  describe('OpenAI chat completions (openai SDK)', () => {
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Describe a freight yard in one sentence.' },
    ];

    it('answers JSON with usage computed from the request, deterministically', async () => {
      const a = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
      const b = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
      expect(a.object).toBe('chat.completion');
      expect(a.model).toBe('gpt-4o-mini');
      expect(a.choices[0]?.finish_reason).toBe('stop');
      const content = a.choices[0]?.message.content ?? '';
      expect(content.length).toBeGreaterThan(20);
      expect(b.choices[0]?.message.content).toBe(content);
      const chars = 'You are terse.'.length + 'Describe a freight yard in one sentence.'.length;
      expect(a.usage?.prompt_tokens).toBeGreaterThanOrEqual(Math.ceil(chars / 4) - 2);
      expect(a.usage?.prompt_tokens).toBeLessThanOrEqual(Math.ceil(chars / 4) + 2);
      expect(a.usage?.total_tokens).toBe((a.usage?.prompt_tokens ?? 0) + (a.usage?.completion_tokens ?? 0));
      expect(a.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
      expect(a.usage?.completion_tokens_details?.reasoning_tokens).toBe(0);
      const calls = sim.calls({ provider: 'openai' });
      expect(calls).toHaveLength(2);
      expect(calls[0]?.model).toBe('gpt-4o-mini');
      expect(calls[0]?.headers['authorization']).toBe('Bearer sk-test');
      expect(calls[0]?.status).toBe(200);
      expect(calls[0]?.aborted).toBe(false);
      expect(calls[0]?.finishedAt).toBeGreaterThanOrEqual(calls[0]?.startedAt ?? Infinity);
      const raw = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse();
      expect(raw.response.headers.get('x-request-id')).toMatch(/^req_/);
    });

    it('streams chat.completion.chunk events with the same text and usage in a final empty-choices chunk', async () => {
      const full = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } });
      let text = '';
      let usageChunk: OpenAI.Chat.Completions.ChatCompletionChunk | undefined;
      let chunks = 0;
      for await (const chunk of stream) {
        chunks++;
        expect(chunk.object).toBe('chat.completion.chunk');
        if (chunk.usage) usageChunk = chunk;
        text += chunk.choices[0]?.delta.content ?? '';
      }
      expect(text).toBe(full.choices[0]?.message.content);
      expect(usageChunk?.choices).toEqual([]);
      expect(usageChunk?.usage).toEqual(full.usage);
      expect(chunks).toBeGreaterThan(3);
      const call = sim.calls().at(-1);
      expect(call?.chunksSent).toBe(chunks + 1); // + data: [DONE]
    });

    it('answers max_tokens-limited requests with finish_reason length', async () => {
      const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 5 });
      expect(res.choices[0]?.finish_reason).toBe('length');
      expect(res.usage?.completion_tokens).toBe(5);
    });

    it('calls a tool with arguments generated from its schema, streamed in pieces, and answers a tool result with text', async () => {
      const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 }, unit: { type: 'string', enum: ['c', 'f'] } },
              required: ['city', 'days', 'unit'],
            },
          },
        },
      ];
      const res = await openai.chat.completions.create({ model: 'gpt-4o', messages, tools });
      const call = res.choices[0]?.message.tool_calls?.[0];
      expect(res.choices[0]?.finish_reason).toBe('tool_calls');
      if (!call || call.type !== 'function') throw new Error('expected a function tool call');
      expect(call.function.name).toBe('get_weather');
      const args = asRecord(JSON.parse(call.function.arguments));
      expect(typeof args['city']).toBe('string');
      expect(Number.isInteger(args['days'])).toBe(true);
      expect(args['days']).toBeGreaterThanOrEqual(1);
      expect(args['days']).toBeLessThanOrEqual(7);
      expect(['c', 'f']).toContain(args['unit']);

      const stream = await openai.chat.completions.create({ model: 'gpt-4o', messages, tools, stream: true });
      let streamed = '';
      let pieces = 0;
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        const tc = chunk.choices[0]?.delta.tool_calls?.[0];
        if (tc?.function?.arguments) {
          streamed += tc.function.arguments;
          pieces++;
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(pieces).toBeGreaterThan(1);
      expect(streamed).toBe(call.function.arguments);
      expect(finish).toBe('tool_calls');

      const followUp = await openai.chat.completions.create({
        model: 'gpt-4o',
        tools,
        messages: [...messages, { role: 'assistant', tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' }],
      });
      expect(followUp.choices[0]?.finish_reason).toBe('stop');
      expect(followUp.choices[0]?.message.content).toBeTruthy();
    });

    it('answers response_format json_schema with JSON matching the schema', async () => {
      const res = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages,
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'yard',
            strict: true,
            schema: { type: 'object', properties: { name: { type: 'string' }, tracks: { type: 'array', items: { type: 'number' } }, open: { type: 'boolean' } }, required: ['name', 'tracks', 'open'], additionalProperties: false },
          },
        },
      });
      const value = asRecord(JSON.parse(res.choices[0]?.message.content ?? 'null'));
      expect(typeof value['name']).toBe('string');
      expect(Array.isArray(value['tracks'])).toBe(true);
      expect(typeof value['open']).toBe('boolean');
    });

    it('counts image and audio parts, cached prefixes and reasoning tokens', async () => {
      const longSystem = 'Rules of the yard. '.repeat(400);
      const res = await openai.chat.completions.create({
        model: 'o4-mini',
        messages: [
          { role: 'system', content: longSystem },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this picture?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
              { type: 'input_audio', input_audio: { data: 'UklGRg'.repeat(2000), format: 'wav' } },
            ],
          },
        ],
      });
      const usage = res.usage;
      expect(usage?.prompt_tokens).toBeGreaterThan(Math.ceil(longSystem.length / 4) + 85);
      expect(usage?.prompt_tokens_details?.audio_tokens).toBeGreaterThan(0);
      expect(usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
      expect((usage?.prompt_tokens_details?.cached_tokens ?? 0) % 128).toBe(0);
      expect(usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
      expect(usage?.completion_tokens).toBeGreaterThan(usage?.completion_tokens_details?.reasoning_tokens ?? 0);
    });

    it('cites sources when web_search_options is set', async () => {
      const res = await openai.chat.completions.create({ model: 'gpt-4o-search-preview', messages, web_search_options: {} });
      const annotation = res.choices[0]?.message.annotations?.[0];
      expect(annotation?.type).toBe('url_citation');
      const content = res.choices[0]?.message.content ?? '';
      expect(annotation?.url_citation.end_index).toBeLessThanOrEqual(content.length);
      expect(annotation?.url_citation.end_index).toBeGreaterThan(0);
    });

    it('refuses what OpenAI refuses: max_tokens on reasoning models, stream_options without stream, image models', async () => {
      await expect(openai.chat.completions.create({ model: 'o3', messages, max_tokens: 10 })).rejects.toMatchObject({ status: 400, param: 'max_tokens' });
      await expect(openai.chat.completions.create({ model: 'o3', messages, max_completion_tokens: 10 })).resolves.toBeDefined();
      await expect(openai.chat.completions.create({ model: 'gpt-4o', messages, stream_options: { include_usage: true } })).rejects.toMatchObject({ status: 400, param: 'stream_options' });
      await expect(openai.chat.completions.create({ model: 'gpt-image-1', messages })).rejects.toMatchObject({ status: 404 });
    });

    it('rejects a key equal to "invalid" and a missing key with 401', async () => {
      const bad = new OpenAI({ apiKey: 'invalid', baseURL: base['openai'], maxRetries: 0 });
      await expect(bad.chat.completions.create({ model: 'gpt-4o-mini', messages })).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
      const res = await post(`${base['openai']}/chat/completions`, { model: 'gpt-4o-mini', messages }, {});
      expect(res.status).toBe(401);
      expect(asRecord(asRecord(JSON.parse(res.text))['error'])['message']).toMatch(/API key/);
    });
  });

  describe('OpenAI images (openai SDK)', () => {
    it('generates a decodable image of the requested size and format with token usage by size and quality', async () => {
      const res = await openai.images.generate({ model: 'gpt-image-1', prompt: 'a signal box at dusk', size: '1536x1024', quality: 'high', output_format: 'jpeg' });
      const b64 = res.data?.[0]?.b64_json;
      if (!b64) throw new Error('expected b64_json');
      const meta = await sharp(Buffer.from(b64, 'base64')).metadata();
      expect(meta.format).toBe('jpeg');
      expect([meta.width, meta.height]).toEqual([1536, 1024]);
      expect(res.usage?.output_tokens).toBe(6208);
      expect(res.usage?.input_tokens_details.text_tokens).toBe(Math.ceil('a signal box at dusk'.length / 4));
      expect(res.usage?.input_tokens_details.image_tokens).toBe(0);
      expect(res.usage?.total_tokens).toBe((res.usage?.input_tokens ?? 0) + (res.usage?.output_tokens ?? 0));

      const two = await openai.images.generate({ model: 'gpt-image-1', prompt: 'x', n: 2, quality: 'low' });
      expect(two.data).toHaveLength(2);
      expect(two.usage?.output_tokens).toBe(2 * 272);
      const png = await sharp(Buffer.from(two.data?.[0]?.b64_json ?? '', 'base64')).metadata();
      expect([png.format, png.width, png.height]).toEqual(['png', 1024, 1024]);
    });

    it('rejects sizes the model does not offer and response_format on GPT image models; DALL·E 3 answers a url', async () => {
      await expect(openai.images.generate({ model: 'gpt-image-1', prompt: 'x', size: '512x512' })).rejects.toMatchObject({ status: 400, param: 'size' });
      await expect(openai.images.generate({ model: 'gpt-image-1', prompt: 'x', response_format: 'b64_json' })).rejects.toMatchObject({ status: 400, code: 'unknown_parameter' });
      const dalle = await openai.images.generate({ model: 'dall-e-3', prompt: 'a crane', size: '1792x1024' });
      expect(dalle.usage).toBeUndefined();
      expect(dalle.data?.[0]?.revised_prompt).toBe('a crane');
      const fetched = await request(dalle.data?.[0]?.url ?? '');
      const meta = await sharp(Buffer.from(await fetched.body.arrayBuffer())).metadata();
      expect([meta.width, meta.height]).toEqual([1792, 1024]);
    });

    it('edits an uploaded image (multipart) and counts its image tokens', async () => {
      const input = await sharp({ create: { width: 512, height: 512, channels: 3, background: '#808080' } }).png().toBuffer();
      const res = await openai.images.edit({ model: 'gpt-image-1', prompt: 'add a train', image: await toFile(input, 'in.png', { type: 'image/png' }), size: '1024x1536', output_format: 'webp' });
      const meta = await sharp(Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64')).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['webp', 1024, 1536]);
      expect(res.usage?.input_tokens_details.image_tokens).toBeGreaterThan(0);
      const call = sim.calls({ model: 'gpt-image-1' })[0];
      const body = asRecord(call?.body);
      expect(asRecord(body['fields'])['prompt']).toBe('add a train');
      expect(body['files']).toEqual([expect.objectContaining({ filename: 'in.png', size: input.length })]);
    });
  });

  describe('Gemini (@google/genai)', () => {
    let genai: GoogleGenAI;
    beforeAll(() => {
      genai = new GoogleGenAI({ apiKey: 'g-test', httpOptions: { baseUrl: base['google'] } });
    });

    it('generates content with usageMetadata, and streams the same text over SSE', async () => {
      const res = await genai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Name three parts of a locomotive.' });
      expect(res.text?.length).toBeGreaterThan(20);
      expect(res.candidates?.[0]?.finishReason).toBe('STOP');
      const usage = res.usageMetadata;
      expect(usage?.promptTokenCount).toBe(Math.ceil('Name three parts of a locomotive.'.length / 4));
      expect(usage?.thoughtsTokenCount).toBeGreaterThan(0);
      expect(usage?.totalTokenCount).toBe((usage?.promptTokenCount ?? 0) + (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0));
      expect(usage?.candidatesTokensDetails?.[0]).toEqual({ modality: 'TEXT', tokenCount: usage?.candidatesTokenCount });
      expect(sim.calls({ provider: 'google' })[0]?.headers['x-goog-api-key']).toBe('g-test');

      let text = '';
      let last: typeof res | undefined;
      for await (const chunk of await genai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Name three parts of a locomotive.' })) {
        text += chunk.text ?? '';
        last = chunk;
      }
      expect(text).toBe(res.text);
      expect(last?.usageMetadata?.candidatesTokenCount).toBe(usage?.candidatesTokenCount);
      expect(sim.calls().at(-1)?.path).toContain(':streamGenerateContent');
    });

    it('calls functions with schema-shaped args and answers responseMimeType JSON', async () => {
      const res = await genai.models.generateContent({
        model: 'gemini-2.5-flash',
        contents: 'Weather in Oslo?',
        config: { tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING }, days: { type: Type.INTEGER } }, required: ['city'] } }] }] },
      });
      const fc = res.functionCalls?.[0];
      expect(fc?.name).toBe('get_weather');
      expect(typeof fc?.args?.['city']).toBe('string');
      expect(Number.isInteger(fc?.args?.['days'])).toBe(true);

      const json = await genai.models.generateContent({
        model: 'gemini-2.5-flash',
        contents: 'List a yard.',
        config: { responseMimeType: 'application/json', responseSchema: { type: Type.OBJECT, properties: { name: { type: Type.STRING }, tracks: { type: Type.NUMBER } } } },
      });
      const value = asRecord(JSON.parse(json.text ?? 'null'));
      expect(typeof value['name']).toBe('string');
      expect(typeof value['tracks']).toBe('number');
    });

    it('returns an inlineData PNG plus text from an image model, with image tokens by modality', async () => {
      const res = await genai.models.generateContent({
        model: 'gemini-2.5-flash-image',
        contents: 'Draw a signal lamp.',
        config: { responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '16:9' } },
      });
      const parts = res.candidates?.[0]?.content?.parts ?? [];
      const image = parts.find((p) => p.inlineData)?.inlineData;
      expect(parts.some((p) => typeof p.text === 'string' && p.text.length > 0)).toBe(true);
      expect(image?.mimeType).toBe('image/png');
      const meta = await sharp(Buffer.from(image?.data ?? '', 'base64')).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 1344, 768]);
      expect(res.usageMetadata?.candidatesTokensDetails).toEqual(expect.arrayContaining([{ modality: 'IMAGE', tokenCount: 1290 }]));

      const textOnly = await genai.models.generateContent({ model: 'gemini-2.5-flash-image', contents: 'Describe a lamp.', config: { responseModalities: ['TEXT'] } });
      expect(textOnly.candidates?.[0]?.content?.parts?.some((p) => p.inlineData)).toBe(false);
    });

    it('streams a JSON array without alt=sse and rejects an invalid key in Google\'s envelope', async () => {
      const res = await post(`${base['google']}/v1beta/models/gemini-2.0-flash:streamGenerateContent`, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, { 'x-goog-api-key': 'k' });
      expect(res.status).toBe(200);
      const elements = JSON.parse(res.text) as unknown[];
      expect(elements.length).toBeGreaterThan(1);
      const candidates = asRecord(elements.at(-1))['candidates'];
      expect(Array.isArray(candidates) ? asRecord(candidates[0])['finishReason'] : undefined).toBe('STOP');

      const bad = new GoogleGenAI({ apiKey: 'invalid', httpOptions: { baseUrl: base['google'] } });
      await expect(bad.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })).rejects.toMatchObject({ status: 401 });
      const raw = await post(`${base['google']}/v1beta/models/gemini-2.5-flash:generateContent`, { contents: [{ parts: [{ text: 'hi' }] }] }, { 'x-goog-api-key': 'invalid' });
      expect(asRecord(JSON.parse(raw.text))['error']).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
    });
  });

  describe('Imagen (:predict, undici)', () => {
    it('returns sampleCount images at the aspect ratio\'s size', async () => {
      const res = await post(`${base['google']}/v1beta/models/imagen-4.0-generate-001:predict`, { instances: [{ prompt: 'a viaduct' }], parameters: { sampleCount: 2, aspectRatio: '16:9' } }, { 'x-goog-api-key': 'k' });
      expect(res.status).toBe(200);
      const predictions = asRecord(JSON.parse(res.text))['predictions'] as Json[];
      expect(predictions).toHaveLength(2);
      expect(predictions[0]?.['mimeType']).toBe('image/png');
      const meta = await sharp(Buffer.from(String(predictions[0]?.['bytesBase64Encoded']), 'base64')).metadata();
      expect([meta.width, meta.height]).toEqual([1408, 768]);
    });
  });

  describe('Anthropic (/v1/messages, undici)', () => {
    const headers = { 'x-api-key': 'a-test', 'anthropic-version': '2023-06-01' };

    it('answers a message with usage incl. cache fields, and streams the same text as SSE events', async () => {
      const body = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Say something about rails.' }] };
      const res = await post(`${base['anthropic']}/v1/messages`, body, headers);
      expect(res.status).toBe(200);
      const msg = asRecord(JSON.parse(res.text));
      expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', stop_reason: 'end_turn' });
      const usage = asRecord(msg['usage']);
      expect(usage).toMatchObject({ input_tokens: Math.ceil('Say something about rails.'.length / 4), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
      const text = String(asRecord((msg['content'] as unknown[])[0])['text']);

      const streamed = await post(`${base['anthropic']}/v1/messages`, { ...body, stream: true }, headers);
      const events = parseSse(streamed.text);
      const types = events.map((e) => e.event);
      expect(types[0]).toBe('message_start');
      expect(types).toEqual(expect.arrayContaining(['content_block_start', 'ping', 'content_block_delta', 'content_block_stop', 'message_delta']));
      expect(types.at(-1)).toBe('message_stop');
      for (const e of events) expect(asRecord(JSON.parse(e.data))['type']).toBe(e.event);
      const joined = events
        .filter((e) => e.event === 'content_block_delta')
        .map((e) => String(asRecord(asRecord(JSON.parse(e.data))['delta'])['text']))
        .join('');
      expect(joined).toBe(text);
      const delta = asRecord(JSON.parse(events.find((e) => e.event === 'message_delta')?.data ?? '{}'));
      expect(asRecord(delta['usage'])['output_tokens']).toBe(usage['output_tokens']);
    });

    it('uses tools with input_json_delta and reads a cached prefix', async () => {
      const tools = [{ name: 'lookup', description: 'Look up', input_schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } }];
      const system = [{ type: 'text', text: 'Manual. '.repeat(800), cache_control: { type: 'ephemeral' } }];
      const body = { model: 'claude-sonnet-4-5', max_tokens: 256, system, tools, messages: [{ role: 'user', content: 'Find 7.' }] };
      const res = asRecord(JSON.parse((await post(`${base['anthropic']}/v1/messages`, body, headers)).text));
      expect(res['stop_reason']).toBe('tool_use');
      const toolUse = (res['content'] as Json[]).find((b) => b['type'] === 'tool_use');
      expect(typeof asRecord(toolUse?.['input'])['id']).toBe('string');
      expect(asRecord(res['usage'])['cache_read_input_tokens']).toBeGreaterThanOrEqual(1024);

      const events = parseSse((await post(`${base['anthropic']}/v1/messages`, { ...body, stream: true }, headers)).text);
      const partial = events
        .map((e) => asRecord(JSON.parse(e.data)))
        .filter((d) => d['type'] === 'content_block_delta' && asRecord(d['delta'])['type'] === 'input_json_delta')
        .map((d) => String(asRecord(d['delta'])['partial_json']));
      expect(partial.length).toBeGreaterThan(1);
      expect(JSON.parse(partial.join(''))).toEqual(toolUse?.['input']);
    });

    it('returns a thinking block with a signature before the answer when thinking is enabled', async () => {
      const body = { model: 'claude-sonnet-4-5', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'Think.' }] };
      const msg = asRecord(JSON.parse((await post(`${base['anthropic']}/v1/messages`, body, headers)).text));
      const blocks = msg['content'] as Json[];
      expect(blocks.map((b) => b['type'])).toEqual(['thinking', 'text']);
      expect(String(blocks[0]?.['signature']).length).toBeGreaterThan(10);
      const events = parseSse((await post(`${base['anthropic']}/v1/messages`, { ...body, stream: true }, headers)).text).map((e) => asRecord(JSON.parse(e.data)));
      const deltaTypes = events.filter((e) => e['type'] === 'content_block_delta').map((e) => asRecord(e['delta'])['type']);
      expect(deltaTypes).toEqual(expect.arrayContaining(['thinking_delta', 'signature_delta', 'text_delta']));
      const tooSmall = await post(`${base['anthropic']}/v1/messages`, { ...body, thinking: { type: 'enabled', budget_tokens: 100 } }, headers);
      expect(tooSmall.status).toBe(400);
    });

    it('answers an invalid key with Anthropic\'s 401 envelope and a missing version header with 400', async () => {
      const bad = await post(`${base['anthropic']}/v1/messages`, { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }, { ...headers, 'x-api-key': 'invalid' });
      expect(bad.status).toBe(401);
      expect(JSON.parse(bad.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
      const noVersion = await post(`${base['anthropic']}/v1/messages`, { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'a' });
      expect(noVersion.status).toBe(400);
    });
  });

  describe('the OpenAI-compatible family', () => {
    it('DeepSeek reports reasoning_content and prompt_cache_hit/miss tokens', async () => {
      const ds = new OpenAI({ apiKey: 'd', baseURL: base['deepseek'], maxRetries: 0 });
      const res = await ds.chat.completions.create({ model: 'deepseek-reasoner', messages: [{ role: 'system', content: 'Context. '.repeat(100) }, { role: 'user', content: 'Why?' }] });
      const raw = asRecord(res as unknown);
      const usage = asRecord(raw['usage']);
      expect(usage['prompt_cache_hit_tokens']).toBeGreaterThan(0);
      expect(Number(usage['prompt_cache_hit_tokens']) + Number(usage['prompt_cache_miss_tokens'])).toBe(usage['prompt_tokens']);
      expect(asRecord(usage['completion_tokens_details'])['reasoning_tokens']).toBeGreaterThan(0);
      expect(typeof asRecord(asRecord((raw['choices'] as unknown[])[0])['message'])['reasoning_content']).toBe('string');
    });

    it('Moonshot streams usage inside the last choice; xAI reports reasoning beside completion tokens', async () => {
      const res = await post(`${base['moonshot']}/chat/completions`, { model: 'kimi-k2-turbo-preview', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { authorization: 'Bearer m' });
      const chunks = parseSse(res.text).filter((e) => e.data !== '[DONE]').map((e) => asRecord(JSON.parse(e.data)));
      const last = asRecord((chunks.at(-1)?.['choices'] as unknown[])[0]);
      expect(last['finish_reason']).toBe('stop');
      expect(asRecord(last['usage'])['prompt_tokens']).toBe(1);

      const xai = new OpenAI({ apiKey: 'x', baseURL: base['xai'], maxRetries: 0 });
      const grok = await xai.chat.completions.create({ model: 'grok-4', messages: [{ role: 'user', content: 'hello there' }] });
      const reasoning = grok.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
      expect(reasoning).toBeGreaterThan(0);
      expect(grok.usage?.total_tokens).toBe((grok.usage?.prompt_tokens ?? 0) + (grok.usage?.completion_tokens ?? 0) + reasoning);
    });

    it('Qwen and MiniMax answer in their compatible shapes', async () => {
      const qwen = await post(`${base['qwen']}/chat/completions`, { model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }, { authorization: 'Bearer q' });
      expect(asRecord(asRecord(JSON.parse(qwen.text))['usage'])['prompt_tokens_details']).toEqual({ cached_tokens: 0 });
      const mm = asRecord(JSON.parse((await post(`${base['minimax']}/chat/completions`, { model: 'MiniMax-M2', messages: [{ role: 'user', content: 'hi' }] }, { authorization: 'Bearer mm' })).text));
      expect(mm['base_resp']).toEqual({ status_code: 0, status_msg: '' });
      expect(String(asRecord(asRecord((mm['choices'] as unknown[])[0])['message'])['content'])).toMatch(/^<think>/);
    });

    it('xAI images answer b64_json or a fetchable url', async () => {
      const xai = new OpenAI({ apiKey: 'x', baseURL: base['xai'], maxRetries: 0 });
      const urlRes = await xai.images.generate({ model: 'grok-imagine-image', prompt: 'a depot' });
      const imageUrl = urlRes.data?.[0]?.url;
      if (!imageUrl) throw new Error('expected url');
      const fetched = await request(imageUrl);
      expect(fetched.statusCode).toBe(200);
      const meta = await sharp(Buffer.from(await fetched.body.arrayBuffer())).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1024, 1024]);
      const b64 = await xai.images.generate({ model: 'grok-imagine-image', prompt: 'a depot', response_format: 'b64_json' });
      expect(b64.data?.[0]?.b64_json?.length).toBeGreaterThan(100);
      expect(asRecord(asRecord(b64 as unknown)['usage'])['cost_in_usd_ticks']).toBe(200_000_000);
    });
  });

  describe('scripted faults', () => {
    const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };
    const auth = { authorization: 'Bearer sk' };
    const chatUrl = (): string => `${base['openai']}/chat/completions`;

    it('answers a scripted status with the provider envelope and headers, consumed `times` times', async () => {
      sim.script({ provider: 'openai', status: 429, headers: { 'retry-after': '2' }, times: 2 });
      for (let i = 0; i < 2; i++) {
        const res = await post(chatUrl(), chat, auth);
        expect(res.status).toBe(429);
        expect(res.headers['retry-after']).toBe('2');
        expect(asRecord(JSON.parse(res.text))['error']).toMatchObject({ code: 'rate_limit_exceeded' });
      }
      expect((await post(chatUrl(), chat, auth)).status).toBe(200);
      await expect(openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })).resolves.toBeDefined();
    });

    it('matches rules by provider, model and path; other requests are untouched', async () => {
      sim.script({ provider: 'anthropic', status: 529 });
      sim.script({ model: 'gpt-4o', status: 500 });
      expect((await post(chatUrl(), chat, auth)).status).toBe(200);
      expect((await post(chatUrl(), { ...chat, model: 'gpt-4o' }, auth)).status).toBe(500);
      const a = await post(`${base['anthropic']}/v1/messages`, { model: 'c', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'a', 'anthropic-version': '2023-06-01' });
      expect(a.status).toBe(529);
      expect(asRecord(JSON.parse(a.text))['error']).toMatchObject({ type: 'overloaded_error' });
      sim.script({ provider: 'gemini', path: ':predict', status: 503 });
      const g = await post(`${base['google']}/v1beta/models/imagen-4.0-generate-001:predict`, { instances: [{ prompt: 'x' }] }, { 'x-goog-api-key': 'k' });
      expect(JSON.parse(g.text)).toEqual({ error: { code: 503, message: expect.any(String), status: 'UNAVAILABLE' } });
    });

    it('delays the first byte by delayMs', async () => {
      sim.script({ delayMs: 250 });
      const start = Date.now();
      expect((await post(chatUrl(), chat, auth)).status).toBe(200);
      expect(Date.now() - start).toBeGreaterThanOrEqual(240);
    });

    it('stalls a stream after N chunks and records the client abort', async () => {
      sim.script({ stallAfterChunks: 3 });
      const controller = new AbortController();
      const res = await request(chatUrl(), { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ ...chat, stream: true }), signal: controller.signal });
      expect(res.statusCode).toBe(200);
      let received = '';
      res.body.on('data', (piece: Buffer) => {
        received += piece.toString('utf8');
      });
      res.body.on('error', () => undefined);
      await waitFor(() => received.split('\n\n').length > 3);
      await new Promise((r) => setTimeout(r, 100));
      const before = sim.calls()[0];
      expect(before?.chunksSent).toBe(3);
      expect(before?.finishedAt).toBeUndefined();
      controller.abort();
      await waitFor(() => sim.calls()[0]?.aborted === true);
      const after = sim.calls()[0];
      expect(after?.finishedAt).toBeGreaterThanOrEqual(after?.startedAt ?? Infinity);
      expect(received).not.toContain('[DONE]');
    });

    it('records a client that goes away mid-stream without a scripted stall', async () => {
      const slow = await startSimulator({ streamChunks: 20, streamChunkDelayMs: 20 });
      try {
        const controller = new AbortController();
        const res = await request(`${slow.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ ...chat, stream: true }), signal: controller.signal });
        for await (const _piece of res.body) {
          void _piece;
          break;
        }
        controller.abort();
        await waitFor(() => slow.calls()[0]?.aborted === true);
        expect(slow.calls()[0]?.chunksSent).toBeLessThan(10);
      } finally {
        await slow.close();
      }
    });

    it('records a client that gives up during a scripted delay, and frees the delay', async () => {
      sim.script({ delayMs: 5000 });
      const controller = new AbortController();
      const pending = request(chatUrl(), { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(chat), signal: controller.signal }).catch((e: unknown) => e);
      await waitFor(() => sim.calls().length === 1);
      controller.abort();
      await pending;
      await waitFor(() => sim.calls()[0]?.aborted === true);
      expect(sim.calls()[0]).toMatchObject({ status: 0, chunksSent: 0 });
      expect((sim.calls()[0]?.finishedAt ?? Infinity) - (sim.calls()[0]?.startedAt ?? 0)).toBeLessThan(1000);
    });

    it('resets the socket before answering or after N chunks', async () => {
      sim.script({ reset: true });
      await expect(post(chatUrl(), chat, auth)).rejects.toThrow();
      expect(sim.calls()[0]).toMatchObject({ status: 0, aborted: false });

      sim.script({ resetAfterChunks: 2 });
      const res = await request(chatUrl(), { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ ...chat, stream: true }) });
      await expect(res.body.text()).rejects.toThrow();
      expect(sim.calls()[1]?.chunksSent).toBe(2);

      sim.script({ resetAfterChunks: 1 });
      await expect(post(chatUrl(), chat, auth)).rejects.toThrow();
    });

    it('truncates a JSON body and a stream', async () => {
      sim.script({ truncate: true });
      const res = await post(chatUrl(), chat, auth);
      expect(res.status).toBe(200);
      expect(() => JSON.parse(res.text)).toThrow();
      expect(res.text.length).toBeGreaterThan(10);

      sim.script({ truncate: true });
      const stream = await post(chatUrl(), { ...chat, stream: true }, auth);
      expect(stream.text).toContain('chat.completion.chunk');
      expect(stream.text).not.toContain('[DONE]');
    });

    it('answers an HTML error page', async () => {
      sim.script({ html: true, status: 503 });
      const res = await post(chatUrl(), chat, auth);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.text).toMatch(/<html>/);
    });

    it('sends an error inside a 200 stream in each provider\'s format', async () => {
      sim.script({ provider: 'openai', streamErrorAfterChunks: 2 });
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], stream: true });
      const consume = async (): Promise<number> => {
        let n = 0;
        for await (const _chunk of stream) {
          void _chunk;
          n++;
        }
        return n;
      };
      await expect(consume()).rejects.toThrow(/server had an error/);
      expect(sim.calls()[0]?.chunksSent).toBe(3);

      sim.script({ provider: 'anthropic', streamErrorAfterChunks: 1 });
      const a = await post(`${base['anthropic']}/v1/messages`, { model: 'c', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'a', 'anthropic-version': '2023-06-01' });
      expect(a.status).toBe(200);
      const events = parseSse(a.text);
      expect(events.map((e) => e.event)).toEqual(['message_start', 'error']);
      expect(JSON.parse(events[1]?.data ?? '{}')).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

      sim.script({ provider: 'google', streamErrorAfterChunks: 1 });
      const genai = new GoogleGenAI({ apiKey: 'g', httpOptions: { baseUrl: base['google'] } });
      const consumeGoogle = async (): Promise<void> => {
        for await (const _c of await genai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x' })) void _c;
      };
      await expect(consumeGoogle()).rejects.toMatchObject({ status: 500 });

      sim.script({ provider: 'openai', streamErrorAfterChunks: 1 });
      expect((await post(chatUrl(), chat, auth)).status).toBe(500);
    });

    it('answers an image request with text but no image', async () => {
      sim.script({ noImage: true, provider: 'google' });
      const genai = new GoogleGenAI({ apiKey: 'g', httpOptions: { baseUrl: base['google'] } });
      const res = await genai.models.generateContent({ model: 'gemini-2.5-flash-image', contents: 'Draw.', config: { responseModalities: ['TEXT', 'IMAGE'] } });
      expect(res.text?.length).toBeGreaterThan(0);
      expect(res.candidates?.[0]?.content?.parts?.some((p) => p.inlineData)).toBe(false);

      sim.script({ noImage: true, provider: 'openai' });
      const img = await openai.images.generate({ model: 'gpt-image-1', prompt: 'x' });
      expect(img.data?.[0]?.b64_json).toBeUndefined();

      sim.script({ noImage: true, path: ':predict' });
      const imagen = await post(`${base['google']}/v1beta/models/imagen-4.0-generate-001:predict`, { instances: [{ prompt: 'x' }] }, { 'x-goog-api-key': 'k' });
      const predictions = asRecord(JSON.parse(imagen.text))['predictions'] as Json[];
      expect(predictions.some((p) => 'bytesBase64Encoded' in p)).toBe(false);
    });

    it('answers a verbatim body with a status', async () => {
      sim.script({ body: { hello: 'world' }, status: 202 });
      const res = await post(chatUrl(), chat, auth);
      expect(res.status).toBe(202);
      expect(JSON.parse(res.text)).toEqual({ hello: 'world' });
    });

    it('streams verbatim SSE events with status 200, and cuts them like a generated stream', async () => {
      const error = { error: { message: 'bad', type: 'invalid_request_error', code: 400 } };
      sim.script({ provider: 'openai', events: [error, '[DONE]'] });
      const res = await post(chatUrl(), { ...chat, stream: true }, auth);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      expect(parseSse(res.text).map((e) => e.data)).toEqual([JSON.stringify(error), '[DONE]']);
      expect(sim.calls()[0]).toMatchObject({ status: 200, chunksSent: 2 });

      sim.script({ provider: 'openai', events: [{ n: 1 }, { n: 2 }, { n: 3 }], streamErrorAfterChunks: 1 });
      const cut = parseSse((await post(chatUrl(), { ...chat, stream: true }, auth)).text);
      expect(cut.map((e) => e.data)).toEqual([JSON.stringify({ n: 1 }), expect.stringContaining('"type":"server_error"')]);
    });

    it('is scripted and read over the /_sim HTTP API', async () => {
      const scripted = await post(`${sim.url}/_sim/rules`, { provider: 'deepseek', status: 503 }, {});
      expect(scripted.status).toBe(201);
      expect((await post(`${base['deepseek']}/chat/completions`, { model: 'deepseek-chat', messages: [{ role: 'user', content: 'x' }] }, auth)).status).toBe(503);
      const calls = JSON.parse(await (await request(`${sim.url}/_sim/calls?provider=deepseek`)).body.text()) as Json[];
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ provider: 'deepseek', model: 'deepseek-chat', status: 503, aborted: false });
      expect((await post(`${sim.url}/_sim/reset`, {}, {})).status).toBe(200);
      expect(sim.calls()).toHaveLength(0);
    });

    it('honours chunkDelayMs per rule', async () => {
      sim.script({ chunkDelayMs: 30 });
      const start = Date.now();
      const res = await post(chatUrl(), { ...chat, stream: true }, auth);
      const frames = parseSse(res.text).length;
      expect(Date.now() - start).toBeGreaterThanOrEqual(30 * (frames - 1) - 5);
    });
  });

  describe('global options and lifecycle', () => {
    it('streams the requested number of chunks at the requested pace', async () => {
      const bench = await startSimulator({ streamChunks: 20, streamChunkDelayMs: 5, latencyMs: 20 });
      try {
        const start = Date.now();
        const res = await post(`${bench.url}/openai/v1/chat/completions`, { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'x' }] }, { authorization: 'Bearer k' });
        const elapsed = Date.now() - start;
        const contentChunks = parseSse(res.text)
          .filter((e) => e.data !== '[DONE]')
          .map((e) => asRecord(JSON.parse(e.data)))
          .filter((c) => typeof asRecord(asRecord((c['choices'] as unknown[])[0])['delta'])['content'] === 'string' && String(asRecord(asRecord((c['choices'] as unknown[])[0])['delta'])['content']).length > 0);
        expect(contentChunks).toHaveLength(20);
        expect(elapsed).toBeGreaterThanOrEqual(20 + 5 * 20);
      } finally {
        await bench.close();
      }
    });

    it('close() ends promptly while a stream is stalled and a request is delayed', async () => {
      const other = await startSimulator();
      other.script({ stallAfterChunks: 1 });
      other.script({ delayMs: 60_000 });
      const stalled = request(`${other.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }) })
        .then((r) => r.body.text())
        .catch((e: unknown) => e);
      await waitFor(() => other.calls().length === 1 && other.calls()[0]?.chunksSent === 1);
      const delayed = post(`${other.url}/openai/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { authorization: 'Bearer k' }).catch((e: unknown) => e);
      await waitFor(() => other.calls().length === 2);
      const start = Date.now();
      await other.close();
      expect(Date.now() - start).toBeLessThan(1000);
      await Promise.all([stalled, delayed]);
    });
  });
});

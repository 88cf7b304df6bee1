import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ImageObject } from '@app/storage';
import type { ImageJobView } from './image-generation.service';
import { Base64ImagesJson, imageJobBody, imagesResponseBody, type Base64Source } from './image-response';

/** A stored image whose stream hands out the bytes in chunks of the given sizes, in turn. */
function streamed(bytes: Buffer, chunkSizes: number[], size = bytes.length): { object: ImageObject } {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = chunkSizes[i % chunkSizes.length];
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return { object: { mimeType: 'image/png', size, stream: Readable.from(chunks) } };
}

describe('Base64ImagesJson', () => {
  let server: Server;
  let url: string;
  let answer: (res: ServerResponse) => Promise<void>;

  beforeAll(async () => {
    server = createServer((_req, res) => void answer(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** GETs the answer, reading it slowly when asked (so the writer meets backpressure). */
  function fetchAnswer(slow = false): Promise<{ headers: IncomingHttpHeaders; body: Buffer; complete: boolean }> {
    return new Promise((resolve, reject) => {
      request(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          if (slow) {
            res.pause();
            setTimeout(() => res.resume(), 2);
          }
        });
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }));
        res.on('error', () => resolve({ headers: res.headers, body: Buffer.concat(chunks), complete: false }));
      })
        .on('error', reject)
        .end();
    });
  }

  const build = (placeholders: string[]) => ({
    created: 1,
    data: placeholders.map((b64_json, i) => ({ b64_json, revised_prompt: `“prompt” ${i}` })),
    usage: { input_tokens: 5 },
  });
  const expected = (images: Buffer[]) => JSON.stringify(build(images.map((i) => i.toString('base64'))));

  it('writes exactly what JSON.stringify would, with its length, from memory and from stored streams in odd chunks', async () => {
    const images = [randomBytes(200_001), randomBytes(7), randomBytes(150_000), randomBytes(0)];
    const sources: Base64Source[] = [
      { bytes: images[0] },
      streamed(images[1], [1, 1, 5]),
      streamed(images[2], [65_536, 1, 2, 3, 4, 100_000]),
      { bytes: images[3] },
    ];
    answer = (res) => new Base64ImagesJson(build, sources).writeTo(res);
    const { headers, body } = await fetchAnswer(true);
    expect(body.toString('utf8')).toBe(expected(images));
    expect(headers['content-length']).toBe(String(body.length));
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('cuts the connection when a stored image is shorter than it claimed, rather than send a broken body', async () => {
    const image = randomBytes(100_000);
    answer = (res) => new Base64ImagesJson(build, [streamed(image, [30_000], image.length + 3)]).writeTo(res);
    const { body, complete } = await fetchAnswer();
    expect(complete).toBe(false);
    expect(body.length).toBeLessThan(Buffer.byteLength(expected([image])));
  });

  it('places each image where its placeholder is, whatever the shape around it', () => {
    const json = new Base64ImagesJson((p) => ({ result: { data: [{ b64_json: p[0] }] }, id: 'x' }), [{ bytes: Buffer.from('abc') }]);
    expect(json.byteLength).toBe(Buffer.byteLength(JSON.stringify({ result: { data: [{ b64_json: 'YWJj' }] }, id: 'x' })));
    expect(() => new Base64ImagesJson(() => ({ data: [] }), [{ bytes: Buffer.from('abc') }])).toThrow(/no place/);
  });
});

describe('imageJobBody', () => {
  const view = {
    id: 'job-1',
    tenantId: 't',
    endpoint: '/v1/images/generations',
    status: 'succeeded',
    request: { requestedModel: 'openai/gpt-image-1-mini', responseFormat: 'url', prompt: 'p', n: 2, size: '1024x1024', quality: 'low' },
    chain: ['openai/gpt-image-1-mini'],
    servedModel: 'openai/gpt-image-1-mini',
    fallbackLevel: 0,
    attempts: 1,
    result: {
      created: 1_700_000_100,
      images: [0, 1].map((index) => ({ id: `img-${index}`, index, mimeType: 'image/png', bytes: 10 })),
      usage: { textInput: 5, cachedInput: 0, imageInput: 0, audioInput: 0, textOutput: 0, reasoningOutput: 0, imageOutput: 100, images: 2 },
      costMicros: '1000',
      servedModel: 'openai/gpt-image-1-mini',
      provider: 'openai',
      fallbackLevel: 0,
    },
    error: null,
    createdAt: new Date(1_700_000_000_000),
    completedAt: new Date(1_700_000_100_000),
    imagesExpiredAt: null,
  } satisfies ImageJobView;

  it('says the images are there while they are stored', () => {
    const body = imageJobBody(view, imagesResponseBody(view, [{ url: 'https://x/1' }, { url: 'https://x/2' }]));
    expect(body).toMatchObject({ id: 'job-1', status: 'succeeded', images_expired: false, result: { data: [{ url: 'https://x/1' }, { url: 'https://x/2' }] } });
  });

  it('keeps the job and what it produced once its images expired, with no data and images_expired: true', () => {
    const expired = { ...view, imagesExpiredAt: new Date(1_700_600_000_000) };
    expect(imageJobBody(expired, imagesResponseBody(expired, []))).toEqual({
      id: 'job-1',
      object: 'image.generation.job',
      status: 'succeeded',
      created: 1_700_000_000,
      model: 'openai/gpt-image-1-mini',
      models: ['openai/gpt-image-1-mini'],
      served_model: 'openai/gpt-image-1-mini',
      fallback_level: 0,
      attempts: 1,
      completed_at: 1_700_000_100,
      images_expired: true,
      result: {
        created: 1_700_000_100,
        data: [],
        output_format: 'png',
        size: '1024x1024',
        quality: 'low',
        usage: { input_tokens: 5, input_tokens_details: { text_tokens: 5, image_tokens: 0 }, output_tokens: 100, total_tokens: 105 },
      },
      error: null,
    });
    // images found missing before the purge marked the job say so too
    expect(imageJobBody(view, imagesResponseBody(view, []), true).images_expired).toBe(true);
  });
});

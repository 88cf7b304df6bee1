import { ApiError } from '@app/common';
import type { ChatMessage } from '../types/chat';
import { IMAGE_INLINE_DEFAULTS, ImageInputInliner } from './image-fetch-inliner';
import { ImageFetchError, ImageFetcher, type FetchedImage } from './image-fetcher';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const PNG_URL = `data:image/png;base64,${PNG.toString('base64')}`;

/** A fetcher whose answers the test decides, keeping the real data-URL decoding. */
class ScriptedFetcher {
  readonly fetched: string[] = [];
  readonly signals: (AbortSignal | undefined)[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly real = new ImageFetcher();

  constructor(private readonly answer: (url: string, signal?: AbortSignal) => Promise<FetchedImage>) {}

  async load(url: string, signal?: AbortSignal): Promise<FetchedImage> {
    if (url.startsWith('data:')) return this.real.load(url);
    this.fetched.push(url);
    this.signals.push(signal);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await this.answer(url, signal);
    } finally {
      this.inFlight--;
    }
  }

  async close(): Promise<void> {
    await this.real.close();
  }
}

function inliner(fetcher: ScriptedFetcher | ImageFetcher): ImageInputInliner {
  return new ImageInputInliner(fetcher as unknown as ImageFetcher);
}

async function apiErrorOf(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

const image = (url: string) => ({ type: 'image_url' as const, image_url: { url } });
const pngAnswer = async (): Promise<FetchedImage> => ({ data: PNG, mimeType: 'image/png' });

describe('ImageInputInliner', () => {
  it('replaces every http(s) image part by a data URL and leaves everything else alone', async () => {
    const fetcher = new ScriptedFetcher(pngAnswer);
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Compare' }, image('https://img.example/a.png'), { ...image('http://img.example/b.png'), image_url: { url: 'http://img.example/b.png', detail: 'low' } }] },
      { role: 'assistant', content: 'Sure.' },
      { role: 'user', content: [image(PNG_URL), { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] },
    ];
    await inliner(fetcher).inline({ messages });
    expect(fetcher.fetched.sort()).toEqual(['http://img.example/b.png', 'https://img.example/a.png']);
    expect(messages[1].content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image_url', image_url: { url: PNG_URL } },
      { type: 'image_url', image_url: { url: PNG_URL, detail: 'low' } },
    ]);
    expect(messages[3].content).toEqual([image(PNG_URL), { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }]);
    expect(messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
  });

  it('does nothing for a request without images', async () => {
    const fetcher = new ScriptedFetcher(pngAnswer);
    const messages: ChatMessage[] = [{ role: 'user', content: 'hello' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }];
    await inliner(fetcher).inline({ messages });
    expect(fetcher.fetched).toEqual([]);
    expect(messages).toEqual([{ role: 'user', content: 'hello' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
  });

  it('relabels a data URL by its bytes and refuses one that is not an accepted image', async () => {
    const fetcher = new ScriptedFetcher(pngAnswer);
    const messages: ChatMessage[] = [{ role: 'user', content: [image(`data:image/jpeg;base64,${PNG.toString('base64')}`)] }];
    await inliner(fetcher).inline({ messages });
    expect(messages[0].content).toEqual([image(PNG_URL)]);

    const svg = `data:image/svg+xml;base64,${Buffer.from('<svg/>').toString('base64')}`;
    const error = await apiErrorOf(inliner(fetcher).inline({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, image(svg)] }] }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_image_url');
    expect(error.param).toBe('messages[0].content[1].image_url.url');
  });

  it('turns a refused fetch into a 400 naming the part, and stops the other fetches', async () => {
    const fetcher = new ScriptedFetcher(async (url, signal) => {
      if (url.includes('bad')) throw new ImageFetchError('forbidden_address', 'it points to a private, local or reserved address.');
      // The good ones wait until they are stopped.
      await new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new ImageFetchError('network', 'aborted')), { once: true }));
      return pngAnswer();
    });
    const messages: ChatMessage[] = [
      { role: 'user', content: 'look' },
      { role: 'user', content: [image('https://img.example/slow1.png'), { type: 'text', text: 'and' }, image('http://169.254.169.254/bad')] },
    ];
    const error = await apiErrorOf(inliner(fetcher).inline({ messages }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_image_url');
    expect(error.param).toBe('messages[1].content[2].image_url.url');
    expect(error.message).toContain('private, local or reserved');
    expect(fetcher.signals.every((s) => s?.aborted === true)).toBe(true);
  });

  it('fetches a few at a time', async () => {
    const fetcher = new ScriptedFetcher(async () => {
      await new Promise((r) => setTimeout(r, 5));
      return pngAnswer();
    });
    const messages: ChatMessage[] = [{ role: 'user', content: Array.from({ length: 12 }, (_v, i) => image(`https://img.example/${i}.png`)) }];
    await inliner(fetcher).inline({ messages });
    expect(fetcher.fetched).toHaveLength(12);
    expect(fetcher.maxInFlight).toBe(IMAGE_INLINE_DEFAULTS.concurrency);
  });

  it('refuses a request whose images together exceed the per-request budget', async () => {
    const chunk = Buffer.concat([PNG, Buffer.alloc(Math.ceil(IMAGE_INLINE_DEFAULTS.maxTotalBytes / 3))]);
    const fetcher = new ScriptedFetcher(async () => ({ data: chunk, mimeType: 'image/png' }));
    const messages: ChatMessage[] = [{ role: 'user', content: [image('https://img.example/1.png'), image('https://img.example/2.png'), image('https://img.example/3.png')] }];
    const error = await apiErrorOf(inliner(fetcher).inline({ messages }));
    expect(error.code).toBe('invalid_image_url');
    expect(error.message).toContain('together exceed');
  });

  it('passes the caller signal on, so a tenant that leaves stops the fetches', async () => {
    const fetcher = new ScriptedFetcher(pngAnswer);
    const controller = new AbortController();
    await inliner(fetcher).inline({ messages: [{ role: 'user', content: [image('https://img.example/a.png')] }] }, controller.signal);
    controller.abort();
    expect(fetcher.signals[0]?.aborted).toBe(true);
  });

  it('with the real fetcher, a loopback URL is a 400 naming its part', async () => {
    const fetcher = new ImageFetcher();
    try {
      const error = await apiErrorOf(
        inliner(fetcher).inline({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, image('http://2130706433/x.png')] }] }),
      );
      expect(error.status).toBe(400);
      expect(error.param).toBe('messages[0].content[1].image_url.url');
    } finally {
      await fetcher.close();
    }
  });
});

/**
 * Replaces every image a chat request refers to by its bytes, as a data URL, before the request goes
 * upstream: http(s) URLs are fetched through the SSRF-guarded `ImageFetcher`, data URLs are decoded and
 * checked by the same rules. Providers therefore never fetch a tenant's URL themselves, and every image has
 * passed the same type, sniffing and size checks whichever provider serves it.
 */
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ChatMessage, ImageUrlContentPart } from '../types/chat';
import { ImageFetcher, ImageFetchError, imageDataUrl, type FetchedImage } from './image-fetcher';

export const IMAGE_INLINE_DEFAULTS = {
  /** fetches in flight for one request */
  concurrency: 4,
  /** all images of one request together, decoded */
  maxTotalBytes: 64 * 1024 * 1024,
} as const;

interface ImagePartRef {
  part: ImageUrlContentPart;
  /** the field as the tenant wrote it, e.g. `messages[0].content[1].image_url.url` */
  param: string;
}

function imageParts(messages: readonly ChatMessage[]): ImagePartRef[] {
  const refs: ImagePartRef[] = [];
  messages.forEach((message, i) => {
    if (!Array.isArray(message.content)) return;
    message.content.forEach((part, j) => {
      if (part.type === 'image_url') refs.push({ part, param: `messages[${i}].content[${j}].image_url.url` });
    });
  });
  return refs;
}

@Injectable()
export class ImageInputInliner implements OnApplicationShutdown {
  constructor(private readonly fetcher: ImageFetcher) {}

  /** Whether `inline` has anything to do for this request. */
  refersToImages(request: { messages: ChatMessage[] }): boolean {
    return imageParts(request.messages).length > 0;
  }

  /**
   * Rewrites the request's image parts in place to data URLs of the sniffed type. The first image that
   * cannot be loaded aborts the others and becomes a 400 `invalid_image_url` naming its part.
   */
  async inline(request: { messages: ChatMessage[] }, signal?: AbortSignal): Promise<void> {
    const refs = imageParts(request.messages);
    if (refs.length === 0) return;
    let total = 0;
    const account = (ref: ImagePartRef, bytes: number): void => {
      total += bytes;
      if (total > IMAGE_INLINE_DEFAULTS.maxTotalBytes) {
        throw new ImageFetchError('too_large', `the images of this request together exceed ${IMAGE_INLINE_DEFAULTS.maxTotalBytes} bytes.`).toApiError(ref.param);
      }
    };

    // Data URLs first and in order: decoding is local, so their errors come out deterministically.
    const remote: ImagePartRef[] = [];
    for (const ref of refs) {
      if (/^data:/i.test(ref.part.image_url.url)) {
        const image = await this.load(ref, signal);
        account(ref, image.data.byteLength);
        ref.part.image_url.url = imageDataUrl(image);
      } else {
        remote.push(ref);
      }
    }
    if (remote.length === 0) return;

    const stop = new AbortController();
    const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    // The failure that happens first stops the others; theirs are only echoes of that abort.
    let failure: { error: unknown } | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < remote.length && failure === undefined) {
        const ref = remote[next++];
        try {
          const image = await this.load(ref, combined);
          account(ref, image.data.byteLength);
          ref.part.image_url.url = imageDataUrl(image);
        } catch (error) {
          failure ??= { error };
          stop.abort();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(IMAGE_INLINE_DEFAULTS.concurrency, remote.length) }, worker));
    if (failure) throw failure.error;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.fetcher.close();
  }

  private async load(ref: ImagePartRef, signal: AbortSignal | undefined): Promise<FetchedImage> {
    try {
      return await this.fetcher.load(ref.part.image_url.url, signal);
    } catch (error) {
      if (error instanceof ImageFetchError) throw error.toApiError(ref.param);
      throw error;
    }
  }
}

import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NormalizedUsage } from '@app/providers';
import type { ImageObject } from '@app/storage';
import type { ImageJobView } from './image-generation.service';

/** One entry of `data` in OpenAI's images response. */
export interface ImageDatum {
  url?: string;
  b64_json?: string;
  revised_prompt?: string;
}

/** OpenAI's image usage object (GPT image models); per-image-priced models report none. */
export interface ImagesUsage {
  input_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
  output_tokens: number;
  total_tokens: number;
}

export interface ImagesResponseBody {
  created: number;
  data: ImageDatum[];
  output_format?: string;
  size?: string;
  quality?: string;
  usage?: ImagesUsage;
}

export function toImagesUsage(u: NormalizedUsage): ImagesUsage | undefined {
  const input = u.textInput + u.cachedInput + u.imageInput + u.audioInput;
  const output = u.textOutput + u.reasoningOutput + u.imageOutput;
  if (input + output === 0) return undefined;
  return {
    input_tokens: input,
    input_tokens_details: { text_tokens: input - u.imageInput, image_tokens: u.imageInput },
    output_tokens: output,
    total_tokens: input + output,
  };
}

const FORMAT_OF_MIME: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/webp': 'webp' };

/** `data` is built by the caller (signed links or base64); the rest follows from the finished job. */
export function imagesResponseBody(view: ImageJobView, data: ImageDatum[]): ImagesResponseBody {
  const result = view.result;
  const body: ImagesResponseBody = { created: result?.created ?? Math.floor(view.createdAt.getTime() / 1000), data };
  const format = result?.images[0] ? FORMAT_OF_MIME[result.images[0].mimeType] : undefined;
  if (format) body.output_format = format;
  if (view.request.size) body.size = view.request.size;
  if (view.request.quality) body.quality = view.request.quality;
  const usage = result ? toImagesUsage(result.usage) : undefined;
  if (usage) body.usage = usage;
  return body;
}

/** `GET /v1/images/generations/{id}` and the 202 of an asynchronous request. */
export interface ImageJobBody {
  id: string;
  object: 'image.generation.job';
  status: string;
  created: number;
  model?: string;
  models?: string[];
  served_model?: string | null;
  fallback_level?: number | null;
  attempts?: number;
  completed_at?: number | null;
  /**
   * true once the job's stored images were deleted after IMAGE_RETENTION_HOURS: `result` then keeps what the job
   * produced (created, format, size, usage) with `data: []`
   */
  images_expired?: boolean;
  result?: ImagesResponseBody | null;
  error?: { message: string; type: string; code: string | null } | null;
}

/** `imagesExpired`: the images are no longer stored (the job is marked so, or they were found missing). */
export function imageJobBody(view: ImageJobView, result?: ImagesResponseBody | null, imagesExpired = view.imagesExpiredAt !== null): ImageJobBody {
  return {
    id: view.id,
    object: 'image.generation.job',
    status: view.status,
    created: Math.floor(view.createdAt.getTime() / 1000),
    model: view.request.requestedModel,
    models: view.chain,
    served_model: view.servedModel,
    fallback_level: view.fallbackLevel,
    attempts: view.attempts,
    completed_at: view.completedAt ? Math.floor(view.completedAt.getTime() / 1000) : null,
    images_expired: imagesExpired,
    result: result ?? null,
    error: view.error ? { message: view.error.message, type: view.error.type, code: view.error.code } : null,
  };
}

/** Where the bytes of one image in a `b64_json` answer come from: memory (handed over by the worker) or the store. */
export type Base64Source = { bytes: Buffer } | { object: ImageObject };

/** bytes encoded per write: a multiple of 3 (so pieces join into one base64 string) whose base64 stays a young-generation string */
const ENCODE_WINDOW = 48 * 1024;

function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

function sourceSize(source: Base64Source): number {
  return 'bytes' in source ? source.bytes.length : source.object.size;
}

/**
 * A JSON answer some of whose strings are the base64 of images, written without ever holding those strings whole:
 * base64 never needs escaping, so the JSON around the images is serialised once, with a marker where each image
 * goes, and the images are encoded piece by piece into the response between those parts. The length is known
 * up front (the images' sizes), so the answer goes out with a Content-Length.
 */
export class Base64ImagesJson {
  private readonly parts: string[];

  /**
   * `build` receives one placeholder string per source, to put where that image's base64 belongs (e.g. as a
   * `b64_json` value), and returns the JSON value of the answer.
   */
  constructor(
    build: (placeholders: string[]) => unknown,
    private readonly sources: readonly Base64Source[],
  ) {
    const tag = `sy-image-base64-${randomUUID()}-`;
    const json = JSON.stringify(build(sources.map((_, i) => `${tag}${i}`)));
    // Each placeholder appears once, quoted, in source order: the parts are the text between them.
    this.parts = [];
    let from = 0;
    for (let i = 0; i < sources.length; i++) {
      const at = json.indexOf(`${tag}${i}"`, from);
      if (at < 0) throw new Error(`image ${i} has no place in the answer`);
      this.parts.push(json.slice(from, at));
      from = at + `${tag}${i}`.length;
    }
    this.parts.push(json.slice(from));
  }

  /** The answer's length in bytes. */
  get byteLength(): number {
    let n = 0;
    for (const p of this.parts) n += Buffer.byteLength(p);
    for (const s of this.sources) n += base64Length(sourceSize(s));
    return n;
  }

  /** Closes stored images that will not be read (the answer is not sent after all). */
  discard(): void {
    for (const s of this.sources) if ('object' in s) s.object.stream?.destroy();
  }

  /** Writes the whole answer and ends the response; a read failure midway cuts the connection (the length was promised). */
  async writeTo(res: ServerResponse): Promise<void> {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', String(this.byteLength));
    let i = 0;
    try {
      for (; i < this.sources.length; i++) {
        await write(res, this.parts[i], 'utf8');
        await writeBase64(res, this.sources[i]);
      }
      res.end(this.parts[this.sources.length]);
    } catch (e) {
      this.discard();
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  }
}

/** Writes one piece, waiting for the socket to drain when it is full; rejects when the response closes first. */
async function write(res: ServerResponse, text: string, encoding: BufferEncoding): Promise<void> {
  if (res.destroyed) throw new Error('the response was closed');
  if (res.write(text, encoding)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (closed: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (closed) reject(new Error('the response was closed'));
      else resolve();
    };
    const onDrain = (): void => done(false);
    const onClose = (): void => done(true);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

async function writeBytes(res: ServerResponse, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length; at += ENCODE_WINDOW) {
    await write(res, bytes.toString('base64', at, Math.min(bytes.length, at + ENCODE_WINDOW)), 'latin1');
  }
}

async function writeBase64(res: ServerResponse, source: Base64Source): Promise<void> {
  if ('bytes' in source) return writeBytes(res, source.bytes);
  const object = source.object;
  if (object.bytes) return writeBytes(res, object.bytes);
  // Chunks come in any size: the 1 or 2 bytes past the last multiple of 3 wait for the next chunk.
  let carry: Buffer | undefined;
  let written = 0;
  for await (const chunk of object.stream as AsyncIterable<Buffer>) {
    let data = chunk;
    if (carry) {
      const need = 3 - carry.length;
      if (data.length < need) {
        carry = Buffer.concat([carry, data]);
        continue;
      }
      await write(res, Buffer.concat([carry, data.subarray(0, need)]).toString('base64'), 'latin1');
      written += 3;
      data = data.subarray(need);
      carry = undefined;
    }
    const whole = data.length - (data.length % 3);
    await writeBytes(res, data.subarray(0, whole));
    written += whole;
    if (whole < data.length) carry = Buffer.from(data.subarray(whole));
  }
  if (carry) {
    await write(res, carry.toString('base64'), 'latin1');
    written += carry.length;
  }
  if (written !== object.size) throw new Error(`the stored image changed size while it was read (${written} of ${object.size} bytes)`);
}

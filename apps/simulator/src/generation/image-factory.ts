/**
 * Real, decodable images of a requested size and format. Encoding a 1536x1024 PNG costs tens of
 * milliseconds, and the simulator is also the upstream of a latency benchmark, so each (size, format) is
 * encoded once and reused; the picture itself carries no meaning.
 */
import sharp from 'sharp';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface EncodedImage {
  data: Buffer;
  base64: string;
  mimeType: string;
  width: number;
  height: number;
}

export const MAX_IMAGE_EDGE = 4096;

export class ImageFactory {
  private readonly cache = new Map<string, Promise<EncodedImage>>();

  get(width: number, height: number, format: ImageFormat): Promise<EncodedImage> {
    const key = `${width}x${height}.${format}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.encode(width, height, format);
      // A failed encode must not poison the cache for later requests.
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }

  private async encode(width: number, height: number, format: ImageFormat): Promise<EncodedImage> {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_IMAGE_EDGE || height > MAX_IMAGE_EDGE) {
      throw new Error(`unsupported image size ${width}x${height}`);
    }
    // A diagonal band over a flat background, so the image is not a single colour (some decoders and
    // checks treat a uniform image as suspicious) while still compressing well.
    const band = Buffer.from(
      `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">` +
        `<polygon points="0,${height} ${Math.round(width / 3)},${height} ${width},0 ${Math.round((2 * width) / 3)},0" fill="#f2a541"/></svg>`,
    );
    let pipeline = sharp({ create: { width, height, channels: 3, background: { r: 36, g: 84, b: 140 } } }).composite([
      { input: band, top: 0, left: 0 },
    ]);
    if (format === 'png') pipeline = pipeline.png({ compressionLevel: 6 });
    else if (format === 'jpeg') pipeline = pipeline.jpeg({ quality: 80 });
    else pipeline = pipeline.webp({ quality: 80 });
    const data = await pipeline.toBuffer();
    return { data, base64: data.toString('base64'), mimeType: `image/${format}`, width, height };
  }
}

export function parseSize(size: string): { width: number; height: number } | null {
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(size);
  if (!m) return null;
  return { width: Number(m[1]), height: Number(m[2]) };
}

export function isImageFormat(value: unknown): value is ImageFormat {
  return value === 'png' || value === 'jpeg' || value === 'webp';
}

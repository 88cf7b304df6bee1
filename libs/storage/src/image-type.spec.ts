import sharp from 'sharp';
import { contentTypeForImage, IMAGE_SNIFF_BYTES, imageFileExtension, sniffImageMimeType, UNKNOWN_IMAGE_MIME_TYPE } from './image-type';

async function makeImage(format: 'png' | 'jpeg' | 'webp' | 'gif', width = 8, height = 8): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } }).toFormat(format).toBuffer();
}

describe('image type sniffing', () => {
  it.each([
    ['png', 'image/png'],
    ['jpeg', 'image/jpeg'],
    ['webp', 'image/webp'],
    ['gif', 'image/gif'],
  ] as const)('recognises a real %s', async (format, mime) => {
    const bytes = await makeImage(format);
    expect(sniffImageMimeType(bytes)).toBe(mime);
    expect(sniffImageMimeType(bytes.subarray(0, IMAGE_SNIFF_BYTES))).toBe(mime);
    expect(contentTypeForImage(bytes)).toBe(mime);
    expect(imageFileExtension(mime)).toBe(format);
  });

  it('does not take other RIFF files for WebP', () => {
    const wave = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt ')]);
    expect(sniffImageMimeType(wave)).toBeNull();
  });

  it('labels anything else, including markup and truncated headers, as a download', async () => {
    const png = await makeImage('png');
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from('<html><script>alert(1)</script></html>'),
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
      png.subarray(0, 7),
      Buffer.from('RIFF\0\0\0\0WEB'),
      Buffer.from([0xff, 0xd8]),
    ]) {
      expect(sniffImageMimeType(bytes)).toBeNull();
      expect(contentTypeForImage(bytes)).toBe(UNKNOWN_IMAGE_MIME_TYPE);
    }
    expect(imageFileExtension(UNKNOWN_IMAGE_MIME_TYPE)).toBe('bin');
  });

  it('reads Uint8Array as well as Buffer', async () => {
    const jpeg = await makeImage('jpeg');
    expect(sniffImageMimeType(new Uint8Array(jpeg))).toBe('image/jpeg');
  });
});

/**
 * Image types Switchyard serves. Stored files are labelled by their bytes, never by what a provider or caller
 * claimed: the image route is reachable without an API key, so a wrong label (say `text/html`) would let
 * stored content run as a page on the gateway's origin.
 */
export type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';

/** what unrecognised bytes are served as: browsers download it instead of rendering it */
export const UNKNOWN_IMAGE_MIME_TYPE = 'application/octet-stream';

/** how many leading bytes `sniffImageMimeType` needs to decide */
export const IMAGE_SNIFF_BYTES = 12;

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const RIFF = [0x52, 0x49, 0x46, 0x46];
const WEBP = [0x57, 0x45, 0x42, 0x50];
const GIF87A = [0x47, 0x49, 0x46, 0x38, 0x37, 0x61];
const GIF89A = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61];

function startsWith(bytes: Uint8Array, magic: number[], offset = 0): boolean {
  if (bytes.length < offset + magic.length) return false;
  return magic.every((b, i) => bytes[offset + i] === b);
}

/** the image type the magic number says, or null when the bytes are none of the types we serve */
export function sniffImageMimeType(bytes: Uint8Array): ImageMimeType | null {
  if (startsWith(bytes, PNG)) return 'image/png';
  if (startsWith(bytes, JPEG)) return 'image/jpeg';
  // RIFF is a container (WAV and AVI use it too); only the form type at offset 8 says WebP.
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return 'image/webp';
  if (startsWith(bytes, GIF87A) || startsWith(bytes, GIF89A)) return 'image/gif';
  return null;
}

/** the Content-Type to store and serve the bytes with */
export function contentTypeForImage(bytes: Uint8Array): ImageMimeType | typeof UNKNOWN_IMAGE_MIME_TYPE {
  return sniffImageMimeType(bytes) ?? UNKNOWN_IMAGE_MIME_TYPE;
}

const EXTENSIONS: Record<ImageMimeType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

/** file extension for download names and object keys; `bin` for unrecognised content */
export function imageFileExtension(mimeType: string): string {
  return (EXTENSIONS as Record<string, string | undefined>)[mimeType] ?? 'bin';
}

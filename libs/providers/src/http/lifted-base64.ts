/**
 * Large base64 strings lifted out of a JSON answer before it becomes text. A generated image arrives as one
 * base64 string of a megabyte or more inside a small JSON object; turning the whole body into a JS string and
 * `JSON.parse`-ing it copies and scans that string twice, only for it to be base64-decoded afterwards. Instead
 * the HTTP client finds the string values of a few named fields in the raw bytes (`indexOf`, native), decodes
 * them straight from there, and hands the adapter the rest of the body as text, with a placeholder string in
 * place of each lifted value. `UpstreamResponse.lifted` maps each placeholder to its decoded bytes, and
 * `decodeImageValue` gives an adapter the bytes of a value whether it was lifted or not, so adapters stay
 * pure translators of (small) JSON.
 */
import { randomUUID } from 'node:crypto';
import type { ProviderId } from '../catalog/model-spec';
import { malformed } from '../errors';
import { decodeImage, sniffImageMime } from '../openai-compatible/openai-compatible.adapter';

/** The fields whose string values carry image bytes in base64: OpenAI and xAI `b64_json`, Imagen `bytesBase64Encoded`, Gemini `inlineData.data`. */
export const IMAGE_BASE64_FIELDS: readonly string[] = ['b64_json', 'bytesBase64Encoded', 'data'];

/** Shorter values stay in the text: they cost nothing to parse, and an image is always far longer. */
export const MIN_LIFTED_CHARS = 1024;

/** base64 characters decoded per step: a multiple of 4, and small enough that each step's string is a young-generation object */
const DECODE_WINDOW = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

export interface LiftedBody {
  /** the body as text, each lifted value replaced by its placeholder */
  text: string;
  /** placeholder → decoded bytes; empty when nothing was lifted */
  lifted: Map<string, Buffer>;
}

function isJsonSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** A quote preceded by an odd number of backslashes is escaped, i.e. part of a string's content. */
function isEscaped(body: Buffer, at: number): boolean {
  let n = 0;
  for (let i = at - 1; i >= 0 && body[i] === BACKSLASH; i--) n++;
  return n % 2 === 1;
}

/** The index of the quote that closes the string whose content starts at `start`, or -1 (a truncated body). */
function closingQuote(body: Buffer, start: number): number {
  let at = body.indexOf(QUOTE, start);
  while (at >= 0 && isEscaped(body, at)) at = body.indexOf(QUOTE, at + 1);
  return at;
}

/** The bytes a base64 string of `length` characters encodes, `=` padding included in the length. */
function decodedLength(body: Buffer, start: number, end: number): number {
  const length = end - start;
  let padding = 0;
  if (length > 0 && body[end - 1] === 0x3d) padding++;
  if (length > 1 && body[end - 2] === 0x3d) padding++;
  return Math.floor((length * 3) / 4) - padding;
}

/**
 * Decodes the base64 between `start` and `end` (no escapes in it) window by window into one buffer, so no string
 * of the whole value is ever made. Undefined when the characters are not plain base64 (whitespace, junk), which
 * the window-wise decoding cannot handle; the caller then decodes the value as a whole.
 */
function decodePlain(body: Buffer, start: number, end: number): Buffer | undefined {
  const expected = decodedLength(body, start, end);
  const out = Buffer.allocUnsafe(Math.max(0, expected));
  let written = 0;
  for (let at = start; at < end; at += DECODE_WINDOW) {
    const chunk = body.toString('latin1', at, Math.min(end, at + DECODE_WINDOW));
    written += out.write(chunk, written, 'base64');
  }
  return written === expected ? out : undefined;
}

/** A `data:<type>;base64,` prefix some upstreams put before the payload. */
function dataUrlPayloadStart(body: Buffer, start: number, end: number): number {
  if (end - start < 5 || body.toString('latin1', start, start + 5) !== 'data:') return start;
  const comma = body.indexOf(0x2c, start);
  return comma >= 0 && comma < Math.min(end, start + 256) ? comma + 1 : start;
}

/** The decoded bytes of the string value whose content is body[start, end), or undefined when it is not valid JSON string content. */
function decodeValue(body: Buffer, start: number, end: number): Buffer | undefined {
  const escaped = body.indexOf(BACKSLASH, start);
  if (escaped < 0 || escaped >= end) {
    const from = dataUrlPayloadStart(body, start, end);
    return decodePlain(body, from, end) ?? Buffer.from(body.toString('latin1', from, end), 'base64');
  }
  // JSON may escape `/` as `\/` (and wrap lines with `\n`): let the JSON parser undo the escapes of this value alone.
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8', start - 1, end + 1));
  } catch {
    return undefined;
  }
  if (typeof value !== 'string') return undefined;
  return Buffer.from(value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value, 'base64');
}

interface Span {
  /** first byte of the string's content (after the opening quote) */
  start: number;
  /** the closing quote */
  end: number;
}

/**
 * Where the string values of `fields` (as object keys) are, at least `minChars` long. One pass from string to
 * string: each `indexOf` jumps over the characters between two quotes, a large value included, so a key is only
 * ever recognised as a whole string of its own, never inside another.
 */
function findValues(body: Buffer, fields: ReadonlySet<string>, minChars: number): Span[] {
  const spans: Span[] = [];
  let longestField = 0;
  for (const f of fields) longestField = Math.max(longestField, Buffer.byteLength(f));
  let at = body.indexOf(QUOTE);
  while (at >= 0) {
    const start = at + 1;
    const end = closingQuote(body, start);
    if (end < 0) break;
    let next = end + 1;
    if (end - start <= longestField && fields.has(body.toString('latin1', start, end))) {
      let i = next;
      while (isJsonSpace(body[i])) i++;
      if (body[i] === COLON) {
        i++;
        while (isJsonSpace(body[i])) i++;
        if (body[i] === QUOTE) {
          const valueEnd = closingQuote(body, i + 1);
          if (valueEnd < 0) break;
          if (valueEnd - (i + 1) >= minChars) spans.push({ start: i + 1, end: valueEnd });
          next = valueEnd + 1;
        }
      }
    }
    at = body.indexOf(QUOTE, next);
  }
  return spans;
}

/**
 * Splits a JSON body into small text and decoded base64 values: every string value of one of `fields` at least
 * `minChars` long is decoded and replaced, in the text, by a placeholder naming it in `lifted`. Values that are
 * not valid string content stay in the text, so a malformed body stays malformed for the adapter's parser; a
 * body that is not JSON at all comes out as its plain text.
 */
export function liftBase64Strings(body: Buffer, fields: readonly string[], minChars = MIN_LIFTED_CHARS): LiftedBody {
  const spans = findValues(body, new Set(fields), minChars);
  const lifted = new Map<string, Buffer>();
  if (spans.length === 0) return { text: body.toString('utf8'), lifted };
  // Unguessable by the upstream, so no string of its own can stand for a lifted value.
  const tag = `sy-lifted-base64:${randomUUID()}:`;
  const pieces: string[] = [];
  let prev = 0;
  for (const span of spans) {
    const bytes = decodeValue(body, span.start, span.end);
    if (!bytes) continue;
    const placeholder = `${tag}${lifted.size}`;
    lifted.set(placeholder, bytes);
    pieces.push(body.toString('utf8', prev, span.start), placeholder);
    prev = span.end;
  }
  pieces.push(body.toString('utf8', prev));
  return { text: pieces.join(''), lifted };
}

/**
 * The image a base64 value read from a parsed answer stands for: the bytes the HTTP client lifted for a
 * placeholder, or the value decoded. A payload that is not a recognisable image is a malformed answer.
 */
export function decodeImageValue(provider: ProviderId, value: string, lifted?: ReadonlyMap<string, Buffer>): { data: Buffer; mimeType: string } {
  const bytes = lifted?.get(value);
  if (!bytes) return decodeImage(provider, value);
  const mimeType = sniffImageMime(bytes);
  if (!mimeType) throw malformed(provider, 'image data is not a PNG, JPEG or WebP image');
  return { data: bytes, mimeType };
}

import { randomBytes } from 'node:crypto';
import { UpstreamError } from '../errors';
import { decodeImageValue, IMAGE_BASE64_FIELDS, liftBase64Strings } from './lifted-base64';

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** PNG-signed random bytes; random bytes give every base64 character, `/` and `+` included. */
function fakePng(size: number): Buffer {
  return Buffer.concat([PNG_MAGIC, randomBytes(size - PNG_MAGIC.length)]);
}

function lift(json: string, fields: readonly string[] = IMAGE_BASE64_FIELDS) {
  const { text, lifted } = liftBase64Strings(Buffer.from(json, 'utf8'), fields);
  return { text, lifted, parsed: JSON.parse(text) as any };
}

describe('liftBase64Strings', () => {
  it('lifts each b64_json of an OpenAI answer, decoded, and leaves the rest of the body as it was', () => {
    const images = [fakePng(5000), fakePng(300_000), fakePng(2001)];
    const body = {
      created: 1700000000,
      data: images.map((img, i) => ({ b64_json: img.toString('base64'), revised_prompt: `prompt ${i}` })),
      usage: { input_tokens: 12, output_tokens: 4160, input_tokens_details: { text_tokens: 12, image_tokens: 0 } },
      output_format: 'png',
    };
    const { text, lifted, parsed } = lift(JSON.stringify(body));
    expect(lifted.size).toBe(3);
    expect(text.length).toBeLessThan(1000);
    expect(parsed.usage).toEqual(body.usage);
    expect(parsed.created).toBe(1700000000);
    expect(parsed.output_format).toBe('png');
    parsed.data.forEach((d: any, i: number) => {
      expect(d.revised_prompt).toBe(`prompt ${i}`);
      expect(lifted.get(d.b64_json)?.equals(images[i])).toBe(true);
    });
  });

  it('undoes JSON escapes inside the value (`\\/`, wrapped lines)', () => {
    const img = fakePng(200_000);
    const b64 = img.toString('base64');
    expect(b64).toContain('/');
    const escaped = JSON.stringify({ data: [{ b64_json: b64 }] }).replace(/\//g, '\\/');
    const r1 = lift(escaped);
    expect(lifted1(r1).equals(img)).toBe(true);
    const wrapped = `{"data":[{"b64_json":"${b64.match(/.{1,76}/g)!.join('\\n')}"}]}`;
    expect(lifted1(lift(wrapped)).equals(img)).toBe(true);

    function lifted1(r: ReturnType<typeof lift>): Buffer {
      expect(r.lifted.size).toBe(1);
      return r.lifted.get(r.parsed.data[0].b64_json)!;
    }
  });

  it('reads Gemini inlineData.data, Imagen bytesBase64Encoded and data: URLs, with spaces around the colon', () => {
    const a = fakePng(4000);
    const b = fakePng(6000);
    const c = fakePng(7000);
    const gemini = `{"candidates":[{"content":{"parts":[{"text":"here"},{"inlineData" : {"mimeType":"image/png","data" :\n "${a.toString('base64')}"}}]}}],"usageMetadata":{"promptTokenCount":3}}`;
    const g = lift(gemini);
    expect(g.lifted.get(g.parsed.candidates[0].content.parts[1].inlineData.data)?.equals(a)).toBe(true);
    expect(g.parsed.usageMetadata).toEqual({ promptTokenCount: 3 });

    const imagen = lift(JSON.stringify({ predictions: [{ bytesBase64Encoded: b.toString('base64'), mimeType: 'image/png' }] }));
    expect(imagen.lifted.get(imagen.parsed.predictions[0].bytesBase64Encoded)?.equals(b)).toBe(true);

    const dataUrl = lift(JSON.stringify({ data: [{ b64_json: `data:image/png;base64,${c.toString('base64')}` }] }));
    expect(dataUrl.lifted.get(dataUrl.parsed.data[0].b64_json)?.equals(c)).toBe(true);
  });

  it('decodes the way Buffer.from does when the characters are not plain base64', () => {
    const b64 = fakePng(9000).toString('base64');
    const spaced = `${b64.slice(0, 5000)} ${b64.slice(5000)}`;
    const { lifted, parsed } = lift(JSON.stringify({ data: [{ b64_json: spaced }] }));
    expect(lifted.get(parsed.data[0].b64_json)?.equals(Buffer.from(spaced, 'base64'))).toBe(true);
  });

  it('lifts nothing that is not a long string value of a named key', () => {
    const long = 'A'.repeat(5000);
    const bodies = [
      // the key's name inside another string (escaped quotes), a value equal to the name, a null, a short value
      JSON.stringify({ revised_prompt: `say "b64_json": "${long}"` }),
      JSON.stringify({ name: 'b64_json', other: long }),
      JSON.stringify({ data: [{ b64_json: null, url: 'https://x' }] }),
      JSON.stringify({ data: [{ b64_json: 'QUJD' }] }),
      JSON.stringify({ image: long }),
    ];
    for (const body of bodies) {
      const { text, lifted } = liftBase64Strings(Buffer.from(body), IMAGE_BASE64_FIELDS);
      expect(lifted.size).toBe(0);
      expect(text).toBe(body);
    }
  });

  it('leaves a malformed body malformed: a value with a bad escape, or one cut short, stays in the text', () => {
    const cut = `{"data":[{"b64_json":"${fakePng(3000).toString('base64').slice(0, 3000)}`;
    const bad = `{"data":[{"b64_json":"${'A'.repeat(2000)}\\x${'A'.repeat(2000)}"}]}`;
    for (const body of [cut, bad]) {
      const { text, lifted } = liftBase64Strings(Buffer.from(body), IMAGE_BASE64_FIELDS);
      expect(lifted.size).toBe(0);
      expect(text).toBe(body);
      expect(() => JSON.parse(text)).toThrow();
    }
    expect(liftBase64Strings(Buffer.from('<html>502 Bad Gateway</html>'), IMAGE_BASE64_FIELDS).text).toBe('<html>502 Bad Gateway</html>');
  });

  it('keeps non-ASCII text around the lifted values intact', () => {
    const img = fakePng(3000);
    const body = JSON.stringify({ data: [{ revised_prompt: 'un phare à l’aube 🌅', b64_json: img.toString('base64') }] });
    const { parsed, lifted } = lift(body);
    expect(parsed.data[0].revised_prompt).toBe('un phare à l’aube 🌅');
    expect(lifted.get(parsed.data[0].b64_json)?.equals(img)).toBe(true);
  });

  it('names each lifted value with a placeholder no upstream can predict', () => {
    const body = JSON.stringify({ data: [{ b64_json: fakePng(3000).toString('base64') }] });
    const first = lift(body).parsed.data[0].b64_json;
    const second = lift(body).parsed.data[0].b64_json;
    expect(first).not.toBe(second);
  });
});

describe('decodeImageValue', () => {
  it('gives the lifted bytes of a placeholder, or decodes an ordinary value, sniffing the type from the bytes', () => {
    const img = fakePng(3000);
    const { parsed, lifted } = lift(JSON.stringify({ data: [{ b64_json: img.toString('base64') }] }));
    const fromPlaceholder = decodeImageValue('openai', parsed.data[0].b64_json, lifted);
    expect(fromPlaceholder.mimeType).toBe('image/png');
    expect(fromPlaceholder.data).toBe(lifted.get(parsed.data[0].b64_json));
    const plain = decodeImageValue('openai', img.toString('base64'), lifted);
    expect(plain.data.equals(img)).toBe(true);
    expect(decodeImageValue('openai', img.toString('base64')).mimeType).toBe('image/png');
  });

  it('calls bytes that are no image a malformed answer', () => {
    const { parsed, lifted } = lift(JSON.stringify({ data: [{ b64_json: randomBytes(3000).fill(0, 0, 8).toString('base64') }] }));
    const err = (() => {
      try {
        decodeImageValue('xai', parsed.data[0].b64_json, lifted);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('malformed_response');
  });
});

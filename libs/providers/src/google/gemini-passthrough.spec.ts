import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelCapabilities, ModelSpec } from '../catalog/model-spec';
import type { GeminiRequest } from '../types/gemini';
import { geminiPassthroughRequest, parseGeminiPassthrough, parseGeminiPassthroughEvent } from './gemini-passthrough';

const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const CAPS: ModelCapabilities = {
  chat: true, streaming: false, tools: false, vision: true, audioInput: false, jsonSchema: false, reasoning: false,
  webSearch: false, imageOutputViaChat: true, imagesEndpoint: false, imageEditing: true,
};
const IMAGE_MODEL: ModelSpec = { id: 'google/gemini-2.5-flash-image', provider: 'google', upstreamId: 'gemini-2.5-flash-image', aliases: [], capabilities: CAPS, price: null };
const TEXT_MODEL: ModelSpec = { ...IMAGE_MODEL, id: 'google/gemini-2.5-flash', upstreamId: 'gemini-2.5-flash', capabilities: { ...CAPS, imageOutputViaChat: false } };

describe('Gemini passthrough for Google models on the Gemini-native route', () => {
  const req: GeminiRequest = {
    contents: [{ role: 'user', parts: [{ text: 'a lighthouse' }] }],
    generationConfig: { imageConfig: { aspectRatio: '16:9' }, topK: 3 },
    safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
    cachedContent: 'cachedContents/abc',
  };

  it('keeps the request as written and defaults image models to text and image output', () => {
    const r = geminiPassthroughRequest(IMAGE_MODEL, req, 'AIzaK', false);
    expect(r.path).toBe('/v1beta/models/gemini-2.5-flash-image:generateContent');
    expect(r.headers).toEqual({ 'x-goog-api-key': 'AIzaK' });
    expect((r.body as { value: GeminiRequest }).value).toEqual({ ...req, generationConfig: { ...req.generationConfig, responseModalities: ['TEXT', 'IMAGE'] } });
    expect(req.generationConfig?.responseModalities).toBeUndefined();
    const asked = { ...req, generationConfig: { responseModalities: ['IMAGE' as const] } };
    expect((geminiPassthroughRequest(IMAGE_MODEL, asked, 'k', false).body as { value: GeminiRequest }).value).toBe(asked);
    const s = geminiPassthroughRequest(TEXT_MODEL, req, 'k', true);
    expect(s.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect((s.body as { value: GeminiRequest }).value).toBe(req);
  });

  it('reads usage from the answer and returns a blocked prompt as Google wrote it', () => {
    const ok = parseGeminiPassthrough({ status: 200, headers: {}, bodyText: fixture('generate-content-image.json') });
    expect(ok.usage.imageOutput).toBe(1290);
    expect(ok.blocked).toBe(false);
    const blocked = parseGeminiPassthrough({ status: 200, headers: {}, bodyText: fixture('generate-content-prompt-blocked.json') });
    expect(blocked.blocked).toBe(true);
    expect(blocked.response.promptFeedback?.blockReason).toBe('PROHIBITED_CONTENT');
    expect(blocked.usage.textInput).toBe(9);
  });

  it('reads stream events and throws the error event', () => {
    const [first, second] = fixture('stream-error.sse').split('\r\n\r\n').map((e) => e.replace(/^data: /, ''));
    expect(parseGeminiPassthroughEvent(first).usage?.textOutput).toBe(1);
    expect(() => parseGeminiPassthroughEvent(second)).toThrow(expect.objectContaining({ kind: 'upstream_server' }));
  });
});

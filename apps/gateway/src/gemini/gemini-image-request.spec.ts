import { ApiError } from '@app/common';
import { ModelCatalog, type ModelSpec } from '@app/providers';
import type { ResolvedRoute } from '@app/routing';
import { checkGeminiImageChain, imageRequestForChain, imageRequestFromGemini, imageResultToGemini } from './gemini-image-request';
import type { GeminiRequest } from './gemini-wire';

const catalog = new ModelCatalog();
const route = (...ids: string[]): ResolvedRoute => ({ chain: ids.map((id) => catalog.resolve(id) as ModelSpec), params: ids.map(() => 'model') });

describe('imageRequestFromGemini', () => {
  it('prompts with the last user content, after the system instruction, and edits its inline images', () => {
    const png = Buffer.from('fake png bytes');
    const req: GeminiRequest = {
      systemInstruction: { parts: [{ text: 'Watercolour style.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'an old prompt' }] },
        { role: 'model', parts: [{ text: 'here it is' }] },
        { parts: [{ inlineData: { mimeType: 'image/jpg', data: png.toString('base64') } }, { text: 'Add a hat.' }] },
      ],
      generationConfig: { imageConfig: { aspectRatio: '16:9', imageSize: '512' } },
    };
    const out = imageRequestFromGemini(req);
    expect(out.prompt).toBe('Watercolour style.\n\nAdd a hat.');
    expect(out.n).toBe(1);
    expect(out.inputImages).toEqual([{ mimeType: 'image/jpeg', data: png }]);
    expect(out.aspectRatio).toBe('16:9');
    expect(out.quality).toBe('0.5K');
  });

  it('refuses a last user content without text, and non-image inline data', () => {
    expect(() => imageRequestFromGemini({ contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: 'AA==' } }] }] })).toThrow(ApiError);
    expect(() => imageRequestFromGemini({ contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'audio/wav', data: 'AA==' } }, { text: 'x' }] }] })).toThrow(
      expect.objectContaining({ param: 'contents[0].parts[0].inlineData.mimeType' }),
    );
    expect(() => imageRequestFromGemini({ contents: [{ role: 'model', parts: [{ text: 'x' }] }] })).toThrow(expect.objectContaining({ param: 'contents' }));
  });
});

describe('checkGeminiImageChain', () => {
  const base: GeminiRequest = { contents: [{ role: 'user', parts: [{ text: 'an otter' }] }] };
  const check = (ids: string[], gc: GeminiRequest['generationConfig']): void => {
    const req = { ...base, generationConfig: gc };
    checkGeminiImageChain(route(...ids), req, imageRequestFromGemini(req));
  };

  it('accepts each model\'s own sizes and the 1K default everywhere', () => {
    expect(() => check(['google/gemini-3.1-flash-image-preview'], { imageConfig: { imageSize: '512', aspectRatio: '21:9' } })).not.toThrow();
    expect(() => check(['google/gemini-2.5-flash-image'], { imageConfig: { imageSize: '1K' } })).not.toThrow();
  });

  it.each([
    [['google/gemini-2.5-flash-image'], { imageConfig: { imageSize: '2K' } }, 'generationConfig.imageConfig.imageSize'],
    [['google/gemini-3-pro-image-preview'], { imageConfig: { imageSize: '512' } }, 'generationConfig.imageConfig.imageSize'],
    [['google/gemini-2.5-flash-image'], { imageConfig: { aspectRatio: '2:1' } }, 'generationConfig.imageConfig.aspectRatio'],
    [['google/gemini-2.5-flash-image'], { responseModalities: ['TEXT' as const] }, 'generationConfig.responseModalities'],
    [['google/gemini-2.5-flash-image'], { candidateCount: 2 }, 'generationConfig.candidateCount'],
    [['google/gemini-2.5-flash-image'], { responseMimeType: 'application/json' }, 'generationConfig.responseMimeType'],
  ])('refuses on %j: %j', (ids, gc, param) => {
    expect(() => check(ids, gc)).toThrow(expect.objectContaining({ status: 400, param }));
  });

  it('drops the 1K default for a chain with a model that cannot be asked for a size', () => {
    const request = { prompt: 'x', n: 1, quality: '1K' };
    expect(imageRequestForChain(route('google/gemini-3-pro-image-preview'), request).quality).toBe('1K');
    expect(imageRequestForChain(route('google/gemini-2.5-flash-image'), request)).not.toHaveProperty('quality');
  });
});

describe('imageResultToGemini', () => {
  it('answers text and inlineData images with Google usage metadata', () => {
    const usage = { textInput: 10, cachedInput: 0, imageInput: 0, audioInput: 0, textOutput: 5, reasoningOutput: 0, imageOutput: 1290, images: 0 };
    const result = {
      jobId: '0b6f7c3e-1111-2222-3333-444455556666',
      created: 1,
      images: [{ id: 'i', data: Buffer.from('png'), mimeType: 'image/png' }],
      text: 'Here you go',
      usage,
      servedModel: 'google/gemini-2.5-flash-image',
      provider: 'google',
      fallbackLevel: 0,
      costMicros: 1n,
      attempts: 1,
    };
    const body = imageResultToGemini(result, 'gemini-2.5-flash-image', true);
    expect(body.candidates?.[0]).toEqual({
      content: { role: 'model', parts: [{ text: 'Here you go' }, { inlineData: { mimeType: 'image/png', data: Buffer.from('png').toString('base64') } }] },
      finishReason: 'STOP',
      index: 0,
    });
    expect(body.usageMetadata).toMatchObject({ promptTokenCount: 10, candidatesTokenCount: 1295, totalTokenCount: 1305 });
    expect(body.usageMetadata?.candidatesTokensDetails).toContainEqual({ modality: 'IMAGE', tokenCount: 1290 });
    expect(body.modelVersion).toBe('gemini-2.5-flash-image');
    expect(imageResultToGemini(result, 'm', false).candidates?.[0].content?.parts).toHaveLength(1);
  });
});

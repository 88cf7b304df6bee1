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
    // Gemini image models get the conversation and the system instruction as they were sent.
    expect(out.gemini).toEqual({
      history: [
        { role: 'user', parts: [{ text: 'an old prompt' }] },
        { role: 'model', parts: [{ text: 'here it is' }] },
      ],
      promptParts: [{ inputImage: 0 }, { text: 'Add a hat.' }],
      systemInstruction: { parts: [{ text: 'Watercolour style.' }] },
    });
  });

  it('carries the earlier turns with their images, safety settings, sampling and modalities for Gemini image models', () => {
    const red = Buffer.from('red otter').toString('base64');
    const req: GeminiRequest = {
      contents: [
        { role: 'user', parts: [{ text: 'Draw a red otter' }] },
        { role: 'model', parts: [{ text: 'Here it is', thoughtSignature: 'c2ln' }, { inlineData: { mimeType: 'image/png', data: red }, thoughtSignature: 'aW1n' }] },
        { role: 'user', parts: [{ text: 'Now make it blue' }, { inlineData: { mimeType: 'image/webp', data: 'AAAA' } }, { text: 'keep the hat' }] },
      ],
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
      generationConfig: {
        temperature: 1,
        topP: 0.5,
        topK: 40,
        seed: 9,
        maxOutputTokens: 2048,
        stopSequences: ['STOP'],
        presencePenalty: 0.5,
        frequencyPenalty: 0.25,
        responseModalities: ['TEXT', 'IMAGE'],
        candidateCount: 1,
        imageConfig: { aspectRatio: '1:1' },
      },
    };
    const out = imageRequestFromGemini(req);
    expect(out.prompt).toBe('Now make it blue\nkeep the hat');
    expect(out.inputImages).toEqual([{ mimeType: 'image/webp', data: Buffer.from('AAAA', 'base64') }]);
    expect(out.gemini).toEqual({
      history: [
        { role: 'user', parts: [{ text: 'Draw a red otter' }] },
        { role: 'model', parts: [{ text: 'Here it is', thoughtSignature: 'c2ln' }, { inlineData: { mimeType: 'image/png', data: red }, thoughtSignature: 'aW1n' }] },
      ],
      promptParts: [{ text: 'Now make it blue' }, { inputImage: 0 }, { text: 'keep the hat' }],
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
      sampling: { temperature: 1, topP: 0.5, topK: 40, seed: 9, maxOutputTokens: 2048, stopSequences: ['STOP'], presencePenalty: 0.5, frequencyPenalty: 0.25 },
      responseModalities: ['TEXT', 'IMAGE'],
    });
  });

  it.each([
    ['a fileData part in an earlier turn', [{ role: 'user', parts: [{ fileData: { fileUri: 'https://example.com/a.png' } }] }], 'contents[0].parts[0]'],
    ['a function call in an earlier turn', [{ role: 'model', parts: [{ functionCall: { name: 'f' } }] }], 'contents[0].parts[0]'],
    ['audio in an earlier turn', [{ role: 'user', parts: [{ text: 'x' }, { inlineData: { mimeType: 'audio/wav', data: 'AA==' } }] }], 'contents[0].parts[1].inlineData.mimeType'],
  ] as [string, GeminiRequest['contents'], string][])('refuses %s, naming it', (_what, history, param) => {
    const req: GeminiRequest = { contents: [...history, { role: 'user', parts: [{ text: 'Now make it blue' }] }] };
    expect(() => imageRequestFromGemini(req)).toThrow(expect.objectContaining({ status: 400, param }));
  });

  it('refuses a model turn after the prompt', () => {
    const req: GeminiRequest = { contents: [{ role: 'user', parts: [{ text: 'an otter' }] }, { role: 'model', parts: [{ text: 'Sure' }] }] };
    expect(() => imageRequestFromGemini(req)).toThrow(expect.objectContaining({ status: 400, param: 'contents[1].role' }));
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
    [['google/gemini-3.1-flash-image-preview'], { thinkingConfig: { thinkingLevel: 'HIGH' as const } }, 'generationConfig.thinkingConfig'],
    [['google/gemini-3.1-flash-image-preview'], { thinkingConfig: { thinkingBudget: 0 } }, 'generationConfig.thinkingConfig'],
  ])('refuses on %j: %j', (ids, gc, param) => {
    expect(() => check(ids, gc)).toThrow(expect.objectContaining({ status: 400, param }));
  });

  it.each([
    ['earlier turns', { contents: [{ role: 'user', parts: [{ text: 'a red otter' }] }, { role: 'model', parts: [{ text: 'ok' }] }, ...base.contents] }, 'contents[0]'],
    ['safety settings', { ...base, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] }, 'safetySettings'],
    ['a sampling field', { ...base, generationConfig: { temperature: 1 } }, 'generationConfig.temperature'],
    ['a stop sequence', { ...base, generationConfig: { stopSequences: ['x'] } }, 'generationConfig.stopSequences'],
  ] as [string, GeminiRequest, string][])('refuses %s for a chain with a model that takes a prompt only, naming the field', (_what, req, param) => {
    for (const ids of [['openai/gpt-image-1'], ['google/gemini-2.5-flash-image', 'openai/gpt-image-2']]) {
      expect(() => checkGeminiImageChain(route(...ids), req, imageRequestFromGemini(req))).toThrow(
        expect.objectContaining({ status: 400, param, message: expect.stringContaining('takes a prompt and input images only') }),
      );
    }
    expect(() => checkGeminiImageChain(route('google/gemini-2.5-flash-image', 'google/gemini-3.1-flash-image-preview'), req, imageRequestFromGemini(req))).not.toThrow();
  });

  it('gives a model that takes a prompt only the system instruction in its prompt, as before', () => {
    const req: GeminiRequest = { ...base, systemInstruction: { parts: [{ text: 'Pencil sketch.' }] }, generationConfig: { responseModalities: ['IMAGE'] } };
    const image = imageRequestFromGemini(req);
    expect(() => checkGeminiImageChain(route('openai/gpt-image-1'), req, image)).not.toThrow();
    expect(image.prompt).toBe('Pencil sketch.\n\nan otter');
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

  it('answers text and images in the order the model gave them, with their signatures', () => {
    const png = (s: string) => ({ id: s, data: Buffer.from(s), mimeType: 'image/png' });
    const result = {
      jobId: '0b6f7c3e-1111-2222-3333-444455556666',
      created: 1,
      images: [png('first'), png('second'), png('unnamed')],
      text: 'Here you go. Enjoy.',
      parts: [{ image: 0, thoughtSignature: 'aW1n' }, { text: 'Here you go.' }, { image: 1 }, { text: ' Enjoy.', thoughtSignature: 'dHh0' }],
      usage: { textInput: 1, cachedInput: 0, imageInput: 0, audioInput: 0, textOutput: 1, reasoningOutput: 0, imageOutput: 2580, images: 0 },
      servedModel: 'google/gemini-2.5-flash-image',
      provider: 'google',
      fallbackLevel: 0,
      costMicros: 1n,
      attempts: 1,
    };
    const inline = (s: string) => ({ mimeType: 'image/png', data: Buffer.from(s).toString('base64') });
    expect(imageResultToGemini(result, 'm', true).candidates?.[0].content?.parts).toEqual([
      { inlineData: inline('first'), thoughtSignature: 'aW1n' },
      { text: 'Here you go.' },
      { inlineData: inline('second') },
      { text: ' Enjoy.', thoughtSignature: 'dHh0' },
      { inlineData: inline('unnamed') },
    ]);
    expect(imageResultToGemini(result, 'm', false).candidates?.[0].content?.parts?.every((p) => p.inlineData)).toBe(true);
    const ratings = [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }];
    expect(imageResultToGemini({ ...result, safetyRatings: ratings }, 'm', true).candidates?.[0].safetyRatings).toEqual(ratings);
    expect(imageResultToGemini(result, 'm', true).candidates?.[0]).not.toHaveProperty('safetyRatings');
    // A job result written before the order was kept reads as it always did: the text, then the images.
    const { parts: _order, ...old } = result;
    expect(imageResultToGemini(old, 'm', true).candidates?.[0].content?.parts).toEqual([
      { text: 'Here you go. Enjoy.' },
      { inlineData: inline('first') },
      { inlineData: inline('second') },
      { inlineData: inline('unnamed') },
    ]);
  });
});

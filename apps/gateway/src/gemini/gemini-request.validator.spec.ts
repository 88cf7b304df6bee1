import { ApiError } from '@app/common';
import { parseGeminiRequest } from './gemini-request.validator';

const HELLO = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };

function refusal(body: unknown): { param: string | null; message: string } {
  try {
    parseGeminiRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(400);
    return { param: (e as ApiError).param, message: e instanceof Error ? e.message : '' };
  }
  throw new Error('expected a 400');
}

describe('parseGeminiRequest', () => {
  it('keeps what the translation reads, typed, and drops unknown fields', () => {
    const req = parseGeminiRequest({
      contents: [
        { role: 'user', parts: [{ text: 'look' }, { inlineData: { mimeType: 'IMAGE/PNG', data: 'iVBORw0KGgo=' } }] },
        { role: 'model', parts: [{ functionCall: { name: 'lookup', args: { q: 1 } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { output: 'x' } } }] },
      ],
      systemInstruction: { role: 'user', parts: [{ text: 'be brief' }] },
      generationConfig: { temperature: 0.5, topK: 40, responseMimeType: 'application/json', responseSchema: { type: 'OBJECT' }, responseModalities: ['text'], mediaResolution: 'LOW' },
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
      tools: [{ functionDeclarations: [{ name: 'lookup', parameters: { type: 'OBJECT' } }] }],
      toolConfig: { functionCallingConfig: { mode: 'any', allowedFunctionNames: ['lookup'] } },
      serviceTier: 'standard',
    });
    expect(req.contents[0].parts[1]).toEqual({ inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } });
    expect(req.contents[1].parts[0].functionCall).toEqual({ name: 'lookup', args: { q: 1 } });
    expect(req.systemInstruction).toEqual({ parts: [{ text: 'be brief' }] });
    expect(req.generationConfig).toEqual({ temperature: 0.5, topK: 40, responseMimeType: 'application/json', responseSchema: { type: 'OBJECT' }, responseModalities: ['TEXT'] });
    expect(req.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['lookup'] } });
    expect(req).not.toHaveProperty('serviceTier');
  });

  it.each([
    [[], null],
    [{}, 'contents'],
    [{ contents: [] }, 'contents'],
    [{ contents: [{ role: 'user', parts: [] }] }, 'contents[0].parts'],
    [{ contents: [{ role: 'system', parts: [{ text: 'x' }] }] }, 'contents[0].role'],
    [{ contents: [{ parts: [{ text: 'a', inlineData: { mimeType: 'image/png', data: 'AA==' } }] }] }, 'contents[0].parts[0]'],
    [{ contents: [{ parts: [{ inlineData: { mimeType: 'image/png', data: 'not base64!' } }] }] }, 'contents[0].parts[0].inlineData.data'],
    [{ contents: [{ parts: [{ fileData: { fileUri: 'files/abc' } }] }] }, 'contents[0].parts[0].fileData.fileUri'],
    [{ contents: [{ parts: [{ executableCode: { code: 'x' } }] }] }, 'contents[0].parts[0].executableCode'],
    [{ contents: [{ parts: [{ text: 'a\u0000b' }] }] }, 'contents[0].parts[0].text'],
    [{ ...HELLO, systemInstruction: { parts: [{ inlineData: { mimeType: 'image/png', data: 'AA==' } }] } }, 'systemInstruction.parts[0]'],
    [{ ...HELLO, generationConfig: { temperature: 3 } }, 'generationConfig.temperature'],
    [{ ...HELLO, generationConfig: { candidateCount: 1.5 } }, 'generationConfig.candidateCount'],
    [{ ...HELLO, generationConfig: { stopSequences: ['a', 'b', 'c', 'd', 'e', 'f'] } }, 'generationConfig.stopSequences'],
    [{ ...HELLO, generationConfig: { responseMimeType: 'text/x.enum' } }, 'generationConfig.responseMimeType'],
    [{ ...HELLO, generationConfig: { responseSchema: { type: 'OBJECT' } } }, 'generationConfig.responseSchema'],
    [{ ...HELLO, generationConfig: { responseModalities: ['AUDIO'] } }, 'generationConfig.responseModalities[0]'],
    [{ ...HELLO, generationConfig: { imageConfig: { imageSize: '3K' } } }, 'generationConfig.imageConfig.imageSize'],
    [{ ...HELLO, generationConfig: { responseLogprobs: true } }, 'generationConfig.responseLogprobs'],
    [{ ...HELLO, tools: [{ codeExecution: {} }] }, 'tools[0].codeExecution'],
    [{ ...HELLO, tools: [{ functionDeclarations: [{ name: '1bad' }] }] }, 'tools[0].functionDeclarations[0].name'],
    [{ ...HELLO, toolConfig: { functionCallingConfig: { mode: 'SOMETIMES' } } }, 'toolConfig.functionCallingConfig.mode'],
    [{ ...HELLO, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT' }] }, 'safetySettings[0].threshold'],
    [{ ...HELLO, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_SOME' }] }, 'safetySettings[0].threshold'],
    [{ ...HELLO, safetySettings: [{ category: 'VIOLENCE', threshold: 'BLOCK_NONE' }] }, 'safetySettings[0].category'],
    [{ ...HELLO, cachedContent: 42 }, 'cachedContent'],
    [{ ...HELLO, cachedContent: 'abc123' }, 'cachedContent'],
    [{ ...HELLO, cachedContent: 'cachedContents/' }, 'cachedContent'],
    [{ ...HELLO, cachedContent: 'cachedContents/abc/../def' }, 'cachedContent'],
    [{ ...HELLO, cachedContent: 'cachedContents/abc\ndef' }, 'cachedContent'],
    [{ ...HELLO, cachedContent: `cachedContents/${'a'.repeat(600)}` }, 'cachedContent'],
    [{ ...HELLO, cachedContent: 'cachedContents/abc', systemInstruction: { parts: [{ text: 'x' }] } }, 'systemInstruction'],
    [{ ...HELLO, cachedContent: 'cachedContents/abc', tools: [{ functionDeclarations: [{ name: 'f' }] }] }, 'tools'],
    [{ ...HELLO, cachedContent: 'cachedContents/abc', toolConfig: { functionCallingConfig: { mode: 'AUTO' } } }, 'toolConfig'],
  ])('refuses %j naming %s', (body, param) => {
    expect(refusal(body).param).toBe(param);
  });

  it.each(['cachedContents/abc-123_x', 'projects/my-project/cachedContents/abc123', 'projects/p-1/locations/us-central1/cachedContents/9876'])(
    'accepts the cache name %s',
    (name) => {
      expect(parseGeminiRequest({ ...HELLO, cachedContent: name }).cachedContent).toBe(name);
    },
  );

  it('keeps safety settings, upper-cased as Google spells them', () => {
    const req = parseGeminiRequest({ ...HELLO, safetySettings: [{ category: 'harm_category_dangerous_content', threshold: 'block_only_high' }] });
    expect(req.safetySettings).toEqual([{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' }]);
    expect(parseGeminiRequest(HELLO)).not.toHaveProperty('cachedContent');
  });
});

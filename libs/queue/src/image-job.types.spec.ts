import { isValidStorageKey } from '@app/storage';
import { fromStoredImageJobRequest, imageJobRecordFromRow, imageStorageKey, isTerminalImageJobStatus, toStoredImageJobRequest } from './image-job.types';

describe('image job records', () => {
  it('round-trips a canonical request through the JSON row, input images included', () => {
    const req = {
      prompt: 'edit this',
      n: 2,
      size: '1024x1024',
      quality: 'low',
      outputFormat: 'webp' as const,
      outputCompression: 80,
      background: 'transparent' as const,
      inputImages: [{ mimeType: 'image/png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) }],
    };
    const stored = toStoredImageJobRequest('openai/gpt-image-1', req, 'url');
    const row = JSON.parse(JSON.stringify(stored));
    expect(row).toMatchObject({ requestedModel: 'openai/gpt-image-1', responseFormat: 'url', n: 2, inputImages: [{ mimeType: 'image/png', data: 'iVBORwECAw==' }] });
    expect(fromStoredImageJobRequest(row)).toEqual(req);
  });

  it('round-trips a Gemini-native request\'s own fields, and reads a row written before them as one prompt', () => {
    const req = {
      prompt: 'Now make it blue',
      n: 1,
      inputImages: [{ mimeType: 'image/png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47]) }],
      gemini: {
        history: [
          { role: 'user' as const, parts: [{ text: 'Draw a red otter' }] },
          { role: 'model' as const, parts: [{ text: 'Here', thoughtSignature: 'c2ln' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw==' } }] },
        ],
        promptParts: [{ inputImage: 0 }, { text: 'Now make it blue' }],
        systemInstruction: { parts: [{ text: 'Be playful.' }] },
        safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
        sampling: { temperature: 1, seed: 3 },
        responseModalities: ['TEXT' as const, 'IMAGE' as const],
      },
    };
    const row = JSON.parse(JSON.stringify(toStoredImageJobRequest('google/gemini-2.5-flash-image', req, 'b64_json')));
    expect(fromStoredImageJobRequest(row)).toEqual(req);
    // A row the gateway wrote before these fields were kept.
    const old = { requestedModel: 'google/gemini-2.5-flash-image', responseFormat: 'b64_json', prompt: 'Sys\n\nAdd a hat', n: 1, inputImages: [{ mimeType: 'image/png', data: 'iVBORw==' }] };
    const read = fromStoredImageJobRequest(JSON.parse(JSON.stringify(old)));
    expect(read).toEqual({ prompt: 'Sys\n\nAdd a hat', n: 1, inputImages: [{ mimeType: 'image/png', data: Buffer.from('iVBORw==', 'base64') }] });
    expect(read).not.toHaveProperty('gemini');
  });

  it('defaults n to 1 and leaves out what was not asked for', () => {
    expect(toStoredImageJobRequest('m', { prompt: 'p' }, null)).toEqual({ requestedModel: 'm', responseFormat: null, prompt: 'p', n: 1 });
  });

  it('keys images by tenant, job and index, inside the store grammar', () => {
    const key = imageStorageKey('0b6c7a52-3e0f-4f0c-9f5e-1a2b3c4d5e6f', '5d0f2f7e-8b1a-4c3d-9e2f-0a1b2c3d4e5f', 3);
    expect(key).toBe('0b6c7a52-3e0f-4f0c-9f5e-1a2b3c4d5e6f/5d0f2f7e-8b1a-4c3d-9e2f-0a1b2c3d4e5f/3');
    expect(isValidStorageKey(key)).toBe(true);
  });

  it('reads a job record from a row as either driver returns it', () => {
    const row = {
      id: 'j',
      tenant_id: 't',
      endpoint: '/v1/images/generations',
      status: 'succeeded',
      request: { requestedModel: 'm', responseFormat: 'b64_json', prompt: 'p', n: 1 },
      chain: ['m'],
      served_model: 'm',
      fallback_level: 0,
      attempts: 1,
      result: { created: 1, images: [], usage: {}, costMicros: '5', servedModel: 'm', provider: 'openai', fallbackLevel: 0 },
      error: null,
      created_at: new Date('2026-01-02T03:04:05.006Z'),
      completed_at: '2026-01-02T03:04:06.007Z',
      images_expired_at: null,
    };
    const record = imageJobRecordFromRow(row);
    expect(record).toMatchObject({ id: 'j', tenantId: 't', status: 'succeeded', servedModel: 'm', fallbackLevel: 0, attempts: 1, error: null });
    expect(record.createdAt).toEqual(new Date('2026-01-02T03:04:05.006Z'));
    expect(record.completedAt).toEqual(new Date('2026-01-02T03:04:06.007Z'));
    expect(record.imagesExpiredAt).toBeNull();
    expect(imageJobRecordFromRow({ ...row, images_expired_at: '2026-01-09T03:04:06.007Z' }).imagesExpiredAt).toEqual(new Date('2026-01-09T03:04:06.007Z'));
    expect(imageJobRecordFromRow({ ...row, chain: null, fallback_level: null, result: null, completed_at: null })).toMatchObject({
      chain: [],
      fallbackLevel: null,
      result: null,
      completedAt: null,
    });
  });

  it('knows which statuses are final', () => {
    expect(['queued', 'running', 'succeeded', 'failed'].filter(isTerminalImageJobStatus)).toEqual(['succeeded', 'failed']);
  });
});

import { isValidStorageKey } from '@app/storage';
import { fromStoredImageJobRequest, imageStorageKey, isTerminalImageJobStatus, toStoredImageJobRequest } from './image-job.types';

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

  it('defaults n to 1 and leaves out what was not asked for', () => {
    expect(toStoredImageJobRequest('m', { prompt: 'p' }, null)).toEqual({ requestedModel: 'm', responseFormat: null, prompt: 'p', n: 1 });
  });

  it('keys images by tenant, job and index, inside the store grammar', () => {
    const key = imageStorageKey('0b6c7a52-3e0f-4f0c-9f5e-1a2b3c4d5e6f', '5d0f2f7e-8b1a-4c3d-9e2f-0a1b2c3d4e5f', 3);
    expect(key).toBe('0b6c7a52-3e0f-4f0c-9f5e-1a2b3c4d5e6f/5d0f2f7e-8b1a-4c3d-9e2f-0a1b2c3d4e5f/3');
    expect(isValidStorageKey(key)).toBe(true);
  });

  it('knows which statuses are final', () => {
    expect(['queued', 'running', 'succeeded', 'failed'].filter(isTerminalImageJobStatus)).toEqual(['succeeded', 'failed']);
  });
});

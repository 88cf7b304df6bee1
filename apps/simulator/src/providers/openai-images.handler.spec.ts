import { imageInputTokens, imageOutputTokens, xaiDimensions } from './openai-images.handler';

describe('image token accounting', () => {
  it('uses OpenAI\'s published output-token table and scales other sizes by area', () => {
    expect(imageOutputTokens('low', 1024, 1024)).toBe(272);
    expect(imageOutputTokens('medium', 1024, 1536)).toBe(1584);
    expect(imageOutputTokens('high', 1536, 1024)).toBe(6208);
    expect(imageOutputTokens('medium', 2048, 2048)).toBe(4 * 1056);
  });

  it('counts input images in 512-px tiles after scaling', () => {
    expect(imageInputTokens(512, 512)).toBe(85 + 170); // never scaled up: one tile
    expect(imageInputTokens(1024, 1024)).toBe(85 + 170 * 4);
    expect(imageInputTokens(2048, 4096)).toBe(85 + 170 * 2 * 3); // fit 1024x2048, shortest side 768 -> 768x1536
  });
});

describe('xAI image sizes', () => {
  it('derives the size from aspect ratio and resolution', () => {
    expect(xaiDimensions('auto', '1k')).toEqual({ width: 1024, height: 1024 });
    expect(xaiDimensions('16:9', '1k')).toEqual({ width: 1024, height: 576 });
    expect(xaiDimensions('9:16', '2k')).toEqual({ width: 1152, height: 2048 });
    expect(xaiDimensions('bogus', '1k')).toBeNull();
  });
});

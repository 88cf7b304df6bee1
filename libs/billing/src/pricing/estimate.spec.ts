import type { ChatCompletionRequest, ModelCapabilities, ModelPrice, ModelSpec } from '@app/providers';
import { chatReserveMicros, inputTokenBound } from './estimate';
import { tokenCost } from './cost';

const CAPS: ModelCapabilities = {
  chat: true,
  streaming: true,
  tools: true,
  vision: false,
  audioInput: false,
  jsonSchema: false,
  reasoning: false,
  webSearch: false,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
  maxOutputTokens: 1_000,
};

function model(price: ModelPrice): ModelSpec {
  return { id: 'test/m', provider: 'qwen', upstreamId: 'm', aliases: [], capabilities: CAPS, price };
}

const request = (text: string): ChatCompletionRequest => ({ model: 'test/m', messages: [{ role: 'user', content: text }], max_tokens: 1_000 });

describe('chatReserveMicros', () => {
  const banded = model({
    tokens: {
      input: 1_200_000,
      output: 6_000_000,
      longContext: [
        { thresholdTokens: 32_000, input: 2_400_000, output: 12_000_000 },
        { thresholdTokens: 128_000, input: 3_000_000, output: 15_000_000 },
      ],
    },
    source: 'x',
    date: 'd',
  });

  it('reserves a short prompt at the first band, not at the dearest one', () => {
    const req = request('hello');
    const input = inputTokenBound(req);
    expect(chatReserveMicros(banded, req)).toBe(tokenCost(input, 1_200_000) + tokenCost(1_000, 6_000_000));
  });

  it('reserves at the dearest band the prompt could reach', () => {
    const req = request('x'.repeat(50_000));
    const input = inputTokenBound(req);
    expect(input).toBeGreaterThan(32_000);
    expect(input).toBeLessThan(128_000);
    expect(chatReserveMicros(banded, req)).toBe(tokenCost(input, 2_400_000) + tokenCost(1_000, 12_000_000));
  });

  it('reserves input at the cache-write rate where writes cost more than input', () => {
    const anthropic = model({ tokens: { input: 3_000_000, cachedInput: 300_000, cacheWrite: 3_750_000, output: 15_000_000 }, source: 'x', date: 'd' });
    const req = request('hello there');
    expect(chatReserveMicros(anthropic, req)).toBe(tokenCost(inputTokenBound(req), 3_750_000) + tokenCost(1_000, 15_000_000));
  });

  it('reserves a Google context cache up to the model\'s context window, which the request does not show', () => {
    const gemini: ModelSpec = {
      ...model({ tokens: { input: 300_000, cachedInput: 30_000, output: 2_500_000 }, source: 'x', date: 'd' }),
      capabilities: { ...CAPS, contextWindow: 1_048_576 },
    };
    const plain = request('hello');
    const withCache: ChatCompletionRequest = { ...plain, google: { cachedContent: 'cachedContents/abc' } };
    const bound = inputTokenBound(plain) + 1_048_576;
    expect(chatReserveMicros(gemini, withCache)).toBe(tokenCost(bound, 300_000) + tokenCost(1_000, 2_500_000));
    expect(chatReserveMicros(gemini, withCache)).toBeGreaterThan(chatReserveMicros(gemini, plain));
  });

  it('reserves at the time-of-day rates of the start time, and at the base (peak) rates when it is unknown', () => {
    const deepseek = model({
      tokens: {
        input: 300_000,
        output: 1_200_000,
        timeOfDay: [{ label: 'off-peak', windows: [{ days: [0, 6], from: '00:00', to: '24:00' }], input: 150_000, output: 600_000 }],
      },
      source: 'x',
      date: 'd',
    });
    const req = request('hello');
    const input = inputTokenBound(req);
    const saturday = new Date('2026-11-21T12:00:00Z');
    const monday = new Date('2026-11-23T12:00:00Z');
    expect(chatReserveMicros(deepseek, req, 0, {}, saturday)).toBe(tokenCost(input, 150_000) + tokenCost(1_000, 600_000));
    expect(chatReserveMicros(deepseek, req, 0, {}, monday)).toBe(tokenCost(input, 300_000) + tokenCost(1_000, 1_200_000));
    expect(chatReserveMicros(deepseek, req)).toBe(tokenCost(input, 300_000) + tokenCost(1_000, 1_200_000));
  });
});

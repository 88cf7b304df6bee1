/**
 * Helpers for adapter specs: a ModelSpec builder and a replay of a recorded SSE body through an
 * adapter exactly as the ProviderClient drives it (split into uneven network pieces on purpose).
 */
import type { ModelCapabilities, ModelSpec, ProviderId } from '../catalog/model-spec';
import type { ChatCapability, ChatStreamState, UpstreamResponse } from '../adapter';
import { SseParser } from '../http/sse-reader';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../types/chat';

const BASE_CAPS: ModelCapabilities = {
  chat: true,
  streaming: true,
  tools: true,
  vision: false,
  audioInput: false,
  jsonSchema: true,
  reasoning: false,
  webSearch: false,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
};

export function testModel(provider: ProviderId, upstreamId: string, caps: Partial<ModelCapabilities> = {}): ModelSpec {
  return {
    id: `${provider}/${upstreamId}`,
    provider,
    upstreamId,
    aliases: [],
    capabilities: { ...BASE_CAPS, ...caps },
    price: null,
  };
}

export function jsonResponse(body: unknown, status = 200): UpstreamResponse {
  return { status, headers: { 'content-type': 'application/json' }, bodyText: JSON.stringify(body) };
}

/** SSE text from a list of JSON payloads in OpenAI's framing (data-only, ending with [DONE]). */
export function openAISse(payloads: unknown[], done = true): string {
  return payloads.map((p) => `data: ${JSON.stringify(p)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');
}

export function replayStream<S extends ChatStreamState>(
  chat: ChatCapability<S>,
  model: ModelSpec,
  req: ChatCompletionRequest,
  sseText: string,
  pieceSize = 7,
): { chunks: ChatCompletionChunk[]; state: S } {
  const state = chat.createStreamState(model, req);
  const parser = new SseParser();
  const chunks: ChatCompletionChunk[] = [];
  const bytes = Buffer.from(sseText, 'utf8');
  for (let i = 0; i < bytes.length; i += pieceSize) {
    for (const ev of parser.push(bytes.subarray(i, i + pieceSize))) chunks.push(...chat.parseStreamEvent(ev, state));
  }
  for (const ev of parser.end()) chunks.push(...chat.parseStreamEvent(ev, state));
  chunks.push(...chat.finishStream(state));
  return { chunks, state };
}

/** Concatenated content of choice 0 across chunks. */
export function streamedText(chunks: ChatCompletionChunk[], field: 'content' | 'reasoning_content' = 'content'): string {
  return chunks.map((c) => c.choices.find((ch) => ch.index === 0)?.delta[field] ?? '').join('');
}

/** A valid 1×1 PNG, for image answers. */
export const PNG_1x1_B64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

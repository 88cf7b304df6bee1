/**
 * What the chat route refuses on top of the routing library's capability checks (`checkChatChain`): fields
 * no adapter can honour, and request shapes a provider in the chain would reject as a whole. Refusing them
 * here names the field in a 400 before anything is reserved; left to the upstream, they would surface as an
 * unnamed `invalid_request` after a round trip.
 */
import { ApiError } from '@app/common';
import type { ModelSpec } from '@app/providers';
import type { ChatRequestToCheck, ResolvedRoute } from '@app/routing';

function refuse(message: string, param: string): ApiError {
  return ApiError.badRequest(message, param, 'unsupported_parameter');
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Providers whose wire format carries tool-call arguments as objects, so the JSON text must parse. */
const PARSES_TOOL_ARGUMENTS = new Set(['anthropic', 'google']);

function checkToolHistory(model: ModelSpec, request: ChatRequestToCheck): void {
  if (!PARSES_TOOL_ARGUMENTS.has(model.provider)) return;
  const callIds = new Set<string>();
  for (const [i, m] of request.messages.entries()) {
    if (m.role === 'assistant') {
      for (const [k, call] of (m.tool_calls ?? []).entries()) {
        callIds.add(call.id);
        if (call.function.arguments.trim() !== '' && !isJson(call.function.arguments)) {
          throw refuse(`Tool call arguments must be JSON text for ${model.id}.`, `messages[${i}].tool_calls[${k}].function.arguments`);
        }
      }
    }
    // Gemini answers a call by the function's name, which only the matching assistant tool call knows.
    if (m.role === 'tool' && model.provider === 'google' && !callIds.has(m.tool_call_id)) {
      throw refuse(`tool_call_id "${m.tool_call_id.slice(0, 64)}" answers no earlier assistant tool call.`, `messages[${i}].tool_call_id`);
    }
  }
}

export function checkGatewayFields(route: ResolvedRoute, request: ChatRequestToCheck): void {
  if (request.logprobs === true) throw refuse('`logprobs` is not available through Switchyard.', 'logprobs');
  if (request.top_logprobs !== undefined && request.top_logprobs !== null) {
    throw refuse('`top_logprobs` is not available through Switchyard.', 'top_logprobs');
  }
  const modalities = request.modalities ?? [];
  if (modalities.includes('audio')) throw refuse('Audio output is not available through Switchyard; remove "audio" from `modalities`.', 'modalities');

  const imageChain = route.chain[0].capabilities.imageOutputViaChat;
  route.chain.forEach((model, index) => {
    const param = route.params[index] ?? 'model';
    if (model.capabilities.imageOutputViaChat !== imageChain) {
      // One request gets one kind of answer: a chain cannot fall back from an image to a text model.
      throw refuse(`Model ${model.id} ${imageChain ? 'does not generate images' : 'generates images'}, unlike ${route.chain[0].id}; a fallback chain must be all image or all text models.`, param);
    }
    if (modalities.includes('image') && !model.capabilities.imageOutputViaChat) {
      throw refuse(`Model ${model.id} does not produce images; remove "image" from \`modalities\` or use an image model.`, 'modalities');
    }
    if (model.provider === 'anthropic' && request.n !== undefined && request.n > 1) {
      throw refuse(`Model ${model.id} returns one choice per request; \`n\` must be 1.`, 'n');
    }
    if (model.provider === 'anthropic') {
      // Anthropic has no repetition penalties; a zero (what many SDKs send by default) asks for nothing.
      for (const field of ['presence_penalty', 'frequency_penalty'] as const) {
        const value = request[field];
        if (value !== undefined && value !== 0) throw refuse(`Model ${model.id} does not support \`${field}\`.`, field);
      }
    }
    checkToolHistory(model, request);
  });
}

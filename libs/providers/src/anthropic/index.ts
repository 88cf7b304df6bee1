/** Anthropic: Claude models through the Messages API. */
export {
  AnthropicAdapter,
  AnthropicChat,
  ANTHROPIC_DEFAULT_BASE_URL,
  ANTHROPIC_VERSION,
  buildAnthropicRequest,
  normalizeAnthropicUsage,
  type AnthropicStreamState,
} from './anthropic.adapter';
export { classifyAnthropicError } from './anthropic-errors';

/**
 * Moonshot (Kimi): OpenAI-dialect chat; usage differs in where it is reported.
 */
import { isRecord } from '../errors';
import { type NormalizedUsage, normalizeOpenAIUsage, tokenCount } from '../types/usage';
import { OpenAICompatibleAdapter, OpenAICompatibleChat, readOpenAIUsage } from '../openai-compatible/openai-compatible.adapter';

export class MoonshotChat extends OpenAICompatibleChat {
  constructor() {
    super('moonshot');
  }

  /**
   * Kimi reports cache hits as a top-level `usage.cached_tokens` (part of `prompt_tokens`) rather
   * than OpenAI's `prompt_tokens_details.cached_tokens` (https://platform.kimi.ai/docs/api/chat),
   * and in a stream puts the final usage inside `choices[0].usage` (handled by the base class).
   */
  protected override normalizeUsage(raw: unknown): NormalizedUsage {
    const usage = readOpenAIUsage(raw);
    if (usage && isRecord(raw) && raw.cached_tokens !== undefined) {
      usage.prompt_tokens_details = { ...usage.prompt_tokens_details, cached_tokens: tokenCount(raw.cached_tokens) };
    }
    return normalizeOpenAIUsage(usage);
  }
}

export function createMoonshotAdapter(): OpenAICompatibleAdapter {
  return new OpenAICompatibleAdapter('moonshot', new MoonshotChat());
}

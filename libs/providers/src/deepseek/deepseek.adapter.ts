/**
 * DeepSeek: OpenAI-dialect chat with `reasoning_content` and its own prompt-cache usage fields.
 */
import type { ModelSpec } from '../catalog/model-spec';
import { isRecord } from '../errors';
import type { ChatCompletionRequest, ChatMessage } from '../types/chat';
import { type NormalizedUsage, emptyUsage, splitOutput, tokenCount } from '../types/usage';
import { OpenAICompatibleAdapter, OpenAICompatibleChat } from '../openai-compatible/openai-compatible.adapter';

export class DeepSeekChat extends OpenAICompatibleChat {
  constructor() {
    super('deepseek');
  }

  /**
   * `prompt_tokens` = `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens`; `completion_tokens`
   * includes `completion_tokens_details.reasoning_tokens`
   * (https://api-docs.deepseek.com/api/create-chat-completion, usage object).
   */
  protected override normalizeUsage(raw: unknown): NormalizedUsage {
    if (!isRecord(raw)) return emptyUsage();
    const c = isRecord(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
    const p = isRecord(raw.prompt_tokens_details) ? raw.prompt_tokens_details : {};
    const prompt = tokenCount(raw.prompt_tokens);
    const hit = raw.prompt_cache_hit_tokens !== undefined ? tokenCount(raw.prompt_cache_hit_tokens) : tokenCount(p.cached_tokens);
    const cached = Math.min(hit, prompt);
    return {
      textInput: prompt - cached,
      cachedInput: cached,
      imageInput: 0,
      audioInput: 0,
      ...splitOutput(tokenCount(raw.completion_tokens), { reasoning: c.reasoning_tokens }),
      images: 0,
    };
  }

  protected override mapRequest(model: ModelSpec, req: ChatCompletionRequest): Record<string, unknown> {
    const body = super.mapRequest(model, req);
    // DeepSeek's API has no effort dial: thinking is chosen by model (deepseek-reasoner) instead.
    delete body.reasoning_effort;
    return body;
  }

  /**
   * DeepSeek refuses earlier turns' `reasoning_content` in the input, except inside the tool-call
   * loop of the current turn, where thinking mode needs it back
   * (https://api-docs.deepseek.com/guides/reasoning_model).
   */
  protected override mapMessages(messages: ChatMessage[], model: ModelSpec): unknown[] {
    let lastUser = -1;
    messages.forEach((m, i) => {
      if (m.role === 'user') lastUser = i;
    });
    return (super.mapMessages(messages, model) as ChatMessage[]).map((m, i) => {
      if (m.role !== 'assistant' || m.reasoning_content == null) return m;
      if (i > lastUser && m.tool_calls?.length) return m;
      const { reasoning_content: _dropped, ...rest } = m;
      return rest;
    });
  }
}

export function createDeepSeekAdapter(): OpenAICompatibleAdapter {
  return new OpenAICompatibleAdapter('deepseek', new DeepSeekChat());
}

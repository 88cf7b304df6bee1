/**
 * Qwen through Alibaba Cloud Model Studio's OpenAI-compatible mode (DashScope `compatible-mode/v1`).
 */
import type { ModelSpec } from '../catalog/model-spec';
import type { ChatCompletionRequest } from '../types/chat';
import { OpenAICompatibleAdapter, OpenAICompatibleChat } from '../openai-compatible/openai-compatible.adapter';

export class QwenChat extends OpenAICompatibleChat {
  constructor() {
    super('qwen');
  }

  /**
   * DashScope has no `reasoning_effort` or `web_search_options`; hybrid-thinking Qwen models switch
   * thinking with `enable_thinking` and search with `enable_search`
   * (https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope).
   */
  protected override mapRequest(model: ModelSpec, req: ChatCompletionRequest): Record<string, unknown> {
    const body = super.mapRequest(model, req);
    delete body.reasoning_effort;
    if (req.reasoning_effort !== undefined && model.capabilities.reasoning) {
      body.enable_thinking = req.reasoning_effort !== 'none' && req.reasoning_effort !== 'minimal';
    }
    if (req.web_search_options && model.capabilities.webSearch) body.enable_search = true;
    return body;
  }
}

export function createQwenAdapter(): OpenAICompatibleAdapter {
  return new OpenAICompatibleAdapter('qwen', new QwenChat());
}

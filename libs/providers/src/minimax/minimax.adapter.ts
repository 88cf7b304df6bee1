/**
 * MiniMax: OpenAI-dialect chat (`/v1/chat/completions`) with two differences: reasoning is returned in
 * `reasoning_details` when `reasoning_split` is set (otherwise inline in `<think>` tags), and some
 * errors arrive with HTTP 200 in a `base_resp` object.
 */
import type { ModelSpec } from '../catalog/model-spec';
import { UpstreamError, isRecord, redactSecrets, str, tenantSafe } from '../errors';
import type { ChatCompletionRequest } from '../types/chat';
import { OpenAICompatibleAdapter, OpenAICompatibleChat } from '../openai-compatible/openai-compatible.adapter';

export class MiniMaxChat extends OpenAICompatibleChat {
  constructor() {
    super('minimax');
  }

  protected override mapRequest(model: ModelSpec, req: ChatCompletionRequest): Record<string, unknown> {
    const body = super.mapRequest(model, req);
    // MiniMax marks `max_tokens` deprecated in favour of `max_completion_tokens`.
    if (body.max_tokens !== undefined) {
      body.max_completion_tokens = body.max_tokens;
      delete body.max_tokens;
    }
    delete body.reasoning_effort;
    // Keeps the thinking out of `content`, so tenants get it as `reasoning_content` like elsewhere.
    body.reasoning_split = true;
    return body;
  }

  protected override reasoningText(msg: Record<string, unknown>): string | undefined {
    const direct = super.reasoningText(msg);
    if (direct) return direct;
    if (!Array.isArray(msg.reasoning_details)) return undefined;
    const text = msg.reasoning_details
      .map((d) => (isRecord(d) ? (str(d.text) ?? '') : ''))
      .join('');
    return text || undefined;
  }

  /** `base_resp.status_code` ≠ 0 is an error even on HTTP 200 (e.g. 1002 rate limit, 1004 auth, 1008 balance). */
  protected override inBodyError(body: Record<string, unknown>): UpstreamError | undefined {
    const generic = super.inBodyError(body);
    if (generic) return generic;
    const br = isRecord(body.base_resp) ? body.base_resp : undefined;
    const code = br ? Number(br.status_code) : 0;
    if (!br || !Number.isFinite(code) || code === 0) return undefined;
    const msg = str(br.status_msg) ?? '';
    const detail = redactSecrets(`base_resp ${code}: ${msg}`);
    const kinds: Record<number, UpstreamError['kind']> = {
      1000: 'upstream_server',
      1001: 'timeout',
      1002: 'rate_limit',
      1004: 'auth',
      1008: 'auth',
      1013: 'upstream_server',
      1024: 'upstream_server',
      1026: 'content_policy',
      1027: 'content_policy',
      1039: 'rate_limit',
      2013: 'invalid_request',
    };
    const kind = kinds[code] ?? 'invalid_request';
    return new UpstreamError({
      kind,
      provider: 'minimax',
      status: 200,
      detail,
      upstreamCode: String(code),
      message: kind === 'invalid_request' && msg ? `invalid request: ${tenantSafe(msg)}` : undefined,
    });
  }
}

export function createMiniMaxAdapter(): OpenAICompatibleAdapter {
  return new OpenAICompatibleAdapter('minimax', new MiniMaxChat());
}

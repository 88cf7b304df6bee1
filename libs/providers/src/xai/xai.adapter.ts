/**
 * xAI (Grok): OpenAI-dialect chat, and the Grok Imagine models on `/images/generations`.
 */
import type { ModelSpec } from '../catalog/model-spec';
import type { ImagesCapability, UpstreamRequest, UpstreamResponse } from '../adapter';
import type { ChatCompletionRequest } from '../types/chat';
import { UpstreamError, isRecord, malformed, parseJsonBody, str } from '../errors';
import type { GeneratedImage, ImageGenerationRequest, ImageGenerationResult } from '../types/images';
import { type NormalizedUsage, emptyUsage, splitInput, tokenCount } from '../types/usage';
import { OpenAICompatibleAdapter, OpenAICompatibleChat } from '../openai-compatible/openai-compatible.adapter';
import { decodeImageValue } from '../http/lifted-base64';

/**
 * Grok models that accept `reasoning_effort`. The others (grok-4, grok-4-fast-reasoning, grok-code-fast-1,
 * ...) reason without a dial and answer 400 "does not support parameter reasoningEffort"
 * (https://docs.x.ai/developers/model-capabilities/text/reasoning). The catalog has no field for
 * "reasoning effort is adjustable", so the list lives with the adapter.
 */
const EFFORT_MODELS = ['grok-3-mini', 'grok-4.3', 'grok-4.20-multi-agent'];

export class XaiChat extends OpenAICompatibleChat {
  constructor() {
    super('xai');
  }

  protected override mapRequest(model: ModelSpec, req: ChatCompletionRequest): Record<string, unknown> {
    const body = super.mapRequest(model, req);
    if (!EFFORT_MODELS.some((id) => model.upstreamId === id || model.upstreamId.startsWith(`${id}-`))) delete body.reasoning_effort;
    return body;
  }

  /**
   * xAI counts reasoning outside `completion_tokens` (its `total_tokens` = prompt + completion +
   * reasoning), unlike OpenAI; cached and image tokens are part of `prompt_tokens`
   * (see vercel/ai#9774 for a recorded grok-4-fast usage object). The total decides which
   * convention a response follows, so an OpenAI-style count is not double-billed either.
   */
  protected override normalizeUsage(raw: unknown): NormalizedUsage {
    if (!isRecord(raw)) return emptyUsage();
    const p = isRecord(raw.prompt_tokens_details) ? raw.prompt_tokens_details : {};
    const c = isRecord(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
    const prompt = tokenCount(raw.prompt_tokens);
    const completion = tokenCount(raw.completion_tokens);
    const reasoning = tokenCount(c.reasoning_tokens);
    const total = tokenCount(raw.total_tokens);
    const separate = reasoning > 0 && total === prompt + completion + reasoning;
    return {
      ...splitInput(prompt, { cached: tokenCount(p.cached_tokens), image: tokenCount(p.image_tokens), audio: tokenCount(p.audio_tokens) }),
      textOutput: separate ? completion : Math.max(0, completion - reasoning),
      reasoningOutput: separate ? reasoning : Math.min(reasoning, completion),
      imageOutput: 0,
      images: 0,
    };
  }
}

/**
 * Grok Imagine takes `aspect_ratio` rather than a pixel size and ignores quality/style
 * (https://docs.x.ai/developers/model-capabilities/images/generation). Output is billed per image.
 */
export class XaiImages implements ImagesCapability {
  buildRequest(model: ModelSpec, req: ImageGenerationRequest, apiKey: string): UpstreamRequest {
    const body: Record<string, unknown> = {
      model: model.upstreamId,
      prompt: req.prompt,
      response_format: 'b64_json',
    };
    if (req.n !== undefined) body.n = req.n;
    const ratio = req.aspectRatio ?? aspectRatioFromSize(req.size);
    if (ratio) body.aspect_ratio = ratio;
    if (req.user) body.user = req.user;
    return {
      method: 'POST',
      path: '/images/generations',
      headers: { authorization: `Bearer ${apiKey}` },
      body: { kind: 'json', value: body },
      stream: false,
    };
  }

  parseResponse(model: ModelSpec, res: UpstreamResponse): ImageGenerationResult {
    const body = parseJsonBody(res.bodyText);
    if (!isRecord(body)) throw malformed('xai', 'not JSON', res.bodyText);
    if (!Array.isArray(body.data)) throw malformed('xai', 'no data', res.bodyText);
    const images: GeneratedImage[] = [];
    for (const d of body.data) {
      if (!isRecord(d)) continue;
      const b64 = str(d.b64_json);
      if (!b64) continue;
      const img: GeneratedImage = decodeImageValue('xai', b64, res.lifted);
      const revised = str(d.revised_prompt);
      if (revised) img.revisedPrompt = revised;
      images.push(img);
    }
    if (images.length === 0) throw new UpstreamError({ kind: 'no_image', provider: 'xai', detail: res.bodyText.slice(0, 500) });
    const usage = emptyUsage();
    usage.images = images.length;
    return { images, usage, upstreamModel: model.upstreamId };
  }
}

const RATIOS: [number, string][] = [
  [1, '1:1'], [16 / 9, '16:9'], [9 / 16, '9:16'], [4 / 3, '4:3'], [3 / 4, '3:4'], [3 / 2, '3:2'], [2 / 3, '2:3'], [2, '2:1'], [1 / 2, '1:2'],
];

/** "1536x1024" → "3:2": the nearest ratio Grok Imagine offers. */
export function aspectRatioFromSize(size: string | undefined): string | undefined {
  const m = size ? /^(\d+)x(\d+)$/.exec(size) : null;
  if (!m) return undefined;
  const r = Number(m[1]) / Number(m[2]);
  let best = RATIOS[0];
  for (const cand of RATIOS) if (Math.abs(Math.log(cand[0] / r)) < Math.abs(Math.log(best[0] / r))) best = cand;
  return best[1];
}

export function createXaiAdapter(): OpenAICompatibleAdapter {
  return new OpenAICompatibleAdapter('xai', new XaiChat(), new XaiImages());
}

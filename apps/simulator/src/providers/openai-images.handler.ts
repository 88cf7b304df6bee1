/**
 * OpenAI Images (`/images/generations`, `/images/edits`) for gpt-image models and xAI's
 * `/images/generations` for grok-imagine models.
 *
 * OpenAI: gpt-image models always answer `b64_json` and reject `response_format` ("Unknown parameter";
 * DALL·E 2/3 still take it and carry no token usage); `output_format` png/jpeg/webp; `usage` counts
 * `input_tokens` (`input_tokens_details.text_tokens` / `image_tokens`) and image `output_tokens`, which
 * depend on quality and size (platform.openai.com/docs/guides/image-generation, "Cost and latency":
 * low 272/408/400, medium 1056/1584/1568, high 4160/6240/6208 for 1024x1024 / 1024x1536 / 1536x1024).
 *
 * xAI: `response_format` `url` (default) or `b64_json`, JPEG images, `aspect_ratio` and `resolution`
 * (`1k`/`2k`) instead of `size` (which xAI rejects), `usage.cost_in_usd_ticks` (1e10 ticks = 1 USD).
 */
import sharp from 'sharp';
import { estimateTokens, hashHex } from '../generation/deterministic';
import { isImageFormat, parseSize, type ImageFormat } from '../generation/image-factory';
import { isRecord, json, num, str, type HandlerContext, type SimResponse } from '../http/sim-response';
import type { MultipartBody } from '../http/multipart';
import { errorResponse } from './error-envelopes';

const OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};

const FIXED_SIZES = ['1024x1024', '1024x1536', '1536x1024'];

export function imageOutputTokens(quality: string, width: number, height: number): number {
  const row = OUTPUT_TOKENS[quality] ?? OUTPUT_TOKENS['medium'] ?? {};
  const exact = row[`${width}x${height}`];
  if (exact !== undefined) return exact;
  // Sizes outside the published table (gpt-image-2's free sizes) scale with area from the square size.
  return Math.round(((row['1024x1024'] ?? 1056) * width * height) / (1024 * 1024));
}

/** GPT-4o-style image input cost: fit in 2048², shortest side to 768, 85 + 170 per 512-px tile. */
export function imageInputTokens(width: number, height: number): number {
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shortScale = 768 / Math.min(w, h);
  if (shortScale < 1) {
    w *= shortScale;
    h *= shortScale;
  }
  return 85 + 170 * Math.ceil(w / 512) * Math.ceil(h / 512);
}

interface ImageParams {
  model: string;
  prompt: string;
  n: number;
  size: string;
  quality: string;
  format: ImageFormat;
  /** DALL·E only: `url` or `b64_json` */
  responseFormat: 'url' | 'b64_json' | null;
}

const DALL_E_SIZES: Record<string, string[]> = {
  'dall-e-2': ['256x256', '512x512', '1024x1024'],
  'dall-e-3': ['1024x1024', '1792x1024', '1024x1792'],
};

function readParams(source: Record<string, unknown>): ImageParams | SimResponse {
  const model = str(source['model']);
  if (!model) return errorResponse('openai', 400, { message: "Missing required parameter: 'model'.", param: 'model', code: 'missing_required_parameter' });
  const dalle = DALL_E_SIZES[model];
  if (!model.startsWith('gpt-image') && !dalle) {
    return errorResponse('openai', 400, { message: `Invalid value for 'model': '${model}' is not an image model served here.`, param: 'model', code: 'invalid_value' });
  }
  const prompt = str(source['prompt']);
  if (!prompt) return errorResponse('openai', 400, { message: "Missing required parameter: 'prompt'.", param: 'prompt', code: 'missing_required_parameter' });
  // GPT image models always answer base64 and reject the DALL·E-era parameter outright.
  if (!dalle && source['response_format'] !== undefined) {
    return errorResponse('openai', 400, { message: "Unknown parameter: 'response_format'.", param: 'response_format', code: 'unknown_parameter' });
  }
  const nRaw = source['n'];
  const n = typeof nRaw === 'string' ? Number(nRaw) : num(nRaw) ?? 1;
  const maxN = model === 'dall-e-3' ? 1 : 10;
  if (!Number.isInteger(n) || n < 1 || n > maxN) {
    return errorResponse('openai', 400, { message: `Invalid 'n': integer must be between 1 and ${maxN}.`, param: 'n', code: 'integer_out_of_range' });
  }
  const sizeRaw = str(source['size']) ?? 'auto';
  const size = sizeRaw === 'auto' ? '1024x1024' : sizeRaw;
  const dims = parseSize(size);
  const allowed = dalle ?? FIXED_SIZES;
  const freeSizes = model.startsWith('gpt-image-2');
  const validFree = freeSizes && dims !== null && dims.width % 16 === 0 && dims.height % 16 === 0 && Math.max(dims.width, dims.height) <= 3840;
  if (!dims || (!allowed.includes(size) && !validFree) || (dalle && sizeRaw === 'auto')) {
    return errorResponse('openai', 400, {
      message: `Invalid value: '${sizeRaw}'. Supported values are: ${allowed.map((v) => `'${v}'`).join(', ')}${dalle ? '' : ", and 'auto'"}.`,
      param: 'size',
      code: 'invalid_value',
    });
  }
  const qualityRaw = str(source['quality']) ?? 'auto';
  const quality = dalle ? 'medium' : qualityRaw === 'auto' ? 'medium' : qualityRaw;
  if (!OUTPUT_TOKENS[quality]) {
    return errorResponse('openai', 400, { message: `Invalid value: '${qualityRaw}'. Supported values are: 'low', 'medium', 'high', and 'auto'.`, param: 'quality', code: 'invalid_value' });
  }
  const formatRaw = dalle ? 'png' : str(source['output_format']) ?? 'png';
  if (!isImageFormat(formatRaw)) {
    return errorResponse('openai', 400, { message: `Invalid value: '${formatRaw}'. Supported values are: 'png', 'jpeg', and 'webp'.`, param: 'output_format', code: 'invalid_value' });
  }
  let responseFormat: ImageParams['responseFormat'] = null;
  if (dalle) {
    const rf = source['response_format'] ?? 'url';
    if (rf !== 'url' && rf !== 'b64_json') {
      return errorResponse('openai', 400, { message: `Invalid value: '${String(rf)}'. Supported values are: 'url' and 'b64_json'.`, param: 'response_format', code: 'invalid_value' });
    }
    responseFormat = rf;
  }
  return { model, prompt, n, size, quality, format: formatRaw, responseFormat };
}

async function answer(ctx: HandlerContext, p: ImageParams, imageTokens: number): Promise<SimResponse> {
  const dims = parseSize(p.size) ?? { width: 1024, height: 1024 };
  const textTokens = estimateTokens(p.prompt);
  const input = textTokens + imageTokens;
  const created = Math.floor(Date.now() / 1000);
  if (ctx.rule?.noImage) {
    return json(200, {
      created,
      data: [{ revised_prompt: 'The request was answered without an image.' }],
      ...(p.responseFormat ? {} : { usage: { input_tokens: input, input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens }, output_tokens: 0, total_tokens: input } }),
    });
  }
  const image = await ctx.images.get(dims.width, dims.height, p.format);
  if (p.responseFormat) {
    // DALL·E: no token usage; billed per image.
    const url = `${ctx.baseUrl}/_sim/images/${dims.width}x${dims.height}.png?id=${hashHex(p.prompt, 16)}`;
    const item = p.responseFormat === 'url' ? { url } : { b64_json: image.base64 };
    return json(200, { created, data: Array.from({ length: p.n }, () => (p.model === 'dall-e-3' ? { ...item, revised_prompt: p.prompt } : item)) });
  }
  const output = imageOutputTokens(p.quality, dims.width, dims.height) * p.n;
  return json(200, {
    created,
    background: 'opaque',
    data: Array.from({ length: p.n }, () => ({ b64_json: image.base64 })),
    output_format: p.format,
    quality: p.quality,
    size: p.size,
    usage: {
      input_tokens: input,
      input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
      output_tokens: output,
      total_tokens: input + output,
    },
  });
}

export async function handleOpenAiImageGeneration(ctx: HandlerContext): Promise<SimResponse> {
  if (!isRecord(ctx.body)) return errorResponse('openai', 400, { message: 'We could not parse the JSON body of your request.' });
  const params = readParams(ctx.body);
  if ('kind' in params) return params;
  return answer(ctx, params, 0);
}

export function isMultipartBody(value: unknown): value is MultipartBody {
  return isRecord(value) && isRecord(value['fields']) && Array.isArray(value['files']);
}

export async function handleOpenAiImageEdit(ctx: HandlerContext): Promise<SimResponse> {
  if (!isMultipartBody(ctx.body)) {
    return errorResponse('openai', 400, { message: "Invalid Content-Type header (application/json), expected multipart/form-data. (HINT: If you're using curl, you can pass form-data via `-F 'name=value'`)" });
  }
  const params = readParams(ctx.body.fields);
  if ('kind' in params) return params;
  const images = ctx.body.files.filter((f) => f.field === 'image' || f.field === 'image[]');
  if (images.length === 0) return errorResponse('openai', 400, { message: "Missing required parameter: 'image'.", param: 'image', code: 'missing_required_parameter' });
  let imageTokens = 0;
  for (const file of images) {
    try {
      const meta = await sharp(file.data).metadata();
      imageTokens += imageInputTokens(meta.width ?? 1024, meta.height ?? 1024);
    } catch {
      return errorResponse('openai', 400, { message: `Invalid image file or mode for image ${file.filename}, please check your image file.`, param: 'image', code: 'invalid_image_file' });
    }
  }
  return answer(ctx, params, imageTokens);
}

const XAI_TICKS_PER_IMAGE: Record<string, number> = {
  // $0.02 and $0.07 per image at 1e10 ticks per dollar
  'grok-imagine-image': 200_000_000,
  'grok-imagine-image-pro': 700_000_000,
};

/** xAI sizes: the long edge is 1024 px at `1k` and 2048 px at `2k`; the short edge follows the ratio. */
export function xaiDimensions(aspectRatio: string, resolution: string): { width: number; height: number } | null {
  const edge = resolution === '2k' ? 2048 : 1024;
  if (aspectRatio === 'auto') return { width: edge, height: edge };
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(aspectRatio);
  if (!m) return null;
  const w = Number(m[1]);
  const h = Number(m[2]);
  if (!(w > 0 && h > 0) || Math.max(w, h) / Math.min(w, h) > 4) return null;
  const round16 = (v: number): number => Math.max(16, Math.round(v / 16) * 16);
  return w >= h ? { width: edge, height: round16((edge * h) / w) } : { width: round16((edge * w) / h), height: edge };
}

export async function handleXaiImageGeneration(ctx: HandlerContext): Promise<SimResponse> {
  const body = ctx.body;
  if (!isRecord(body)) return errorResponse('xai', 400, { message: 'Failed to parse the request body as JSON.' });
  const model = str(body['model']);
  if (!model || !model.startsWith('grok-imagine-image') && !model.startsWith('grok-2-image')) {
    return errorResponse('xai', 404, { message: `The model ${model ?? ''} does not exist or your team does not have access to it.` });
  }
  const prompt = str(body['prompt']);
  if (!prompt) return errorResponse('xai', 400, { message: 'prompt: field is required' });
  if (body['size'] !== undefined) return errorResponse('xai', 400, { message: 'Argument not supported: size' });
  const n = num(body['n']) ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 10) return errorResponse('xai', 400, { message: 'n: must be between 1 and 10' });
  const format = str(body['response_format']) ?? 'url';
  if (format !== 'url' && format !== 'b64_json') return errorResponse('xai', 400, { message: `response_format: unknown variant \`${format}\`, expected \`url\` or \`b64_json\`` });
  const dims = xaiDimensions(str(body['aspect_ratio']) ?? 'auto', str(body['resolution']) ?? '1k');
  if (!dims) return errorResponse('xai', 400, { message: 'aspect_ratio: unsupported value' });
  const ticks = (XAI_TICKS_PER_IMAGE[model] ?? XAI_TICKS_PER_IMAGE['grok-imagine-image'] ?? 0) * n;
  if (ctx.rule?.noImage) {
    return json(200, { data: [{ revised_prompt: 'The request was answered without an image.' }], usage: { cost_in_usd_ticks: 0 } });
  }
  const image = await ctx.images.get(dims.width, dims.height, 'jpeg');
  const url = `${ctx.baseUrl}/_sim/images/${dims.width}x${dims.height}.jpeg?id=${hashHex(prompt, 16)}`;
  const data = Array.from({ length: n }, () =>
    format === 'url' ? { url, mime_type: 'image/jpeg', revised_prompt: '' } : { b64_json: image.base64, mime_type: 'image/jpeg', revised_prompt: '' },
  );
  return json(200, { data, usage: { cost_in_usd_ticks: ticks } });
}

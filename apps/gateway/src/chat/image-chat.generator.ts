import { Injectable } from '@nestjs/common';
import { ApiError, AppConfig } from '@app/common';
import { formatUsd } from '@app/billing';
import { ImageInputInliner, toOpenAIUsage, type ChatCompletion, type GeneratedImagePart, type ImageGenerationRequest, type TextContentPart } from '@app/providers';
import type { ChatRequestToCheck } from '@app/routing';
import { answerParts, ImageGenerationService, JOB_ID_HEADER, type GeneratedImageBytes } from '../images/image-generation.service';
import type { ChatImageGenerator, ChatImageInput, ChatImageOutput } from './chat-image-generator';

const DATA_URL = /^data:(image\/(?:png|jpeg|jpg|webp|gif));base64,([A-Za-z0-9+/=\s]+)$/;

/**
 * The prompt is the last user message's text; image parts of that message are the input images to edit
 * (seed 002). Input images must be data URLs by now: `ImageChatGenerator` has every http(s) URL fetched
 * through the SSRF-guarded `ImageInputInliner` first, so one that is still here is refused, never fetched.
 */
export function imageRequestFromChat(req: ChatRequestToCheck): ImageGenerationRequest {
  const index = req.messages.map((m) => m.role).lastIndexOf('user');
  if (index < 0) throw ApiError.badRequest('An image model needs a user message whose text is the prompt.', 'messages');
  const message = req.messages[index];
  const texts: string[] = [];
  const inputImages: { data: Buffer; mimeType: string }[] = [];
  if (typeof message.content === 'string') texts.push(message.content);
  else if (Array.isArray(message.content)) {
    message.content.forEach((part, j) => {
      if (part.type === 'text') texts.push(part.text);
      else if (part.type === 'image_url') {
        const m = DATA_URL.exec(part.image_url.url);
        if (!m) {
          throw ApiError.badRequest(
            'Input images for image models must be base64 data URLs (data:image/png;base64,...).',
            `messages[${index}].content[${j}].image_url.url`,
            'invalid_image_url',
          );
        }
        inputImages.push({ data: Buffer.from(m[2], 'base64'), mimeType: m[1] === 'image/jpg' ? 'image/jpeg' : m[1] });
      }
    });
  }
  const prompt = texts.join('\n').trim();
  if (!prompt) throw ApiError.badRequest('The last user message has no text to use as the image prompt.', `messages[${index}].content`);
  const out: ImageGenerationRequest = { prompt, n: req.n ?? 1 };
  if (inputImages.length > 0) out.inputImages = inputImages;
  if (req.user) out.user = req.user;
  return out;
}

function imagePart(img: GeneratedImageBytes): GeneratedImagePart {
  return { type: 'image_url', image_url: { url: `data:${img.mimeType};base64,${img.data.toString('base64')}` } };
}

/**
 * Chat's image models run through the same queue, retry, fallback, storage and billing path as
 * /v1/images/generations; the answer is a normal chat.completion whose content carries the text and the
 * images as data-URI image parts, in the order the model gave them, the images also listed in `message.images`.
 */
@Injectable()
export class ImageChatGenerator implements ChatImageGenerator {
  constructor(
    private readonly images: ImageGenerationService,
    private readonly config: AppConfig,
    private readonly imageInputs: ImageInputInliner,
  ) {}

  async generate(input: ChatImageInput): Promise<ChatImageOutput> {
    await this.imageInputs.inline(input.request, input.signal);
    const result = await this.images.generate(
      {
        jobId: input.requestId,
        clientRequestId: input.clientRequestId,
        payer: { tenantId: input.auth.tenantId, keyId: input.auth.keyId },
        endpoint: 'chat.completions',
        requestedModel: input.request.model,
        chain: input.route.chain,
        request: imageRequestFromChat(input.request),
        responseFormat: 'b64_json',
      },
      this.config.IMAGE_SYNC_TIMEOUT_MS,
    );
    const images = new Map(result.images.map((img) => [img, imagePart(img)]));
    const content: (TextContentPart | GeneratedImagePart)[] = answerParts(result).map((part) =>
      'text' in part ? { type: 'text', text: part.text } : (images.get(part.image) as GeneratedImagePart),
    );
    const completion: ChatCompletion = {
      id: `chatcmpl-${result.jobId.replace(/-/g, '')}`,
      object: 'chat.completion',
      created: result.created,
      model: result.servedModel,
      choices: [{ index: 0, message: { role: 'assistant', content, images: [...images.values()] }, finish_reason: 'stop' }],
      usage: toOpenAIUsage(result.usage),
    };
    return {
      completion,
      headers: {
        'X-Switchyard-Fallback-Level': String(result.fallbackLevel),
        'X-Switchyard-Fallback-Model': result.servedModel,
        'X-Switchyard-Cost-Usd': formatUsd(result.costMicros),
        [JOB_ID_HEADER]: result.jobId,
      },
    };
  }
}

import { Body, Controller, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Auth, type AuthContext } from '@app/tenancy';
import { GeminiResponder } from './gemini-responder';
import { GeminiService, parseModelAction, type GeminiCall } from './gemini.service';

function joinWildcard(param: string | string[]): string {
  return Array.isArray(param) ? param.join('/') : param;
}

/** What the URL says: `models/{model}:{method}` (ids may hold a slash, so a wildcard split on the last colon) and `alt`. */
function geminiCall(target: string | string[], alt: string | undefined, body: unknown): GeminiCall {
  const { model, method } = parseModelAction(joinWildcard(target));
  return { model, method, sse: alt === 'sse', body };
}

const GOOGLE_ERROR = (code: number, status: string, message: string) => ({ example: { error: { code, message, status } } });

@ApiTags('Gemini')
@ApiBearerAuth('bearer')
@ApiSecurity('x-goog-api-key')
@Controller('v1beta')
export class GeminiController {
  constructor(private readonly gemini: GeminiService) {}

  @Post('models/*target')
  @HttpCode(200)
  @ApiOperation({
    summary: "Generate content in Google's Gemini format (`models/{model}:generateContent` or `:streamGenerateContent`)",
    description:
      "Google's GenerateContent API for every chat model in the catalog (the `google/` prefix is optional; other providers' " +
      'models are named with theirs, e.g. `models/openai/gpt-4o-mini:generateContent`), usable by `@google/genai` with ' +
      '`httpOptions.baseUrl`. Gemini image models answer with text and `inlineData` images in the order Google gave ' +
      'them (`responseModalities` defaults to TEXT and IMAGE) and get the whole request: earlier turns with their images ' +
      '(multi-turn editing), `systemInstruction`, `safetySettings` and the sampling fields of `generationConfig`. ' +
      '`:streamGenerateContent` streams text models: ' +
      'Server-Sent Events with `alt=sse`, one JSON array otherwise. Fallback follows the model\'s configured fallbacks. ' +
      'Errors use Google\'s envelope. `generationConfig.topK`, `safetySettings` and `cachedContent` reach Gemini models; ' +
      'other providers ignore `safetySettings` and refuse `cachedContent`. Answers from Gemini models keep `safetyRatings`, ' +
      '`promptFeedback` and thought signatures; a prompt Google blocked is a 200 with `promptFeedback` and no candidates.',
  })
  @ApiParam({ name: 'target', description: '`{model}:generateContent` or `{model}:streamGenerateContent`', example: 'gemini-2.5-flash:generateContent' })
  @ApiQuery({ name: 'alt', required: false, description: '`sse` streams Server-Sent Events' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['contents'],
      properties: {
        contents: { type: 'array', items: { type: 'object' }, example: [{ role: 'user', parts: [{ text: 'Hello' }] }] },
        systemInstruction: { type: 'object' },
        generationConfig: { type: 'object' },
        safetySettings: { type: 'array', items: { type: 'object' } },
        tools: { type: 'array', items: { type: 'object' } },
        toolConfig: { type: 'object' },
        cachedContent: { type: 'string', example: 'cachedContents/abc123' },
      },
    },
  })
  @ApiResponse({ status: 200, description: 'A GenerateContentResponse, or its chunks when streaming' })
  @ApiResponse({ status: 400, description: 'Invalid request', content: { 'application/json': GOOGLE_ERROR(400, 'INVALID_ARGUMENT', 'Invalid request: contents must be a non-empty array.') } })
  @ApiResponse({ status: 401, description: 'Missing or invalid API key', content: { 'application/json': GOOGLE_ERROR(401, 'UNAUTHENTICATED', 'Invalid API key.') } })
  @ApiResponse({ status: 402, description: 'The balance does not cover the worst case', content: { 'application/json': GOOGLE_ERROR(402, 'PERMISSION_DENIED', 'Insufficient balance: this request may cost up to $0.012345, more than the available balance.') } })
  @ApiResponse({ status: 404, description: 'Unknown model or method', content: { 'application/json': GOOGLE_ERROR(404, 'NOT_FOUND', 'The model `gemini-9` does not exist.') } })
  @ApiResponse({ status: 429, description: 'Rate limit exceeded', content: { 'application/json': GOOGLE_ERROR(429, 'RESOURCE_EXHAUSTED', 'Rate limit exceeded.') } })
  generate(
    @Auth() auth: AuthContext,
    @Param('target') target: string | string[],
    @Query('alt') alt: string | undefined,
    @Body() body: unknown,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const call = geminiCall(target, alt, body);
    const format = call.method === 'generateContent' ? 'json' : call.sse ? 'sse' : 'json-array';
    return this.gemini.generate(auth, String(req.id), call, new GeminiResponder(res, format, call.model.replace(/^google\//, '')), req.clientRequestId);
  }
}

import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Auth, type AuthContext } from '@app/tenancy';
import {
  ChatCompletionRequestDto,
  ChatCompletionResponseDto,
  ImageUrlPartDto,
  InputAudioPartDto,
  TextPartDto,
} from './chat-completion.dto';
import { ChatExchange } from './chat-exchange';
import { ChatRequestPipe, type ChatRouteRequest } from './chat-request.pipe';
import { CHAT_HEADERS, ChatService } from './chat.service';

const HEADERS_DOC = {
  [CHAT_HEADERS.fallbackLevel]: { description: 'Index in the fallback chain of the model that served (0 = `model`)', schema: { type: 'integer' } },
  [CHAT_HEADERS.fallbackModel]: { description: 'Public id of the model that served', schema: { type: 'string' } },
  [CHAT_HEADERS.router]: { description: 'The named router used (`switchyard/auto`), when one was', schema: { type: 'string' } },
  [CHAT_HEADERS.resolvedModel]: { description: 'The model the named router picked', schema: { type: 'string' } },
  [CHAT_HEADERS.cost]: {
    description:
      'Settled cost in USD at the provider list price. Not sent on streams: headers leave before the cost is known ' +
      '(the cost is in the usage record, `GET /v1/balance` reflects it).',
    schema: { type: 'string' },
  },
  'X-Request-Id': { description: 'Request id; also the id of the usage record', schema: { type: 'string' } },
};

const ERROR_EXAMPLE = (type: string, code: string, message: string, param: string | null = null) => ({
  example: { error: { message, type, param, code } },
});

@ApiTags('Chat')
@ApiBearerAuth('bearer')
@ApiSecurity('x-goog-api-key')
@ApiExtraModels(TextPartDto, ImageUrlPartDto, InputAudioPartDto)
@Controller('v1')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  @Post('chat/completions')
  @ApiOperation({
    summary: 'Create a chat completion (OpenAI format; streaming, tools, vision, audio input, structured output, fallback chains)',
    description:
      'Models are provider-prefixed ids, bare aliases or the named router `switchyard/auto`. `models` (or `extra_body.models`) ' +
      'lists up to 5 fallbacks tried in order when a model fails. With `stream: true` the answer is Server-Sent Events in ' +
      "OpenAI's chunk format ending with `data: [DONE]`; a failure after the first chunk ends the stream with " +
      '`data: {"error":{...}}` instead. Billing is at the serving model\'s list price.',
  })
  @ApiBody({ type: ChatCompletionRequestDto })
  @ApiOkResponse({ type: ChatCompletionResponseDto, headers: HEADERS_DOC, description: 'A completion, or `text/event-stream` when `stream` is true' })
  @ApiResponse({ status: 400, description: 'Invalid request; `param` names the field', content: { 'application/json': ERROR_EXAMPLE('invalid_request_error', 'invalid_request', 'Invalid request: messages[0].content[0].image_url.url must be an http(s) URL or a data:image/...;base64, URI.', 'messages[0].content[0].image_url.url') } })
  @ApiResponse({ status: 401, description: 'Invalid API key (`invalid_api_key`), or none sent (`missing_api_key`, type `invalid_request_error`)', content: { 'application/json': ERROR_EXAMPLE('authentication_error', 'invalid_api_key', 'Invalid API key.') } })
  @ApiResponse({ status: 402, description: 'The balance (or the key spend limit) does not cover the worst case of the request', content: { 'application/json': ERROR_EXAMPLE('insufficient_quota', 'insufficient_balance', 'Insufficient balance: this request may cost up to $0.012345, more than the available balance.') } })
  @ApiResponse({ status: 404, description: 'Unknown model', content: { 'application/json': ERROR_EXAMPLE('invalid_request_error', 'model_not_found', 'The model `openai/unknown` does not exist.', 'model') } })
  @ApiResponse({ status: 429, description: 'Rate limit exceeded; wait `Retry-After` seconds', headers: { 'Retry-After': { schema: { type: 'integer' } } } })
  @ApiResponse({ status: 502, description: 'Every model of the chain failed', content: { 'application/json': ERROR_EXAMPLE('server_error', 'upstream_error', 'All upstream models failed; last error: openai: The upstream provider failed to process the request') } })
  @ApiResponse({ status: 504, description: 'The upstream did not answer in time' })
  create(@Auth() auth: AuthContext, @Body(ChatRequestPipe) body: ChatRouteRequest, @Req() req: Request, @Res() res: Response): Promise<void> {
    return this.chat.create(auth, String(req.id), body, new ChatExchange(res), req.clientRequestId);
  }
}

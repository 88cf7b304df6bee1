import { Body, Controller, Get, Headers, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Auth, type AuthContext } from '@app/tenancy';
import { Base64ImagesJson } from './image-response';
import { CreateImageDto } from './images.dto';
import { ImagesService, type RouteAnswer } from './images.service';

function requestOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/** Writes the answer itself: a body carrying images is encoded as it goes out, never serialised as a whole. */
async function send(res: Response, answer: RouteAnswer): Promise<void> {
  res.status(answer.status);
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  if (answer.body instanceof Base64ImagesJson) await answer.body.writeTo(res);
  else res.json(answer.body);
}

@ApiTags('Images')
@ApiBearerAuth('bearer')
@Controller('v1/images/generations')
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Generate images (OpenAI Images API); waits for the job, or answers 202 with `Prefer: respond-async`' })
  @ApiHeader({ name: 'Prefer', required: false, description: '`respond-async`: answer 202 with a job to poll' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'same key and body within 24 h: the same job, charged once' })
  async create(
    @Auth() auth: AuthContext,
    @Body() dto: CreateImageDto,
    @Headers('prefer') prefer: string | undefined,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await send(res, await this.images.create(auth, dto, { prefer, idempotencyKey, origin: requestOrigin(req), requestId: String(req.id), clientRequestId: req.clientRequestId }));
  }

  @Get(':id')
  @ApiOperation({ summary: "An image job's status, served model, fallback level and, once done, its result (`images_expired: true` and no images once they were deleted after IMAGE_RETENTION_HOURS)" })
  async get(@Auth() auth: AuthContext, @Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await send(res, await this.images.get(auth, id, requestOrigin(req)));
  }
}

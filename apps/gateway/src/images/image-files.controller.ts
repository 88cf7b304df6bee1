import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiError } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import { IMAGE_STORE, imageFileExtension, readImageObject, UrlSigner, type ImageStore } from '@app/storage';
import { Public } from '@app/tenancy';
import { UUID } from './image-generation.service';

/**
 * Signed links to generated images. The link is the credential (no API key), so its signature and expiry
 * are checked before anything is looked up, and the content type comes from the stored bytes.
 */
@ApiTags('Images')
@Controller('v1/images/files')
export class ImageFilesController {
  constructor(
    private readonly signer: UrlSigner,
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
  ) {}

  @Get(':id')
  @Public()
  @ApiOperation({ summary: 'A generated image behind a signed, expiring link (no API key needed)' })
  async serve(@Param('id') id: string, @Query('expires') expires: unknown, @Query('signature') signature: unknown, @Res() res: Response): Promise<void> {
    this.signer.assertValid(id, expires, signature);
    const [row] = UUID.test(id) ? await this.db.query<{ storage_key: string }>('SELECT storage_key FROM stored_images WHERE id = $1::uuid', [id]) : [];
    const image = row ? await this.store.get(row.storage_key) : null;
    // The signature proves this gateway handed out a link to a stored image: if neither its row nor its file is left,
    // it was deleted (after IMAGE_RETENTION_HOURS, or a purge run that has deleted the file and not yet the row).
    if (!image) throw ApiError.gone('This image is no longer stored: it was deleted after the retention period. Generate it again.', 'image_expired');
    res.status(200);
    res.setHeader('Content-Type', image.mimeType);
    res.setHeader('Content-Length', String(image.size));
    res.setHeader('Content-Disposition', `inline; filename="${id}.${imageFileExtension(image.mimeType)}"`);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // The link already expires; caches may keep the bytes for that long but must not share them.
    res.setHeader('Cache-Control', `private, max-age=${Math.max(0, Number(expires) - Math.floor(Date.now() / 1000))}`);
    if (image.stream) {
      image.stream.on('error', () => res.destroy());
      image.stream.pipe(res);
    } else {
      res.end(await readImageObject(image));
    }
  }
}

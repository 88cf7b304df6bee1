import { Module } from '@nestjs/common';
import { StorageModule } from '@app/storage';
import { ImageFilesController } from './image-files.controller';
import { ImageGenerationService } from './image-generation.service';
import { ImagesController } from './images.controller';
import { ImagesService } from './images.service';

/**
 * Image generation: `POST /v1/images/generations`, its jobs, and the signed image links. Exports
 * `ImageGenerationService`, the one queue/retry/fallback/billing path that chat's image models and the
 * Gemini-native route use too.
 */
@Module({
  imports: [StorageModule],
  controllers: [ImagesController, ImageFilesController],
  providers: [ImagesService, ImageGenerationService],
  exports: [ImageGenerationService],
})
export class ImagesModule {}

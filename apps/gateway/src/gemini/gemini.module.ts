import { Module } from '@nestjs/common';
import { ChatModule } from '../chat/chat.module';
import { ImagesModule } from '../images/images.module';
import { GeminiController } from './gemini.controller';
import { GeminiService } from './gemini.service';

/**
 * The Gemini-native route (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent`): text models
 * through the chat pipeline (`ChatService`), Gemini image models through the image queue
 * (`ImageGenerationService`). Listing models in Google's shape stays in `models/`.
 */
@Module({
  imports: [ChatModule, ImagesModule],
  controllers: [GeminiController],
  providers: [GeminiService],
})
export class GeminiModule {}

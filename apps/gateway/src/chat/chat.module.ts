import { Module } from '@nestjs/common';
import { ImageFetcher, ImageInputInliner } from '@app/providers';
import { ImagesModule } from '../images/images.module';
import { CHAT_IMAGE_GENERATOR } from './chat-image-generator';
import { ChatController } from './chat.controller';
import { ChatService } from './chat.service';
import { ImageChatGenerator } from './image-chat.generator';

/**
 * `POST /v1/chat/completions`. Builds on the global modules (config, billing, rate limits, routing,
 * providers); image models answering through chat go to the image pipeline through `ImageChatGenerator`.
 */
@Module({
  imports: [ImagesModule],
  controllers: [ChatController],
  providers: [
    ChatService,
    { provide: CHAT_IMAGE_GENERATOR, useClass: ImageChatGenerator },
    // Image URLs in messages are fetched here, never by a provider; public addresses only (no test allowance).
    { provide: ImageFetcher, useFactory: () => new ImageFetcher() },
    ImageInputInliner,
  ],
  // The Gemini-native route runs its text models through the same pipeline.
  exports: [ChatService],
})
export class ChatModule {}

import { Module } from '@nestjs/common';
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
  providers: [ChatService, { provide: CHAT_IMAGE_GENERATOR, useClass: ImageChatGenerator }],
})
export class ChatModule {}

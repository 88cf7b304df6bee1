import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { CLIENT_REQUEST_ID_HEADER, CLIENT_REQUEST_ID_MAX_LENGTH } from '@app/common';

/** Swagger UI at /docs and the OpenAPI document at /docs-json, generated from the controllers and DTOs. */
export function setupSwagger(app: INestApplication, publicBaseUrl: string): void {
  const config = new DocumentBuilder()
    .setTitle('Switchyard')
    .setDescription(
      'A multi-tenant, OpenAI-compatible AI API gateway. Call `/v1` with the OpenAI SDK and `/v1beta` with ' +
        "Google's SDK, using your Switchyard key. Every request is billed at the provider's list price.",
    )
    .setVersion('0.1.0')
    .addServer(publicBaseUrl)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'sk-sy-…', description: 'Your Switchyard API key' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'x-goog-api-key', description: 'Your Switchyard API key, Google style' }, 'x-goog-api-key')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The operator ADMIN_TOKEN' }, 'admin')
    .addGlobalParameters({
      name: CLIENT_REQUEST_ID_HEADER,
      in: 'header',
      required: false,
      description:
        'Your own id for the request (or send it as X-Request-Id): echoed back, written in the access log and in the ' +
        `usage record (\`client_request_id\`); 1 to ${CLIENT_REQUEST_ID_MAX_LENGTH} printable ASCII characters. The gateway's own id is X-Request-Id.`,
      schema: { type: 'string', maxLength: CLIENT_REQUEST_ID_MAX_LENGTH },
    })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Switchyard API',
    swaggerOptions: { persistAuthorization: true },
  });
}

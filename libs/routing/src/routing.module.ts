import { Global, Module } from '@nestjs/common';
import { ModelCatalog } from '@app/providers';
import { ModelAccess } from './model-access';

@Global()
@Module({
  providers: [{ provide: ModelAccess, inject: [ModelCatalog], useFactory: (c: ModelCatalog) => new ModelAccess(c) }],
  exports: [ModelAccess],
})
export class RoutingModule {}

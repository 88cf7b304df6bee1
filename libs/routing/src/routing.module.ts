import { Global, Module } from '@nestjs/common';
import { ModelCatalog } from '@app/providers';
import { ModelAccess } from './model-access';
import { ModelResolver } from './model-resolver';

@Global()
@Module({
  providers: [
    { provide: ModelAccess, inject: [ModelCatalog], useFactory: (c: ModelCatalog) => new ModelAccess(c) },
    {
      provide: ModelResolver,
      inject: [ModelCatalog, ModelAccess],
      useFactory: (c: ModelCatalog, a: ModelAccess) => new ModelResolver(c, a),
    },
  ],
  exports: [ModelAccess, ModelResolver],
})
export class RoutingModule {}

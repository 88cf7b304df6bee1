import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig, MetricsService } from '@app/common';
import { ModelCatalog } from '@app/providers';
import { AttemptObserver } from './attempt-observer';
import { ModelAccess } from './model-access';
import { ModelCooldowns } from './model-cooldowns';
import { ModelResolver } from './model-resolver';

function modelCooldowns(config: AppConfig, metrics: MetricsService): ModelCooldowns {
  const logger = new Logger(ModelCooldowns.name);
  return new ModelCooldowns({ failures: config.MODEL_COOLDOWN_FAILURES, cooldownMs: config.MODEL_COOLDOWN_MS }, (started) => {
    metrics.modelCooldowns.inc({ model: started.model });
    logger.warn(
      `${started.model}: ${started.failures} upstream failures in a row (last: ${started.kind}); ` +
        `passed over in fallback chains for ${started.cooldownMs / 1000} s`,
    );
  });
}

@Global()
@Module({
  providers: [
    { provide: ModelAccess, inject: [ModelCatalog], useFactory: (c: ModelCatalog) => new ModelAccess(c) },
    {
      provide: ModelResolver,
      inject: [ModelCatalog, ModelAccess],
      useFactory: (c: ModelCatalog, a: ModelAccess) => new ModelResolver(c, a),
    },
    { provide: ModelCooldowns, inject: [AppConfig, MetricsService], useFactory: modelCooldowns },
    AttemptObserver,
  ],
  exports: [ModelAccess, ModelResolver, ModelCooldowns, AttemptObserver],
})
export class RoutingModule {}

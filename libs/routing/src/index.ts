/**
 * Routing (`@app/routing`): model access (`allowed_models`), model resolution (ids, aliases, named
 * routers, fallback chains), capability checks per route family, and the retry/fallback executor shared
 * by chat and the image worker, with the per-process memory of which models to pass over for now
 * (`ModelCooldowns`), observed the same way by both (`AttemptObserver`). No I/O; configuration only where the module builds its services.
 */
export * from './model-access';
export * from './model-resolver';
export * from './capabilities';
export * from './fallback-executor';
export * from './model-cooldowns';
export * from './attempt-observer';
export * from './routing.module';

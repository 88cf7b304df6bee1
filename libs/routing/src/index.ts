/**
 * Routing (`@app/routing`): model access (`allowed_models`), model resolution (ids, aliases, named
 * routers, fallback chains), capability checks per route family, and the retry/fallback executor shared
 * by chat and the image worker. Pure: no I/O, no configuration.
 */
export * from './model-access';
export * from './model-resolver';
export * from './capabilities';
export * from './fallback-executor';
export * from './routing.module';

/**
 * Model resolution: the tenant's `model` (and the optional `models` fallback list) to the chain of catalog
 * models the request will try, in order. Names are provider-prefixed ids (`openai/gpt-4o-mini`,
 * `grok/…`, `xai/…`), bare aliases (`gpt-4o-mini`) or a named router (`switchyard/auto`), which picks one
 * concrete model from what the request needs.
 *
 * Every entry is checked here for existence (404), the key's `allowed_models` (403) and a list price (400:
 * an unpriced model is refused, never billed $0). Capability checks per route live in `capabilities.ts`.
 */
import { ApiError } from '@app/common';
import type { ModelCatalog, ModelSpec } from '@app/providers';
import type { ChatFeatures } from './capabilities';
import { ModelAccess } from './model-access';

/** The most fallbacks a request may list after its `model`. */
export const MAX_FALLBACK_MODELS = 5;

export const AUTO_ROUTER = 'switchyard/auto';
export const NAMED_ROUTERS: readonly string[] = [AUTO_ROUTER];

/**
 * The models `switchyard/auto` prefers, when they can serve the request: cheap, broadly capable, and from
 * providers with high rate limits. Among them (and, when none fits, among the whole catalog) the cheapest
 * wins; ties go to the earlier entry here, then to catalog order, so the pick is deterministic.
 */
export const AUTO_ROUTER_PREFERENCES: readonly string[] = [
  'google/gemini-2.5-flash-lite',
  'openai/gpt-4.1-nano',
  'openai/gpt-4o-mini',
  'google/gemini-2.5-flash',
  'openai/gpt-4.1-mini',
  'google/gemini-2.5-flash-image',
  'openai/gpt-image-1-mini',
];

export interface ResolvedRoute {
  /** the models to try, in order; never empty, no model twice */
  chain: ModelSpec[];
  /** parallel to `chain`: the request field that named each model (`model`, `models[1]`) */
  params: string[];
  /** the named router the tenant asked for, e.g. `switchyard/auto` */
  router?: string;
  /** the concrete model the router picked (public id) */
  resolvedModel?: string;
}

export interface ResolveInput {
  model: string;
  /** fallbacks after `model` (the chat API's `models` / `extra_body.models`) */
  models?: readonly string[] | null;
  /** the key's `allowed_models`; empty = every model */
  allowedModels: readonly string[];
  /**
   * What the request needs, from `chatFeatures`. Named routers are served only when it is given, i.e. on
   * the chat route; elsewhere a router name is refused.
   */
  features?: ChatFeatures;
  /**
   * Append the model's configured `fallbacks` when the request lists none (the Gemini-native route has no
   * per-request chain). Configured entries the key may not use, or without a price, are skipped silently:
   * the tenant did not ask for them.
   */
  configuredFallbacks?: boolean;
}

/** The figure `switchyard/auto` ranks by; `undefined` = cannot be ranked (no applicable price). */
function rankingCost(model: ModelSpec, features: ChatFeatures): number | undefined {
  const price = model.price;
  if (price === null) return undefined;
  if (features.imageOutput) {
    // The worst-case per-image price is what a request reserves, so it is what the tenant risks.
    const perImage = Object.values(price.perImage ?? {}).flatMap((bySize) => Object.values(bySize));
    if (perImage.length > 0) return Math.max(...perImage);
    return price.tokens?.imageOutput;
  }
  // Input plus output per 1M tokens: ranks models the same way for the usual prompt/answer ratios.
  return price.tokens === undefined ? undefined : price.tokens.input + price.tokens.output;
}

/** Whether `model` can serve a request with these features (the same rules as `checkChatRequest`). */
export function servesChatFeatures(model: ModelSpec, features: ChatFeatures): boolean {
  const caps = model.capabilities;
  if (!caps.chat) return false;
  if (features.imageOutput !== caps.imageOutputViaChat) return false;
  if (features.imageOutput) {
    if (features.stream || features.tools || features.jsonSchema) return false;
    if (features.multipleChoices && model.provider !== 'openai') return false;
  } else if (features.stream && !caps.streaming) {
    return false;
  }
  if (features.imageInput && !caps.vision) return false;
  if (features.audioInput && !caps.audioInput) return false;
  if (features.tools && !caps.tools) return false;
  if (features.jsonSchema && !caps.jsonSchema) return false;
  if (features.webSearch && !caps.webSearch) return false;
  return true;
}

function describeFeatures(features: ChatFeatures): string {
  const needs: string[] = [];
  if (features.imageOutput) needs.push('image output');
  if (features.imageInput) needs.push('image input');
  if (features.audioInput) needs.push('audio input');
  if (features.tools) needs.push('tools');
  if (features.jsonSchema) needs.push('json_schema');
  if (features.webSearch) needs.push('web search');
  if (features.stream) needs.push('streaming');
  if (features.multipleChoices) needs.push('n > 1');
  return needs.length === 0 ? 'chat' : needs.join(', ');
}

function cheapest(models: readonly ModelSpec[], features: ChatFeatures): ModelSpec | undefined {
  let best: { model: ModelSpec; cost: number } | undefined;
  for (const model of models) {
    const cost = rankingCost(model, features);
    if (cost === undefined) continue;
    if (best === undefined || cost < best.cost) best = { model, cost };
  }
  return best?.model;
}

export class ModelResolver {
  private readonly access: ModelAccess;

  constructor(
    private readonly catalog: ModelCatalog,
    access?: ModelAccess,
  ) {
    this.access = access ?? new ModelAccess(catalog);
  }

  resolve(input: ResolveInput): ResolvedRoute {
    const fallbacks = input.models ?? [];
    if (fallbacks.length > MAX_FALLBACK_MODELS) {
      throw ApiError.badRequest(
        `At most ${MAX_FALLBACK_MODELS} fallback models may be listed in \`models\`; got ${fallbacks.length}.`,
        'models',
        'too_many_models',
      );
    }

    const route: ResolvedRoute = { chain: [], params: [] };
    const add = (model: ModelSpec, param: string): void => {
      if (route.chain.some((m) => m.id === model.id)) return;
      route.chain.push(model);
      route.params.push(param);
    };

    const router = this.routerName(input.model);
    if (router !== undefined) {
      if (input.features === undefined) {
        throw ApiError.badRequest(`The router ${router} is available only on /v1/chat/completions.`, 'model', 'model_not_supported');
      }
      const picked = this.pickForRouter(router, input.features, input.allowedModels);
      route.router = router;
      route.resolvedModel = picked.id;
      add(picked, 'model');
    } else {
      add(this.resolveNamed(input.model, 'model', input.allowedModels), 'model');
    }

    fallbacks.forEach((name, index) => {
      const param = `models[${index}]`;
      if (this.routerName(name) !== undefined) {
        throw ApiError.badRequest('A named router can only be used as `model`, not in `models`.', param, 'model_not_supported');
      }
      add(this.resolveNamed(name, param, input.allowedModels), param);
    });

    if (input.configuredFallbacks && fallbacks.length === 0) {
      for (const name of route.chain[0].fallbacks ?? []) {
        if (route.chain.length >= 1 + MAX_FALLBACK_MODELS) break;
        const model = this.catalog.resolve(name);
        if (model === undefined || model.price === null || !this.access.isAllowed(input.allowedModels, model)) continue;
        add(model, 'model');
      }
    }
    return route;
  }

  /** The canonical router name when `name` is one, else undefined. */
  private routerName(name: string): string | undefined {
    const key = name.trim().toLowerCase();
    return NAMED_ROUTERS.find((router) => router === key);
  }

  private resolveNamed(name: string, param: string, allowedModels: readonly string[]): ModelSpec {
    const model = this.catalog.resolve(name);
    if (model === undefined) {
      throw ApiError.notFound(`The model \`${name}\` does not exist.`, 'model_not_found', param);
    }
    if (!this.access.isAllowed(allowedModels, model)) {
      throw new ApiError(403, 'permission_error', `This API key may not use the model ${model.id}.`, 'model_not_allowed', param);
    }
    if (model.price === null) {
      throw ApiError.badRequest(`The model ${model.id} has no list price yet and cannot be used.`, param, 'model_not_priced');
    }
    return model;
  }

  private pickForRouter(router: string, features: ChatFeatures, allowedModels: readonly string[]): ModelSpec {
    // Only one router exists today; a second would branch here on `router`.
    const capable = this.catalog.list().filter((m) => m.price !== null && servesChatFeatures(m, features));
    if (capable.length === 0) {
      throw ApiError.badRequest(
        `${router} found no model that supports this request (${describeFeatures(features)}).`,
        'model',
        'no_model_for_request',
      );
    }
    const allowed = capable.filter((m) => this.access.isAllowed(allowedModels, m));
    if (allowed.length === 0) {
      throw new ApiError(
        403,
        'permission_error',
        `None of the models this API key may use can serve this request through ${router}.`,
        'model_not_allowed',
        'model',
      );
    }
    const preferred = AUTO_ROUTER_PREFERENCES.map((id) => allowed.find((m) => m.id === id)).filter(
      (m): m is ModelSpec => m !== undefined,
    );
    const picked = cheapest(preferred, features) ?? cheapest(allowed, features);
    if (picked === undefined) {
      throw ApiError.badRequest(`${router} found no priced model for this request.`, 'model', 'no_model_for_request');
    }
    return picked;
  }
}

/**
 * Model lookup over the catalog, and the pure functions that shape `GET /v1/models` (OpenAI's list) and
 * `GET /v1beta/models` (Google's list) from it.
 */
import { MODEL_CATALOG } from './catalog.data';
import type { Deprecation, ImagePriceTable, ModelCapabilities, ModelPrice, ModelSpec, ProviderId, TimeWindow, TokenRates } from './model-spec';

/** The capabilities that are plain yes/no switches (as opposed to sizes, limits, ...). */
export type BooleanCapability = {
  [K in keyof ModelCapabilities]-?: ModelCapabilities[K] extends boolean ? K : never;
}[keyof ModelCapabilities];

/** The prefix Google SDKs put in front of a model name (`models/gemini-2.5-flash`). */
const GOOGLE_RESOURCE_PREFIX = 'models/';

/**
 * Everything wrong with a list of model specs: names used twice (compared case-insensitively, because
 * lookup is), prices that are not non-negative integers, prompt bands out of order, time-of-day windows
 * that do not parse or rates above the base ones, image models without sizes / qualities / maxN,
 * per-image prices keyed by a size or quality the model does not accept, and deprecations without dates
 * or a source. Empty when the list is sound. Fallbacks are checked apart (`findFallbackProblems`):
 * routing skips unusable ones, so they do not make a catalog unusable.
 */
export function findCatalogProblems(models: readonly ModelSpec[]): string[] {
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const model of models) {
    if (!/^[a-z0-9-]+\/\S+$/i.test(model.id)) problems.push(`${model.id}: id is not provider/model`);
    for (const name of [model.id, ...model.aliases]) {
      const key = name.toLowerCase();
      const owner = owners.get(key);
      if (owner !== undefined) problems.push(`${name}: named by both ${owner} and ${model.id}`);
      else owners.set(key, model.id);
    }
    problems.push(...priceProblems(model));
    problems.push(...imageProblems(model));
    problems.push(...deprecationProblems(model.id, model.deprecation));
  }
  return problems;
}

/**
 * Fallbacks that are unknown, the model itself, another provider's, unpriced, or unable to serve every
 * request the model serves on its route. Empty when every configured fallback is sound.
 */
export function findFallbackProblems(models: readonly ModelSpec[]): string[] {
  const byId = new Map(models.map((m) => [m.id, m]));
  return models.flatMap((model) => fallbackProblems(model, byId));
}

function isImageModel(capabilities: ModelCapabilities): boolean {
  return capabilities.imagesEndpoint || capabilities.imageOutputViaChat;
}

function isAmount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const CLOCK = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

function priceProblems(model: ModelSpec): string[] {
  const price = model.price;
  if (price === null) return [];
  const problems: string[] = [];
  if (price.tokens === undefined && price.perImage === undefined) problems.push(`${model.id}: price has no rates`);
  if (!DATE.test(price.date)) problems.push(`${model.id}: price date ${price.date} is not YYYY-MM-DD`);
  if (!/^https:\/\//.test(price.source)) problems.push(`${model.id}: price source is not a URL`);
  for (const [field, value] of tokenAmounts(price.tokens)) {
    if (!isAmount(value)) problems.push(`${model.id}: tokens.${field} = ${value} is not an integer micro-USD amount`);
  }
  for (const [quality, bySize] of Object.entries(price.perImage ?? {})) {
    for (const [size, value] of Object.entries(bySize)) {
      if (!isAmount(value)) problems.push(`${model.id}: perImage ${quality}/${size} = ${value} is not an integer`);
    }
  }
  if (price.tokens !== undefined) problems.push(...bandProblems(model.id, price.tokens), ...timeOfDayProblems(model.id, price.tokens));
  return problems;
}

/** Every rate in a rate card with its path; thresholds, window days and labels are not rates. */
function tokenAmounts(tokens: TokenRates | undefined): [string, number][] {
  if (tokens === undefined) return [];
  const amounts: [string, number][] = [];
  const { longContext, timeOfDay, ...flat } = tokens;
  const collect = (prefix: string, rates: object) => {
    for (const [field, value] of Object.entries(rates)) {
      if (typeof value === 'number' && field !== 'thresholdTokens') amounts.push([`${prefix}${field}`, value]);
    }
  };
  collect('', flat);
  (longContext ?? []).forEach((band, i) => collect(`longContext[${i}].`, band));
  (timeOfDay ?? []).forEach((t, i) => collect(`timeOfDay[${i}].`, t));
  return amounts;
}

function bandProblems(id: string, tokens: TokenRates): string[] {
  const bands = tokens.longContext;
  if (bands === undefined) return [];
  if (!Array.isArray(bands)) return [`${id}: longContext is not a list of bands`];
  const problems: string[] = [];
  bands.forEach((band, i) => {
    if (!Number.isSafeInteger(band.thresholdTokens) || band.thresholdTokens <= 0) {
      problems.push(`${id}: longContext[${i}].thresholdTokens ${band.thresholdTokens} is not a positive integer`);
    }
    if (i > 0 && band.thresholdTokens <= bands[i - 1].thresholdTokens) {
      problems.push(`${id}: longContext[${i}] is not above the band before it`);
    }
  });
  return problems;
}

function minutesOf(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h * 60 + m;
}

function windowProblems(id: string, path: string, w: TimeWindow): string[] {
  const problems: string[] = [];
  if (w.days.length === 0 || w.days.some((d) => !Number.isInteger(d) || d < 0 || d > 6)) {
    problems.push(`${id}: ${path}.days must be weekdays 0 (Sunday) to 6`);
  }
  if (!CLOCK.test(w.from) || !CLOCK.test(w.to)) problems.push(`${id}: ${path} times must be HH:MM (UTC)`);
  else if (minutesOf(w.from) >= minutesOf(w.to)) problems.push(`${id}: ${path} ends before it starts`);
  return problems;
}

/** Time-of-day rates must parse and never exceed the base ones, which bill an unknown start time. */
function timeOfDayProblems(id: string, tokens: TokenRates): string[] {
  const problems: string[] = [];
  (tokens.timeOfDay ?? []).forEach((t, i) => {
    const path = `timeOfDay[${i}]`;
    if (t.windows.length === 0) problems.push(`${id}: ${path} has no windows`);
    t.windows.forEach((w, j) => problems.push(...windowProblems(id, `${path}.windows[${j}]`, w)));
    if (t.input > tokens.input || t.output > tokens.output || (t.cachedInput ?? 0) > (tokens.cachedInput ?? tokens.input)) {
      problems.push(`${id}: ${path} bills above the base rates`);
    }
  });
  return problems;
}

function deprecationProblems(id: string, d: Deprecation | undefined): string[] {
  if (d === undefined) return [];
  const problems: string[] = [];
  if (!DATE.test(d.announced)) problems.push(`${id}: deprecation.announced ${d.announced} is not YYYY-MM-DD`);
  if (d.shutdown !== undefined && (!DATE.test(d.shutdown) || d.shutdown < d.announced)) {
    problems.push(`${id}: deprecation.shutdown ${d.shutdown} is not a YYYY-MM-DD on or after the announcement`);
  }
  if (!/^https:\/\//.test(d.source)) problems.push(`${id}: deprecation.source is not a URL`);
  return problems;
}

/** Chat capabilities a fallback must also have: the chat route checks each of them. */
const CHAT_ROUTE_CAPABILITIES = ['chat', 'streaming', 'tools', 'vision', 'audioInput', 'jsonSchema'] as const;
/** Image capabilities a fallback must also have on the image routes. */
const IMAGE_ROUTE_CAPABILITIES = ['chat', 'vision', 'imagesEndpoint', 'imageOutputViaChat', 'imageEditing'] as const;

/**
 * What `fallback` lacks to serve every request `model` serves on its route, as readable phrases. A size,
 * quality or capability the model accepts must be accepted by the fallback too ('auto' quality is the
 * model's own choice, so any fallback takes it); `n` up to the model's maxN; where both declare a context
 * window, the fallback's must be at least as large.
 */
export function missingForFallback(model: ModelSpec, fallback: ModelSpec): string[] {
  const a = model.capabilities;
  const b = fallback.capabilities;
  const missing: string[] = [];
  const switches = isImageModel(a) ? IMAGE_ROUTE_CAPABILITIES : CHAT_ROUTE_CAPABILITIES;
  for (const key of switches) if (a[key] && !b[key]) missing.push(key);
  if (isImageModel(a)) {
    for (const size of a.sizes ?? []) if (!(b.sizes ?? []).includes(size)) missing.push(`size ${size}`);
    for (const quality of a.qualities ?? []) {
      if (quality !== 'auto' && !(b.qualities ?? []).includes(quality)) missing.push(`quality ${quality}`);
    }
    if ((b.maxN ?? 1) < (a.maxN ?? 1)) missing.push(`n up to ${a.maxN}`);
  }
  if (a.contextWindow !== undefined && b.contextWindow !== undefined && b.contextWindow < a.contextWindow) {
    missing.push(`a context window of ${a.contextWindow}`);
  }
  return missing;
}

function fallbackProblems(model: ModelSpec, byId: ReadonlyMap<string, ModelSpec>): string[] {
  const problems: string[] = [];
  for (const id of model.fallbacks ?? []) {
    const fallback = byId.get(id);
    if (fallback === undefined) problems.push(`${model.id}: fallback ${id} is not a model id in the catalog`);
    else if (fallback.id === model.id) problems.push(`${model.id}: falls back to itself`);
    else if (fallback.provider !== model.provider) problems.push(`${model.id}: fallback ${id} is another provider's`);
    else if (fallback.price === null) problems.push(`${model.id}: fallback ${id} has no price`);
    else {
      const missing = missingForFallback(model, fallback);
      if (missing.length > 0) problems.push(`${model.id}: fallback ${id} lacks ${missing.join(', ')}`);
    }
  }
  return problems;
}

function imageProblems(model: ModelSpec): string[] {
  const { capabilities } = model;
  if (!isImageModel(capabilities)) return [];
  const problems: string[] = [];
  const sizes = capabilities.sizes ?? [];
  const qualities = capabilities.qualities ?? [];
  if (sizes.length === 0) problems.push(`${model.id}: image model without sizes`);
  if (qualities.length === 0) problems.push(`${model.id}: image model without qualities`);
  const maxN = capabilities.maxN;
  if (maxN === undefined || !Number.isSafeInteger(maxN) || maxN < 1) problems.push(`${model.id}: image model without maxN`);
  for (const [quality, bySize] of Object.entries(model.price?.perImage ?? {})) {
    if (quality !== '*' && !qualities.includes(quality)) problems.push(`${model.id}: priced quality ${quality} not accepted`);
    for (const size of Object.keys(bySize)) {
      if (size !== '*' && !sizes.includes(size)) problems.push(`${model.id}: priced size ${size} not accepted`);
    }
  }
  return problems;
}

/**
 * The catalog as the rest of Switchyard queries it. Lookup is case-insensitive (`Google/gemini-2.5-flash`,
 * `minimax/minimax-m3`), strips the `models/` prefix Google SDKs send, and lets Google models drop their
 * `google/` prefix where no other model claims the bare name.
 */
export class ModelCatalog {
  private readonly models: readonly ModelSpec[];
  private readonly byName = new Map<string, ModelSpec>();
  /** Bare Google names; consulted only after explicit ids and aliases. */
  private readonly byGoogleBareName = new Map<string, ModelSpec>();

  constructor(models: readonly ModelSpec[] = MODEL_CATALOG) {
    const problems = findCatalogProblems(models);
    if (problems.length > 0) throw new Error(`Model catalog is inconsistent:\n${problems.join('\n')}`);
    this.models = Object.freeze([...models]);
    for (const model of this.models) {
      for (const name of [model.id, ...model.aliases]) this.byName.set(name.toLowerCase(), model);
    }
    for (const model of this.models) {
      if (model.provider !== 'google') continue;
      const bare = model.id.slice(model.id.indexOf('/') + 1).toLowerCase();
      if (!this.byName.has(bare)) this.byGoogleBareName.set(bare, model);
    }
  }

  /** The model a client's `model` value names, or undefined when none does. */
  resolve(name: string): ModelSpec | undefined {
    let key = name.trim().toLowerCase();
    if (key.startsWith(GOOGLE_RESOURCE_PREFIX)) key = key.slice(GOOGLE_RESOURCE_PREFIX.length);
    if (key === '') return undefined;
    return this.byName.get(key) ?? this.byGoogleBareName.get(key);
  }

  /** Every model, in catalog order. */
  list(): readonly ModelSpec[] {
    return this.models;
  }

  listByCapability(capability: BooleanCapability): ModelSpec[] {
    return this.models.filter((model) => model.capabilities[capability]);
  }

  listByProvider(provider: ProviderId): ModelSpec[] {
    return this.models.filter((model) => model.provider === provider);
  }

  /**
   * The models a call naming `model` goes to on `today`: a model past its shutdown date whose entry names
   * fallbacks goes to those, in order (the catalog says so explicitly); any other model, retired or not,
   * goes to itself and its upstream decides.
   */
  servingModels(model: ModelSpec, today: string): ModelSpec[] {
    if (!isPastShutdown(model, today) || !model.fallbacks?.length) return [model];
    const replacements = model.fallbacks.map((id) => this.resolve(id)).filter((m): m is ModelSpec => m !== undefined);
    return replacements.length > 0 ? replacements : [model];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Retired models

/** `YYYY-MM-DD` of an instant, in UTC. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Whether the provider's announced shutdown date of `model` has come on `today` (`YYYY-MM-DD`, UTC). */
export function isPastShutdown(model: ModelSpec, today: string): boolean {
  const shutdown = model.deprecation?.shutdown;
  return shutdown !== undefined && today >= shutdown;
}

// ---------------------------------------------------------------------------------------------------------------
// Price display

/**
 * Integer micro-USD as a USD decimal string, exact (no float arithmetic): 150_000 -> "0.15",
 * 10_000_000 -> "10.00", 2_500 -> "0.0025". Clients get strings so no amount is rounded in transit.
 */
export function formatMicroUsd(microUsd: number): string {
  if (!Number.isSafeInteger(microUsd) || microUsd < 0) {
    throw new RangeError(`not a non-negative integer micro-USD amount: ${microUsd}`);
  }
  const whole = Math.floor(microUsd / 1_000_000);
  let fraction = String(microUsd % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  if (fraction.length < 2) fraction = fraction.padEnd(2, '0');
  return `${whole}.${fraction}`;
}

// ---------------------------------------------------------------------------------------------------------------
// GET /v1/models (OpenAI's list shape, with Switchyard's capabilities and pricing added)

export interface OpenAiModelCapabilities {
  chat: boolean;
  streaming: boolean;
  tools: boolean;
  vision: boolean;
  audio_input: boolean;
  json_schema: boolean;
  reasoning: boolean;
  web_search: boolean;
  image_output_via_chat: boolean;
  images_endpoint: boolean;
  image_editing: boolean;
  sizes?: string[];
  qualities?: string[];
  max_n?: number;
  context_window?: number;
  max_output_tokens?: number;
}

/** USD decimal strings per 1,000,000 tokens. */
export interface OpenAiTokenPricing {
  input: string;
  cached_input?: string;
  cache_write?: string;
  output: string;
  reasoning_output?: string;
  image_input?: string;
  image_output?: string;
  audio_input?: string;
  /** prompt-length bands, ascending: a prompt longer than `threshold_tokens` input tokens bills at the band */
  long_context?: OpenAiPromptBand[];
  /** cheaper rates for requests that start inside the windows (UTC) */
  time_of_day?: OpenAiTimeOfDayRates[];
}

export interface OpenAiPromptBand {
  threshold_tokens: number;
  input: string;
  cached_input?: string;
  cache_write?: string;
  output: string;
}

export interface OpenAiTimeOfDayRates {
  label: string;
  /** weekdays 0 (Sunday) to 6 and `HH:MM` times, UTC, `to` exclusive */
  windows: { days: number[]; from: string; to: string }[];
  input: string;
  cached_input?: string;
  output: string;
}

export interface OpenAiDeprecation {
  announced: string;
  shutdown?: string;
  replacement?: string;
  source: string;
}

export interface OpenAiModelPricing {
  currency: 'USD';
  /** per 1,000,000 tokens */
  tokens?: OpenAiTokenPricing;
  /** USD per image, by quality then size ('*' = any) */
  per_image?: Record<string, Record<string, string>>;
  source: string;
  date: string;
}

export interface OpenAiModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  aliases: string[];
  capabilities: OpenAiModelCapabilities;
  /** null: the model is listed but refused until it has a price */
  pricing: OpenAiModelPricing | null;
  /** the provider's announced retirement, when there is one */
  deprecation?: OpenAiDeprecation;
}

export interface OpenAiModelList {
  object: 'list';
  data: OpenAiModelEntry[];
}

export interface OpenAiModelListOptions {
  /** Unix seconds reported as every model's `created`; the catalog has no per-model release dates. */
  created: number;
}

function copyDefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function toOpenAiCapabilities(c: ModelCapabilities): OpenAiModelCapabilities {
  return copyDefined<OpenAiModelCapabilities>({
    chat: c.chat,
    streaming: c.streaming,
    tools: c.tools,
    vision: c.vision,
    audio_input: c.audioInput,
    json_schema: c.jsonSchema,
    reasoning: c.reasoning,
    web_search: c.webSearch,
    image_output_via_chat: c.imageOutputViaChat,
    images_endpoint: c.imagesEndpoint,
    image_editing: c.imageEditing,
    sizes: c.sizes === undefined ? undefined : [...c.sizes],
    qualities: c.qualities === undefined ? undefined : [...c.qualities],
    max_n: c.maxN,
    context_window: c.contextWindow,
    max_output_tokens: c.maxOutputTokens,
  });
}

function optionalUsd(microUsd: number | undefined): string | undefined {
  return microUsd === undefined ? undefined : formatMicroUsd(microUsd);
}

function toOpenAiTokenPricing(t: TokenRates): OpenAiTokenPricing {
  return copyDefined<OpenAiTokenPricing>({
    input: formatMicroUsd(t.input),
    cached_input: optionalUsd(t.cachedInput),
    cache_write: optionalUsd(t.cacheWrite),
    output: formatMicroUsd(t.output),
    reasoning_output: optionalUsd(t.reasoningOutput),
    image_input: optionalUsd(t.imageInput),
    image_output: optionalUsd(t.imageOutput),
    audio_input: optionalUsd(t.audioInput),
    long_context: t.longContext?.map((band) =>
      copyDefined<OpenAiPromptBand>({
        threshold_tokens: band.thresholdTokens,
        input: formatMicroUsd(band.input),
        cached_input: optionalUsd(band.cachedInput),
        cache_write: optionalUsd(band.cacheWrite),
        output: formatMicroUsd(band.output),
      }),
    ),
    time_of_day: t.timeOfDay?.map((rates) =>
      copyDefined<OpenAiTimeOfDayRates>({
        label: rates.label,
        windows: rates.windows.map((w) => ({ days: [...w.days], from: w.from, to: w.to })),
        input: formatMicroUsd(rates.input),
        cached_input: optionalUsd(rates.cachedInput),
        output: formatMicroUsd(rates.output),
      }),
    ),
  });
}

function toOpenAiPerImage(table: ImagePriceTable): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.entries(table).map(([quality, bySize]) => [
      quality,
      Object.fromEntries(Object.entries(bySize).map(([size, microUsd]) => [size, formatMicroUsd(microUsd)])),
    ]),
  );
}

function toOpenAiPricing(price: ModelPrice | null): OpenAiModelPricing | null {
  if (price === null) return null;
  return copyDefined<OpenAiModelPricing>({
    currency: 'USD',
    tokens: price.tokens === undefined ? undefined : toOpenAiTokenPricing(price.tokens),
    per_image: price.perImage === undefined ? undefined : toOpenAiPerImage(price.perImage),
    source: price.source,
    date: price.date,
  });
}

/** The body of `GET /v1/models`. */
export function toOpenAiModelList(models: readonly ModelSpec[], options: OpenAiModelListOptions): OpenAiModelList {
  return {
    object: 'list',
    data: models.map((model) => ({
      id: model.id,
      object: 'model',
      created: options.created,
      owned_by: model.provider,
      aliases: [...model.aliases],
      capabilities: toOpenAiCapabilities(model.capabilities),
      pricing: toOpenAiPricing(model.price),
      ...(model.deprecation === undefined ? {} : { deprecation: copyDefined<OpenAiDeprecation>({ ...model.deprecation }) }),
    })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// GET /v1beta/models (Google's list shape)

export interface GeminiModelEntry {
  /** `models/<name>`: the bare name for Google models, the public id for others */
  name: string;
  displayName: string;
  supportedGenerationMethods: string[];
  inputTokenLimit?: number;
  outputTokenLimit?: number;
}

export interface GeminiModelList {
  models: GeminiModelEntry[];
}

const UPPERCASE_WORDS: Readonly<Record<string, string>> = { gpt: 'GPT' };

/** `gemini-2.5-flash-image` -> `Gemini 2.5 Flash Image`; names that carry their own casing keep it. */
export function displayNameOf(model: ModelSpec): string {
  const name = model.id.slice(model.id.indexOf('/') + 1);
  return name
    .split(/[-_]/)
    .filter((word) => word !== '')
    .map((word) => UPPERCASE_WORDS[word] ?? word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}

function geminiNameOf(model: ModelSpec): string {
  const name = model.provider === 'google' ? model.id.slice(model.id.indexOf('/') + 1) : model.id;
  return `${GOOGLE_RESOURCE_PREFIX}${name}`;
}

/**
 * The body of `GET /v1beta/models`. Only models that answer `:generateContent` are listed, because that
 * is the only generation method the Gemini-native route serves; Imagen and other images-only models are
 * left out.
 */
export function toGeminiModelList(models: readonly ModelSpec[]): GeminiModelList {
  return {
    models: models
      .filter((model) => model.capabilities.chat)
      .map((model) =>
        copyDefined<GeminiModelEntry>({
          name: geminiNameOf(model),
          displayName: displayNameOf(model),
          supportedGenerationMethods: model.capabilities.streaming
            ? ['generateContent', 'streamGenerateContent']
            : ['generateContent'],
          inputTokenLimit: model.capabilities.contextWindow,
          outputTokenLimit: model.capabilities.maxOutputTokens,
        }),
      ),
  };
}

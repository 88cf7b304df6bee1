import type { ModelPrice, NormalizedUsage, PromptBand, TimeOfDayRates, TimeWindow, TokenRates } from '@app/providers';
import { totalInputTokens } from '@app/providers';

/**
 * What a request costs at list price, line by line. Pure and exact: quantities are integers, rates are
 * integer micro-USD per 1M tokens (or per image), and each line is rounded half-up to the micro-dollar
 * once, so a line always equals quantity × list price to the micro-dollar.
 */
export type CostLineKind =
  | 'text_input'
  | 'cached_input'
  | 'cache_write'
  | 'image_input'
  | 'audio_input'
  | 'text_output'
  | 'reasoning_output'
  | 'image_output'
  | 'images';

export interface CostLine {
  kind: CostLineKind;
  quantity: number;
  /** micro-USD per 1,000,000 tokens, or per image for `images` */
  unitPriceMicros: number;
  /** `per_1m_tokens` or `per_image` */
  unit: 'per_1m_tokens' | 'per_image';
  costMicros: bigint;
}

export interface Cost {
  lines: CostLine[];
  totalMicros: bigint;
}

export interface ImageContext {
  size?: string;
  quality?: string;
}

export interface CostContext extends ImageContext {
  /**
   * When the request started, for time-of-day rates. Omitted = the base rates, which the catalog keeps at
   * the dearest time of day (e.g. DeepSeek's peak), so an unknown start never bills below list price.
   */
  startedAt?: Date;
}

const MILLION = 1_000_000n;

/** quantity × rate / 1M, rounded half-up, in integer arithmetic */
export function tokenCost(quantity: number, ratePerMillion: number): bigint {
  return (BigInt(quantity) * BigInt(ratePerMillion) + MILLION / 2n) / MILLION;
}

/**
 * The prompt-length bands of a rate card, ascending. Price rows stored before bands became a list hold a
 * single band object under `longContext`; it is read as a list of one.
 */
export function promptBands(rates: TokenRates): PromptBand[] {
  const lc = rates.longContext as PromptBand[] | PromptBand | undefined;
  if (lc === undefined || lc === null) return [];
  const bands = Array.isArray(lc) ? [...lc] : [lc];
  return bands.sort((a, b) => a.thresholdTokens - b.thresholdTokens);
}

/** A price row as stored (possibly before bands were a list) in the current shape. */
export function normalizePrice(price: ModelPrice): ModelPrice {
  if (!price.tokens || price.tokens.longContext === undefined || Array.isArray(price.tokens.longContext)) return price;
  return { ...price, tokens: { ...price.tokens, longContext: promptBands(price.tokens) } };
}

function applyBand(rates: TokenRates, band: PromptBand | undefined): TokenRates {
  if (band === undefined) return rates;
  return {
    ...rates,
    input: band.input,
    output: band.output,
    cachedInput: band.cachedInput ?? rates.cachedInput,
    cacheWrite: band.cacheWrite ?? rates.cacheWrite,
  };
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Whether a UTC instant falls inside a weekly window. */
export function inTimeWindow(window: TimeWindow, at: Date): boolean {
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes();
  return window.days.includes(at.getUTCDay()) && minute >= minutes(window.from) && minute < minutes(window.to);
}

/** The time-of-day rates in force at `at`, if any window covers it. */
export function timeOfDayAt(rates: TokenRates, at: Date): TimeOfDayRates | undefined {
  return rates.timeOfDay?.find((t) => t.windows.some((w) => inTimeWindow(w, at)));
}

function applyTimeOfDay(rates: TokenRates, t: TimeOfDayRates | undefined): TokenRates {
  if (t === undefined) return rates;
  return { ...rates, input: t.input, output: t.output, cachedInput: t.cachedInput ?? rates.cachedInput };
}

/**
 * The rates in force for a request: the time-of-day rates for its start (when given), then the
 * prompt-length band its input tokens fall in (a band replaces input, cached, cache-write and output).
 */
export function effectiveRates(rates: TokenRates, inputTokens: number, startedAt?: Date): TokenRates {
  const base = startedAt === undefined ? rates : applyTimeOfDay(rates, timeOfDayAt(rates, startedAt));
  const band = promptBands(rates).filter((b) => inputTokens > b.thresholdTokens).pop();
  return applyBand(base, band);
}

/**
 * Every rate card a request can be billed at: the one for its start time (the base card when unknown) in
 * each prompt band whose threshold is below `maxInputTokens`. Used for worst-case bounds.
 */
export function reachableRates(rates: TokenRates, maxInputTokens: number, startedAt?: Date): TokenRates[] {
  const card = startedAt === undefined ? rates : applyTimeOfDay(rates, timeOfDayAt(rates, startedAt));
  const bands = [undefined, ...promptBands(rates).filter((b) => maxInputTokens > b.thresholdTokens)];
  return bands.map((b) => applyBand(card, b));
}

/** The per-image price for a quality and size, with '*' as the wildcard on either level. */
export function perImagePrice(table: Record<string, Record<string, number>>, ctx: ImageContext): number | undefined {
  const byQuality = (ctx.quality && table[ctx.quality]) || table['*'] || (Object.keys(table).length === 1 ? Object.values(table)[0] : undefined);
  if (!byQuality) return undefined;
  return (ctx.size !== undefined ? byQuality[ctx.size] : undefined) ?? byQuality['*'];
}

/** The largest per-image price in a table (worst case when quality or size is left to the model). */
export function maxPerImagePrice(table: Record<string, Record<string, number>>): number {
  let max = 0;
  for (const sizes of Object.values(table)) for (const p of Object.values(sizes)) max = Math.max(max, p);
  return max;
}

export function computeCost(price: ModelPrice, usage: NormalizedUsage, ctx: CostContext = {}): Cost {
  const lines: CostLine[] = [];
  const add = (kind: CostLineKind, quantity: number, rate: number | undefined, unit: CostLine['unit'] = 'per_1m_tokens') => {
    if (quantity <= 0) return;
    const unitPriceMicros = rate ?? 0;
    const costMicros = unit === 'per_image' ? BigInt(quantity) * BigInt(unitPriceMicros) : tokenCost(quantity, unitPriceMicros);
    lines.push({ kind, quantity, unitPriceMicros, unit, costMicros });
  };
  const inputTokens = totalInputTokens(usage);
  const cacheWrites = usage.cacheWriteInput ?? 0;
  if (price.tokens) {
    const r = effectiveRates(price.tokens, inputTokens, ctx.startedAt);
    add('text_input', usage.textInput, r.input);
    add('cached_input', usage.cachedInput, r.cachedInput ?? r.input);
    add('cache_write', cacheWrites, r.cacheWrite ?? r.input);
    add('image_input', usage.imageInput, r.imageInput ?? r.input);
    add('audio_input', usage.audioInput, r.audioInput ?? r.input);
    add('text_output', usage.textOutput, r.output);
    add('reasoning_output', usage.reasoningOutput, r.reasoningOutput ?? r.output);
    add('image_output', usage.imageOutput, r.imageOutput ?? r.output);
  }
  // A model priced both ways (gpt-image: image tokens, and a per-image table) is billed by the tokens the
  // upstream reports; the per-image price applies only when it reports none. Never both.
  const reportedTokens = inputTokens + usage.textOutput + usage.reasoningOutput + usage.imageOutput;
  if (usage.images > 0 && !(price.tokens && reportedTokens > 0)) {
    const unit = price.perImage ? (perImagePrice(price.perImage, ctx) ?? maxPerImagePrice(price.perImage)) : undefined;
    add('images', usage.images, unit, 'per_image');
  }
  return { lines, totalMicros: lines.reduce((sum, l) => sum + l.costMicros, 0n) };
}

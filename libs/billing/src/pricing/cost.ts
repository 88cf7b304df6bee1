import type { ModelPrice, NormalizedUsage, TokenRates } from '@app/providers';

/**
 * What a request costs at list price, line by line. Pure and exact: quantities are integers, rates are
 * integer micro-USD per 1M tokens (or per image), and each line is rounded half-up to the micro-dollar
 * once, so a line always equals quantity × list price to the micro-dollar.
 */
export type CostLineKind =
  | 'text_input'
  | 'cached_input'
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

const MILLION = 1_000_000n;

/** quantity × rate / 1M, rounded half-up, in integer arithmetic */
export function tokenCost(quantity: number, ratePerMillion: number): bigint {
  return (BigInt(quantity) * BigInt(ratePerMillion) + MILLION / 2n) / MILLION;
}

/** The rates in force for a request: long-context rates replace the base ones above the threshold. */
export function effectiveRates(rates: TokenRates, inputTokens: number): TokenRates {
  const lc = rates.longContext;
  if (!lc || inputTokens <= lc.thresholdTokens) return rates;
  return { ...rates, input: lc.input, output: lc.output, cachedInput: lc.cachedInput ?? rates.cachedInput };
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

export function computeCost(price: ModelPrice, usage: NormalizedUsage, ctx: ImageContext = {}): Cost {
  const lines: CostLine[] = [];
  const add = (kind: CostLineKind, quantity: number, rate: number | undefined, unit: CostLine['unit'] = 'per_1m_tokens') => {
    if (quantity <= 0) return;
    const unitPriceMicros = rate ?? 0;
    const costMicros = unit === 'per_image' ? BigInt(quantity) * BigInt(unitPriceMicros) : tokenCost(quantity, unitPriceMicros);
    lines.push({ kind, quantity, unitPriceMicros, unit, costMicros });
  };
  if (price.tokens) {
    const inputTokens = usage.textInput + usage.cachedInput + usage.imageInput + usage.audioInput;
    const r = effectiveRates(price.tokens, inputTokens);
    add('text_input', usage.textInput, r.input);
    add('cached_input', usage.cachedInput, r.cachedInput ?? r.input);
    add('image_input', usage.imageInput, r.imageInput ?? r.input);
    add('audio_input', usage.audioInput, r.audioInput ?? r.input);
    add('text_output', usage.textOutput, r.output);
    add('reasoning_output', usage.reasoningOutput, r.reasoningOutput ?? r.output);
    add('image_output', usage.imageOutput, r.imageOutput ?? r.output);
  }
  // A model priced both ways (gpt-image: image tokens, and a per-image table) is billed by the tokens the
  // upstream reports; the per-image price applies only when it reports none. Never both.
  const reportedTokens = usage.textInput + usage.cachedInput + usage.imageInput + usage.audioInput + usage.textOutput + usage.reasoningOutput + usage.imageOutput;
  if (usage.images > 0 && !(price.tokens && reportedTokens > 0)) {
    const unit = price.perImage ? (perImagePrice(price.perImage, ctx) ?? maxPerImagePrice(price.perImage)) : undefined;
    add('images', usage.images, unit, 'per_image');
  }
  return { lines, totalMicros: lines.reduce((sum, l) => sum + l.costMicros, 0n) };
}

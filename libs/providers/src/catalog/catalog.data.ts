/**
 * Every model Switchyard serves, what it can do, and its list price.
 *
 * Amounts are integer micro-USD: per 1,000,000 tokens for token rates ($0.15 -> 150_000) and per image for
 * per-image tables ($0.04 -> 40_000). `date` is the day the figure was read from (or, where the source
 * says so, took effect on) the cited page. Figures marked "Unverified" could not be read from the
 * provider's own page in the stored copies available; they carry the best-documented figure and its
 * source, and billing should treat them as provisional until someone re-reads the provider's page.
 *
 * `deprecation` records a shutdown the provider has announced; `fallbacks` are same-provider models that
 * can serve every request the model serves on its route (the catalog check refuses any other), used where
 * the API has no per-request chain and, once a model's shutdown date has come, instead of the model.
 */
import type { Deprecation, ImagePriceTable, ModelCapabilities, ModelSpec } from './model-spec';

const OPENAI_PRICING = 'https://developers.openai.com/api/docs/pricing';
const GOOGLE_PRICING = 'https://ai.google.dev/gemini-api/docs/pricing';
const XAI_PRICING = 'https://docs.x.ai/developers/models';
const ANTHROPIC_PRICING = 'https://platform.claude.com/docs/en/about-claude/pricing';
const DEEPSEEK_PRICING = 'https://api-docs.deepseek.com/quick_start/pricing';
const QWEN_PRICING = 'https://www.alibabacloud.com/help/en/model-studio/models';
const MOONSHOT_PRICING = 'https://platform.kimi.ai/docs/pricing';
const MINIMAX_PRICING = 'https://platform.minimax.io/docs/guides/pricing-paygo';
const OPENAI_DEPRECATIONS = 'https://developers.openai.com/api/docs/deprecations';
const GOOGLE_DEPRECATIONS = 'https://ai.google.dev/gemini-api/docs/deprecations';

const NO_CAPABILITIES: ModelCapabilities = {
  chat: false,
  streaming: false,
  tools: false,
  vision: false,
  audioInput: false,
  jsonSchema: false,
  reasoning: false,
  webSearch: false,
  imageOutputViaChat: false,
  imagesEndpoint: false,
  imageEditing: false,
};

/**
 * A streaming chat model with tool calls. `webSearch` stays false everywhere: every upstream bills its
 * search tool per call on top of tokens, and no current per-call fee for OpenAI's Chat Completions search
 * models could be read from OpenAI's own page (the stored copies disagree: $25 or $10 per 1K calls in
 * 2026, $30-$50 by search context size in 2025), so the gateway refuses `web_search_options` rather than
 * serve searches it cannot bill.
 */
function chat(overrides: Partial<ModelCapabilities>): ModelCapabilities {
  return { ...NO_CAPABILITIES, chat: true, streaming: true, tools: true, ...overrides };
}

/**
 * An image model answering through chat as well: non-streaming only and without tools or
 * response_format, because the gateway's image-via-chat contract rejects those (seed 002).
 */
function imageViaChat(overrides: Partial<ModelCapabilities>): ModelCapabilities {
  return { ...NO_CAPABILITIES, chat: true, vision: true, imageOutputViaChat: true, imageEditing: true, ...overrides };
}

function imagesOnly(overrides: Partial<ModelCapabilities>): ModelCapabilities {
  return { ...NO_CAPABILITIES, imagesEndpoint: true, ...overrides };
}

/** One price for every quality and size. */
function flatPerImage(microUsd: number): ImagePriceTable {
  return { '*': { '*': microUsd } };
}

// ---------------------------------------------------------------------------------------------------------------
// Image sizes. Each list is what the gateway accepts in OpenAI's `size` field for that model; adapters
// translate to the upstream's own parameter (aspect ratio / image size) where the upstream has no `size`.

const GPT_IMAGE_SIZES = ['1024x1024', '1536x1024', '1024x1536', 'auto'];
const GPT_IMAGE_QUALITIES = ['low', 'medium', 'high', 'auto'];
// gpt-image-2 accepts any size with edges in multiples of 16 up to 3840px; the gateway offers the
// common ones so the worst-case reservation stays computable.
const GPT_IMAGE_2_SIZES = [
  '1024x1024',
  '1536x1024',
  '1024x1536',
  '2048x2048',
  '2048x1152',
  '1152x2048',
  '3840x2160',
  '2160x3840',
  'auto',
];
// Imagen 4 renders these five aspect ratios (1:1, 3:4, 4:3, 9:16, 16:9); Standard and Ultra also at 2K.
const IMAGEN_1K_SIZES = ['1024x1024', '896x1280', '1280x896', '768x1408', '1408x768'];
const IMAGEN_2K_SIZES = ['2048x2048', '1792x2560', '2560x1792', '1536x2816', '2816x1536'];
// Gemini image models' 1K renderings per aspect ratio (1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9).
const GEMINI_IMAGE_SIZES = [
  '1024x1024',
  '832x1248',
  '1248x832',
  '864x1184',
  '1184x864',
  '896x1152',
  '1152x896',
  '768x1344',
  '1344x768',
  '1536x672',
];
// Gemini 3 image models also render 2K and 4K; the adapter reads the size class from the pixel count.
const GEMINI_3_IMAGE_SIZES = [...GEMINI_IMAGE_SIZES, '2048x2048', '4096x4096'];
// xAI takes `aspect_ratio` and `resolution` (1k/2k) instead of `size`; these are the OpenAI-style
// sizes the adapter maps onto them.
const GROK_IMAGE_SIZES = [
  '1024x1024',
  '2048x2048',
  '1280x720',
  '720x1280',
  '1024x768',
  '768x1024',
  '1536x1024',
  '1024x1536',
  '2048x1024',
  '1024x2048',
];

// ---------------------------------------------------------------------------------------------------------------
// OpenAI. Shutdown dates and replacements from OpenAI's deprecations page as quoted on 2026-10-15 and
// 2026-10-28 (dev.to "Every OpenAI model shutdown date until January 2027" and "OpenAI API deprecations
// 2026-2027", the latter checked against the `shutdown_date` of GET /v1/models) and as transcribed on
// 2026-08-27 (api-evangelist/openai lifecycle/openai-lifecycle.yml).

/** gpt-3.5-turbo, gpt-4, o1 were announced on 2026-04-22 for 2026-10-23; these models share that date. */
const OPENAI_OCTOBER_2026: Deprecation = { announced: '2026-04-22', shutdown: '2026-10-23', source: OPENAI_DEPRECATIONS };
const OPENAI_GPT_IMAGE_1X: Deprecation = {
  announced: '2026-06-02',
  shutdown: '2026-12-01',
  replacement: 'gpt-image-2.5-sunburst or gpt-image-2.5-flare',
  source: OPENAI_DEPRECATIONS,
};
const OPENAI_GPT_5_O3: Deprecation = { announced: '2026-06-11', shutdown: '2026-12-11', replacement: 'gpt-5.6-sol', source: OPENAI_DEPRECATIONS };
const OPENAI_GPT_4O_41: Deprecation = { announced: '2026-10-14', shutdown: '2027-01-14', replacement: 'gpt-6-luna', source: OPENAI_DEPRECATIONS };

const OPENAI_IMAGE_MODELS: ModelSpec[] = [
  {
    id: 'openai/gpt-image-1',
    provider: 'openai',
    upstreamId: 'gpt-image-1',
    aliases: ['gpt-image-1'],
    // Shut down on 2026-10-23 with the OpenAI October batch (successor named on its model page:
    // GPT-Image-2.5). Kept because the public contract names it; its calls go to gpt-image-2.
    deprecation: { ...OPENAI_OCTOBER_2026, replacement: 'GPT-Image-2.5' },
    fallbacks: ['openai/gpt-image-2'],
    capabilities: imageViaChat({
      imagesEndpoint: true,
      sizes: GPT_IMAGE_SIZES,
      qualities: GPT_IMAGE_QUALITIES,
      maxN: 10,
    }),
    price: {
      // gpt-image-1 produces no text, so its output tokens are all image tokens.
      tokens: {
        input: 5_000_000,
        cachedInput: 1_250_000,
        imageInput: 10_000_000,
        output: 40_000_000,
        imageOutput: 40_000_000,
      },
      perImage: {
        low: { '1024x1024': 11_000, '1024x1536': 16_000, '1536x1024': 16_000 },
        medium: { '1024x1024': 42_000, '1024x1536': 63_000, '1536x1024': 63_000 },
        high: { '1024x1024': 167_000, '1024x1536': 250_000, '1536x1024': 250_000 },
      },
      source: 'https://developers.openai.com/api/docs/models/gpt-image-1',
      date: '2026-11-20',
    },
  },
  {
    id: 'openai/gpt-image-1-mini',
    provider: 'openai',
    upstreamId: 'gpt-image-1-mini',
    aliases: ['gpt-image-1-mini'],
    deprecation: OPENAI_GPT_IMAGE_1X,
    fallbacks: ['openai/gpt-image-2'],
    capabilities: imageViaChat({
      imagesEndpoint: true,
      sizes: GPT_IMAGE_SIZES,
      qualities: GPT_IMAGE_QUALITIES,
      maxN: 10,
    }),
    price: {
      tokens: {
        input: 2_000_000,
        cachedInput: 200_000,
        imageInput: 2_500_000,
        output: 8_000_000,
        imageOutput: 8_000_000,
      },
      perImage: {
        low: { '1024x1024': 5_000, '1024x1536': 6_000, '1536x1024': 6_000 },
        medium: { '1024x1024': 11_000, '1024x1536': 15_000, '1536x1024': 15_000 },
        high: { '1024x1024': 36_000, '1024x1536': 52_000, '1536x1024': 52_000 },
      },
      source: 'https://developers.openai.com/api/docs/models/gpt-image-1-mini',
      date: '2026-11-20',
    },
  },
  {
    id: 'openai/gpt-image-1.5',
    provider: 'openai',
    upstreamId: 'gpt-image-1.5',
    aliases: ['gpt-image-1.5'],
    deprecation: OPENAI_GPT_IMAGE_1X,
    fallbacks: ['openai/gpt-image-2'],
    capabilities: imageViaChat({
      imagesEndpoint: true,
      sizes: GPT_IMAGE_SIZES,
      qualities: GPT_IMAGE_QUALITIES,
      maxN: 10,
    }),
    price: {
      // Unverified: OpenAI's own page for gpt-image-1.5 was not in the stored copies (searched 2026-11-21:
      // "OpenAI API pricing gpt-image-1.5", "developers.openai.com api docs models gpt-image-1.5"; only
      // resellers answered). Text $5 / cached $1.25 / text output $10 and image $8 in / $32 out as quoted
      // from OpenAI's pricing page by llmreference.com (refreshed 2026-05-10) and docs.apiyi.com; the
      // per-image table matches aifreeapi.com (2026-03-23) and fal.ai's gpt-image-1.5 page.
      tokens: {
        input: 5_000_000,
        cachedInput: 1_250_000,
        imageInput: 8_000_000,
        output: 10_000_000,
        imageOutput: 32_000_000,
      },
      perImage: {
        low: { '1024x1024': 9_000, '1024x1536': 13_000, '1536x1024': 13_000 },
        medium: { '1024x1024': 34_000, '1024x1536': 50_000, '1536x1024': 50_000 },
        high: { '1024x1024': 133_000, '1024x1536': 200_000, '1536x1024': 200_000 },
      },
      source: OPENAI_PRICING,
      date: '2026-05-10',
    },
  },
  {
    id: 'openai/gpt-image-2',
    provider: 'openai',
    upstreamId: 'gpt-image-2',
    aliases: ['gpt-image-2'],
    capabilities: imageViaChat({
      imagesEndpoint: true,
      sizes: GPT_IMAGE_2_SIZES,
      qualities: GPT_IMAGE_QUALITIES,
      maxN: 10,
    }),
    price: {
      // Token rates as read from OpenAI's pricing page on 2026-04-28 (chatgptimages.app; the same figures on
      // robotsatlas.com and vercel.com). OpenAI publishes per-image figures for gpt-image-2 only as
      // estimates, so the table below is documentation: 1024x1024 and 1024x1536 only, because those are the
      // only sizes with a published estimate.
      tokens: {
        input: 5_000_000,
        cachedInput: 1_250_000,
        imageInput: 8_000_000,
        output: 10_000_000,
        imageOutput: 30_000_000,
      },
      perImage: {
        low: { '1024x1024': 6_000, '1024x1536': 5_000 },
        medium: { '1024x1024': 53_000, '1024x1536': 41_000 },
        high: { '1024x1024': 211_000, '1024x1536': 165_000 },
      },
      source: OPENAI_PRICING,
      date: '2026-04-28',
    },
  },
];

/** OpenAI's long-context rule (GPT-5.4 and later): above 272K input tokens, 2x input and 1.5x output. */
function openAiLongContext(input: number, cachedInput: number, output: number) {
  return [{ thresholdTokens: 272_000, input: input * 2, cachedInput: cachedInput * 2, output: (output * 3) / 2 }];
}

const OPENAI_CHAT_MODELS: ModelSpec[] = [
  {
    id: 'openai/gpt-4o-mini',
    provider: 'openai',
    upstreamId: 'gpt-4o-mini',
    aliases: ['gpt-4o-mini'],
    capabilities: chat({ vision: true, jsonSchema: true, contextWindow: 128_000, maxOutputTokens: 16_384 }),
    deprecation: OPENAI_GPT_4O_41,
    fallbacks: ['openai/gpt-4.1-mini'],
    // Still on OpenAI's page on 2026-11-05 (api-evangelist.com, "OpenAI API Pricing", 2026-11-06).
    price: {
      tokens: { input: 150_000, cachedInput: 75_000, output: 600_000 },
      source: OPENAI_PRICING,
      date: '2026-11-05',
    },
  },
  {
    id: 'openai/gpt-4o',
    provider: 'openai',
    upstreamId: 'gpt-4o',
    aliases: ['gpt-4o'],
    capabilities: chat({ vision: true, jsonSchema: true, contextWindow: 128_000, maxOutputTokens: 16_384 }),
    deprecation: OPENAI_GPT_4O_41,
    fallbacks: ['openai/gpt-4.1'],
    // Unverified: morphllm.com reported gpt-4o gone from OpenAI's pricing page in June 2026; these are its
    // last published rates (aimodelcalc.pages.dev, read from OpenAI's page in May 2026). OpenAI's
    // deprecations page still lists it (shutdown 2027-01-14), so it is still served; the rates were not
    // found on an OpenAI page in the stored copies (searched 2026-11-21: "developers.openai.com api docs
    // models gpt-4o", "OpenAI API pricing November 2026").
    price: {
      tokens: { input: 2_500_000, cachedInput: 1_250_000, output: 10_000_000 },
      source: OPENAI_PRICING,
      date: '2026-05-01',
    },
  },
  {
    id: 'openai/gpt-4.1',
    provider: 'openai',
    upstreamId: 'gpt-4.1',
    aliases: ['gpt-4.1'],
    capabilities: chat({ vision: true, jsonSchema: true, contextWindow: 1_047_576, maxOutputTokens: 32_768 }),
    deprecation: OPENAI_GPT_4O_41,
    fallbacks: ['openai/gpt-4.1-mini'],
    price: {
      tokens: { input: 2_000_000, cachedInput: 500_000, output: 8_000_000 },
      source: OPENAI_PRICING,
      date: '2026-11-05',
    },
  },
  {
    id: 'openai/gpt-4.1-mini',
    provider: 'openai',
    upstreamId: 'gpt-4.1-mini',
    aliases: ['gpt-4.1-mini'],
    capabilities: chat({ vision: true, jsonSchema: true, contextWindow: 1_047_576, maxOutputTokens: 32_768 }),
    deprecation: OPENAI_GPT_4O_41,
    // Unverified on the current page; OpenAI's published GPT-4.1 mini rates (t3dotgg model-cost list; the
    // same $0.40 / $0.10 / $1.60 on Vercel's AI Gateway page). Searched 2026-11-21: "GPT-4.1 mini model
    // page Pricing Text tokens"; OpenAI's own model page was not among the stored copies.
    price: {
      tokens: { input: 400_000, cachedInput: 100_000, output: 1_600_000 },
      source: OPENAI_PRICING,
      date: '2026-04-30',
    },
  },
  {
    id: 'openai/gpt-4.1-nano',
    provider: 'openai',
    upstreamId: 'gpt-4.1-nano',
    aliases: ['gpt-4.1-nano'],
    capabilities: chat({ vision: true, jsonSchema: true, contextWindow: 1_047_576, maxOutputTokens: 32_768 }),
    // Shut down on 2026-10-23; no OpenAI model in the catalog has its context window, so it has no fallback.
    deprecation: OPENAI_OCTOBER_2026,
    // Unverified on the current page, as gpt-4.1-mini; the model is past its shutdown date.
    price: {
      tokens: { input: 100_000, cachedInput: 25_000, output: 400_000 },
      source: OPENAI_PRICING,
      date: '2026-04-30',
    },
  },
  {
    id: 'openai/gpt-5',
    provider: 'openai',
    upstreamId: 'gpt-5',
    aliases: ['gpt-5'],
    deprecation: OPENAI_GPT_5_O3,
    fallbacks: ['openai/gpt-5.6-sol'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 400_000,
      maxOutputTokens: 128_000,
    }),
    // OpenAI states no plans to deprecate GPT-5 (benchlm.ai, 2026-04-13, from OpenAI's page).
    price: {
      tokens: { input: 1_250_000, cachedInput: 125_000, output: 10_000_000 },
      source: OPENAI_PRICING,
      date: '2026-04-13',
    },
  },
  {
    id: 'openai/gpt-5-mini',
    provider: 'openai',
    upstreamId: 'gpt-5-mini',
    aliases: ['gpt-5-mini'],
    deprecation: OPENAI_GPT_5_O3,
    fallbacks: ['openai/gpt-5.4-mini'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 400_000,
      maxOutputTokens: 128_000,
    }),
    // GitHub's published per-token table (github/docs models-and-pricing.yml) quoting OpenAI.
    price: {
      tokens: { input: 250_000, cachedInput: 25_000, output: 2_000_000 },
      source: OPENAI_PRICING,
      date: '2026-04-13',
    },
  },
  {
    id: 'openai/gpt-5.4',
    provider: 'openai',
    upstreamId: 'gpt-5.4',
    aliases: ['gpt-5.4'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 1_050_000,
      maxOutputTokens: 128_000,
    }),
    price: {
      tokens: {
        input: 2_500_000,
        cachedInput: 250_000,
        output: 15_000_000,
        longContext: openAiLongContext(2_500_000, 250_000, 15_000_000),
      },
      source: OPENAI_PRICING,
      date: '2026-05-04',
    },
  },
  {
    id: 'openai/gpt-5.4-mini',
    provider: 'openai',
    upstreamId: 'gpt-5.4-mini',
    aliases: ['gpt-5.4-mini'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 400_000,
      maxOutputTokens: 128_000,
    }),
    price: {
      tokens: { input: 750_000, cachedInput: 75_000, output: 4_500_000 },
      source: OPENAI_PRICING,
      date: '2026-05-04',
    },
  },
  {
    id: 'openai/gpt-5.4-nano',
    provider: 'openai',
    upstreamId: 'gpt-5.4-nano',
    aliases: ['gpt-5.4-nano'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 400_000,
      maxOutputTokens: 128_000,
    }),
    price: {
      tokens: { input: 200_000, cachedInput: 20_000, output: 1_250_000 },
      source: OPENAI_PRICING,
      date: '2026-05-04',
    },
  },
  {
    id: 'openai/gpt-5.5',
    provider: 'openai',
    upstreamId: 'gpt-5.5',
    aliases: ['gpt-5.5'],
    fallbacks: ['openai/gpt-5.4'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 1_050_000,
      maxOutputTokens: 128_000,
    }),
    // Unverified: whether the 272K long-context surcharge applies to gpt-5.5 was not found; billed flat.
    // Searched 2026-11-21: "developers.openai.com Compare models gpt-5.5 Pricing"; only resellers answered.
    price: {
      tokens: { input: 5_000_000, cachedInput: 500_000, output: 30_000_000 },
      source: OPENAI_PRICING,
      date: '2026-05-04',
    },
  },
  {
    id: 'openai/gpt-5.6-sol',
    provider: 'openai',
    upstreamId: 'gpt-5.6-sol',
    aliases: ['gpt-5.6-sol'],
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 1_050_000 }),
    fallbacks: ['openai/gpt-5.6-terra'],
    // OpenAI's changelog entry of 2026-08-21 "GPT-5.6 Sol pricing update": $4 input / $20 output per 1M,
    // "reduced through at least 2026-11-21" (transcribed from developers.openai.com/changelog on 2026-08-27,
    // api-evangelist/openai changelog/openai-changelog.yml). Unverified: the $0.40 cached rate (docs.apiyi.com
    // lists it beside $4 / $20) and what applies after 2026-11-21; the 272K rule as for the family.
    price: {
      tokens: {
        input: 4_000_000,
        cachedInput: 400_000,
        output: 20_000_000,
        longContext: openAiLongContext(4_000_000, 400_000, 20_000_000),
      },
      source: 'https://developers.openai.com/changelog/',
      date: '2026-08-21',
    },
  },
  {
    id: 'openai/gpt-5.6-terra',
    provider: 'openai',
    upstreamId: 'gpt-5.6-terra',
    aliases: ['gpt-5.6-terra'],
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 1_050_000 }),
    fallbacks: ['openai/gpt-5.6-luna'],
    // The 20% cut of 2026-07-30 is on OpenAI's changelog (as transcribed 2026-08-27); the resulting figures
    // are docs.laozhang.ai's and PromptFuel v1.0.19's. Unverified: the figures on OpenAI's own page.
    price: {
      tokens: {
        input: 2_000_000,
        cachedInput: 200_000,
        output: 12_000_000,
        longContext: openAiLongContext(2_000_000, 200_000, 12_000_000),
      },
      source: OPENAI_PRICING,
      date: '2026-07-30',
    },
  },
  {
    id: 'openai/gpt-5.6-luna',
    provider: 'openai',
    upstreamId: 'gpt-5.6-luna',
    aliases: ['gpt-5.6-luna'],
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 1_050_000 }),
    // The 80% cut of 2026-07-30 is on OpenAI's changelog (as transcribed 2026-08-27); the resulting figures
    // are docs.laozhang.ai's and PromptFuel v1.0.19's. Unverified: the figures on OpenAI's own page.
    price: {
      tokens: {
        input: 200_000,
        cachedInput: 20_000,
        output: 1_200_000,
        longContext: openAiLongContext(200_000, 20_000, 1_200_000),
      },
      source: OPENAI_PRICING,
      date: '2026-07-30',
    },
  },
  {
    id: 'openai/gpt-6-astra',
    provider: 'openai',
    upstreamId: 'gpt-6-astra',
    aliases: ['gpt-6-astra'],
    fallbacks: ['openai/gpt-5.6-sol'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 1_050_000,
      maxOutputTokens: 128_000,
    }),
    // $10 in / $1 cached / $50 out and $12.50 cache writes, window 1,050,000, 128K output, as read on
    // OpenAI's compare page (stored copy of developers.openai.com/api/docs/models/compare, 2026-11-21);
    // effective 2026-09-03 (PromptFuel v1.0.19). OpenAI's chat usage reports no cache writes apart, so they
    // reach billing as plain input. Unverified: the rates above 272K input tokens, which the stored copies
    // did not give, so long prompts are billed flat until they are read.
    price: {
      tokens: { input: 10_000_000, cachedInput: 1_000_000, cacheWrite: 12_500_000, output: 50_000_000 },
      source: 'https://developers.openai.com/api/docs/models/compare',
      date: '2026-09-03',
    },
  },
  {
    id: 'openai/o3',
    provider: 'openai',
    upstreamId: 'o3',
    aliases: ['o3'],
    deprecation: OPENAI_GPT_5_O3,
    fallbacks: ['openai/gpt-5.6-sol'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
    }),
    // The rates after OpenAI's 2025 price cut, verified 2026-04-06 (calcis.dev).
    price: {
      tokens: { input: 2_000_000, cachedInput: 500_000, output: 8_000_000 },
      source: OPENAI_PRICING,
      date: '2026-04-06',
    },
  },
  {
    id: 'openai/o4-mini',
    provider: 'openai',
    upstreamId: 'o4-mini',
    aliases: ['o4-mini'],
    deprecation: { ...OPENAI_OCTOBER_2026, replacement: 'gpt-5.6-terra' },
    fallbacks: ['openai/gpt-5.6-terra'],
    capabilities: chat({
      vision: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
    }),
    // The launch rates (OpenAI's o4-mini model page, via RooCodeInc/Roo-Code PR 2691); OpenAI's own
    // codex-mini-latest page (stored copy, de-DE) still compares against o4-mini at $1.10 input.
    // Unverified: the cached and output rates on a current OpenAI page. Past its shutdown date.
    price: {
      tokens: { input: 1_100_000, cachedInput: 275_000, output: 4_400_000 },
      source: OPENAI_PRICING,
      date: '2025-04-17',
    },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Google (Gemini Developer API). Bare Gemini and Imagen names resolve without the `google/` prefix; the
// catalog derives those names, so they are not repeated as aliases here.
//
// Google's deprecations page lists "earliest" shutdown dates. For the Gemini 2.5 text models they are
// June/July 2026, yet Google's pricing page still billed them on 2026-10-07 and Firebase's page says
// "Gemini 2.5 models will shut down in October 2026", so those rows record the announcement without a
// date. The date is recorded where Google's pages agree (Imagen, the image models).

/** Listed on Google's deprecations page by 2026-04-18 (nekro.cloud's copy of the notice). */
const GEMINI_2_5_NOTICE = '2026-04-18';

const GOOGLE_CHAT_MODELS: ModelSpec[] = [
  {
    id: 'google/gemini-2.5-flash',
    provider: 'google',
    upstreamId: 'gemini-2.5-flash',
    aliases: [],
    deprecation: { announced: GEMINI_2_5_NOTICE, replacement: 'gemini-3-flash-preview', source: GOOGLE_DEPRECATIONS },
    fallbacks: ['google/gemini-2.5-flash-lite'],
    capabilities: chat({
      vision: true,
      audioInput: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 1_048_576,
      maxOutputTokens: 65_536,
    }),
    // Input $0.30 (text/image/video) and audio $1.00 as transcribed from Google's page on 2026-10-07
    // (api-evangelist/deepmind plans). Unverified: output $2.50 (thinking included), Google's GA rate; the
    // transcript did not carry it, nor did the 2026-09-20 one (api-evangelist/gemini plans); searched
    // 2026-11-21: "ai.google.dev gemini-api docs pricing Gemini 2.5 Flash output". No cached rate was found,
    // so cached input is billed at the input rate.
    price: {
      tokens: { input: 300_000, audioInput: 1_000_000, output: 2_500_000 },
      source: GOOGLE_PRICING,
      date: '2026-10-07',
    },
  },
  {
    id: 'google/gemini-2.5-flash-lite',
    provider: 'google',
    upstreamId: 'gemini-2.5-flash-lite',
    aliases: [],
    deprecation: { announced: GEMINI_2_5_NOTICE, replacement: 'gemini-3.1-flash-lite-preview', source: GOOGLE_DEPRECATIONS },
    capabilities: chat({
      vision: true,
      audioInput: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 1_048_576,
      maxOutputTokens: 65_536,
    }),
    // Output $0.40 as transcribed on 2026-10-07. Unverified: input $0.10 and audio $0.30, Google's GA rates
    // (not in the 2026-09-20 or 2026-10-07 transcripts; searched 2026-11-21 as for Gemini 2.5 Flash).
    // No cached rate was found, so cached input is billed at the input rate.
    price: {
      tokens: { input: 100_000, audioInput: 300_000, output: 400_000 },
      source: GOOGLE_PRICING,
      date: '2026-10-07',
    },
  },
  {
    id: 'google/gemini-2.5-pro',
    provider: 'google',
    upstreamId: 'gemini-2.5-pro',
    aliases: [],
    deprecation: { announced: GEMINI_2_5_NOTICE, replacement: 'gemini-3.1-pro-preview', source: GOOGLE_DEPRECATIONS },
    fallbacks: ['google/gemini-2.5-flash'],
    capabilities: chat({
      vision: true,
      audioInput: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 1_048_576,
      maxOutputTokens: 65_536,
    }),
    // Input $1.25 / $2.50 above 200K as transcribed on 2026-10-07; output $10 / $15 from the gemini-cost
    // crate's table of Google's page. No cached rate was found, so cached input is billed at the input rate.
    price: {
      tokens: {
        input: 1_250_000,
        output: 10_000_000,
        longContext: [{ thresholdTokens: 200_000, input: 2_500_000, output: 15_000_000 }],
      },
      source: GOOGLE_PRICING,
      date: '2026-10-07',
    },
  },
  {
    id: 'google/gemini-3.1-pro-preview',
    provider: 'google',
    upstreamId: 'gemini-3.1-pro-preview',
    aliases: [],
    fallbacks: ['google/gemini-3.5-flash'],
    capabilities: chat({
      vision: true,
      audioInput: true,
      jsonSchema: true,
      reasoning: true,
      contextWindow: 1_048_576,
      maxOutputTokens: 65_536,
    }),
    // Input $2 / $4 and output $12 / $18 (prompts above 200K) as transcribed on 2026-10-07. No cached rate
    // was found, so cached input is billed at the input rate.
    price: {
      tokens: {
        input: 2_000_000,
        output: 12_000_000,
        longContext: [{ thresholdTokens: 200_000, input: 4_000_000, output: 18_000_000 }],
      },
      source: GOOGLE_PRICING,
      date: '2026-10-07',
    },
  },
  {
    id: 'google/gemini-3.5-flash',
    provider: 'google',
    upstreamId: 'gemini-3.5-flash',
    aliases: [],
    fallbacks: ['google/gemini-3.5-flash-lite'],
    capabilities: chat({ vision: true, audioInput: true, jsonSchema: true, reasoning: true }),
    // $1.50 in / $9.00 out as transcribed on 2026-10-07. No cached rate was transcribed, so cached input is
    // billed at the input rate.
    price: {
      tokens: { input: 1_500_000, output: 9_000_000 },
      source: GOOGLE_PRICING,
      date: '2026-10-07',
    },
  },
  {
    id: 'google/gemini-3.5-flash-lite',
    provider: 'google',
    upstreamId: 'gemini-3.5-flash-lite',
    aliases: [],
    capabilities: chat({ vision: true, audioInput: true, jsonSchema: true, reasoning: true }),
    // $0.30 in (text/image/video/audio) / $2.50 out as transcribed on 2026-10-07.
    price: {
      tokens: { input: 300_000, output: 2_500_000 },
      source: GOOGLE_PRICING,
      date: '2026-10-07',
    },
  },
];

const IMAGEN_4_SHUTDOWN: Deprecation = {
  announced: GEMINI_2_5_NOTICE,
  shutdown: '2026-08-17',
  replacement: 'gemini-3.1-flash-image',
  source: 'https://firebase.google.com/docs/ai-logic/imagen-models-migration',
};

const GOOGLE_IMAGE_MODELS: ModelSpec[] = [
  {
    id: 'google/gemini-2.5-flash-image',
    provider: 'google',
    upstreamId: 'gemini-2.5-flash-image',
    aliases: [],
    // Shut down on 2026-10-02 (Google's deprecations page, which names no replacement; Firebase's notes
    // agree on October 2026). Kept because the public contract names it; its calls go to the Gemini 3.1
    // Flash image model.
    deprecation: { announced: GEMINI_2_5_NOTICE, shutdown: '2026-10-02', source: GOOGLE_DEPRECATIONS },
    fallbacks: ['google/gemini-3.1-flash-image-preview'],
    capabilities: imageViaChat({ sizes: GEMINI_IMAGE_SIZES, qualities: ['auto'], maxN: 1 }),
    // $30 per 1M image output tokens, 1290 tokens per image up to 1024x1024 = $0.039 (Google's page via the
    // Gemini API forum thread that retrieved it). Unverified: text output, billed at Gemini 2.5 Flash's $2.50
    // (the 2026-09-20 and 2026-10-07 transcripts of Google's page carry no row for this model).
    price: {
      tokens: { input: 300_000, output: 2_500_000, imageOutput: 30_000_000 },
      perImage: flatPerImage(39_000),
      source: GOOGLE_PRICING,
      date: '2026-03-22',
    },
  },
  {
    id: 'google/gemini-3-pro-image-preview',
    provider: 'google',
    upstreamId: 'gemini-3-pro-image-preview',
    aliases: [],
    // Google's deprecations page: shut down on 2026-06-25, replaced by the GA `gemini-3-pro-image` released
    // (and the shutdown announced) on 2026-05-28; the GA model is not in this catalog yet (no verified
    // price). Kept because the public contract names it.
    deprecation: { announced: '2026-05-28', shutdown: '2026-06-25', replacement: 'gemini-3-pro-image', source: GOOGLE_DEPRECATIONS },
    fallbacks: ['google/gemini-3.1-flash-image-preview'],
    // Qualities are Gemini's output image sizes; 1K and 2K cost the same.
    capabilities: imageViaChat({ sizes: GEMINI_3_IMAGE_SIZES, qualities: ['1K', '2K', '4K'], maxN: 1 }),
    // Image output $120 per 1M tokens ($0.134 per 1K/2K image, $0.24 per 4K) as transcribed on 2026-09-20.
    // Input $2 / text output $12 as for Gemini 3 Pro (Unverified for the image model: the 2026-09-20 and
    // 2026-10-07 transcripts of Google's page carry only its image-output rate).
    price: {
      tokens: { input: 2_000_000, output: 12_000_000, imageOutput: 120_000_000 },
      perImage: { '1K': { '*': 134_000 }, '2K': { '*': 134_000 }, '4K': { '*': 240_000 } },
      source: GOOGLE_PRICING,
      date: '2026-09-20',
    },
  },
  {
    id: 'google/gemini-3.1-flash-image-preview',
    provider: 'google',
    upstreamId: 'gemini-3.1-flash-image-preview',
    aliases: [],
    // Google's deprecations page: shut down on 2026-06-25, replaced by the GA `gemini-3.1-flash-image`
    // released on 2026-05-28 (not in this catalog yet: no verified price). Kept because the public contract
    // names it.
    deprecation: { announced: '2026-05-28', shutdown: '2026-06-25', replacement: 'gemini-3.1-flash-image', source: GOOGLE_DEPRECATIONS },
    capabilities: imageViaChat({
      sizes: ['512x512', ...GEMINI_3_IMAGE_SIZES],
      qualities: ['0.5K', '1K', '2K', '4K'],
      maxN: 1,
      contextWindow: 65_536,
      maxOutputTokens: 32_768,
    }),
    // Image output $60 per 1M tokens, $0.045 / $0.067 / $0.101 / $0.151 per 0.5K / 1K / 2K / 4K image
    // (aifreeapi.com, 2026-03-22, from Google's page). Unverified: Google's API docs and AI Studio disagree
    // on input and text output ($0.25 / $1.50 against $0.50 / $3.00); the higher pair is used so no request
    // is billed below list price.
    price: {
      tokens: { input: 500_000, output: 3_000_000, imageOutput: 60_000_000 },
      perImage: {
        '0.5K': { '*': 45_000 },
        '1K': { '*': 67_000 },
        '2K': { '*': 101_000 },
        '4K': { '*': 151_000 },
      },
      source: GOOGLE_PRICING,
      date: '2026-03-22',
    },
  },
  // Imagen 4 on the Gemini API is billed per image. All three shut down on 2026-08-17, "across Google and
  // for both the Gemini Developer API and Agent Platform Gemini API" (Firebase's migration guide, Google's
  // page; earlier notices said June 2026); the recommended replacements are Gemini image models on the chat
  // route, so on the images endpoint each falls back only to another Imagen tier. Kept because the public
  // contract names them.
  {
    id: 'google/imagen-4.0-fast-generate-001',
    provider: 'google',
    upstreamId: 'imagen-4.0-fast-generate-001',
    aliases: [],
    deprecation: IMAGEN_4_SHUTDOWN,
    fallbacks: ['google/imagen-4.0-generate-001'],
    capabilities: imagesOnly({ sizes: IMAGEN_1K_SIZES, qualities: ['standard'], maxN: 4 }),
    price: { perImage: flatPerImage(20_000), source: GOOGLE_PRICING, date: '2026-06-17' },
  },
  {
    id: 'google/imagen-4.0-generate-001',
    provider: 'google',
    upstreamId: 'imagen-4.0-generate-001',
    aliases: [],
    deprecation: IMAGEN_4_SHUTDOWN,
    capabilities: imagesOnly({ sizes: [...IMAGEN_1K_SIZES, ...IMAGEN_2K_SIZES], qualities: ['standard'], maxN: 4 }),
    price: { perImage: flatPerImage(40_000), source: GOOGLE_PRICING, date: '2026-06-17' },
  },
  {
    id: 'google/imagen-4.0-ultra-generate-001',
    provider: 'google',
    upstreamId: 'imagen-4.0-ultra-generate-001',
    aliases: [],
    deprecation: { ...IMAGEN_4_SHUTDOWN, replacement: 'gemini-3-pro-image' },
    fallbacks: ['google/imagen-4.0-generate-001'],
    // Ultra renders one image per request.
    capabilities: imagesOnly({ sizes: [...IMAGEN_1K_SIZES, ...IMAGEN_2K_SIZES], qualities: ['standard'], maxN: 1 }),
    price: { perImage: flatPerImage(60_000), source: GOOGLE_PRICING, date: '2026-06-17' },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// xAI. Public ids use `grok/` as the public contract writes them; `xai/` is the provider's own prefix.

function xaiNames(model: string): string[] {
  return [`xai/${model}`, model];
}

const XAI_MODELS: ModelSpec[] = [
  {
    id: 'grok/grok-4.7',
    provider: 'xai',
    upstreamId: 'grok-4.7',
    aliases: xaiNames('grok-4.7'),
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 500_000 }),
    fallbacks: ['grok/grok-4-1-fast-reasoning'],
    // Released 2026-09-21 at Grok 4.6's price: $2 / $0.50 cached / $6, and $4 / $1 / $12 once the prompt
    // reaches 200K (apidog.com "How to use the Grok 4.7 API", 2026-09-29, from xAI's model page).
    price: {
      tokens: {
        input: 2_000_000,
        cachedInput: 500_000,
        output: 6_000_000,
        longContext: [{ thresholdTokens: 199_999, input: 4_000_000, cachedInput: 1_000_000, output: 12_000_000 }],
      },
      source: 'https://docs.x.ai/developers/models/grok-4.7',
      date: '2026-09-29',
    },
  },
  {
    id: 'grok/grok-4.3',
    provider: 'xai',
    upstreamId: 'grok-4.3',
    aliases: xaiNames('grok-4.3'),
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 1_000_000 }),
    fallbacks: ['grok/grok-4-1-fast-reasoning'],
    // xAI's model page: $1.25 / $0.20 cached / $2.50, and $2.50 / $0.40 / $5.00 for every token of a request
    // whose prompt reaches 200K.
    price: {
      tokens: {
        input: 1_250_000,
        cachedInput: 200_000,
        output: 2_500_000,
        longContext: [{ thresholdTokens: 199_999, input: 2_500_000, cachedInput: 400_000, output: 5_000_000 }],
      },
      source: 'https://docs.x.ai/developers/models/grok-4.3-latest',
      date: '2026-11-21',
    },
  },
  {
    id: 'grok/grok-4.20',
    provider: 'xai',
    upstreamId: 'grok-4.20',
    aliases: xaiNames('grok-4.20'),
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 1_000_000 }),
    fallbacks: ['grok/grok-4-1-fast-reasoning'],
    // docs.x.ai model page: the higher rate applies to every token of a request whose prompt reaches 200K.
    price: {
      tokens: {
        input: 1_250_000,
        cachedInput: 200_000,
        output: 2_500_000,
        longContext: [{ thresholdTokens: 199_999, input: 2_500_000, cachedInput: 400_000, output: 5_000_000 }],
      },
      source: 'https://docs.x.ai/developers/models/grok-4.20-0309',
      date: '2026-11-20',
    },
  },
  {
    id: 'grok/grok-4',
    provider: 'xai',
    upstreamId: 'grok-4',
    aliases: xaiNames('grok-4'),
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 256_000 }),
    fallbacks: ['grok/grok-4-1-fast-reasoning'],
    // $3 / $0.75 cached / $15; doubled once a request passes 128K tokens (wavespeed.ai, openrouter.ai).
    price: {
      tokens: {
        input: 3_000_000,
        cachedInput: 750_000,
        output: 15_000_000,
        longContext: [{ thresholdTokens: 128_000, input: 6_000_000, cachedInput: 1_500_000, output: 30_000_000 }],
      },
      source: XAI_PRICING,
      date: '2026-05-08',
    },
  },
  {
    id: 'grok/grok-4-1-fast-reasoning',
    provider: 'xai',
    upstreamId: 'grok-4-1-fast-reasoning',
    aliases: [...xaiNames('grok-4-1-fast-reasoning'), 'grok/grok-4-1-fast', 'xai/grok-4-1-fast', 'grok-4-1-fast'],
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 2_000_000 }),
    // $0.20 / $0.50 (skills.sh xai-models guide, bifrost calculator). No cached rate verified, so cached
    // input is billed at the input rate.
    price: { tokens: { input: 200_000, output: 500_000 }, source: XAI_PRICING, date: '2026-05-08' },
  },
  {
    id: 'grok/grok-4-1-fast-non-reasoning',
    provider: 'xai',
    upstreamId: 'grok-4-1-fast-non-reasoning',
    aliases: xaiNames('grok-4-1-fast-non-reasoning'),
    capabilities: chat({ vision: true, jsonSchema: true, contextWindow: 2_000_000 }),
    price: { tokens: { input: 200_000, output: 500_000 }, source: XAI_PRICING, date: '2026-05-08' },
  },
  {
    id: 'grok/grok-3-mini',
    provider: 'xai',
    upstreamId: 'grok-3-mini',
    aliases: xaiNames('grok-3-mini'),
    capabilities: chat({ jsonSchema: true, reasoning: true, contextWindow: 131_072 }),
    // $0.30 / $0.50 (skills.sh xai-models guide). No cached rate verified.
    price: { tokens: { input: 300_000, output: 500_000 }, source: XAI_PRICING, date: '2026-05-08' },
  },
  {
    id: 'grok/grok-imagine-image',
    provider: 'xai',
    upstreamId: 'grok-imagine-image',
    aliases: xaiNames('grok-imagine-image'),
    // xAI has no quality parameter and bills 1k and 2k alike; edits go through /v1/images/edits.
    capabilities: imagesOnly({ imageEditing: true, sizes: GROK_IMAGE_SIZES, qualities: ['auto'], maxN: 10 }),
    // $0.02 per image, "official price" (docs.crazyrouter.com; docs.laozhang.ai 2026-08-13).
    price: { perImage: flatPerImage(20_000), source: XAI_PRICING, date: '2026-08-13' },
  },
  {
    id: 'grok/grok-imagine-image-pro',
    provider: 'xai',
    // xAI retired the model behind the `-pro` name (BlockRun v0.55.5, 2026-11-05); its quality tier is now
    // `grok-imagine-image-quality`.
    upstreamId: 'grok-imagine-image-quality',
    aliases: [...xaiNames('grok-imagine-image-pro'), ...xaiNames('grok-imagine-image-quality'), 'grok/grok-imagine-image-quality'],
    // xAI retired grok-imagine-image-quality on 2026-11-02 (xAI's notice as relayed by CometAPI on
    // 2026-10-09; xAI's own page was not in the stored copies). Kept because the public contract names it;
    // its calls go to grok-imagine-image.
    deprecation: {
      announced: '2026-10-09',
      shutdown: '2026-11-02',
      replacement: 'grok-imagine-image-2.0',
      source: 'https://github.com/orgs/cometapi-dev/discussions/148',
    },
    fallbacks: ['grok/grok-imagine-image'],
    capabilities: imagesOnly({ imageEditing: true, sizes: GROK_IMAGE_SIZES, qualities: ['auto'], maxN: 10 }),
    // Unverified: resellers quote $0.045 (docs.laozhang.ai) and $0.05 (atlascloud.ai) per image; xAI's own
    // figure was not in the stored copies (searched 2026-11-21: "docs.x.ai models grok-imagine-image-quality
    // price per image"). The higher one is used so no image is billed below list price.
    price: { perImage: flatPerImage(50_000), source: XAI_PRICING, date: '2026-08-13' },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Anthropic. Public ids use dots (`claude-sonnet-4.6`) as the public contract writes them; the API's own
// ids use dashes (`claude-sonnet-4-6`) and are aliases. Cache writes are the 5-minute rate (1.25x input).

function anthropicNames(dotted: string, upstream: string): string[] {
  return [dotted, `anthropic/${upstream}`, upstream];
}

const ANTHROPIC_CAPABILITIES = { vision: true, jsonSchema: true, reasoning: true } as const;

const ANTHROPIC_MODELS: ModelSpec[] = [
  {
    id: 'anthropic/claude-sonnet-4.6',
    provider: 'anthropic',
    upstreamId: 'claude-sonnet-4-6',
    aliases: anthropicNames('claude-sonnet-4.6', 'claude-sonnet-4-6'),
    capabilities: chat({ ...ANTHROPIC_CAPABILITIES, contextWindow: 1_000_000, maxOutputTokens: 64_000 }),
    fallbacks: ['anthropic/claude-haiku-5.5'],
    // Above 200K input tokens Sonnet 4.6 bills $6 / $22.50 (api-evangelist/anthropic plans, 2026-05-22).
    // Unverified: cache reads and writes above 200K, which stay at the standard cache rates here (not
    // searched again this round; Anthropic's page was not among the stored copies last time).
    price: {
      tokens: {
        input: 3_000_000,
        cachedInput: 300_000,
        cacheWrite: 3_750_000,
        output: 15_000_000,
        longContext: [{ thresholdTokens: 200_000, input: 6_000_000, output: 22_500_000 }],
      },
      source: ANTHROPIC_PRICING,
      date: '2026-05-22',
    },
  },
  {
    id: 'anthropic/claude-opus-4.7',
    provider: 'anthropic',
    upstreamId: 'claude-opus-4-7',
    aliases: anthropicNames('claude-opus-4.7', 'claude-opus-4-7'),
    capabilities: chat({ ...ANTHROPIC_CAPABILITIES, contextWindow: 1_000_000, maxOutputTokens: 128_000 }),
    fallbacks: ['anthropic/claude-sonnet-4.6'],
    price: {
      tokens: { input: 5_000_000, cachedInput: 500_000, cacheWrite: 6_250_000, output: 25_000_000 },
      source: ANTHROPIC_PRICING,
      date: '2026-11-20',
    },
  },
  {
    id: 'anthropic/claude-haiku-4.5',
    provider: 'anthropic',
    upstreamId: 'claude-haiku-4-5',
    aliases: anthropicNames('claude-haiku-4.5', 'claude-haiku-4-5'),
    capabilities: chat({ ...ANTHROPIC_CAPABILITIES, contextWindow: 200_000, maxOutputTokens: 64_000 }),
    price: {
      tokens: { input: 1_000_000, cachedInput: 100_000, cacheWrite: 1_250_000, output: 5_000_000 },
      source: ANTHROPIC_PRICING,
      date: '2026-11-20',
    },
  },
  {
    id: 'anthropic/claude-opus-5',
    provider: 'anthropic',
    upstreamId: 'claude-opus-5',
    aliases: ['claude-opus-5'],
    capabilities: chat({ ...ANTHROPIC_CAPABILITIES }),
    fallbacks: ['anthropic/claude-sonnet-5.5'],
    price: {
      tokens: { input: 5_000_000, cachedInput: 500_000, cacheWrite: 6_250_000, output: 25_000_000 },
      source: ANTHROPIC_PRICING,
      date: '2026-11-20',
    },
  },
  {
    id: 'anthropic/claude-sonnet-5.5',
    provider: 'anthropic',
    upstreamId: 'claude-sonnet-5-5',
    aliases: anthropicNames('claude-sonnet-5.5', 'claude-sonnet-5-5'),
    capabilities: chat({ ...ANTHROPIC_CAPABILITIES }),
    fallbacks: ['anthropic/claude-haiku-5.5'],
    // $2 / $10; cache reads cut from $0.20 to $0.10 on 2026-10-07 (claudit v1.9.2 and PromptFuel v1.0.23,
    // both re-read against Anthropic's page 2026-10-24). Cache write at the usual 1.25x input.
    price: {
      tokens: { input: 2_000_000, cachedInput: 100_000, cacheWrite: 2_500_000, output: 10_000_000 },
      source: ANTHROPIC_PRICING,
      date: '2026-10-07',
    },
  },
  {
    id: 'anthropic/claude-haiku-5.5',
    provider: 'anthropic',
    upstreamId: 'claude-haiku-5-5',
    aliases: anthropicNames('claude-haiku-5.5', 'claude-haiku-5-5'),
    capabilities: chat({ ...ANTHROPIC_CAPABILITIES }),
    // Priced by prompt length (input + cache reads + cache writes): above 100K every token of the request
    // moves to the higher band (claudit v1.9.2, read against Anthropic's page 2026-10-24); cache writes at
    // the usual 1.25x of each band's input.
    price: {
      tokens: {
        input: 100_000,
        cachedInput: 10_000,
        cacheWrite: 125_000,
        output: 500_000,
        longContext: [{ thresholdTokens: 100_000, input: 500_000, cachedInput: 50_000, cacheWrite: 625_000, output: 2_500_000 }],
      },
      source: ANTHROPIC_PRICING,
      date: '2026-10-07',
    },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// DeepSeek. Since 16:00 UTC on 2026-08-16 DeepSeek bills by time of day: peak hours are 01:00-04:00 and
// 06:00-10:00 UTC (09:00-12:00 and 14:00-18:00 Beijing) on weekdays, and every other hour, weekends
// included, is off-peak at half the peak rate (DeepSeek's page as stored on 2026-11-15; the weekday rule
// from its zh-cn page). The 2025 off-peak discount (16:30-00:30 UTC) is not on the page any more. The base
// rates are the peak ones, so a request whose start time is unknown is never billed below list price;
// the off-peak windows carry the half rates. Not modelled: Chinese public holidays, which DeepSeek bills
// off-peak all day; a weekday holiday is billed at peak here.
// deepseek-flash = DeepSeek-V4.1-Flash, deepseek-v4-pro = DeepSeek-V4-Pro-0813 (kept after 2026-09-14).

const DEEPSEEK_CHAT = chat({ contextWindow: 1_000_000, maxOutputTokens: 384_000 });

const WEEKDAYS = [1, 2, 3, 4, 5];
/** Every hour outside DeepSeek's peak windows, in UTC. */
const DEEPSEEK_OFF_PEAK_WINDOWS = [
  { days: WEEKDAYS, from: '00:00', to: '01:00' },
  { days: WEEKDAYS, from: '04:00', to: '06:00' },
  { days: WEEKDAYS, from: '10:00', to: '24:00' },
  { days: [0, 6], from: '00:00', to: '24:00' },
];

const DEEPSEEK_FLASH_RATES = {
  input: 300_000,
  cachedInput: 6_000,
  output: 1_200_000,
  timeOfDay: [{ label: 'off-peak', windows: DEEPSEEK_OFF_PEAK_WINDOWS, input: 150_000, cachedInput: 3_000, output: 600_000 }],
};
const DEEPSEEK_PRO_RATES = {
  input: 1_320_000,
  cachedInput: 44_000,
  output: 3_960_000,
  timeOfDay: [{ label: 'off-peak', windows: DEEPSEEK_OFF_PEAK_WINDOWS, input: 660_000, cachedInput: 22_000, output: 1_980_000 }],
};

/**
 * DeepSeek's first-call page: "The model names deepseek-chat and deepseek-reasoner will be deprecated on
 * 2026/07/24 15:59 UTC. For compatibility, they correspond to the non-thinking mode and thinking mode of
 * deepseek-v4-flash" (announced with V4 on 2026-04-24).
 */
const DEEPSEEK_LEGACY_NAMES: Deprecation = {
  announced: '2026-04-24',
  shutdown: '2026-07-24',
  replacement: 'deepseek-flash',
  source: 'https://api-docs.deepseek.com/',
};

const DEEPSEEK_MODELS: ModelSpec[] = [
  {
    id: 'deepseek/deepseek-chat',
    provider: 'deepseek',
    upstreamId: 'deepseek-chat',
    aliases: ['deepseek-chat'],
    // The non-thinking mode of the Flash model until its shutdown; its calls now go to deepseek-flash.
    capabilities: DEEPSEEK_CHAT,
    deprecation: DEEPSEEK_LEGACY_NAMES,
    fallbacks: ['deepseek/deepseek-flash'],
    price: { tokens: DEEPSEEK_FLASH_RATES, source: DEEPSEEK_PRICING, date: '2026-11-15' },
  },
  {
    id: 'deepseek/deepseek-reasoner',
    provider: 'deepseek',
    upstreamId: 'deepseek-reasoner',
    aliases: ['deepseek-reasoner'],
    capabilities: { ...DEEPSEEK_CHAT, reasoning: true },
    // The thinking mode of the Flash model until its shutdown (DeepSeek's first-call page), so it carries
    // Flash's rates; its calls now go to deepseek-flash.
    deprecation: DEEPSEEK_LEGACY_NAMES,
    fallbacks: ['deepseek/deepseek-flash'],
    price: { tokens: DEEPSEEK_FLASH_RATES, source: 'https://api-docs.deepseek.com/', date: '2026-11-15' },
  },
  {
    id: 'deepseek/deepseek-flash',
    provider: 'deepseek',
    upstreamId: 'deepseek-flash',
    // DeepSeek still accepts the retired V4 Flash names and serves them with this model at its price.
    aliases: ['deepseek-flash', 'deepseek/deepseek-v4-flash', 'deepseek-v4-flash'],
    capabilities: { ...DEEPSEEK_CHAT, reasoning: true, vision: true },
    price: { tokens: DEEPSEEK_FLASH_RATES, source: DEEPSEEK_PRICING, date: '2026-11-15' },
  },
  {
    id: 'deepseek/deepseek-v4-pro',
    provider: 'deepseek',
    upstreamId: 'deepseek-v4-pro',
    aliases: ['deepseek-v4-pro'],
    capabilities: { ...DEEPSEEK_CHAT, reasoning: true },
    fallbacks: ['deepseek/deepseek-flash'],
    price: { tokens: DEEPSEEK_PRO_RATES, source: DEEPSEEK_PRICING, date: '2026-11-15' },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Qwen (Alibaba Cloud Model Studio, international endpoint, USD). Qwen prices every token of a request by
// the band its input length falls in (0-32K, 32K-128K, 128K-256K, 256K-1M, depending on the model).
// Alibaba's "K" may be 1,024 tokens; the thresholds below use 1,000 so that no prompt near a boundary is
// billed below its band.

const QWEN_MODELS: ModelSpec[] = [
  {
    id: 'qwen/qwen-max',
    provider: 'qwen',
    upstreamId: 'qwen-max',
    aliases: ['qwen-max'],
    capabilities: chat({ jsonSchema: true }),
    fallbacks: ['qwen/qwen-plus'],
    // Qwen3-Max, Singapore list prices: $1.20 / $6.00 up to 32K, $2.40 / $12.00 up to 128K, $3.00 / $15.00
    // up to 252K (docs.empiriolabs.ai qwen3-max, "was" prices beside its discount; $1.20 and $3 also in
    // api-evangelist/qwen plans, May 2026). Alibaba's mainland page has the same three bands in CNY
    // (qwen3-max: <=32K, 32K-128K, 128K-256K). Unverified: the USD figures on Alibaba's international page,
    // which was not in the stored copies (searched 2026-11-21: "alibabacloud model studio qwen pricing
    // tiers", "Qwen-Max international price tiered", "qwen3-max international pricing tiers").
    price: {
      tokens: {
        input: 1_200_000,
        output: 6_000_000,
        longContext: [
          { thresholdTokens: 32_000, input: 2_400_000, output: 12_000_000 },
          { thresholdTokens: 128_000, input: 3_000_000, output: 15_000_000 },
        ],
      },
      source: 'https://docs.empiriolabs.ai/models/qwen3-max',
      date: '2026-11-21',
    },
  },
  {
    id: 'qwen/qwen-plus',
    provider: 'qwen',
    upstreamId: 'qwen-plus',
    aliases: ['qwen-plus'],
    capabilities: chat({ jsonSchema: true, reasoning: true }),
    fallbacks: ['qwen/qwen-flash'],
    // Qwen3.5-Plus $0.40 / $2.40 up to 256K. Unverified: the band above 256K, billed at the same rate here
    // (Alibaba's mainland page bills qwen-plus in three bands, 0-128K, 128K-256K, 256K-1M, but the
    // international USD figures were not in the stored copies; searched as for qwen-max); and that
    // `qwen-plus` currently points at Qwen3.5-Plus.
    price: { tokens: { input: 400_000, output: 2_400_000 }, source: QWEN_PRICING, date: '2026-05-08' },
  },
  {
    id: 'qwen/qwen-flash',
    provider: 'qwen',
    upstreamId: 'qwen-flash',
    aliases: ['qwen-flash'],
    capabilities: chat({ jsonSchema: true, reasoning: true }),
    // Qwen3.5-Flash $0.10 / $0.40 up to 128K. Unverified: the bands above 128K (Alibaba's mainland page has
    // 128K-256K and 256K-1M bands for qwen-flash; no international USD figures were found, searched as for
    // qwen-max), billed at the first band's rate here.
    price: { tokens: { input: 100_000, output: 400_000 }, source: QWEN_PRICING, date: '2026-05-08' },
  },
  {
    id: 'qwen/qwen-turbo',
    provider: 'qwen',
    upstreamId: 'qwen-turbo',
    aliases: ['qwen-turbo'],
    // Alibaba lists function calling as unsupported for qwen-turbo.
    capabilities: chat({ tools: false, jsonSchema: true, reasoning: true, contextWindow: 131_072, maxOutputTokens: 16_384 }),
    // $0.05 / $0.20 (bifrost model library, "published Qwen pricing").
    price: { tokens: { input: 50_000, output: 200_000 }, source: 'https://www.alibabacloud.com/help/en/model-studio/qwen-turbo', date: '2026-05-08' },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Moonshot (Kimi). The original kimi-k2 preview ids were retired on 2026-05-25; the K2 family continues
// as kimi-k2.5 / kimi-k2.6 / kimi-k2.7-code. Rates "official pricing, verified 2026-07-24"
// (siml1169/kimi-copilot-provider_k3), K3 also in getagentseal/codeburn PR 709.

function moonshotNames(model: string): string[] {
  return [model, `moonshotai/${model}`, `kimi/${model}`];
}

const MOONSHOT_MODELS: ModelSpec[] = [
  {
    id: 'moonshot/kimi-k3',
    provider: 'moonshot',
    upstreamId: 'kimi-k3',
    aliases: moonshotNames('kimi-k3'),
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 1_000_000, maxOutputTokens: 32_768 }),
    price: {
      tokens: { input: 3_000_000, cachedInput: 300_000, output: 15_000_000 },
      source: 'https://platform.kimi.ai/docs/pricing/chat-k3',
      date: '2026-07-24',
    },
  },
  {
    id: 'moonshot/kimi-k2.6',
    provider: 'moonshot',
    upstreamId: 'kimi-k2.6',
    aliases: moonshotNames('kimi-k2.6'),
    fallbacks: ['moonshot/kimi-k2.5'],
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 262_144, maxOutputTokens: 32_768 }),
    price: {
      tokens: { input: 950_000, cachedInput: 160_000, output: 4_000_000 },
      source: MOONSHOT_PRICING,
      date: '2026-07-24',
    },
  },
  {
    id: 'moonshot/kimi-k2.7-code',
    provider: 'moonshot',
    upstreamId: 'kimi-k2.7-code',
    aliases: moonshotNames('kimi-k2.7-code'),
    fallbacks: ['moonshot/kimi-k2.6'],
    // Always reasons; reasoning tokens are billed as output.
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 262_144, maxOutputTokens: 32_768 }),
    price: {
      tokens: { input: 950_000, cachedInput: 190_000, output: 4_000_000 },
      source: MOONSHOT_PRICING,
      date: '2026-07-24',
    },
  },
  {
    id: 'moonshot/kimi-k2.5',
    provider: 'moonshot',
    upstreamId: 'kimi-k2.5',
    aliases: moonshotNames('kimi-k2.5'),
    capabilities: chat({ vision: true, jsonSchema: true, reasoning: true, contextWindow: 262_144, maxOutputTokens: 32_768 }),
    price: {
      tokens: { input: 600_000, cachedInput: 100_000, output: 3_000_000 },
      source: MOONSHOT_PRICING,
      date: '2026-07-24',
    },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// MiniMax. Model ids are case-sensitive upstream (`MiniMax-M3`); the catalog resolves any casing.

function minimaxNames(model: string): string[] {
  return [model];
}

const MINIMAX_MODELS: ModelSpec[] = [
  {
    id: 'minimax/MiniMax-M3',
    provider: 'minimax',
    upstreamId: 'MiniMax-M3',
    aliases: minimaxNames('MiniMax-M3'),
    capabilities: chat({ vision: true, reasoning: true, contextWindow: 1_000_000, maxOutputTokens: 131_072 }),
    // Global Standard tier on 2026-09-11 (dev.to "MiniMax M3 API", from MiniMax's page): total input above
    // 512K moves the whole request to the higher band.
    price: {
      tokens: {
        input: 300_000,
        cachedInput: 60_000,
        output: 1_200_000,
        longContext: [{ thresholdTokens: 524_288, input: 600_000, cachedInput: 120_000, output: 2_400_000 }],
      },
      source: MINIMAX_PRICING,
      date: '2026-09-11',
    },
  },
  {
    id: 'minimax/MiniMax-M2.7',
    provider: 'minimax',
    upstreamId: 'MiniMax-M2.7',
    aliases: minimaxNames('MiniMax-M2.7'),
    fallbacks: ['minimax/MiniMax-M2.5'],
    capabilities: chat({ reasoning: true, contextWindow: 204_800 }),
    // getagentseal/codeburn PR 118, sourced from MiniMax's pay-as-you-go page.
    price: {
      tokens: { input: 300_000, cachedInput: 60_000, cacheWrite: 375_000, output: 1_200_000 },
      source: MINIMAX_PRICING,
      date: '2026-04-21',
    },
  },
  {
    id: 'minimax/MiniMax-M2.5',
    provider: 'minimax',
    upstreamId: 'MiniMax-M2.5',
    aliases: minimaxNames('MiniMax-M2.5'),
    capabilities: chat({ reasoning: true, contextWindow: 204_800 }),
    // RooCodeInc/Roo-Code minimax.ts, citing MiniMax's pay-as-you-go page; LiteLLM's launch post agrees.
    price: {
      tokens: { input: 300_000, cachedInput: 30_000, cacheWrite: 375_000, output: 1_200_000 },
      source: MINIMAX_PRICING,
      date: '2026-02-12',
    },
  },
];

/**
 * Why a model in the catalog has `price: null`, by model id. Such a model is listed and resolvable but
 * refused at request time; an entry here is required so no model ends up unpriced by accident.
 */
export const UNPRICED_MODELS: Readonly<Record<string, string>> = Object.freeze({});

export const MODEL_CATALOG: readonly ModelSpec[] = Object.freeze([
  ...OPENAI_IMAGE_MODELS,
  ...OPENAI_CHAT_MODELS,
  ...GOOGLE_CHAT_MODELS,
  ...GOOGLE_IMAGE_MODELS,
  ...XAI_MODELS,
  ...ANTHROPIC_MODELS,
  ...DEEPSEEK_MODELS,
  ...QWEN_MODELS,
  ...MOONSHOT_MODELS,
  ...MINIMAX_MODELS,
]);

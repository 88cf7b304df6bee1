/**
 * The Gemini-native surface (`/v1beta/models/{model}:generateContent` and `:streamGenerateContent`)
 * served by any model: a Gemini request becomes a canonical chat request, and the canonical answer
 * (whole or streamed) becomes a Gemini response. Pure functions; the gateway route owns I/O.
 *
 * For Google's own models the route can still go through these functions: the Google adapter turns
 * the canonical request back into Gemini's, so one path serves every provider and is billed the same.
 * What only Google has a field for travels beside the canonical fields (`GOOGLE_FIELDS`, `google`,
 * `top_k`): thought signatures both ways, safety ratings and prompt feedback in answers, safety settings
 * and the cache name in requests. Other providers' adapters never read them, and their answers have none.
 */
import { randomBytes } from 'node:crypto';
import {
  GOOGLE_FIELDS,
  type AssistantMessage,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatContentPart,
  type ChatMessage,
  type ChatTool,
  type ChatToolCall,
  type ChatToolChoice,
  type FinishReason,
  type GeneratedImagePart,
  type GoogleAnswerFields,
  type GoogleCandidateFields,
  type GoogleTurnFields,
  type ReasoningEffort,
  type TextContentPart,
} from '../types/chat';
import type {
  GeminiCandidate,
  GeminiContent,
  GeminiFinishReason,
  GeminiPart,
  GeminiRequest,
  GeminiResponse,
  GeminiSafetyRating,
  GeminiStreamChunk,
  GeminiThinkingConfig,
} from '../types/gemini';
import { emptyUsage, normalizeOpenAIUsage, type NormalizedUsage } from '../types/usage';
import { parseDataUrl, signatureFromToolCallId } from './gemini-chat';
import { geminiUsageFromNormalized } from './gemini-usage';

/** A Gemini request that cannot be expressed as a chat request; the route answers 400 INVALID_ARGUMENT. */
export class GeminiNativeRequestError extends Error {
  readonly status = 'INVALID_ARGUMENT';
  constructor(
    message: string,
    /** JSON path of the offending field, e.g. `contents[1].parts[0]` */
    readonly field: string,
  ) {
    super(message);
    this.name = 'GeminiNativeRequestError';
  }
}

// ---- request: Gemini → canonical -----------------------------------------------------------------

/**
 * `responseSchema` and `parameters` use Google's OpenAPI subset (upper-case type names, `nullable`);
 * other providers want JSON Schema. `responseJsonSchema` / `parametersJsonSchema` already are.
 */
export function openApiSchemaToJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openApiSchemaToJsonSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const src = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === 'nullable' || k === 'propertyOrdering') continue;
    if (k === 'type' && typeof v === 'string') out.type = v.toLowerCase();
    else if (k === 'properties' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, openApiSchemaToJsonSchema(pv)]));
    } else if (k === 'items' || k === 'anyOf' || k === 'oneOf' || k === 'allOf') out[k] = openApiSchemaToJsonSchema(v);
    else out[k] = v;
  }
  if (src.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

function asSchema(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const AUDIO_FORMATS: Record<string, string> = {
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/mp3': 'mp3',
  'audio/mpeg': 'mp3',
};

function userPart(p: GeminiPart, field: string): ChatContentPart {
  if (typeof p.text === 'string') return { type: 'text', text: p.text };
  if (p.inlineData) {
    const mime = p.inlineData.mimeType.toLowerCase();
    if (mime.startsWith('image/')) return { type: 'image_url', image_url: { url: `data:${mime};base64,${p.inlineData.data}` } };
    const format = AUDIO_FORMATS[mime];
    if (format) return { type: 'input_audio', input_audio: { data: p.inlineData.data, format } };
    throw new GeminiNativeRequestError(`inlineData of type ${p.inlineData.mimeType} is not supported by this model`, field);
  }
  if (p.fileData) {
    const mime = (p.fileData.mimeType ?? '').toLowerCase();
    if (mime === '' || mime.startsWith('image/')) return { type: 'image_url', image_url: { url: p.fileData.fileUri } };
    throw new GeminiNativeRequestError(`fileData of type ${p.fileData.mimeType} is not supported by this model`, field);
  }
  throw new GeminiNativeRequestError('unsupported part in a user turn', field);
}

function simplifyContent(parts: ChatContentPart[]): string | ChatContentPart[] {
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as TextContentPart).text).join('') : parts;
}

/** Function calls carry no id on most Gemini turns; results are matched to calls by name, in order. */
class CallIds {
  private readonly pending = new Map<string, string[]>();
  private counter = 0;

  issue(name: string, given: string | undefined): string {
    const id = given ?? `call_${this.counter++}`;
    const list = this.pending.get(name) ?? [];
    list.push(id);
    this.pending.set(name, list);
    return id;
  }

  resolve(name: string, given: string | undefined): string {
    const list = this.pending.get(name) ?? [];
    if (given !== undefined) {
      const at = list.indexOf(given);
      if (at >= 0) list.splice(at, 1);
      return given;
    }
    return list.shift() ?? `call_${this.counter++}`;
  }
}

function responseText(response: Record<string, unknown>): string {
  // Google's convention is { output } or { error }; send other providers the plain output when that is all there is.
  const keys = Object.keys(response);
  if (keys.length === 1 && typeof response.output === 'string') return response.output;
  return JSON.stringify(response);
}

function contentToMessages(c: GeminiContent, ci: number, ids: CallIds): ChatMessage[] {
  const field = `contents[${ci}]`;
  if (!Array.isArray(c.parts)) throw new GeminiNativeRequestError('parts must be an array', `${field}.parts`);
  if (c.role === 'model') {
    let text = '';
    const toolCalls: ChatToolCall[] = [];
    const signatures: GoogleTurnFields = {};
    c.parts.forEach((p, pi) => {
      const signature = p.thoughtSignature || undefined;
      if (p.thought) {
        // Thought summaries are not sent back; a signed one is, for Google, as it came.
        if (signature && typeof p.text === 'string') signatures.signedThought = { text: p.text, thoughtSignature: signature };
        return;
      }
      if (typeof p.text === 'string') {
        text += p.text;
        if (signature) signatures.thoughtSignature = signature;
      } else if (p.functionCall) {
        const call: ChatToolCall = {
          id: ids.issue(p.functionCall.name, p.functionCall.id),
          type: 'function',
          function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) },
        };
        if (signature) call[GOOGLE_FIELDS] = { thoughtSignature: signature };
        toolCalls.push(call);
      } else if (!p.inlineData) {
        throw new GeminiNativeRequestError('unsupported part in a model turn', `${field}.parts[${pi}]`);
      }
    });
    const m: AssistantMessage = { role: 'assistant', content: text || (toolCalls.length ? null : '') };
    if (toolCalls.length) m.tool_calls = toolCalls;
    if (signatures.thoughtSignature || signatures.signedThought) m[GOOGLE_FIELDS] = signatures;
    return [m];
  }
  if (c.role !== undefined && c.role !== 'user') {
    throw new GeminiNativeRequestError(`role must be "user" or "model"`, `${field}.role`);
  }
  const out: ChatMessage[] = [];
  let parts: ChatContentPart[] = [];
  const flush = (): void => {
    if (parts.length) out.push({ role: 'user', content: simplifyContent(parts) });
    parts = [];
  };
  c.parts.forEach((p, pi) => {
    if (p.functionResponse) {
      flush();
      out.push({
        role: 'tool',
        tool_call_id: ids.resolve(p.functionResponse.name, p.functionResponse.id),
        content: responseText(p.functionResponse.response ?? {}),
      });
    } else parts.push(userPart(p, `${field}.parts[${pi}]`));
  });
  flush();
  return out;
}

function effortFromThinking(t: GeminiThinkingConfig): ReasoningEffort | undefined {
  if (t.thinkingLevel) {
    const level = t.thinkingLevel.toLowerCase();
    if (level === 'minimal' || level === 'low' || level === 'medium' || level === 'high') return level;
    return undefined;
  }
  if (t.thinkingBudget === undefined || t.thinkingBudget < 0) return undefined;
  if (t.thinkingBudget === 0) return 'none';
  if (t.thinkingBudget <= 1024) return 'low';
  if (t.thinkingBudget <= 8192) return 'medium';
  return 'high';
}

export function geminiRequestToChat(req: GeminiRequest, model: string): ChatCompletionRequest {
  if (!req || !Array.isArray(req.contents)) throw new GeminiNativeRequestError('contents is required', 'contents');
  const messages: ChatMessage[] = [];
  const system = (req.systemInstruction?.parts ?? []).map((p) => p.text ?? '').join('\n');
  if (system) messages.push({ role: 'system', content: system });
  const ids = new CallIds();
  req.contents.forEach((c, ci) => messages.push(...contentToMessages(c, ci, ids)));
  const out: ChatCompletionRequest = { model, messages };

  const gc = req.generationConfig ?? {};
  if (gc.temperature !== undefined) out.temperature = gc.temperature;
  if (gc.topP !== undefined) out.top_p = gc.topP;
  if (gc.maxOutputTokens !== undefined) out.max_tokens = gc.maxOutputTokens;
  if (gc.candidateCount !== undefined && gc.candidateCount > 1) out.n = gc.candidateCount;
  if (gc.stopSequences?.length) out.stop = gc.stopSequences;
  if (gc.topK !== undefined) out.top_k = gc.topK;
  if (gc.seed !== undefined) out.seed = gc.seed;
  if (gc.presencePenalty !== undefined) out.presence_penalty = gc.presencePenalty;
  if (gc.frequencyPenalty !== undefined) out.frequency_penalty = gc.frequencyPenalty;
  if (gc.responseMimeType === 'application/json') {
    const schema = asSchema(gc.responseJsonSchema) ?? asSchema(openApiSchemaToJsonSchema(gc.responseSchema));
    out.response_format = schema
      ? { type: 'json_schema', json_schema: { name: 'response', schema } }
      : { type: 'json_object' };
  }
  if (gc.thinkingConfig) {
    const effort = effortFromThinking(gc.thinkingConfig);
    if (effort) out.reasoning_effort = effort;
  }

  const tools: ChatTool[] = [];
  for (const t of req.tools ?? []) {
    for (const fd of t.functionDeclarations ?? []) {
      const parameters = asSchema(fd.parametersJsonSchema) ?? asSchema(openApiSchemaToJsonSchema(fd.parameters));
      tools.push({
        type: 'function',
        function: {
          name: fd.name,
          ...(fd.description !== undefined ? { description: fd.description } : {}),
          ...(parameters ? { parameters } : {}),
        },
      });
    }
    if (t.googleSearch) out.web_search_options = {};
  }
  if (tools.length) {
    out.tools = tools;
    const choice = toolChoice(req);
    if (choice) out.tool_choice = choice;
  }
  // Google's models apply these; other providers have no such thresholds or caches (see GoogleRequestOptions).
  if (req.safetySettings?.length || req.cachedContent) {
    out.google = {
      ...(req.safetySettings?.length ? { safetySettings: req.safetySettings } : {}),
      ...(req.cachedContent ? { cachedContent: req.cachedContent } : {}),
    };
  }
  return out;
}

function toolChoice(req: GeminiRequest): ChatToolChoice | undefined {
  const cfg = req.toolConfig?.functionCallingConfig;
  if (!cfg?.mode) return undefined;
  switch (cfg.mode) {
    case 'AUTO':
    case 'VALIDATED':
      return 'auto';
    case 'NONE':
      return 'none';
    case 'ANY': {
      const names = cfg.allowedFunctionNames ?? [];
      return names.length === 1 ? { type: 'function', function: { name: names[0] } } : 'required';
    }
    default:
      return undefined;
  }
}

// ---- response: canonical → Gemini ----------------------------------------------------------------

export function finishReasonToGemini(reason: FinishReason | null): GeminiFinishReason | undefined {
  switch (reason) {
    case null:
      return undefined;
    case 'length':
      return 'MAX_TOKENS';
    case 'content_filter':
      return 'SAFETY';
    default:
      // Gemini reports a turn that ends in function calls as STOP.
      return 'STOP';
  }
}

function argsObject(raw: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(raw === '' ? '{}' : raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    // Models occasionally emit broken JSON; hand it over rather than dropping the call.
    return { arguments: raw };
  }
}

function imagePart(p: GeneratedImagePart): GeminiPart | undefined {
  const d = parseDataUrl(p.image_url.url);
  return d ? { inlineData: d } : undefined;
}

/** A function call as Gemini writes it, with the signature the Google adapter carried inside the tool call id. */
function functionCallPart(id: string | undefined, name: string, args: string): GeminiPart {
  const part: GeminiPart = { functionCall: { name, args: argsObject(args) } };
  const signature = id ? signatureFromToolCallId(id) : undefined;
  if (signature) part.thoughtSignature = signature;
  return part;
}

/** Puts the text's signature on the last text part, or on an empty one when the answer had no text. */
function signText(parts: GeminiPart[], signature: string | undefined): void {
  if (!signature) return;
  const last = [...parts].reverse().find((p) => typeof p.text === 'string' && !p.thought);
  if (last) last.thoughtSignature = signature;
  else parts.push({ text: '', thoughtSignature: signature });
}

function withSafetyRatings(cand: GeminiCandidate, ratings: GeminiSafetyRating[] | undefined): GeminiCandidate {
  if (ratings) cand.safetyRatings = ratings;
  return cand;
}

export function chatResponseToGemini(
  completion: ChatCompletion,
  modelVersion: string,
  usage?: NormalizedUsage,
): GeminiResponse {
  const candidates: GeminiCandidate[] = completion.choices.map((choice) => {
    const m = choice.message;
    const google = choice[GOOGLE_FIELDS];
    const parts: GeminiPart[] = [];
    if (m.reasoning_content) {
      parts.push({ text: m.reasoning_content, thought: true, ...(google?.thoughtSignature ? { thoughtSignature: google.thoughtSignature } : {}) });
    }
    if (typeof m.content === 'string') {
      if (m.content) parts.push({ text: m.content });
    } else if (Array.isArray(m.content)) {
      for (const p of m.content) {
        if (p.type === 'text') parts.push({ text: p.text });
        else {
          const ip = imagePart(p);
          if (ip) parts.push(ip);
        }
      }
    }
    for (const tc of m.tool_calls ?? []) parts.push(functionCallPart(tc.id, tc.function.name, tc.function.arguments));
    signText(parts, google?.textSignature);
    if (parts.length === 0) parts.push({ text: '' });
    const cand: GeminiCandidate = { content: { role: 'model', parts }, index: choice.index };
    const fr = finishReasonToGemini(choice.finish_reason);
    if (fr) cand.finishReason = fr;
    return withSafetyRatings(cand, google?.safetyRatings);
  });
  const u = usage ?? (completion.usage ? normalizeOpenAIUsage(completion.usage) : emptyUsage());
  const out: GeminiResponse = { candidates };
  const promptFeedback = completion[GOOGLE_FIELDS]?.promptFeedback;
  if (promptFeedback) out.promptFeedback = promptFeedback;
  out.usageMetadata = geminiUsageFromNormalized(u);
  out.modelVersion = modelVersion;
  out.responseId = completion.id;
  return out;
}

// ---- stream: canonical chunks → Gemini stream chunks --------------------------------------------

interface PendingCall {
  /** carries the Google adapter's thought signature, when the call came from a Google model */
  id?: string;
  name: string;
  arguments: string;
}

/**
 * Turns canonical chunks into `streamGenerateContent` chunks. Text and thoughts go out as they come, each
 * with the signature Google sent on it. Function calls are held until their choice finishes, because
 * Gemini sends each call whole while OpenAI streams the arguments in pieces. The finishing chunk is held
 * until the usage is known, so the last Gemini chunk carries finishReason and the final usageMetadata
 * together, as Google's own does. Safety ratings go out on every candidate that carries them, and the
 * latest ones again on the final candidate.
 */
export class GeminiStreamTranslator {
  private readonly calls = new Map<number, Map<number, PendingCall>>();
  private readonly finishes = new Map<number, GeminiFinishReason>();
  private readonly ratings = new Map<number, GeminiSafetyRating[]>();
  private answer: GoogleAnswerFields | undefined;
  private usage: NormalizedUsage | null = null;
  private ended = false;
  private responseId: string;

  constructor(private readonly modelVersion: string, responseId?: string) {
    this.responseId = responseId ?? randomBytes(12).toString('hex');
  }

  push(chunk: ChatCompletionChunk): GeminiStreamChunk[] {
    if (this.ended) return [];
    if (chunk.id) this.responseId = chunk.id;
    if (chunk[GOOGLE_FIELDS]?.promptFeedback) this.answer = chunk[GOOGLE_FIELDS];
    const out: GeminiStreamChunk[] = [];
    const candidates: GeminiCandidate[] = [];
    for (const choice of chunk.choices) {
      const d = choice.delta;
      const google: GoogleCandidateFields | undefined = choice[GOOGLE_FIELDS];
      const parts: GeminiPart[] = [];
      if (d.reasoning_content) {
        parts.push({ text: d.reasoning_content, thought: true, ...(google?.thoughtSignature ? { thoughtSignature: google.thoughtSignature } : {}) });
      }
      if (d.content) parts.push({ text: d.content });
      signText(parts, google?.textSignature);
      for (const tc of d.tool_calls ?? []) {
        const byIndex = this.calls.get(choice.index) ?? new Map<number, PendingCall>();
        this.calls.set(choice.index, byIndex);
        const call = byIndex.get(tc.index) ?? { name: '', arguments: '' };
        if (tc.id) call.id = tc.id;
        if (tc.function?.name) call.name += tc.function.name;
        if (tc.function?.arguments) call.arguments += tc.function.arguments;
        byIndex.set(tc.index, call);
      }
      if (google?.safetyRatings) this.ratings.set(choice.index, google.safetyRatings);
      if (parts.length) candidates.push(withSafetyRatings({ content: { role: 'model', parts }, index: choice.index }, google?.safetyRatings));
      const fr = finishReasonToGemini(choice.finish_reason);
      if (fr) this.finishes.set(choice.index, fr);
    }
    if (candidates.length) out.push(this.chunk(candidates));
    if (chunk.usage) {
      this.usage = normalizeOpenAIUsage(chunk.usage);
      out.push(...this.end());
    }
    return out;
  }

  /**
   * Call when the canonical stream is over (after the last chunk). `usage` is the provider-reported
   * usage when the caller has it in normalised form; it wins over one seen on a chunk.
   */
  end(usage?: NormalizedUsage | null): GeminiStreamChunk[] {
    if (this.ended) return [];
    this.ended = true;
    if (usage) this.usage = usage;
    const indexes = new Set<number>([...this.finishes.keys(), ...this.calls.keys()]);
    const candidates: GeminiCandidate[] = [...indexes].sort((a, b) => a - b).map((index) => {
      const parts: GeminiPart[] = [...(this.calls.get(index)?.values() ?? [])].map((c) => functionCallPart(c.id, c.name, c.arguments));
      const cand: GeminiCandidate = { content: { role: 'model', parts: parts.length ? parts : [{ text: '' }] }, index };
      cand.finishReason = this.finishes.get(index) ?? 'STOP';
      return withSafetyRatings(cand, this.ratings.get(index));
    });
    if (!candidates.length && !this.usage) return [];
    const last = this.chunk(candidates);
    if (this.usage) last.usageMetadata = geminiUsageFromNormalized(this.usage);
    return [last];
  }

  private chunk(candidates: GeminiCandidate[]): GeminiStreamChunk {
    const c: GeminiStreamChunk = {};
    if (candidates.length) c.candidates = candidates;
    // Google sends promptFeedback on the first chunk; it goes out with the first chunk written after it came.
    if (this.answer?.promptFeedback) {
      c.promptFeedback = this.answer.promptFeedback;
      this.answer = undefined;
    }
    c.modelVersion = this.modelVersion;
    c.responseId = this.responseId;
    return c;
  }
}

/**
 * Canonical (OpenAI chat-completions) ⇄ Gemini `generateContent`, for the Google adapter's chat path.
 * Pure functions; the adapter wraps them into the `ChatCapability` contract.
 */
import { randomBytes } from 'node:crypto';
import type { ModelSpec } from '../catalog/model-spec';
import { UpstreamError } from '../errors';
import {
  GOOGLE_FIELDS,
  type AssistantMessage,
  type ChatCompletion,
  type ChatCompletionChoice,
  type ChatCompletionMessage,
  type ChatCompletionRequest,
  type ChatContentPart,
  type ChatToolCall,
  type FinishReason,
  type GeneratedImagePart,
  type GoogleCandidateFields,
  type ReasoningEffort,
  type TextContentPart,
} from '../types/chat';
import type {
  GeminiCandidate,
  GeminiContent,
  GeminiGenerationConfig,
  GeminiPart,
  GeminiRequest,
  GeminiResponse,
  GeminiThinkingConfig,
  GeminiTool,
  GeminiToolConfig,
} from '../types/gemini';
import { GEMINI_POLICY_REASONS, safetyRatingsOf } from './google-errors';

/**
 * Gemini 3 wants the `thoughtSignature` of each function-call part echoed back on the next turn
 * (https://ai.google.dev/gemini-api/docs/thought-signatures). OpenAI's tool call has no slot for it, but
 * clients echo the tool call id verbatim, so the signature rides inside the id after this separator.
 */
export const THOUGHT_SIGNATURE_SEPARATOR = '__thought__';
/**
 * Documented placeholder for a function call whose signature was lost (history written by a client, or
 * produced by another model): it tells the API to skip validation instead of answering 400.
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/**
 * The signature is standard base64; inside the id it is carried as unpadded base64url so the id stays
 * within `[A-Za-z0-9_-]`, which other providers of a fallback chain require of tool ids (Anthropic).
 */
export function newToolCallId(signature?: string): string {
  const id = `call_${randomBytes(12).toString('hex')}`;
  if (!signature) return id;
  const packed = signature.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `${id}${THOUGHT_SIGNATURE_SEPARATOR}${packed}`;
}

export function signatureFromToolCallId(id: string): string | undefined {
  const at = id.indexOf(THOUGHT_SIGNATURE_SEPARATOR);
  if (at < 0) return undefined;
  const packed = id.slice(at + THOUGHT_SIGNATURE_SEPARATOR.length);
  if (!packed) return undefined;
  const b64 = packed.replace(/-/g, '+').replace(/_/g, '/');
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4);
}

/** The id without a carried signature, for providers that limit the length of tool ids. */
export function stripThoughtSignature(id: string): string {
  const at = id.indexOf(THOUGHT_SIGNATURE_SEPARATOR);
  return at < 0 ? id : id.slice(0, at);
}

function invalid(message: string): UpstreamError {
  return new UpstreamError({ kind: 'invalid_request', provider: 'google', message });
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;

export function parseDataUrl(url: string): { mimeType: string; data: string } | undefined {
  const m = DATA_URL.exec(url);
  return m ? { mimeType: m[1], data: m[2] } : undefined;
}

const EXTENSION_MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

function guessMime(url: string): string {
  const path = url.split(/[?#]/)[0] ?? '';
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return EXTENSION_MIME[ext] ?? 'image/jpeg';
}

function textOf(content: string | TextContentPart[] | null | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => p.text).join('');
}

function userParts(content: string | ChatContentPart[]): GeminiPart[] {
  if (typeof content === 'string') return [{ text: content }];
  const parts: GeminiPart[] = [];
  for (const p of content) {
    if (p.type === 'text') parts.push({ text: p.text });
    else if (p.type === 'image_url') {
      const data = parseDataUrl(p.image_url.url);
      if (data) parts.push({ inlineData: data });
      else parts.push({ fileData: { fileUri: p.image_url.url, mimeType: guessMime(p.image_url.url) } });
    } else if (p.type === 'input_audio') {
      const format = p.input_audio.format === 'mp3' ? 'audio/mp3' : `audio/${p.input_audio.format}`;
      parts.push({ inlineData: { mimeType: format, data: p.input_audio.data } });
    }
  }
  return parts;
}

function parseArgs(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid('tool call arguments are not valid JSON');
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
}

/**
 * A model turn: a signed thought summary when the turn had one, its text as one part, then its function
 * calls. A call's signature comes from the Gemini-native route (`GOOGLE_FIELDS`) or, on the chat route,
 * from inside its id. The text's signature goes back on the text part; a turn whose text was empty had it
 * on an empty closing part, as Google streams it.
 */
function assistantParts(m: AssistantMessage): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const text = textOf(m.content);
  const textSignature = m[GOOGLE_FIELDS]?.thoughtSignature;
  const thought = m[GOOGLE_FIELDS]?.signedThought;
  if (thought) parts.push({ text: thought.text, thought: true, thoughtSignature: thought.thoughtSignature });
  if (text) parts.push({ text, ...(textSignature ? { thoughtSignature: textSignature } : {}) });
  (m.tool_calls ?? []).forEach((tc, i) => {
    const part: GeminiPart = { functionCall: { name: tc.function.name, args: parseArgs(tc.function.arguments) } };
    const signature = tc[GOOGLE_FIELDS]?.thoughtSignature ?? signatureFromToolCallId(tc.id);
    // Only the first call of a parallel batch carries a signature upstream; the first must have one.
    if (signature) part.thoughtSignature = signature;
    else if (i === 0) part.thoughtSignature = SKIP_SIGNATURE;
    parts.push(part);
  });
  if (!text && textSignature) parts.push({ text: '', thoughtSignature: textSignature });
  return parts;
}

/** A tool result must be a JSON object upstream; Google's convention puts plain output under `output`. */
function functionResponseBody(content: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(content);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    return { output: v };
  } catch {
    return { output: content };
  }
}

export function toGeminiContents(req: ChatCompletionRequest): { contents: GeminiContent[]; system?: GeminiContent } {
  const systemParts: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();

  for (const m of req.messages) {
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content);
        if (text) systemParts.push({ text });
        break;
      }
      case 'user':
        contents.push({ role: 'user', parts: userParts(m.content) });
        break;
      case 'assistant': {
        for (const tc of m.tool_calls ?? []) toolNames.set(tc.id, tc.function.name);
        const parts = assistantParts(m);
        if (parts.length > 0) contents.push({ role: 'model', parts });
        break;
      }
      case 'tool': {
        const name = toolNames.get(m.tool_call_id);
        if (name === undefined) throw invalid(`tool message refers to unknown tool_call_id "${m.tool_call_id}"`);
        const part: GeminiPart = { functionResponse: { name, response: functionResponseBody(textOf(m.content)) } };
        // All results of one batch of calls belong in a single user turn.
        const last = contents[contents.length - 1];
        if (last && last.role === 'user' && last.parts.every((p) => p.functionResponse)) last.parts.push(part);
        else contents.push({ role: 'user', parts: [part] });
        break;
      }
    }
  }
  return { contents, system: systemParts.length > 0 ? { parts: systemParts } : undefined };
}

const BUDGETS: Record<ReasoningEffort, number> = {
  none: 0,
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
  xhigh: 32768,
};

/**
 * Gemini 2.5 takes a token budget; Gemini 3 takes a level and documents the budget only as a
 * compatibility path (https://ai.google.dev/gemini-api/docs/thinking). `low` and `high` are the two
 * levels every Gemini 3 model accepts.
 */
export function thinkingConfigFor(model: ModelSpec, effort: ReasoningEffort): GeminiThinkingConfig {
  if (model.upstreamId.startsWith('gemini-3')) {
    const level = effort === 'none' || effort === 'minimal' || effort === 'low' ? 'low' : 'high';
    return { thinkingLevel: level, includeThoughts: true };
  }
  const budget = BUDGETS[effort];
  return budget === 0 ? { thinkingBudget: 0 } : { thinkingBudget: budget, includeThoughts: true };
}

function toolConfig(req: ChatCompletionRequest): GeminiToolConfig | undefined {
  const choice = req.tool_choice;
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
}

export function buildGeminiRequest(model: ModelSpec, req: ChatCompletionRequest): GeminiRequest {
  const { contents, system } = toGeminiContents(req);
  const out: GeminiRequest = { contents };
  if (system) out.systemInstruction = system;

  const gc: GeminiGenerationConfig = {};
  if (req.temperature !== undefined) gc.temperature = req.temperature;
  if (req.top_p !== undefined) gc.topP = req.top_p;
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens !== undefined) gc.maxOutputTokens = maxTokens;
  if (req.n !== undefined && req.n > 1) gc.candidateCount = req.n;
  if (req.stop !== undefined) gc.stopSequences = Array.isArray(req.stop) ? req.stop : [req.stop];
  if (req.top_k !== undefined) gc.topK = req.top_k;
  if (req.seed !== undefined) gc.seed = req.seed;
  if (req.presence_penalty !== undefined) gc.presencePenalty = req.presence_penalty;
  if (req.frequency_penalty !== undefined) gc.frequencyPenalty = req.frequency_penalty;
  const rf = req.response_format;
  if (rf?.type === 'json_object') gc.responseMimeType = 'application/json';
  else if (rf?.type === 'json_schema') {
    gc.responseMimeType = 'application/json';
    // responseJsonSchema takes JSON Schema as OpenAI clients write it (additionalProperties, $ref, ...),
    // which the OpenAPI-subset responseSchema rejects.
    if (rf.json_schema.schema) gc.responseJsonSchema = rf.json_schema.schema;
  }
  if (req.reasoning_effort !== undefined) gc.thinkingConfig = thinkingConfigFor(model, req.reasoning_effort);
  if (model.capabilities.imageOutputViaChat) gc.responseModalities = ['TEXT', 'IMAGE'];
  if (Object.keys(gc).length > 0) out.generationConfig = gc;

  const tools: GeminiTool[] = [];
  if (req.tools && req.tools.length > 0) {
    tools.push({
      functionDeclarations: req.tools.map((t) => ({
        name: t.function.name,
        ...(t.function.description !== undefined ? { description: t.function.description } : {}),
        ...(t.function.parameters !== undefined ? { parametersJsonSchema: t.function.parameters } : {}),
      })),
    });
  }
  if (req.web_search_options) tools.push({ googleSearch: {} });
  if (tools.length > 0) out.tools = tools;
  const tc = toolConfig(req);
  if (tc && req.tools && req.tools.length > 0) out.toolConfig = tc;
  if (req.google?.safetySettings?.length) out.safetySettings = req.google.safetySettings;
  if (req.google?.cachedContent) out.cachedContent = req.google.cachedContent;
  return out;
}

export function mapFinishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason | null {
  if (!reason || reason === 'FINISH_REASON_UNSPECIFIED') return null;
  if (hasToolCalls && (reason === 'STOP' || reason === 'OTHER')) return 'tool_calls';
  if (reason === 'MAX_TOKENS') return 'length';
  if (GEMINI_POLICY_REASONS.has(reason)) return 'content_filter';
  return 'stop';
}

export interface CandidateContent {
  text: string;
  reasoning: string;
  toolCalls: ChatToolCall[];
  images: GeneratedImagePart[];
  /** the candidate's safety ratings and the signatures of its text and thought parts, when it had any */
  google?: GoogleCandidateFields;
}

/** What a candidate says beside its content, or nothing. */
function candidateFields(c: GeminiCandidate): GoogleCandidateFields | undefined {
  const out: GoogleCandidateFields = {};
  const safetyRatings = safetyRatingsOf(c.safetyRatings);
  if (safetyRatings) out.safetyRatings = safetyRatings;
  for (const p of c.content?.parts ?? []) {
    // A function call's signature travels with its tool call (in the id); an image's is not kept.
    if (typeof p.thoughtSignature !== 'string' || p.thoughtSignature === '' || p.functionCall || p.inlineData) continue;
    if (p.thought) out.thoughtSignature = p.thoughtSignature;
    else out.textSignature = p.thoughtSignature;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Splits a candidate's parts into text, thought summary, function calls and (non-thought) images. */
export function readCandidate(c: GeminiCandidate): CandidateContent {
  const out: CandidateContent = { text: '', reasoning: '', toolCalls: [], images: [] };
  const google = candidateFields(c);
  if (google) out.google = google;
  for (const p of c.content?.parts ?? []) {
    if (p.functionCall) {
      out.toolCalls.push({
        id: newToolCallId(p.thoughtSignature),
        type: 'function',
        function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) },
      });
    } else if (p.inlineData) {
      // Gemini 3 image models think in draft images; only the final ones are the answer.
      if (!p.thought) out.images.push({ type: 'image_url', image_url: { url: `data:${p.inlineData.mimeType};base64,${p.inlineData.data}` } });
    } else if (typeof p.text === 'string') {
      if (p.thought) out.reasoning += p.text;
      else out.text += p.text;
    }
  }
  return out;
}

export function toChatMessage(c: CandidateContent): ChatCompletionMessage {
  const message: ChatCompletionMessage = { role: 'assistant', content: null };
  if (c.images.length > 0) {
    message.content = [...(c.text ? [{ type: 'text' as const, text: c.text }] : []), ...c.images];
    message.images = c.images;
  } else if (c.text || c.toolCalls.length === 0) {
    message.content = c.text;
  }
  if (c.toolCalls.length > 0) message.tool_calls = c.toolCalls;
  if (c.reasoning) message.reasoning_content = c.reasoning;
  return message;
}

export function completionId(responseId: string | undefined): string {
  return responseId ? `chatcmpl-${responseId}` : `chatcmpl-${randomBytes(12).toString('hex')}`;
}

export function toChatCompletion(model: ModelSpec, resp: GeminiResponse): { completion: ChatCompletion; contents: CandidateContent[]; reasons: (string | undefined)[] } {
  const candidates = resp.candidates ?? [];
  const contents: CandidateContent[] = [];
  const reasons: (string | undefined)[] = [];
  const choices: ChatCompletionChoice[] = candidates.map((c, i) => {
    const content = readCandidate(c);
    contents.push(content);
    reasons.push(c.finishReason);
    const choice: ChatCompletionChoice = {
      index: c.index ?? i,
      message: toChatMessage(content),
      finish_reason: mapFinishReason(c.finishReason, content.toolCalls.length > 0) ?? 'stop',
      logprobs: null,
    };
    if (content.google) choice[GOOGLE_FIELDS] = content.google;
    return choice;
  });
  const completion: ChatCompletion = {
    id: completionId(resp.responseId),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: resp.modelVersion ?? model.upstreamId,
    choices,
  };
  const promptRatings = safetyRatingsOf(resp.promptFeedback?.safetyRatings);
  if (promptRatings) completion[GOOGLE_FIELDS] = { promptFeedback: { safetyRatings: promptRatings } };
  return { completion, contents, reasons };
}

/**
 * The body of `:generateContent` / `:streamGenerateContent` checked field by field into a typed
 * `GeminiRequest`, or a 400 INVALID_ARGUMENT naming the field as Google's JSON spells it
 * (`contents[0].parts[1].inlineData.data`). Hand-written rather than class-validator DTOs because a part is
 * a union (exactly one of text, inlineData, fileData, functionCall, functionResponse) and the paths must
 * read as the tenant wrote them.
 *
 * `generationConfig.topK`, `safetySettings` and `cachedContent` reach Google's models as sent (the
 * translation carries them beside the canonical request); other providers' models ignore `safetySettings`
 * (they have no such thresholds) and `topK` where they have no equivalent, and a `cachedContent` for them
 * is refused by the route (a cache lives at Google). `cachedContent` cannot be combined with
 * `systemInstruction`, `tools` or `toolConfig`, which Google wants inside the cache. Refused, because
 * ignoring them would change the answer without saying so: tools other than function declarations and
 * Google Search, AUDIO output, `text/x.enum` and logprobs.
 */
import { ApiError } from '@app/common';
import { findUnsafeText } from '../chat/chat-request.pipe';
import type { GeminiContent, GeminiGenerationConfig, GeminiModality, GeminiPart, GeminiRequest, GeminiTool } from './gemini-wire';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(message: string, param: string, code = 'invalid_request'): ApiError {
  return ApiError.badRequest(`Invalid request: ${message}`, param, code);
}

function unsupported(message: string, param: string): ApiError {
  return ApiError.badRequest(message, param, 'unsupported_parameter');
}

const BASE64 = /^[A-Za-z0-9+/\-_]+={0,2}$/;
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
const MODALITIES: readonly GeminiModality[] = ['TEXT', 'IMAGE', 'AUDIO'];
const PART_DATA_FIELDS = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse'] as const;
/** Part fields Google defines that Switchyard cannot carry to every provider. */
const UNSUPPORTED_PART_FIELDS = ['executableCode', 'codeExecutionResult', 'videoMetadata'] as const;
const SUPPORTED_TOOLS = ['functionDeclarations', 'googleSearch'] as const;
const FUNCTION_CALLING_MODES = ['AUTO', 'ANY', 'NONE', 'VALIDATED', 'MODE_UNSPECIFIED'] as const;
const THINKING_LEVELS = ['MINIMAL', 'LOW', 'MEDIUM', 'HIGH'] as const;
/**
 * A context cache's resource name: `cachedContents/{id}` as the Gemini API names it, or Vertex AI's
 * `projects/{project}[/locations/{location}]/cachedContents/{id}`. Letters, digits, `.`, `_` and `-` only.
 */
const CACHED_CONTENT = /^(?:projects\/[A-Za-z0-9._-]{1,128}(?:\/locations\/[A-Za-z0-9._-]{1,64})?\/)?cachedContents\/[A-Za-z0-9._-]{1,256}$/;
/** Google's `imageSize` values; `512` is Gemini 3.1 Flash Image's smallest class. */
export const GEMINI_IMAGE_SIZES: readonly string[] = ['512', '1K', '2K', '4K'];

function optionalString(v: unknown, param: string, maxLength = 1_000): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > maxLength) throw bad(`${param} must be a string of at most ${maxLength} characters.`, param);
  return v;
}

function requiredString(v: unknown, param: string, maxLength = 1_000): string {
  const s = optionalString(v, param, maxLength);
  if (s === undefined || s === '') throw bad(`${param} is required.`, param);
  return s;
}

function optionalNumber(v: unknown, param: string, min: number, max: number, integer = false): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw bad(`${param} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}.`, param);
  }
  return v;
}

function optionalObject(v: unknown, param: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw bad(`${param} must be an object.`, param);
  return v;
}

function optionalArray(v: unknown, param: string, maxItems: number): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw bad(`${param} must be an array.`, param);
  if (v.length > maxItems) throw bad(`${param} may hold at most ${maxItems} entries.`, param);
  return v;
}

function part(raw: unknown, param: string): GeminiPart {
  if (!isRecord(raw)) throw bad(`${param} must be an object.`, param);
  for (const field of UNSUPPORTED_PART_FIELDS) {
    if (raw[field] !== undefined) throw unsupported(`${param}.${field} is not supported through Switchyard.`, `${param}.${field}`);
  }
  const present = PART_DATA_FIELDS.filter((f) => raw[f] !== undefined && raw[f] !== null);
  if (present.length !== 1) {
    throw bad(`${param} must hold exactly one of ${PART_DATA_FIELDS.join(', ')}.`, param);
  }
  const out: GeminiPart = {};
  if (raw.thought !== undefined) {
    if (typeof raw.thought !== 'boolean') throw bad(`${param}.thought must be a boolean.`, `${param}.thought`);
    out.thought = raw.thought;
  }
  const signature = optionalString(raw.thoughtSignature, `${param}.thoughtSignature`, 1_000_000);
  if (signature !== undefined) out.thoughtSignature = signature;

  switch (present[0]) {
    case 'text':
      if (typeof raw.text !== 'string') throw bad(`${param}.text must be a string.`, `${param}.text`);
      out.text = raw.text;
      break;
    case 'inlineData': {
      const p = `${param}.inlineData`;
      const blob = optionalObject(raw.inlineData, p) ?? {};
      const mimeType = requiredString(blob.mimeType, `${p}.mimeType`, 200).toLowerCase();
      const data = requiredString(blob.data, `${p}.data`, Number.MAX_SAFE_INTEGER);
      if (!BASE64.test(data)) throw bad(`${p}.data must be base64 encoded.`, `${p}.data`);
      out.inlineData = { mimeType, data };
      break;
    }
    case 'fileData': {
      const p = `${param}.fileData`;
      const file = optionalObject(raw.fileData, p) ?? {};
      const fileUri = requiredString(file.fileUri, `${p}.fileUri`, 4_096);
      // A Files API name (`files/abc`) lives in the tenant's own Google project, which Switchyard cannot read.
      if (!/^https?:\/\//i.test(fileUri)) {
        throw unsupported(`${p}.fileUri must be an http(s) URL; send file contents as inlineData.`, `${p}.fileUri`);
      }
      const mimeType = optionalString(file.mimeType, `${p}.mimeType`, 200);
      out.fileData = { fileUri, ...(mimeType ? { mimeType: mimeType.toLowerCase() } : {}) };
      break;
    }
    case 'functionCall': {
      const p = `${param}.functionCall`;
      const call = optionalObject(raw.functionCall, p) ?? {};
      const name = requiredString(call.name, `${p}.name`, 128);
      const args = optionalObject(call.args, `${p}.args`);
      const id = optionalString(call.id, `${p}.id`, 256);
      out.functionCall = { name, ...(args ? { args } : {}), ...(id ? { id } : {}) };
      break;
    }
    case 'functionResponse': {
      const p = `${param}.functionResponse`;
      const response = optionalObject(raw.functionResponse, p) ?? {};
      const name = requiredString(response.name, `${p}.name`, 128);
      const body = optionalObject(response.response, `${p}.response`) ?? {};
      const id = optionalString(response.id, `${p}.id`, 256);
      out.functionResponse = { name, response: body, ...(id ? { id } : {}) };
      break;
    }
  }
  return out;
}

function content(raw: unknown, param: string, system = false): GeminiContent {
  if (!isRecord(raw)) throw bad(`${param} must be an object.`, param);
  const out: GeminiContent = { parts: [] };
  if (raw.role !== undefined && raw.role !== null && raw.role !== '') {
    // The SDK sends systemInstruction with role "user"; there the role means nothing.
    if (!system && raw.role !== 'user' && raw.role !== 'model') throw bad(`${param}.role must be "user" or "model".`, `${param}.role`);
    if (!system) out.role = raw.role as 'user' | 'model';
  }
  const parts = optionalArray(raw.parts, `${param}.parts`, 10_000);
  if (!parts || parts.length === 0) throw bad(`${param}.parts must be a non-empty array.`, `${param}.parts`);
  out.parts = parts.map((p, i) => part(p, `${param}.parts[${i}]`));
  if (system) {
    out.parts.forEach((p, i) => {
      if (p.text === undefined) throw unsupported(`${param}.parts[${i}]: a system instruction holds text parts only.`, `${param}.parts[${i}]`);
    });
  }
  return out;
}

function schema(v: unknown, param: string): Json | undefined {
  return optionalObject(v, param);
}

function generationConfig(raw: unknown): GeminiGenerationConfig | undefined {
  const gc = optionalObject(raw, 'generationConfig');
  if (!gc) return undefined;
  const p = (name: string): string => `generationConfig.${name}`;
  const out: GeminiGenerationConfig = {};
  const set = <K extends keyof GeminiGenerationConfig>(key: K, value: GeminiGenerationConfig[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('temperature', optionalNumber(gc.temperature, p('temperature'), 0, 2));
  set('topP', optionalNumber(gc.topP, p('topP'), 0, 1));
  set('topK', optionalNumber(gc.topK, p('topK'), 0, 1_000_000, true));
  set('maxOutputTokens', optionalNumber(gc.maxOutputTokens, p('maxOutputTokens'), 1, 10_000_000, true));
  set('candidateCount', optionalNumber(gc.candidateCount, p('candidateCount'), 1, 8, true));
  set('presencePenalty', optionalNumber(gc.presencePenalty, p('presencePenalty'), -2, 2));
  set('frequencyPenalty', optionalNumber(gc.frequencyPenalty, p('frequencyPenalty'), -2, 2));
  set('seed', optionalNumber(gc.seed, p('seed'), -(2 ** 31), 2 ** 31 - 1, true));

  const stops = optionalArray(gc.stopSequences, p('stopSequences'), 5);
  if (stops) {
    set('stopSequences', stops.map((s, i) => requiredString(s, `${p('stopSequences')}[${i}]`, 1_000)));
  }

  const mime = optionalString(gc.responseMimeType, p('responseMimeType'), 100);
  if (mime !== undefined && mime !== 'text/plain' && mime !== 'application/json') {
    throw unsupported(`${p('responseMimeType')} must be text/plain or application/json through Switchyard.`, p('responseMimeType'));
  }
  set('responseMimeType', mime);
  set('responseSchema', schema(gc.responseSchema, p('responseSchema')));
  set('responseJsonSchema', schema(gc.responseJsonSchema, p('responseJsonSchema')));
  if ((out.responseSchema || out.responseJsonSchema) && out.responseMimeType !== 'application/json') {
    const field = out.responseSchema ? p('responseSchema') : p('responseJsonSchema');
    throw bad(`${field} needs ${p('responseMimeType')} "application/json".`, field);
  }

  const modalities = optionalArray(gc.responseModalities, p('responseModalities'), 3);
  if (modalities) {
    set(
      'responseModalities',
      modalities.map((m, i) => {
        const param = `${p('responseModalities')}[${i}]`;
        const value = typeof m === 'string' ? m.toUpperCase() : m;
        if (!MODALITIES.includes(value as GeminiModality)) throw bad(`${param} must be one of ${MODALITIES.join(', ')}.`, param);
        if (value === 'AUDIO') throw unsupported('Audio output is not available through Switchyard.', param);
        return value as GeminiModality;
      }),
    );
  }

  const image = optionalObject(gc.imageConfig, p('imageConfig'));
  if (image) {
    const aspectRatio = optionalString(image.aspectRatio, p('imageConfig.aspectRatio'), 20);
    const imageSize = optionalString(image.imageSize, p('imageConfig.imageSize'), 20)?.toUpperCase();
    if (imageSize !== undefined && !GEMINI_IMAGE_SIZES.includes(imageSize)) {
      throw bad(`${p('imageConfig.imageSize')} must be one of ${GEMINI_IMAGE_SIZES.join(', ')}.`, p('imageConfig.imageSize'));
    }
    out.imageConfig = { ...(aspectRatio ? { aspectRatio } : {}), ...(imageSize ? { imageSize } : {}) };
  }

  const thinking = optionalObject(gc.thinkingConfig, p('thinkingConfig'));
  if (thinking) {
    const level = optionalString(thinking.thinkingLevel, p('thinkingConfig.thinkingLevel'), 20)?.toUpperCase();
    if (level !== undefined && level !== 'THINKING_LEVEL_UNSPECIFIED' && !(THINKING_LEVELS as readonly string[]).includes(level)) {
      throw bad(`${p('thinkingConfig.thinkingLevel')} must be one of ${THINKING_LEVELS.join(', ')}.`, p('thinkingConfig.thinkingLevel'));
    }
    const budget = optionalNumber(thinking.thinkingBudget, p('thinkingConfig.thinkingBudget'), -1, 1_000_000, true);
    if (thinking.includeThoughts !== undefined && typeof thinking.includeThoughts !== 'boolean') {
      throw bad(`${p('thinkingConfig.includeThoughts')} must be a boolean.`, p('thinkingConfig.includeThoughts'));
    }
    out.thinkingConfig = {
      ...(typeof thinking.includeThoughts === 'boolean' ? { includeThoughts: thinking.includeThoughts } : {}),
      ...(budget !== undefined ? { thinkingBudget: budget } : {}),
      ...(level !== undefined && level !== 'THINKING_LEVEL_UNSPECIFIED' ? { thinkingLevel: level as (typeof THINKING_LEVELS)[number] } : {}),
    };
  }

  for (const field of ['responseLogprobs', 'logprobs'] as const) {
    if (gc[field] !== undefined && gc[field] !== null && gc[field] !== false) {
      throw unsupported(`${p(field)} is not available through Switchyard.`, p(field));
    }
  }
  return out;
}

function tools(raw: unknown): GeminiTool[] | undefined {
  const list = optionalArray(raw, 'tools', 128);
  if (!list) return undefined;
  return list.map((t, i) => {
    const param = `tools[${i}]`;
    if (!isRecord(t)) throw bad(`${param} must be an object.`, param);
    for (const key of Object.keys(t)) {
      if (t[key] !== undefined && t[key] !== null && !(SUPPORTED_TOOLS as readonly string[]).includes(key)) {
        throw unsupported(`${param}.${key} is not available through Switchyard; use functionDeclarations or googleSearch.`, `${param}.${key}`);
      }
    }
    const out: GeminiTool = {};
    const declarations = optionalArray(t.functionDeclarations, `${param}.functionDeclarations`, 512);
    if (declarations) {
      out.functionDeclarations = declarations.map((d, j) => {
        const p = `${param}.functionDeclarations[${j}]`;
        if (!isRecord(d)) throw bad(`${p} must be an object.`, p);
        const name = requiredString(d.name, `${p}.name`, 128);
        if (!FUNCTION_NAME.test(name)) throw bad(`${p}.name must start with a letter or underscore and hold letters, digits, _ . : - only.`, `${p}.name`);
        const description = optionalString(d.description, `${p}.description`, 100_000);
        const parameters = schema(d.parameters, `${p}.parameters`);
        const parametersJsonSchema = schema(d.parametersJsonSchema, `${p}.parametersJsonSchema`);
        return {
          name,
          ...(description !== undefined ? { description } : {}),
          ...(parameters ? { parameters } : {}),
          ...(parametersJsonSchema ? { parametersJsonSchema } : {}),
        };
      });
    }
    const search = optionalObject(t.googleSearch, `${param}.googleSearch`);
    if (search) out.googleSearch = search;
    return out;
  });
}

function toolConfig(raw: unknown): GeminiRequest['toolConfig'] {
  const tc = optionalObject(raw, 'toolConfig');
  if (!tc) return undefined;
  const fc = optionalObject(tc.functionCallingConfig, 'toolConfig.functionCallingConfig');
  if (!fc) return {};
  const p = 'toolConfig.functionCallingConfig';
  const mode = optionalString(fc.mode, `${p}.mode`, 40)?.toUpperCase();
  if (mode !== undefined && !(FUNCTION_CALLING_MODES as readonly string[]).includes(mode)) {
    throw bad(`${p}.mode must be one of ${FUNCTION_CALLING_MODES.join(', ')}.`, `${p}.mode`);
  }
  const names = optionalArray(fc.allowedFunctionNames, `${p}.allowedFunctionNames`, 512)?.map((n, i) =>
    requiredString(n, `${p}.allowedFunctionNames[${i}]`, 128),
  );
  return {
    functionCallingConfig: {
      ...(mode ? { mode: mode as (typeof FUNCTION_CALLING_MODES)[number] } : {}),
      ...(names ? { allowedFunctionNames: names } : {}),
    },
  };
}

/** Google's `HarmBlockThreshold` values (`@google/genai`'s enum). */
const SAFETY_THRESHOLDS = ['HARM_BLOCK_THRESHOLD_UNSPECIFIED', 'BLOCK_LOW_AND_ABOVE', 'BLOCK_MEDIUM_AND_ABOVE', 'BLOCK_ONLY_HIGH', 'BLOCK_NONE', 'OFF'];
/** `HarmCategory` values all read `HARM_CATEGORY_...`; Google adds categories, so the shape is checked, not a list. */
const SAFETY_CATEGORY = /^HARM_CATEGORY_[A-Z_]{1,80}$/;

/** Forwarded to Google's models as given; checked here so a typo is a 400 naming the field, not an upstream error. */
function safetySettings(raw: unknown): GeminiRequest['safetySettings'] {
  const list = optionalArray(raw, 'safetySettings', 32);
  if (!list) return undefined;
  return list.map((s, i) => {
    const param = `safetySettings[${i}]`;
    if (!isRecord(s)) throw bad(`${param} must be an object.`, param);
    const category = requiredString(s.category, `${param}.category`, 100).toUpperCase();
    if (!SAFETY_CATEGORY.test(category)) throw bad(`${param}.category must be a HarmCategory such as HARM_CATEGORY_DANGEROUS_CONTENT.`, `${param}.category`);
    const threshold = requiredString(s.threshold, `${param}.threshold`, 100).toUpperCase();
    if (!SAFETY_THRESHOLDS.includes(threshold)) throw bad(`${param}.threshold must be one of ${SAFETY_THRESHOLDS.join(', ')}.`, `${param}.threshold`);
    return { category, threshold };
  });
}

function cachedContent(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string' || raw.length > 512 || !CACHED_CONTENT.test(raw)) {
    throw bad('cachedContent must be a cache resource name such as "cachedContents/abc123" (at most 512 characters).', 'cachedContent');
  }
  return raw;
}

export function parseGeminiRequest(body: unknown): GeminiRequest {
  if (!isRecord(body)) throw ApiError.badRequest('The request body must be a JSON object.', null, 'invalid_json');
  // A client that believes it chose its upstream or key must learn that it did not, not have it dropped silently.
  for (const field of ['api_key', 'api_base', 'base_url']) {
    if (body[field] !== undefined) throw unsupported(`${field} is not accepted: Switchyard chooses the upstream and its credentials.`, field);
  }
  const unsafe = findUnsafeText(body);
  if (unsafe) throw ApiError.badRequest(`Invalid request: ${unsafe.param} ${unsafe.problem}.`, unsafe.param, 'invalid_text');

  const cache = cachedContent(body.cachedContent);
  const contents = optionalArray(body.contents, 'contents', 10_000);
  if (!contents || contents.length === 0) throw bad('contents must be a non-empty array.', 'contents');

  const out: GeminiRequest = { contents: contents.map((c, i) => content(c, `contents[${i}]`)) };
  if (body.systemInstruction !== undefined && body.systemInstruction !== null) {
    out.systemInstruction = content(body.systemInstruction, 'systemInstruction', true);
  }
  const gc = generationConfig(body.generationConfig);
  if (gc) out.generationConfig = gc;
  const ss = safetySettings(body.safetySettings);
  if (ss) out.safetySettings = ss;
  const t = tools(body.tools);
  if (t) out.tools = t;
  const tc = toolConfig(body.toolConfig);
  if (tc) out.toolConfig = tc;
  if (cache) {
    // Google refuses these beside a cache (they belong inside it); refused here before anything is reserved.
    for (const field of ['systemInstruction', 'tools', 'toolConfig'] as const) {
      if (out[field] !== undefined) {
        throw bad(`${field} cannot be combined with cachedContent; put it in the cached content instead.`, field);
      }
    }
    out.cachedContent = cache;
  }
  return out;
}

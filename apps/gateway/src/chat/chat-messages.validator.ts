/**
 * `messages` of a chat request: a union by role whose content is a string or a list of parts that is itself
 * a union (text, image_url, input_audio). class-validator cannot name an element of such a union, so this
 * checks it by hand and builds canonical messages from known fields only; every refusal is a 400 whose
 * `param` names the exact element (`messages[2].content[0].image_url.url`).
 */
import { ApiError } from '@app/common';
import type {
  AssistantMessage,
  ChatContentPart,
  ChatMessage,
  ChatToolCall,
  TextContentPart,
} from '@app/providers';

/** More than any upstream accepts in one conversation; bounds the work done on a hostile body. */
export const MAX_MESSAGES = 10_000;
const IMAGE_DETAILS = ['auto', 'low', 'high'];
const AUDIO_FORMATS = ['wav', 'mp3'];
const IMAGE_URL = /^(https?:\/\/\S+|data:image\/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+)$/i;
const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(param: string, message: string): ApiError {
  return ApiError.badRequest(`Invalid request: ${param} ${message}.`, param);
}

function optionalString(m: Json, field: string, param: string): string | undefined {
  const v = m[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`${param}.${field}`, 'must be a string');
  return v;
}

function requiredString(o: Json, field: string, param: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw bad(`${param}.${field}`, v === undefined ? 'is required' : 'must be a string');
  return v;
}

function textPart(part: Json, param: string): TextContentPart {
  return { type: 'text', text: requiredString(part, 'text', param) };
}

function contentPart(raw: unknown, param: string, allowMedia: boolean): ChatContentPart {
  if (!isRecord(raw)) throw bad(param, 'must be an object');
  const type = raw.type;
  if (type === 'text') return textPart(raw, param);
  if (!allowMedia && (type === 'image_url' || type === 'input_audio')) {
    throw bad(`${param}.type`, 'must be text: only user messages may carry images or audio');
  }
  if (type === 'image_url') {
    const image = raw.image_url;
    // Some clients send the URL as a bare string; it means the same thing.
    const obj = typeof image === 'string' ? { url: image } : image;
    if (!isRecord(obj)) throw bad(`${param}.image_url`, image === undefined ? 'is required' : 'must be an object with a url');
    const url = requiredString(obj, 'url', `${param}.image_url`);
    if (!IMAGE_URL.test(url)) throw bad(`${param}.image_url.url`, 'must be an http(s) URL or a data:image/...;base64, URI');
    const detail = obj.detail;
    if (detail !== undefined && detail !== null && (typeof detail !== 'string' || !IMAGE_DETAILS.includes(detail))) {
      throw bad(`${param}.image_url.detail`, `must be one of ${IMAGE_DETAILS.join(', ')}`);
    }
    return { type: 'image_url', image_url: { url, ...(typeof detail === 'string' ? { detail: detail as 'auto' | 'low' | 'high' } : {}) } };
  }
  if (type === 'input_audio') {
    const audio = raw.input_audio;
    if (!isRecord(audio)) throw bad(`${param}.input_audio`, audio === undefined ? 'is required' : 'must be an object');
    const data = requiredString(audio, 'data', `${param}.input_audio`);
    if (data.length === 0 || !BASE64.test(data)) throw bad(`${param}.input_audio.data`, 'must be base64-encoded audio');
    const format = audio.format;
    if (typeof format !== 'string' || !AUDIO_FORMATS.includes(format)) {
      throw bad(`${param}.input_audio.format`, `must be one of ${AUDIO_FORMATS.join(', ')}`);
    }
    return { type: 'input_audio', input_audio: { data, format } };
  }
  throw bad(`${param}.type`, typeof type === 'string' ? `"${type.slice(0, 40)}" is not a supported content part type` : 'is required');
}

function content(m: Json, param: string, allowMedia: boolean): string | ChatContentPart[] {
  const c = m.content;
  if (typeof c === 'string') return c;
  if (!Array.isArray(c)) throw bad(`${param}.content`, c === undefined || c === null ? 'is required' : 'must be a string or an array of content parts');
  if (c.length === 0) throw bad(`${param}.content`, 'must not be empty');
  return c.map((part, j) => contentPart(part, `${param}.content[${j}]`, allowMedia));
}

function textContent(m: Json, param: string): string | TextContentPart[] {
  return content(m, param, false) as string | TextContentPart[];
}

function toolCalls(raw: unknown, param: string): ChatToolCall[] {
  if (!Array.isArray(raw) || raw.length === 0) throw bad(param, 'must be a non-empty array');
  return raw.map((tc, k) => {
    const p = `${param}[${k}]`;
    if (!isRecord(tc)) throw bad(p, 'must be an object');
    const id = requiredString(tc, 'id', p);
    if (tc.type !== undefined && tc.type !== 'function') throw bad(`${p}.type`, 'must be function');
    const fn = tc.function;
    if (!isRecord(fn)) throw bad(`${p}.function`, 'is required');
    const name = requiredString(fn, 'name', `${p}.function`);
    const args = requiredString(fn, 'arguments', `${p}.function`);
    return { id, type: 'function', function: { name, arguments: args } };
  });
}

function message(raw: unknown, i: number): ChatMessage {
  const param = `messages[${i}]`;
  if (!isRecord(raw)) throw bad(param, 'must be an object');
  const role = raw.role;
  const name = optionalString(raw, 'name', param);
  const named = name === undefined ? {} : { name };
  switch (role) {
    case 'system':
    case 'developer':
      return { role, content: textContent(raw, param), ...named };
    case 'user':
      return { role, content: content(raw, param, true), ...named };
    case 'assistant': {
      const out: AssistantMessage = { role, ...named };
      if (raw.content !== undefined && raw.content !== null) out.content = textContent(raw, param);
      if (raw.tool_calls !== undefined && raw.tool_calls !== null) out.tool_calls = toolCalls(raw.tool_calls, `${param}.tool_calls`);
      const reasoning = optionalString(raw, 'reasoning_content', param);
      if (reasoning !== undefined) out.reasoning_content = reasoning;
      if (out.content === undefined && out.tool_calls === undefined) throw bad(`${param}.content`, 'is required unless tool_calls is given');
      return out;
    }
    case 'tool':
      return { role, content: textContent(raw, param), tool_call_id: requiredString(raw, 'tool_call_id', param) };
    case 'function':
      throw bad(`${param}.role`, 'function is deprecated and not supported; answer tool calls with role tool and tool_call_id');
    default:
      throw bad(`${param}.role`, role === undefined ? 'is required' : 'must be one of system, developer, user, assistant, tool');
  }
}

/** Canonical messages from the tenant's `messages`, or the 400 for the first element at fault. */
export function validateMessages(raw: unknown): ChatMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) throw bad('messages', 'must be a non-empty array');
  if (raw.length > MAX_MESSAGES) throw bad('messages', `may hold at most ${MAX_MESSAGES} messages`);
  return raw.map((m, i) => message(m, i));
}

import { GOOGLE_FIELDS, type ChatStreamItem } from '@app/providers';

/**
 * Whether a streamed item carries anything of the answer. The first chunk of most upstreams only names the
 * role (`{"role":"assistant","content":""}`); an upstream that fails right after it (vLLM and sglang send the
 * error as an event of a 200 stream) has still produced nothing, and the chain may fall back.
 */
export function startsAnswer(item: ChatStreamItem): boolean {
  if (item.type !== 'chunk') return true;
  const { chunk } = item;
  if (chunk.usage || chunk[GOOGLE_FIELDS] !== undefined) return true;
  return chunk.choices.some(
    (c) =>
      c.finish_reason !== null ||
      c[GOOGLE_FIELDS] !== undefined ||
      !!c.delta.content ||
      !!c.delta.reasoning_content ||
      !!c.delta.refusal ||
      (c.delta.tool_calls?.length ?? 0) > 0,
  );
}

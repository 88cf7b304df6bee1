import { SseParser, readSse } from './sse-reader';

function feedAll(pieces: (string | Uint8Array)[]) {
  const p = new SseParser();
  const events = pieces.flatMap((piece) => p.push(piece));
  return [...events, ...p.end()];
}

describe('SseParser', () => {
  it('parses OpenAI-style data-only events', () => {
    const events = feedAll(['data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n']);
    expect(events.map((e) => e.data)).toEqual(['{"a":1}', '{"a":2}', '[DONE]']);
    expect(events[0].event).toBeUndefined();
  });

  it('reassembles a line split across chunks at every possible position', () => {
    const stream = 'event: message_delta\ndata: {"text":"héllo wörld"}\n\n';
    const bytes = Buffer.from(stream, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      const events = feedAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(events).toEqual([{ event: 'message_delta', data: '{"text":"héllo wörld"}' }]);
    }
  });

  it('handles byte-at-a-time delivery including multi-byte UTF-8 characters', () => {
    const bytes = Buffer.from('data: 日本語 ✓\n\n', 'utf8');
    const pieces = [...bytes].map((b) => Uint8Array.of(b));
    expect(feedAll(pieces)).toEqual([{ data: '日本語 ✓' }]);
  });

  it('accepts CRLF and lone CR line endings, including a CRLF split between chunks', () => {
    expect(feedAll(['data: a\r\n\r\ndata: b\r\r'])).toEqual([{ data: 'a' }, { data: 'b' }]);
    expect(feedAll(['data: a\r', '\n\r', '\ndata: b\r\n\r\n'])).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  it('ignores comments such as keep-alive pings', () => {
    expect(feedAll([': ping\n\n', ': OPENROUTER PROCESSING\n', 'data: x\n\n'])).toEqual([{ data: 'x' }]);
  });

  it('joins multi-line data with newlines and keeps event names and ids', () => {
    const events = feedAll(['event: content_block_delta\nid: 7\ndata: line1\ndata: line2\ndata:line3\n\n']);
    expect(events).toEqual([{ event: 'content_block_delta', id: '7', data: 'line1\nline2\nline3' }]);
  });

  it('does not dispatch an event without data, and resets the event name after dispatch', () => {
    const events = feedAll(['event: ping\n\n', 'data: after\n\n']);
    expect(events).toEqual([{ data: 'after' }]);
  });

  it('keeps an empty data line as an empty string payload', () => {
    expect(feedAll(['data:\n\n'])).toEqual([{ data: '' }]);
  });

  it('delivers a final event whose blank line never came', () => {
    expect(feedAll(['data: {"last":true}'])).toEqual([{ data: '{"last":true}' }]);
  });

  it('returns nothing until an event is complete', () => {
    const p = new SseParser();
    expect(p.push('data: {"par')).toEqual([]);
    expect(p.push('tial":1}\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ data: '{"partial":1}' }]);
  });
});

describe('readSse', () => {
  it('yields events from an async byte source', async () => {
    async function* source() {
      yield Buffer.from('data: 1\n');
      yield Buffer.from('\ndata: 2\n\n');
    }
    const seen: string[] = [];
    for await (const e of readSse(source())) seen.push(e.data);
    expect(seen).toEqual(['1', '2']);
  });
});

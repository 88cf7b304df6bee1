import { boundaryOf, parseMultipart } from './multipart';

describe('multipart parsing', () => {
  it('reads fields and binary files as sent by FormData', async () => {
    const form = new FormData();
    form.append('model', 'gpt-image-1');
    form.append('prompt', 'a line\r\nwith CRLF');
    const bytes = new Uint8Array([0, 1, 2, 13, 10, 45, 45, 255]);
    form.append('image[]', new Blob([bytes], { type: 'image/png' }), 'a.png');
    const req = new Request('http://x', { method: 'POST', body: form });
    const boundary = boundaryOf(req.headers.get('content-type') ?? undefined);
    expect(boundary).toBeTruthy();
    const parsed = parseMultipart(Buffer.from(await req.arrayBuffer()), boundary ?? '');
    expect(parsed.fields).toEqual({ model: 'gpt-image-1', prompt: 'a line\r\nwith CRLF' });
    expect(parsed.files).toHaveLength(1);
    expect(parsed.files[0]).toMatchObject({ field: 'image[]', filename: 'a.png', contentType: 'image/png' });
    expect([...(parsed.files[0]?.data ?? [])]).toEqual([...bytes]);
  });

  it('recognises only multipart content types', () => {
    expect(boundaryOf('application/json')).toBeNull();
    expect(boundaryOf('multipart/form-data; boundary="abc"')).toBe('abc');
  });
});

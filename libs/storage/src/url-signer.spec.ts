import { ApiError } from '@app/common';
import { DEFAULT_IMAGE_URL_TTL_SECONDS, IMAGE_FILES_PATH, UrlSigner } from './url-signer';

const SECRET = 'a'.repeat(16) + 'b'.repeat(16);
const ID = '3f1c2a9e-5b7d-4c1e-9f00-0123456789ab';
const OTHER_ID = '9d0e8c7b-6a5f-4e3d-8c2b-fedcba987654';
const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

function flipHex(hex: string, at: number): string {
  const c = hex[at] === '0' ? '1' : '0';
  return hex.slice(0, at) + c + hex.slice(at + 1);
}

describe('UrlSigner', () => {
  const signer = new UrlSigner(SECRET);

  it('verifies a link it signed until the expiry, then reports it expired', () => {
    const { expires, signature } = signer.sign(ID, 3600, NOW);
    expect(expires).toBe(NOW / 1000 + 3600);
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    expect(signer.verify(ID, String(expires), signature, NOW)).toBe('ok');
    expect(signer.verify(ID, expires, signature, NOW + 3599_999)).toBe('ok');
    expect(signer.verify(ID, String(expires), signature, NOW + 3600_000)).toBe('expired');
    expect(signer.verify(ID, String(expires), signature, NOW + 86_400_000)).toBe('expired');
  });

  it('defaults to a one-hour lifetime', () => {
    expect(DEFAULT_IMAGE_URL_TTL_SECONDS).toBe(3600);
    expect(signer.sign(ID, undefined, NOW).expires).toBe(NOW / 1000 + 3600);
  });

  it('builds a URL under the public base whose query verifies', () => {
    const url = new URL(signer.buildUrl('https://gw.example.com/prefix/', ID, 600, NOW));
    expect(url.origin + url.pathname).toBe(`https://gw.example.com/prefix${IMAGE_FILES_PATH}/${ID}`);
    const id = url.pathname.split('/').pop();
    expect(signer.verify(id, url.searchParams.get('expires'), url.searchParams.get('signature'), NOW)).toBe('ok');
    expect(url.searchParams.get('expires')).toBe(String(NOW / 1000 + 600));
  });

  describe('refuses a link when any part was altered', () => {
    const { expires, signature } = signer.sign(ID, 3600, NOW);
    const e = String(expires);

    it('another image id (a link cannot be reused for another image)', () => {
      expect(signer.verify(OTHER_ID, e, signature, NOW)).toBe('invalid');
      expect(signer.verify(ID.toUpperCase(), e, signature, NOW)).toBe('invalid');
      expect(signer.verify(`${ID}x`, e, signature, NOW)).toBe('invalid');
    });

    it('a later or earlier expiry, including non-canonical spellings of the same one', () => {
      expect(signer.verify(ID, String(expires + 3600), signature, NOW)).toBe('invalid');
      expect(signer.verify(ID, String(expires - 1), signature, NOW)).toBe('invalid');
      expect(signer.verify(ID, `0${e}`, signature, NOW)).toBe('invalid');
      expect(signer.verify(ID, `${e}.0`, signature, NOW)).toBe('invalid');
      expect(signer.verify(ID, ` ${e}`, signature, NOW)).toBe('invalid');
    });

    it('the signature: any flipped digit, upper case, truncation, extension', () => {
      for (const at of [0, 31, 63]) expect(signer.verify(ID, e, flipHex(signature, at), NOW)).toBe('invalid');
      expect(signer.verify(ID, e, signature.toUpperCase(), NOW)).toBe(signature === signature.toUpperCase() ? 'ok' : 'invalid');
      expect(signer.verify(ID, e, signature.slice(0, 62), NOW)).toBe('invalid');
      expect(signer.verify(ID, e, `${signature}00`, NOW)).toBe('invalid');
    });

    it('reports a tampered link as invalid even after its expiry', () => {
      expect(signer.verify(OTHER_ID, e, signature, NOW + 7200_000)).toBe('invalid');
    });
  });

  it('rejects a link signed with another secret', () => {
    const other = new UrlSigner(Buffer.alloc(32, 7));
    const { expires, signature } = other.sign(ID, 3600, NOW);
    expect(signer.verify(ID, String(expires), signature, NOW)).toBe('invalid');
    expect(other.verify(ID, String(expires), signature, NOW)).toBe('ok');
  });

  it('answers invalid, without throwing, for malformed or missing input', () => {
    const { expires, signature } = signer.sign(ID, 3600, NOW);
    const e = String(expires);
    const cases: Array<[unknown, unknown, unknown]> = [
      [undefined, e, signature],
      [ID, undefined, signature],
      [ID, e, undefined],
      [ID, [e, e], signature],
      [ID, e, [signature]],
      ['', e, signature],
      ['../etc/passwd', e, signature],
      [ID, 'NaN', signature],
      [ID, '-1', signature],
      [ID, '1e10', signature],
      [ID, '9'.repeat(400), signature],
      [ID, Number.NaN, signature],
      [ID, 1.5, signature],
      [ID, e, 'zz'.repeat(32)],
      [ID, e, ''],
      [{ toString: () => ID }, e, signature],
    ];
    for (const [id, exp, sig] of cases) expect(signer.verify(id, exp, sig, NOW)).toBe('invalid');
  });

  it('turns verdicts into 403 ApiErrors for the image route', () => {
    const { expires, signature } = signer.sign(ID, 60, NOW);
    expect(() => signer.assertValid(ID, String(expires), signature, NOW)).not.toThrow();
    const expired = catchApiError(() => signer.assertValid(ID, String(expires), signature, NOW + 60_000));
    expect([expired.status, expired.code]).toEqual([403, 'url_expired']);
    const invalid = catchApiError(() => signer.assertValid(OTHER_ID, String(expires), signature, NOW));
    expect([invalid.status, invalid.code]).toEqual([403, 'invalid_signature']);
  });

  it('refuses short secrets and unusable sign arguments', () => {
    expect(() => new UrlSigner('short')).toThrow(RangeError);
    expect(() => new UrlSigner(Buffer.alloc(31))).toThrow(RangeError);
    expect(() => signer.sign('a/b', 60, NOW)).toThrow(RangeError);
    expect(() => signer.sign(ID, 0, NOW)).toThrow(RangeError);
    expect(() => signer.sign(ID, 1.5, NOW)).toThrow(RangeError);
    expect(() => signer.sign(ID, 8 * 24 * 3600, NOW)).toThrow(RangeError);
  });
});

function catchApiError(fn: () => void): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

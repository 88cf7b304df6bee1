import { plainToInstance } from 'class-transformer';
import { CreateImageDto } from './images.dto';
import { requestHash, wantsAsync } from './images.service';

describe('images route helpers', () => {
  it('reads Prefer: respond-async among other preferences', () => {
    expect(wantsAsync('respond-async')).toBe(true);
    expect(wantsAsync('return=minimal, respond-async; wait=10')).toBe(true);
    expect(wantsAsync('RESPOND-ASYNC')).toBe(true);
    expect(wantsAsync(undefined)).toBe(false);
    expect(wantsAsync('wait=5')).toBe(false);
    expect(wantsAsync('respond-asynchronously')).toBe(false);
  });

  it('hashes equal bodies equally whatever the field order, and different bodies differently', () => {
    const a = plainToInstance(CreateImageDto, { model: 'm', prompt: 'p', n: 2, extra_body: { models: ['x'] } });
    const b = plainToInstance(CreateImageDto, { extra_body: { models: ['x'] }, n: 2, prompt: 'p', model: 'm' });
    const c = plainToInstance(CreateImageDto, { model: 'm', prompt: 'p', n: 3, extra_body: { models: ['x'] } });
    expect(requestHash(a)).toBe(requestHash(b));
    expect(requestHash(a)).not.toBe(requestHash(c));
  });
});

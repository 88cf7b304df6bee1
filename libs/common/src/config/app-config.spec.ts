import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies defaults for an empty environment (the embedded mode)', () => {
    const c = loadConfig({});
    expect(c.HOST).toBe('127.0.0.1');
    expect(c.PORT).toBe(3000);
    expect(c.databaseMode).toBe('embedded');
    expect(c.queueMode).toBe('postgres');
    expect(c.WORKER_IN_PROCESS).toBe(true);
    expect(c.publicBaseUrl).toBe('http://127.0.0.1:3000');
    expect(c.OPENAI_BASE_URL).toBe('https://api.openai.com/v1');
    expect(c.GEMINI_BASE_URL).toBe('https://generativelanguage.googleapis.com');
    expect(c.describeMode()).toContain('mode=embedded');
  });

  it('parses numbers, booleans and the production mode', () => {
    const c = loadConfig({
      PORT: '8080',
      WORKER_IN_PROCESS: 'false',
      DATABASE_URL: 'postgresql://u@localhost:5432/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PUBLIC_BASE_URL: 'https://gw.example.com/',
    });
    expect(c.PORT).toBe(8080);
    expect(c.WORKER_IN_PROCESS).toBe(false);
    expect(c.databaseMode).toBe('postgres');
    expect(c.queueMode).toBe('redis');
    expect(c.publicBaseUrl).toBe('https://gw.example.com');
    expect(c.describeMode()).toContain('mode=production');
  });

  it('treats empty strings as unset', () => {
    const c = loadConfig({ DATABASE_URL: '', REDIS_URL: '', ADMIN_TOKEN: '' });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.ADMIN_TOKEN).toBeUndefined();
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['LOG_LEVEL', 'loud'],
    ['WORKER_IN_PROCESS', 'maybe'],
    ['OPENAI_BASE_URL', 'not a url'],
    ['ADMIN_TOKEN', 'short'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(name);
  });

  describe('IMAGE_RETENTION_HOURS', () => {
    const refusal = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).message;
      }
      throw new Error(`accepted ${JSON.stringify(env)}`);
    };

    it('keeps images 7 days by default, and for ever with 0', () => {
      expect(loadConfig({}).IMAGE_RETENTION_HOURS).toBe(168);
      expect(loadConfig({ IMAGE_RETENTION_HOURS: '0', IMAGE_URL_TTL_SECONDS: '604800' }).IMAGE_RETENTION_HOURS).toBe(0);
    });

    it('accepts a retention at least as long as the signed links last', () => {
      expect(loadConfig({ IMAGE_RETENTION_HOURS: '1' }).IMAGE_RETENTION_HOURS).toBe(1);
      expect(loadConfig({ IMAGE_RETENTION_HOURS: '2', IMAGE_URL_TTL_SECONDS: '7200' }).IMAGE_RETENTION_HOURS).toBe(2);
      expect(loadConfig({ IMAGE_RETENTION_HOURS: '2', IMAGE_URL_TTL_SECONDS: '5400' }).IMAGE_RETENTION_HOURS).toBe(2);
      expect(loadConfig({ IMAGE_URL_TTL_SECONDS: '604800' }).IMAGE_RETENTION_HOURS).toBe(168);
    });

    it('refuses a retention shorter than the signed links last, saying what would do', () => {
      const message = refusal({ IMAGE_RETENTION_HOURS: '1', IMAGE_URL_TTL_SECONDS: '5400' });
      expect(message).toContain('IMAGE_RETENTION_HOURS=1');
      expect(message).toContain('IMAGE_URL_TTL_SECONDS=5400');
      expect(message).toContain('at least 2');
      expect(message).toContain('or to 0');
      expect(refusal({ IMAGE_RETENTION_HOURS: '167', IMAGE_URL_TTL_SECONDS: '604800' })).toContain('at least 168');
    });

    it.each(['-1', '1.5', 'a week'])('refuses %s', (value) => {
      expect(refusal({ IMAGE_RETENTION_HOURS: value })).toContain('IMAGE_RETENTION_HOURS');
    });
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/usr/bin', SOMETHING_ELSE: 'x' })).not.toThrow();
  });
});

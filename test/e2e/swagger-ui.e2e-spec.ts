import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(90_000);

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/**
 * Swagger UI rendered by a real browser: the page's JavaScript must load its assets from the gateway
 * (no CDN is reachable) and render every public route. Needs Debian's chromium; .ci/run installs it.
 */
(CHROMIUM ? describe : describe.skip)('Swagger UI in headless Chromium', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => gw?.close());

  it('renders the documented routes', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'sy-chromium-'));
    try {
      const { stdout } = await promisify(execFile)(
        CHROMIUM as string,
        [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync',
          `--user-data-dir=${profile}`, '--virtual-time-budget=10000', '--dump-dom', `${gw.url}/docs`,
        ],
        { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
      );
      const paths = [...stdout.matchAll(/class="opblock-summary-path" data-path="([^"]+)"/g)].map((m) => m[1]);
      expect(paths).toEqual(expect.arrayContaining(['/admin/tenants', '/v1/models', '/v1/balance', '/v1/usage', '/v1beta/models']));
      expect(stdout).toContain('Switchyard');
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

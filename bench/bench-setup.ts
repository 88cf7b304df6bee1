/**
 * What the benchmark prepares before measuring, shared by `npm run bench` and its smoke test: the simulator
 * scripted to answer image requests with a 1.5 MB `b64_json` body, and a Switchyard tenant whose key has
 * rate limits on (so every request pays the limiter's round trip) and credit for any run.
 */
import sharp from 'sharp';
import { request } from 'undici';

/** base64 characters of the image answer; the "1.5 MB image body" */
export const IMAGE_B64_CHARS = 1_500_000;

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as unknown) : null };
}

/** A real PNG whose base64 is close to `b64Chars`: noise does not compress, so its size follows its area. */
export async function noisePngBase64(b64Chars = IMAGE_B64_CHARS): Promise<string> {
  const encode = async (edge: number): Promise<string> => {
    const data = await sharp({ create: { width: edge, height: edge, channels: 3, background: { r: 90, g: 120, b: 160 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    return data.toString('base64');
  };
  let edge = 600;
  let b64 = await encode(edge);
  for (let i = 0; i < 3 && Math.abs(b64.length - b64Chars) > b64Chars * 0.03; i++) {
    edge = Math.max(16, Math.round(edge * Math.sqrt(b64Chars / b64.length)));
    b64 = await encode(edge);
  }
  return b64;
}

/**
 * Scripts the simulator (in this process or another, through its HTTP control API) to answer every OpenAI
 * image generation with its own answer for the benchmark's request, the image swapped for a 1.5 MB one.
 */
export async function scriptLargeImages(simulatorOrigin: string, b64Chars = IMAGE_B64_CHARS): Promise<number> {
  const sample = await post(
    `${simulatorOrigin}/openai/v1/images/generations`,
    { model: 'gpt-image-1', prompt: 'benchmark sample', size: '1024x1024' },
    { authorization: 'Bearer sk-sim-openai' },
  );
  const answer = sample.body as { data?: Array<Record<string, unknown>> } | null;
  if (sample.status !== 200 || !answer?.data?.[0]) throw new Error(`simulator image sample failed: HTTP ${sample.status}`);
  answer.data[0]['b64_json'] = await noisePngBase64(b64Chars);
  const rule = { provider: 'openai', path: 'images/generations', times: -1, body: answer };
  const scripted = await post(`${simulatorOrigin}/_sim/rules`, rule);
  if (scripted.status !== 201) throw new Error(`scripting the simulator failed: HTTP ${scripted.status}`);
  return JSON.stringify(answer).length;
}

/** A tenant with ample credit and a key with per-minute limits far above any run, so limits are checked, never hit. */
export async function createBenchTenant(gatewayOrigin: string, adminToken: string): Promise<{ tenantId: string; key: string }> {
  const auth = { authorization: `Bearer ${adminToken}` };
  const tenant = await post(`${gatewayOrigin}/admin/tenants`, { name: `bench-${Date.now().toString(36)}`, credit_usd: 1_000_000 }, auth);
  const tenantId = (tenant.body as { id?: string } | null)?.id;
  if (tenant.status !== 201 || !tenantId) throw new Error(`tenant create failed: HTTP ${tenant.status} ${JSON.stringify(tenant.body)}`);
  const key = await post(`${gatewayOrigin}/admin/tenants/${tenantId}/keys`, { name: 'bench', rpm_limit: 1_000_000, images_per_minute: 100_000 }, auth);
  const secret = (key.body as { key?: string } | null)?.key;
  if (key.status !== 201 || !secret) throw new Error(`key create failed: HTTP ${key.status} ${JSON.stringify(key.body)}`);
  return { tenantId, key: secret };
}

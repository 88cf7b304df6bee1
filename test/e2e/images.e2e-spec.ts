import OpenAI from 'openai';
import sharp from 'sharp';
import { PrismaService } from '@app/database';
import { ModelCatalog } from '@app/providers';
import { UrlSigner } from '@app/storage';
import { ImageGenerationService } from '../../apps/gateway/src/images/image-generation.service';
import { startGateway, type TestGateway } from '../support/gateway';

jest.setTimeout(120_000);

/** Every model the seed documents name for /v1/images/generations, with a size each renders exactly. */
const IMAGE_MODELS: [model: string, size: string, format: 'png' | 'jpeg'][] = [
  ['openai/gpt-image-1', '1024x1536', 'png'],
  ['openai/gpt-image-1-mini', '1024x1024', 'png'],
  ['openai/gpt-image-1.5', '1536x1024', 'png'],
  ['openai/gpt-image-2', '1024x1024', 'png'],
  ['google/imagen-4.0-fast-generate-001', '1024x1024', 'png'],
  ['google/imagen-4.0-generate-001', '1408x768', 'png'],
  ['google/imagen-4.0-ultra-generate-001', '1024x1024', 'png'],
  ['grok/grok-imagine-image', '1024x1024', 'jpeg'],
  ['grok/grok-imagine-image-pro', '1024x768', 'jpeg'],
];

function dims(size: string): { width: number; height: number } {
  const [width, height] = size.split('x').map(Number);
  return { width, height };
}

async function balanceMicros(gw: TestGateway, tenantId: string): Promise<bigint> {
  const t = await gw.app.get(PrismaService).tenant.findUniqueOrThrow({ where: { id: tenantId } });
  return t.balanceMicros;
}

describe('POST /v1/images/generations through the openai SDK', () => {
  let gw: TestGateway;
  let tenant: { tenantId: string; keyId: string; key: string };
  let client: OpenAI;
  let prisma: PrismaService;

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    tenant = await gw.newTenant(100);
    client = new OpenAI({ apiKey: tenant.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  describe.each(IMAGE_MODELS)('%s', (model, size, format) => {
    it('answers b64_json with a real image of the requested size, charged at list price', async () => {
      const before = await balanceMicros(gw, tenant.tenantId);
      const { data: res, response } = await client.images
        .generate({ model, prompt: 'A lighthouse at dusk, oil painting', size: size as '1024x1024', response_format: 'b64_json' })
        .withResponse();
      expect(res.data).toHaveLength(1);
      const bytes = Buffer.from(res.data![0].b64_json!, 'base64');
      const meta = await sharp(bytes).metadata();
      expect({ width: meta.width, height: meta.height }).toEqual(dims(size));
      expect(meta.format).toBe(format);

      const jobId = response.headers.get('x-switchyard-job-id')!;
      expect(response.headers.get('x-switchyard-fallback-level')).toBe('0');
      expect(response.headers.get('x-switchyard-fallback-model')).toBe(model);
      // The job id is the request id, so X-Request-Id names the usage record.
      expect(response.headers.get('x-request-id')).toBe(jobId);
      const usage = await prisma.usageRecord.findUniqueOrThrow({ where: { id: jobId } });
      expect(usage).toMatchObject({ servedModel: model, fallbackLevel: 0, status: 'succeeded', endpoint: '/v1/images/generations', images: 1 });
      expect(usage.costMicros).toBeGreaterThan(0n);
      expect(response.headers.get('x-switchyard-cost-usd')).toBe((Number(usage.costMicros) / 1e6).toFixed(6));
      expect(before - (await balanceMicros(gw, tenant.tenantId))).toBe(usage.costMicros);
      const stored = await prisma.storedImage.findMany({ where: { jobId } });
      expect(stored).toHaveLength(1);
    });

    it('answers url with a signed link that serves the image without an API key', async () => {
      const res = await client.images.generate({ model, prompt: 'A fox in the snow', size: size as '1024x1024', response_format: 'url' });
      const url = res.data![0].url!;
      expect(url).toMatch(/\/v1\/images\/files\/[0-9a-f-]{36}\?expires=\d+&signature=[0-9a-f]{64}$/);
      expect(res.data![0].b64_json).toBeUndefined();
      const got = await fetch(url);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(`image/${format}`);
      const meta = await sharp(Buffer.from(await got.arrayBuffer())).metadata();
      expect({ width: meta.width, height: meta.height }).toEqual(dims(size));
    });

    // One seed documents `url` as the default, the other reads `data[0].b64_json` from a request without
    // `response_format` (as OpenAI's GPT image models answer): both fit in one item.
    it('answers a request without response_format with both the signed link and the base64 of one image', async () => {
      const res = await client.images.generate({ model, prompt: 'A heron at dawn', size: size as '1024x1024' });
      expect(res.data).toHaveLength(1);
      const bytes = Buffer.from(res.data![0].b64_json!, 'base64');
      const meta = await sharp(bytes).metadata();
      expect({ width: meta.width, height: meta.height, format: meta.format }).toEqual({ ...dims(size), format });
      const got = await fetch(res.data![0].url!);
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    });
  });

  it('refuses expired and altered links with 403', async () => {
    const res = await client.images.generate({ model: 'openai/gpt-image-1-mini', prompt: 'A red kite', size: '1024x1024', quality: 'low' });
    const url = new URL(res.data![0].url!);
    const id = url.pathname.split('/').pop()!;
    expect((await fetch(url)).status).toBe(200);

    const expired = gw.app.get(UrlSigner).buildUrl(gw.url, id, 60, Date.now() - 2 * 3600_000);
    const e = await fetch(expired);
    expect(e.status).toBe(403);
    expect((await e.json() as any).error.code).toBe('url_expired');

    const tampered = new URL(url);
    const sig = tampered.searchParams.get('signature')!;
    tampered.searchParams.set('signature', `${sig[0] === 'a' ? 'b' : 'a'}${sig.slice(1)}`);
    expect((await fetch(tampered)).status).toBe(403);

    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    expect((await fetch(later)).status).toBe(403);

    const other = new URL(url);
    other.pathname = other.pathname.replace(id, '00000000-0000-4000-8000-000000000000');
    expect((await fetch(other)).status).toBe(403);
  });

  it("hides one tenant's jobs from another (404)", async () => {
    const { response } = await client.images.generate({ model: 'grok/grok-imagine-image', prompt: 'A boat' }).withResponse();
    const jobId = response.headers.get('x-switchyard-job-id')!;
    const mine = await fetch(`${gw.url}/v1/images/generations/${jobId}`, { headers: { authorization: `Bearer ${tenant.key}` } });
    expect(mine.status).toBe(200);
    expect(await mine.json() as any).toMatchObject({ id: jobId, status: 'succeeded', served_model: 'grok/grok-imagine-image' });

    const other = await gw.newTenant(1);
    const theirs = await fetch(`${gw.url}/v1/images/generations/${jobId}`, { headers: { authorization: `Bearer ${other.key}` } });
    expect(theirs.status).toBe(404);
    expect((await theirs.json() as any).error.code).toBe('job_not_found');
  });

  it('falls back to the second model when the first keeps failing; the tenant pays only the second', async () => {
    const payer = await gw.newTenant(5);
    const c = new OpenAI({ apiKey: payer.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    gw.sim.script({ provider: 'google', model: 'imagen-4.0-ultra-generate-001', status: 503, times: -1 });
    const before = await balanceMicros(gw, payer.tenantId);
    const { data: res, response } = await c.images
      .generate({
        model: 'google/imagen-4.0-ultra-generate-001',
        prompt: 'A castle on a hill',
        size: '1024x1024',
        response_format: 'b64_json',
        // the fallback chain, as SDK users send it
        ...({ models: ['grok/grok-imagine-image'] } as object),
      })
      .withResponse();
    expect(res.data).toHaveLength(1);
    expect(response.headers.get('x-switchyard-fallback-level')).toBe('1');
    expect(response.headers.get('x-switchyard-fallback-model')).toBe('grok/grok-imagine-image');
    expect(gw.sim.calls({ provider: 'google', model: 'imagen-4.0-ultra-generate-001' }).length).toBeGreaterThanOrEqual(2);

    const jobId = response.headers.get('x-switchyard-job-id')!;
    const job = await (await fetch(`${gw.url}/v1/images/generations/${jobId}`, { headers: { authorization: `Bearer ${payer.key}` } })).json() as any;
    expect(job).toMatchObject({ status: 'succeeded', served_model: 'grok/grok-imagine-image', fallback_level: 1, models: ['google/imagen-4.0-ultra-generate-001', 'grok/grok-imagine-image'] });
    const usage = await prisma.usageRecord.findUniqueOrThrow({ where: { id: jobId } });
    expect(usage).toMatchObject({ servedModel: 'grok/grok-imagine-image', fallbackLevel: 1, requestedModel: 'google/imagen-4.0-ultra-generate-001', provider: 'xai' });
    // Grok Imagine's list price is $0.02 per image; Imagen Ultra's $0.06 was only reserved.
    expect(usage.costMicros).toBe(20_000n);
    expect(response.headers.get('x-switchyard-cost-usd')).toBe('0.020000');
    expect(before - (await balanceMicros(gw, payer.tenantId))).toBe(20_000n);
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: payer.tenantId } });
    expect(t.reservedMicros).toBe(0n);
  });

  it('replays an Idempotency-Key: one job, one charge; 409 for a different body', async () => {
    const payer = await gw.newTenant(5);
    const c = new OpenAI({ apiKey: payer.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const body = { model: 'google/imagen-4.0-fast-generate-001', prompt: 'A teapot', n: 2, response_format: 'b64_json' as const };
    const headers = { 'Idempotency-Key': 'order-42' };
    const before = await balanceMicros(gw, payer.tenantId);
    const first = await c.images.generate(body, { headers }).withResponse();
    const second = await c.images.generate(body, { headers }).withResponse();
    const jobId = first.response.headers.get('x-switchyard-job-id');
    expect(second.response.headers.get('x-switchyard-job-id')).toBe(jobId);
    expect(second.response.headers.get('idempotent-replayed')).toBe('true');
    expect(second.data.data!.map((d) => d.b64_json)).toEqual(first.data.data!.map((d) => d.b64_json));
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);
    expect(await prisma.imageJob.count({ where: { tenantId: payer.tenantId } })).toBe(1);
    expect(await prisma.usageRecord.count({ where: { tenantId: payer.tenantId } })).toBe(1);
    expect(before - (await balanceMicros(gw, payer.tenantId))).toBe(40_000n);

    await expect(c.images.generate({ ...body, prompt: 'A different teapot' }, { headers })).rejects.toMatchObject({ status: 409, code: 'idempotency_key_reused' });
    expect(await prisma.imageJob.count({ where: { tenantId: payer.tenantId } })).toBe(1);
  });

  it('gives ten concurrent requests with one Idempotency-Key one job and one charge; another tenant’s same key is its own', async () => {
    const payer = await gw.newTenant(5);
    const other = await gw.newTenant(5);
    const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const body = { model: 'google/imagen-4.0-fast-generate-001', prompt: 'A kite', response_format: 'b64_json' as const };
    const headers = { 'Idempotency-Key': 'kite-order-7' };
    const before = await balanceMicros(gw, payer.tenantId);
    const answers = await Promise.all(Array.from({ length: 10 }, () => client(payer.key).images.generate(body, { headers }).withResponse()));
    const jobIds = new Set(answers.map((a) => a.response.headers.get('x-switchyard-job-id')));
    expect(jobIds.size).toBe(1);
    expect(new Set(answers.map((a) => a.data.data![0].b64_json)).size).toBe(1);
    const theirs = await client(other.key).images.generate(body, { headers }).withResponse();
    expect(jobIds.has(theirs.response.headers.get('x-switchyard-job-id'))).toBe(false);

    expect(await prisma.imageJob.count({ where: { tenantId: payer.tenantId } })).toBe(1);
    expect(await prisma.usageRecord.count({ where: { tenantId: payer.tenantId } })).toBe(1);
    expect(await prisma.imageJob.count({ where: { tenantId: other.tenantId } })).toBe(1);
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(2);
    expect(before - (await balanceMicros(gw, payer.tenantId))).toBe(20_000n);
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: payer.tenantId } });
    expect(t.reservedMicros).toBe(0n);
  });

  describe('ten concurrent requests with one Idempotency-Key, when only one can be admitted', () => {
    const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const body = { model: 'google/imagen-4.0-fast-generate-001', prompt: 'A lone kite', response_format: 'b64_json' as const };

    async function tenAtOnce(payer: { tenantId: string; key: string }, idempotencyKey: string) {
      const before = await balanceMicros(gw, payer.tenantId);
      const generate = () => client(payer.key).images.generate(body, { headers: { 'Idempotency-Key': idempotencyKey } }).withResponse();
      const answers = await Promise.allSettled(Array.from({ length: 10 }, generate));
      const refused = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as { status?: number; message?: string }] : []));
      expect(refused.map((r) => `${r.status} ${r.message}`)).toEqual([]);
      const ok = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
      const jobIds = new Set(ok.map((a) => a.response.headers.get('x-switchyard-job-id')));
      expect(jobIds.size).toBe(1);
      expect(new Set(ok.map((a) => a.data.data![0].b64_json)).size).toBe(1);
      expect(ok.filter((a) => a.response.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
      expect(await prisma.imageJob.count({ where: { tenantId: payer.tenantId } })).toBe(1);
      expect(await prisma.usageRecord.count({ where: { tenantId: payer.tenantId } })).toBe(1);
      expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);
      expect(before - (await balanceMicros(gw, payer.tenantId))).toBe(20_000n);
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: payer.tenantId } })).reservedMicros).toBe(0n);
    }

    it('all get the one job when the balance covers exactly one job: one reservation, one charge', async () => {
      const payer = await gw.newTenant(0.02);
      await tenAtOnce(payer, 'exactly-one-job');
      expect(await balanceMicros(gw, payer.tenantId)).toBe(0n);
    });

    it('all get the one job when the key may generate one image a minute', async () => {
      const payer = await gw.newTenant(5, { images_per_minute: 1 });
      await tenAtOnce(payer, 'one-image-a-minute');
    });
  });

  it('answers a replay of a finished job without using rate-limit quota', async () => {
    const payer = await gw.newTenant(5, { rpm_limit: 1, images_per_minute: 1 });
    const c = new OpenAI({ apiKey: payer.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const body = { model: 'google/imagen-4.0-fast-generate-001', prompt: 'A retried teapot', response_format: 'b64_json' as const };
    const headers = { 'Idempotency-Key': 'retried-after-timeout' };
    const first = await c.images.generate(body, { headers }).withResponse();
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    for (let i = 0; i < 3; i++) {
      const again = await c.images.generate(body, { headers }).withResponse();
      expect(again.response.headers.get('x-switchyard-job-id')).toBe(first.response.headers.get('x-switchyard-job-id'));
      expect(again.response.headers.get('idempotent-replayed')).toBe('true');
      expect(again.data.data![0].b64_json).toBe(first.data.data![0].b64_json);
    }
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);
    expect(await prisma.usageRecord.count({ where: { tenantId: payer.tenantId } })).toBe(1);
  });

  it('runs asynchronously on Prefer: respond-async and can be polled to completion', async () => {
    const res = await fetch(`${gw.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ model: 'openai/gpt-image-1-mini', prompt: 'A bicycle', n: 2, quality: 'low', response_format: 'b64_json' }),
    });
    expect(res.status).toBe(202);
    const accepted = await res.json() as any;
    expect(accepted).toMatchObject({ object: 'image.generation.job', status: expect.stringMatching(/^(queued|running|succeeded)$/) });
    expect(res.headers.get('x-switchyard-job-id')).toBe(accepted.id);

    let job: any;
    for (let i = 0; i < 200; i++) {
      job = await (await fetch(`${gw.url}/v1/images/generations/${accepted.id}`, { headers: { authorization: `Bearer ${tenant.key}` } })).json() as any;
      if (job.status === 'succeeded' || job.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(job).toMatchObject({ id: accepted.id, status: 'succeeded', served_model: 'openai/gpt-image-1-mini', fallback_level: 0, attempts: 1 });
    expect(job.result.data).toHaveLength(2);
    expect((await sharp(Buffer.from(job.result.data[0].b64_json, 'base64')).metadata()).width).toBe(1024);
    expect(job.result.usage.output_tokens).toBe(2 * 272);
    // GPT image models are billed by their tokens ($2/M text in, $8/M image out for the mini), never also per image.
    const usage = await prisma.usageRecord.findUniqueOrThrow({ where: { id: accepted.id } });
    expect(usage.imageOutputTokens).toBe(544);
    expect(usage.costMicros).toBe(BigInt(Math.round((usage.inputTokens * 2_000_000) / 1e6)) + 4_352n);
  });

  it('keeps a job without response_format answering with both forms when it is read later', async () => {
    const auth = { authorization: `Bearer ${tenant.key}` };
    const res = await fetch(`${gw.url}/v1/images/generations`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ model: 'openai/gpt-image-1-mini', prompt: 'A lantern', quality: 'low' }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    let job: any;
    for (let i = 0; i < 200; i++) {
      job = await (await fetch(`${gw.url}/v1/images/generations/${id}`, { headers: auth })).json();
      if (job.status === 'succeeded' || job.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(job.status).toBe('succeeded');
    const [datum] = job.result.data;
    const bytes = Buffer.from(datum.b64_json, 'base64');
    expect((await sharp(bytes).metadata()).width).toBe(1024);
    expect(Buffer.from(await (await fetch(datum.url)).arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("generates for other routes through ImageGenerationService (chat's Gemini image models), billed the same way", async () => {
    const payer = await gw.newTenant(5);
    const catalog = gw.app.get(ModelCatalog);
    const chain = [catalog.resolve('google/gemini-2.5-flash-image')!, catalog.resolve('openai/gpt-image-1-mini')!];
    gw.sim.script({ provider: 'google', model: 'gemini-2.5-flash-image', status: 500, times: -1 });
    const before = await balanceMicros(gw, payer.tenantId);
    const out = await gw.app.get(ImageGenerationService).generate(
      {
        payer: { tenantId: payer.tenantId, keyId: payer.keyId },
        endpoint: '/v1/chat/completions',
        requestedModel: 'google/gemini-2.5-flash-image',
        chain,
        request: { prompt: 'A paper crane', n: 1, size: '1024x1024', quality: 'low' },
      },
      30_000,
    );
    expect(out).toMatchObject({ servedModel: 'openai/gpt-image-1-mini', provider: 'openai', fallbackLevel: 1 });
    expect(out.images).toHaveLength(1);
    expect(out.images[0].mimeType).toBe('image/png');
    expect((await sharp(out.images[0].data).metadata()).width).toBe(1024);
    expect(out.usage.imageOutput).toBe(272);
    const usage = await prisma.usageRecord.findUniqueOrThrow({ where: { id: out.jobId } });
    expect(usage).toMatchObject({ endpoint: '/v1/chat/completions', servedModel: 'openai/gpt-image-1-mini', fallbackLevel: 1 });
    expect(usage.costMicros).toBe(out.costMicros);
    expect(before - (await balanceMicros(gw, payer.tenantId))).toBe(out.costMicros);

    gw.sim.reset();
    gw.sim.script({ provider: 'google', model: 'gemini-2.5-flash-image', noImage: true, times: -1 });
    gw.sim.script({ provider: 'openai', status: 400, body: { error: { message: 'Your request was rejected by our safety system', type: 'image_generation_user_error', code: 'moderation_blocked' } }, times: -1 });
    await expect(
      gw.app.get(ImageGenerationService).generate(
        { payer: { tenantId: payer.tenantId, keyId: payer.keyId }, endpoint: '/v1/chat/completions', requestedModel: 'x', chain, request: { prompt: 'Refused' } },
        30_000,
      ),
    ).rejects.toMatchObject({ status: 400, code: 'content_policy_violation', headers: { 'X-Switchyard-Job-Id': expect.any(String) } });
  });

  describe('bad requests get 400 naming the field, and no job', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['n: 11', { model: 'openai/gpt-image-1', n: 11 }, 'n'],
      ['n: 0', { model: 'openai/gpt-image-1', n: 0 }, 'n'],
      ['an unsupported size', { model: 'openai/gpt-image-1', size: '999x999' }, 'size'],
      ['an unknown model', { model: 'openai/no-such-image-model' }, 'model'],
      ['a Gemini image model', { model: 'google/gemini-2.5-flash-image' }, 'model'],
      ['a prompt over the limit', { model: 'openai/gpt-image-1', prompt: 'x'.repeat(32_001) }, 'prompt'],
      ['n above the model maximum', { model: 'google/imagen-4.0-ultra-generate-001', n: 2 }, 'n'],
      ['a quality the model lacks', { model: 'google/imagen-4.0-generate-001', quality: 'hd' }, 'quality'],
      ['an unknown fallback model', { model: 'openai/gpt-image-1', models: ['openai/nope'] }, 'models[0]'],
    ];
    it.each(cases)('%s', async (_label, body, param) => {
      const jobsBefore = await prisma.imageJob.count();
      const err = await client.images.generate({ prompt: 'A cat', ...body } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const e = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(e.param).toBe(param);
      if (param === 'size') expect(e.message).toContain('1024x1024');
      if (body.model === 'google/gemini-2.5-flash-image') expect(e.message).toMatch(/\/v1\/chat\/completions.*generateContent/);
      expect(await prisma.imageJob.count()).toBe(jobsBefore);
      expect(gw.sim.calls()).toHaveLength(0);
    });
  });
});

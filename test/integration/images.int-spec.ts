import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { UnrecoverableError, Worker } from 'bullmq';
import { AppConfig } from '@app/common';
import { PrismaService, SQL_DATABASE, type SqlDatabase } from '@app/database';
import { BillingService, ReservationSweeper } from '@app/billing';
import { IMAGE_JOB_OPTIONS, IMAGE_QUEUE, JobCompletionSignal } from '@app/queue';
import { IMAGE_STORE, loadImageUrlSecret, readImageObject, type ImageStore } from '@app/storage';
import { ImageGenerationProcessor } from '../../apps/worker/src/image-generation.processor';
import { ImageJobReconciler } from '../../apps/worker/src/image-job-reconciler';
import { ImageJobEvents } from '../../apps/gateway/src/images/image-job-events';
import { IMAGE_RESERVATION_TTL_MS } from '../../apps/gateway/src/images/image-generation.service';
import { standaloneImageProcessor, startGateway, type TestGateway } from '../support/gateway';
import { waitUntil } from '../support/processes';

jest.setTimeout(120_000);

/**
 * The gateway with its worker out of process (WORKER_IN_PROCESS=false): jobs wait in the queue until the test
 * runs the processor itself, which is how a crash, a stall or a second worker is staged.
 */
describe('image jobs with the worker out of process', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let store: ImageStore;
  let processor: ImageGenerationProcessor;

  beforeAll(async () => {
    gw = await startGateway({ WORKER_IN_PROCESS: 'false', IMAGE_SYNC_TIMEOUT_MS: '400' });
    prisma = gw.app.get(PrismaService);
    store = gw.app.get<ImageStore>(IMAGE_STORE);
    // A worker of its own, not the gateway's: nothing but the job's row tells the gateway the job is done.
    processor = standaloneImageProcessor(gw.app);
  });
  afterAll(async () => gw?.close());
  beforeEach(() => gw.sim.reset());

  async function post(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${gw.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  }

  async function tenantState(tenantId: string) {
    const t = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    return { balance: t.balanceMicros, reserved: t.reservedMicros };
  }

  it('queues the job under its own id with retries, backoff and failed jobs kept for a bounded time and number', async () => {
    const { key } = await gw.newTenant(5);
    const res = await post(key, { model: 'grok/grok-imagine-image', prompt: 'A tree' }, { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    const { id } = await res.json() as any;
    const job = await gw.app.get<Queue>(getQueueToken(IMAGE_QUEUE)).getJob(id);
    expect(job?.id).toBe(id);
    expect(job?.opts).toMatchObject({ attempts: IMAGE_JOB_OPTIONS.attempts, backoff: IMAGE_JOB_OPTIONS.backoff });
    expect(job?.opts.removeOnFail).toEqual({ age: expect.any(Number), count: expect.any(Number) });
    expect(job?.opts.removeOnFail).toEqual(IMAGE_JOB_OPTIONS.removeOnFail);
    expect(job?.data).toEqual({ jobId: id, tenantId: expect.any(String) });
  });

  it('answers 504 naming the job when the wait runs out; the job carries on and can be fetched', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const res = await post(key, { model: 'google/imagen-4.0-fast-generate-001', prompt: 'A slow painting', response_format: 'b64_json' });
    expect(res.status).toBe(504);
    const jobId = res.headers.get('x-switchyard-job-id');
    const body = await res.json() as any;
    expect(body.error).toMatchObject({ code: 'generation_timeout', type: 'server_error', job_id: jobId });
    expect(body.error.message).toContain(jobId);
    // the reservation is still held for the job that carries on
    expect((await tenantState(tenantId)).reserved).toBe(20_000n);

    expect(await processor.run(jobId!)).toBe('succeeded');
    const job = await (await fetch(`${gw.url}/v1/images/generations/${jobId}`, { headers: { authorization: `Bearer ${key}` } })).json() as any;
    expect(job).toMatchObject({ status: 'succeeded', served_model: 'google/imagen-4.0-fast-generate-001' });
    expect(job.result.data[0].b64_json.length).toBeGreaterThan(100);
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n - 20_000n, reserved: 0n });
  });

  it('wakes a waiting request when a worker in another process finishes the job', async () => {
    const slow = await startGateway({ WORKER_IN_PROCESS: 'false', IMAGE_SYNC_TIMEOUT_MS: '20000' });
    try {
      const other = await slow.newTenant(5);
      const pending = fetch(`${slow.url}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${other.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'grok/grok-imagine-image', prompt: 'A harbour', response_format: 'b64_json' }),
      });
      const slowPrisma = slow.app.get(PrismaService);
      let row = null;
      for (let i = 0; i < 100 && !row; i++) {
        row = await slowPrisma.imageJob.findFirst({ where: { tenantId: other.tenantId } });
        if (!row) await new Promise((r) => setTimeout(r, 20));
      }
      const worker = standaloneImageProcessor(slow.app);
      expect(await worker.run(row!.id)).toBe('succeeded');
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchyard-job-id')).toBe(row!.id);
      expect((await res.json() as any).data).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  it('hears of jobs finished by a BullMQ worker in another process through the queue events, on a shared database', async () => {
    const queue = gw.app.get<Queue>(getQueueToken(IMAGE_QUEUE));
    const shared = gw.app.get(AppConfig).databaseMode === 'postgres';
    if (!shared) {
      // The embedded database is one process: its gateway has no use for queue events and does not listen to them.
      expect(() => gw.app.get(ImageJobEvents, { strict: false })).toThrow();
      return;
    }
    expect(gw.app.get(ImageJobEvents, { strict: false }).queueEvents).toBeDefined();
    const { key } = await gw.newTenant(5);
    const res = await post(key, { model: 'grok/grok-imagine-image', prompt: 'An event' }, { prefer: 'respond-async' });
    const { id } = (await res.json()) as { id: string };
    const heard = gw.app.get(JobCompletionSignal).listen(id);
    // A worker of the test's own, with a signal of its own: only the queue's events can reach the gateway's.
    const worker = new Worker(IMAGE_QUEUE, (job) => processor.process(job), { connection: queue.opts.connection, prefix: queue.opts.prefix });
    try {
      expect(await heard.next(20_000)).toEqual({});
      expect((await prisma.imageJob.findUniqueOrThrow({ where: { id } })).status).toBe('succeeded');
    } finally {
      heard.stop();
      await worker.close();
    }
  });

  it('runs a job in three statements of its own: claim, record the images, finish', async () => {
    const { key } = await gw.newTenant(5);
    const { id } = await (await post(key, { model: 'grok/grok-imagine-image', prompt: 'A lamp', n: 2 }, { prefer: 'respond-async' })).json() as any;
    const db = gw.app.get<SqlDatabase>(SQL_DATABASE);
    const statements: string[] = [];
    const counted: SqlDatabase = { ...db, query: (sql: string, params?: unknown[]) => (statements.push(sql.trim()), db.query(sql, params)) } as SqlDatabase;
    const signal = new JobCompletionSignal();
    const listener = signal.listen(id);
    const worker = standaloneImageProcessor(gw.app, { db: counted, signal });
    expect(await worker.run(id)).toBe('succeeded');
    expect(statements).toHaveLength(3);
    expect(statements[0]).toMatch(/^WITH claimed AS \(\s*UPDATE image_jobs SET status = 'running'/);
    expect(statements[1]).toMatch(/^INSERT INTO stored_images/);
    expect(statements[2]).toMatch(/^UPDATE image_jobs\s+SET status = \$2/);
    // the finished row and the images reach waiters in this process with the notice
    const finished = (await listener.next(10_000))?.finished;
    listener.stop();
    expect(finished?.record).toMatchObject({ id, status: 'succeeded', servedModel: 'grok/grok-imagine-image', attempts: 1 });
    expect(finished?.record.result?.images).toHaveLength(2);
    expect(finished?.images).toHaveLength(2);
    const row = await prisma.imageJob.findUniqueOrThrow({ where: { id } });
    expect(finished?.record.result).toEqual(row.result);
    expect(finished?.record.completedAt).toEqual(row.completedAt);
    for (const [index, bytes] of (finished?.images ?? []).entries()) {
      const object = await store.get(`${row.tenantId}/${id}/${index}`);
      expect(object && (await readImageObject(object)).equals(bytes)).toBe(true);
    }
  });

  it('charges once and stores one set of images when the same job runs twice at once', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const res = await post(key, { model: 'google/imagen-4.0-generate-001', prompt: 'Twins', n: 3 }, { prefer: 'respond-async' });
    const { id } = await res.json() as any;
    const before = await tenantState(tenantId);
    expect(before.reserved).toBe(120_000n);

    expect(await Promise.all([processor.run(id), processor.run(id)])).toEqual(['succeeded', 'succeeded']);
    // both runs reached the upstream (a stalled job picked up while the first run still worked)...
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(2);
    // ...but the tenant pays for one, and one set of images exists
    expect(await prisma.usageRecord.count({ where: { id } })).toBe(1);
    expect(await prisma.ledgerEntry.count({ where: { usageId: id } })).toBe(1);
    expect(await tenantState(tenantId)).toEqual({ balance: before.balance - 120_000n, reserved: 0n });
    const images = await prisma.storedImage.findMany({ where: { jobId: id }, orderBy: { index: 'asc' } });
    expect(images.map((i) => i.index)).toEqual([0, 1, 2]);
    for (const image of images) {
      const object = await store.get(image.storageKey);
      expect(object).not.toBeNull();
      object?.stream?.destroy();
    }

    // a finished job is not run again
    expect(await processor.run(id)).toBe('succeeded');
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(2);
  });

  it('finishes a job that died after settling without generating or charging again', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const { id } = await (await post(key, { model: 'grok/grok-imagine-image-pro', prompt: 'Phoenix', n: 2 }, { prefer: 'respond-async' })).json() as any;
    expect(await processor.run(id)).toBe('succeeded');
    const after = await tenantState(tenantId);
    const firstImages = await prisma.storedImage.findMany({ where: { jobId: id }, orderBy: { index: 'asc' } });
    // the worker crashed between settling and finishing the row; the stalled job is run again
    await prisma.imageJob.update({ where: { id }, data: { status: 'running', result: undefined, completedAt: null } });

    expect(await processor.run(id)).toBe('succeeded');
    expect(gw.sim.calls({ provider: 'xai' })).toHaveLength(1);
    expect(await tenantState(tenantId)).toEqual(after);
    expect(await prisma.storedImage.findMany({ where: { jobId: id }, orderBy: { index: 'asc' } })).toEqual(firstImages);
    const job = await (await fetch(`${gw.url}/v1/images/generations/${id}`, { headers: { authorization: `Bearer ${key}` } })).json() as any;
    expect(job.result.data).toHaveLength(2);
    expect(job.result.data[0].url).toContain(firstImages[0].id);
  });

  it('fails at once on a content-policy refusal, without falling back, and releases the reservation', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    gw.sim.script({ provider: 'google', path: ':predict', noImage: true, times: -1 });
    const { id } = await (
      await post(key, { model: 'google/imagen-4.0-generate-001', models: ['grok/grok-imagine-image'], prompt: 'Something filtered' }, { prefer: 'respond-async' })
    ).json() as any;
    await expect(processor.run(id)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(gw.sim.calls({ provider: 'xai' })).toHaveLength(0);
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n, reserved: 0n });
    const usage = await prisma.usageRecord.findUniqueOrThrow({ where: { id } });
    expect(usage).toMatchObject({ status: 'failed', costMicros: 0n, servedModel: null });
    const job = await (await fetch(`${gw.url}/v1/images/generations/${id}`, { headers: { authorization: `Bearer ${key}` } })).json() as any;
    expect(job).toMatchObject({ status: 'failed', error: { code: 'content_policy_violation', type: 'invalid_request_error' }, result: null });
    expect(await prisma.storedImage.count({ where: { jobId: id } })).toBe(0);
  });

  it('fails with 502 once the whole chain is exhausted, and charges nothing', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    gw.sim.script({ provider: 'openai', status: 500, times: -1 });
    gw.sim.script({ provider: 'xai', status: 503, times: -1 });
    const { id } = await (
      await post(key, { model: 'openai/gpt-image-1-mini', models: ['grok/grok-imagine-image'], prompt: 'Storm' }, { prefer: 'respond-async' })
    ).json() as any;
    await expect(processor.run(id)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(gw.sim.calls({ provider: 'openai' })).toHaveLength(2);
    expect(gw.sim.calls({ provider: 'xai' })).toHaveLength(2);
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n, reserved: 0n });
    const row = await prisma.imageJob.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'failed', fallbackLevel: 1, attempts: 4 });
    expect(row.error).toMatchObject({ status: 502, code: 'upstream_error' });
  });

  it('refuses a job the balance cannot cover with 402 before anything is queued', async () => {
    const { key, tenantId } = await gw.newTenant(0.01);
    const res = await post(key, { model: 'google/imagen-4.0-ultra-generate-001', prompt: 'Too dear' });
    expect(res.status).toBe(402);
    expect((await res.json() as any).error.code).toBe('insufficient_balance');
    expect(await prisma.imageJob.count({ where: { tenantId } })).toBe(0);
  });

  describe('a job whose hold on the balance lapsed (a queue backlog longer than the hold, or a run that outlived it)', () => {
    const model = 'google/imagen-4.0-fast-generate-001'; // $0.02 an image: the worst case held is what a run charges
    const sweepPastTheHolds = () => gw.app.get(ReservationSweeper).releaseExpired(new Date(Date.now() + IMAGE_RESERVATION_TTL_MS + 60 * 60_000));
    const submit = async (key: string, prompt: string): Promise<string> => {
      const res = await post(key, { model, prompt }, { prefer: 'respond-async' });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const jobOf = async (key: string, id: string) =>
      (await (await fetch(`${gw.url}/v1/images/generations/${id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as any;

    it('is held again when a worker claims it; when the balance no longer covers it, it fails with 402 before any upstream call and charges nothing', async () => {
      const { key, tenantId } = await gw.newTenant(0.02); // exactly one job's worst case
      const first = await submit(key, 'Waited too long');
      expect(await tenantState(tenantId)).toEqual({ balance: 20_000n, reserved: 20_000n });
      // No worker reaches the job before its hold expires: the sweeper gives the held money back...
      expect(await sweepPastTheHolds()).toBeGreaterThanOrEqual(1);
      expect(await tenantState(tenantId)).toEqual({ balance: 20_000n, reserved: 0n });
      // ...and the tenant spends it on a second job.
      const second = await submit(key, 'Accepted on the money given back');
      expect(await tenantState(tenantId)).toEqual({ balance: 20_000n, reserved: 20_000n });

      // The worker works the backlog off in order.
      await expect(processor.run(first)).rejects.toBeInstanceOf(UnrecoverableError);
      expect(gw.sim.calls({ provider: 'google' })).toHaveLength(0);
      expect(await tenantState(tenantId)).toEqual({ balance: 20_000n, reserved: 20_000n });
      expect(await processor.run(second)).toBe('succeeded');
      expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);

      expect(await tenantState(tenantId)).toEqual({ balance: 0n, reserved: 0n });
      const failed = await jobOf(key, first);
      expect(failed).toMatchObject({ status: 'failed', attempts: 0, result: null, error: { type: 'insufficient_quota', code: 'insufficient_balance' } });
      expect(failed.error.message).toMatch(/hold.*expired.*nothing was charged/i);
      expect((await prisma.imageJob.findUniqueOrThrow({ where: { id: first } })).error).toMatchObject({ status: 402 });
      expect(await prisma.usageRecord.count({ where: { id: first } })).toBe(0);
      expect(await prisma.ledgerEntry.count({ where: { tenantId, kind: 'debit' } })).toBe(1);
      expect(await jobOf(key, second)).toMatchObject({ status: 'succeeded' });
    });

    it('is held again when a worker claims it and runs when the balance still covers it, charged once', async () => {
      const { key, tenantId } = await gw.newTenant(0.05);
      const id = await submit(key, 'Waited, still affordable');
      await sweepPastTheHolds();
      expect(await tenantState(tenantId)).toEqual({ balance: 50_000n, reserved: 0n });
      gw.sim.script({ provider: 'google', path: ':predict', delayMs: 1_000 });
      const run = processor.run(id);
      // while the upstream works, the job's worst case is held again
      await waitUntil('the upstream call', () => (gw.sim.calls({ provider: 'google' }).length === 1 ? true : undefined), 10_000, 20);
      expect(await tenantState(tenantId)).toEqual({ balance: 50_000n, reserved: 20_000n });
      expect(await run).toBe('succeeded');
      expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);
      expect(await tenantState(tenantId)).toEqual({ balance: 30_000n, reserved: 0n });
      expect(await prisma.usageRecord.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'succeeded', costMicros: 20_000n });
    });

    it('whose hold is swept while its upstream call runs is not charged unless the balance covers it again', async () => {
      const { key, tenantId } = await gw.newTenant(0.02);
      const id = await submit(key, 'Outlived its hold');
      gw.sim.script({ provider: 'google', path: ':predict', delayMs: 1_000 });
      const run = processor.run(id);
      await waitUntil('the upstream call', () => (gw.sim.calls({ provider: 'google' }).length === 1 ? true : undefined), 10_000, 20);
      // The run outlives its hold (a worker stalled past it): the money goes back and is spent on another job.
      expect(await sweepPastTheHolds()).toBeGreaterThanOrEqual(1);
      const other = await submit(key, 'Spent meanwhile');
      await expect(run).rejects.toBeInstanceOf(UnrecoverableError);

      expect(await tenantState(tenantId)).toEqual({ balance: 20_000n, reserved: 20_000n });
      const failed = await jobOf(key, id);
      expect(failed).toMatchObject({ status: 'failed', result: null, error: { type: 'insufficient_quota', code: 'insufficient_balance' } });
      expect((await prisma.imageJob.findUniqueOrThrow({ where: { id } })).error).toMatchObject({ status: 402 });
      // The upstream was called, so the job has its usage record, at no cost; its images are not kept.
      expect(await prisma.usageRecord.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'failed', costMicros: 0n });
      expect(await prisma.storedImage.count({ where: { jobId: id } })).toBe(0);
      expect(await store.get(`${tenantId}/${id}/0`)).toBeNull();

      expect(await processor.run(other)).toBe('succeeded');
      expect(await tenantState(tenantId)).toEqual({ balance: 0n, reserved: 0n });
      expect(await prisma.ledgerEntry.count({ where: { tenantId, kind: 'debit' } })).toBe(1);
    });

    it('whose hold is swept while its upstream call runs is charged when its cost can be held again', async () => {
      const { key, tenantId } = await gw.newTenant(0.05);
      const id = await submit(key, 'Outlived its hold, still affordable');
      gw.sim.script({ provider: 'google', path: ':predict', delayMs: 1_000 });
      const run = processor.run(id);
      await waitUntil('the upstream call', () => (gw.sim.calls({ provider: 'google' }).length === 1 ? true : undefined), 10_000, 20);
      expect(await sweepPastTheHolds()).toBeGreaterThanOrEqual(1);
      expect(await run).toBe('succeeded');
      expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);
      expect(await tenantState(tenantId)).toEqual({ balance: 30_000n, reserved: 0n });
      expect(await prisma.usageRecord.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'succeeded', costMicros: 20_000n });
      expect(await jobOf(key, id)).toMatchObject({ status: 'succeeded', result: { data: [expect.objectContaining({ b64_json: expect.any(String) })] } });
    });
  });

  it('lets a retry run after the queue could not take the job: a job never queued does not keep its Idempotency-Key', async () => {
    const { key, tenantId } = await gw.newTenant(5);
    const body = { model: 'google/imagen-4.0-fast-generate-001', prompt: 'Queued on the second try' };
    const headers = { prefer: 'respond-async', 'idempotency-key': 'the-queue-was-down' };
    // The queue refuses one add, as a Redis that is down does.
    const add = jest.spyOn(gw.app.get<Queue>(getQueueToken(IMAGE_QUEUE)), 'add').mockRejectedValueOnce(new Error('Connection is closed.'));
    try {
      const first = await post(key, body, headers);
      expect(first.status).toBe(503);
      expect(((await first.json()) as any).error.message).toMatch(/nothing was charged/);
      expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n, reserved: 0n });
    } finally {
      add.mockRestore();
    }
    const retry = await post(key, body, headers);
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    const { id } = (await retry.json()) as { id: string };
    expect(await processor.run(id)).toBe('succeeded');
    // From now on the key names the job that ran.
    const again = await post(key, body, headers);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(id);
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(1);
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n - 20_000n, reserved: 0n });
  });

  it('refuses each of ten concurrent requests with one Idempotency-Key that cannot be admitted, and leaves nothing behind', async () => {
    const { key, tenantId } = await gw.newTenant(0.01); // less than the job's worst case
    const body = { model: 'google/imagen-4.0-fast-generate-001', prompt: 'Too dear, ten times' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(key, body, { prefer: 'respond-async', 'idempotency-key': 'too-dear' })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(402));
    expect(await prisma.imageJob.count({ where: { tenantId } })).toBe(0);
    expect(await tenantState(tenantId)).toEqual({ balance: 10_000n, reserved: 0n });
  });

  it('takes over an Idempotency-Key left claimed by a request whose process died before admitting it', async () => {
    const { key, tenantId, keyId } = await gw.newTenant(5);
    const body = { model: 'google/imagen-4.0-fast-generate-001', prompt: 'Claimed, then orphaned' };
    const abandoned = '00000000-0000-4000-8000-0000000000a1';
    // what a gateway that died between claiming the key and admitting the request leaves: a pending row, and perhaps its hold
    await prisma.$executeRaw`INSERT INTO image_jobs (id, tenant_id, api_key_id, endpoint, status, request, chain, idempotency_key, request_hash, updated_at)
      VALUES (${abandoned}::uuid, ${tenantId}::uuid, ${keyId}::uuid, '/v1/images/generations', 'pending', '{}'::jsonb, ARRAY['google/imagen-4.0-fast-generate-001'],
              'orphaned-claim', 'x', now() - interval '1 minute')`;
    const res = await post(key, body, { prefer: 'respond-async', 'idempotency-key': 'orphaned-claim' });
    expect(res.status).toBe(202);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    const { id } = (await res.json()) as { id: string };
    expect(id).not.toBe(abandoned);
    expect(await prisma.imageJob.findMany({ where: { tenantId }, select: { id: true, status: true } })).toEqual([{ id, status: 'queued' }]);
    expect(await tenantState(tenantId)).toEqual({ balance: 5_000_000n, reserved: 20_000n });
  });

  it('counts n against the key’s images-per-minute limit', async () => {
    const { key } = await gw.newTenant(5, { images_per_minute: 3 });
    const first = await post(key, { model: 'grok/grok-imagine-image', prompt: 'One', n: 2 }, { prefer: 'respond-async' });
    expect(first.status).toBe(202);
    const second = await post(key, { model: 'grok/grok-imagine-image', prompt: 'Two', n: 2 }, { prefer: 'respond-async' });
    expect(second.status).toBe(429);
  });

  it('reconciles jobs with the queue: one it gave up on is finished, one it lost is queued again or failed', async () => {
    const queue = gw.app.get<Queue>(getQueueToken(IMAGE_QUEUE));
    const reconciler = new ImageJobReconciler(gw.app.get<SqlDatabase>(SQL_DATABASE), queue, processor);
    const { key, tenantId } = await gw.newTenant(5);
    const submit = async (prompt: string): Promise<string> => {
      const res = await post(key, { model: 'google/imagen-4.0-fast-generate-001', prompt }, { prefer: 'respond-async' });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    await queue.drain(true); // other tests' waiting jobs: their rows become "lost" and are queued again below

    // Given up: the queue fails the job without any run finishing its row (as when it stalls out).
    const givenUp = await submit('Given up');
    const killer = new Worker(IMAGE_QUEUE, () => Promise.reject(new UnrecoverableError('job stalled more than allowable limit')), {
      connection: queue.opts.connection,
      prefix: queue.opts.prefix,
    });
    await waitUntil('the job given up', async () => ((await queue.getJobState(givenUp)) === 'failed' ? true : undefined), 20_000, 50);
    // Given up after it ran, and its failed entry already removed by the failed jobs' age or count bound: to the
    // reconciler it is a job the queue lost, queued again while its hold lasts, and charged once.
    const givenUpAndRemoved = await submit('Given up, failed entry removed');
    await waitUntil('the job given up', async () => ((await queue.getJobState(givenUpAndRemoved)) === 'failed' ? true : undefined), 20_000, 50);
    await killer.close();
    await (await queue.getJob(givenUpAndRemoved))!.remove();
    await prisma.imageJob.update({ where: { id: givenUpAndRemoved }, data: { status: 'running' } });

    // Lost: the queue no longer has the job; once with its reservation still held, once without.
    const lost = await submit('Lost');
    const lostUnbillable = await submit('Lost, reservation gone');
    for (const id of [lost, lostUnbillable]) await (await queue.getJob(id))!.remove();
    await gw.app.get(BillingService).release({ id: lostUnbillable, tenantId, keyId: null, amountMicros: 0n });
    expect(await prisma.imageJob.count({ where: { id: { in: [givenUp, lost, lostUnbillable] }, status: 'queued' } })).toBe(3);
    // An Idempotency-Key claimed by a request whose process died before admitting it, never asked for again.
    const orphanedClaim = '00000000-0000-4000-8000-0000000000b2';
    await prisma.$executeRaw`INSERT INTO image_jobs (id, tenant_id, endpoint, status, request, chain, idempotency_key, request_hash, updated_at)
      VALUES (${orphanedClaim}::uuid, ${tenantId}::uuid, '/v1/images/generations', 'pending', '{}'::jsonb, ARRAY['google/imagen-4.0-fast-generate-001'],
              'never-asked-again', 'x', now() - interval '2 minutes')`;

    const report = await reconciler.reconcile(0);
    expect(report.finished).toBeGreaterThanOrEqual(1);
    expect(report.requeued).toBeGreaterThanOrEqual(1);
    expect(report.failedUnrun).toBeGreaterThanOrEqual(1);
    expect(report.abandonedClaims).toBe(1);
    expect(await prisma.imageJob.count({ where: { id: orphanedClaim } })).toBe(0);

    const rowOf = (id: string) => prisma.imageJob.findUniqueOrThrow({ where: { id } });
    expect(await rowOf(givenUp)).toMatchObject({ status: 'failed', error: expect.objectContaining({ status: 500, code: 'job_failed' }) });
    expect(await prisma.usageRecord.findUniqueOrThrow({ where: { id: givenUp } })).toMatchObject({ status: 'failed', costMicros: 0n });
    expect(await rowOf(lostUnbillable)).toMatchObject({ status: 'failed', error: expect.objectContaining({ code: 'job_failed' }) });
    expect(await prisma.usageRecord.count({ where: { id: lostUnbillable } })).toBe(0);
    expect(await queue.getJobState(lost)).toBe('waiting');
    expect(await queue.getJobState(givenUpAndRemoved)).toBe('waiting');
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(0);

    // The jobs queued again run as any other: generated once, charged once; nothing else is held.
    expect(await processor.run(lost)).toBe('succeeded');
    expect(await processor.run(givenUpAndRemoved)).toBe('succeeded');
    expect(await rowOf(lost)).toMatchObject({ status: 'succeeded' });
    expect(await rowOf(givenUpAndRemoved)).toMatchObject({ status: 'succeeded' });
    expect(gw.sim.calls({ provider: 'google' })).toHaveLength(2);
    const state = await tenantState(tenantId);
    const charged = await prisma.usageRecord.findMany({ where: { id: { in: [lost, givenUpAndRemoved] } } });
    expect(charged.map((u) => u.costMicros)).toEqual([20_000n, 20_000n]);
    expect(state).toEqual({ balance: 5_000_000n - 40_000n, reserved: 0n });

    // A second pass finds nothing more to do for these jobs.
    await reconciler.reconcile(0);
    expect(await rowOf(givenUp)).toMatchObject({ status: 'failed' });
    expect(await queue.getJobState(givenUp)).toBe('failed');
  });

  it('keeps one generated URL secret per deployment, unless one is configured', async () => {
    const config = gw.app.get(AppConfig);
    const a = await loadImageUrlSecret(config, prisma);
    const b = await loadImageUrlSecret(config, prisma);
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    const configured = Object.assign(Object.create(AppConfig.prototype) as AppConfig, config, { IMAGE_URL_SECRET: 'x'.repeat(40) });
    expect(await loadImageUrlSecret(configured, prisma)).toBe('x'.repeat(40));
  });
});

describe('image jobs with the worker in process', () => {
  let gw: TestGateway;
  afterAll(async () => gw?.close());

  it('answers b64_json from what the worker hands over, without reading the job or its images back', async () => {
    gw = await startGateway({ WORKER_IN_PROCESS: 'true' });
    const { key, tenantId } = await gw.newTenant(5);
    const db = gw.app.get<SqlDatabase>(SQL_DATABASE);
    const store = gw.app.get<ImageStore>(IMAGE_STORE);
    const query = jest.spyOn(db, 'query');
    const get = jest.spyOn(store, 'get');
    try {
      const started = Date.now();
      const res = await fetch(`${gw.url}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-image-1-mini', prompt: 'A kite', n: 2, response_format: 'b64_json' }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
      const body = JSON.parse(text) as { data: { b64_json: string }[]; usage?: unknown };
      expect(body.data).toHaveLength(2);
      const elapsed = Date.now() - started;
      const jobStatements = query.mock.calls.map(([sql]) => sql).filter((sql) => /image_jobs|stored_images/.test(sql));
      const reads = jobStatements.filter((sql) => /^SELECT\s[^]*\sFROM image_jobs/.test(sql.trim()));
      // the worker's notice answers the request; the row is polled only as a fallback, once a second
      expect(reads.length).toBeLessThanOrEqual(Math.floor(elapsed / 1000));
      expect(jobStatements).toHaveLength(4 + reads.length); // insert the job; claim it, record its images, finish it
      if (reads.length === 0) expect(get).not.toHaveBeenCalled();
      const jobId = res.headers.get('x-switchyard-job-id')!;
      for (const [index, d] of body.data.entries()) {
        const object = await store.get(`${tenantId}/${jobId}/${index}`);
        expect(object && (await readImageObject(object)).toString('base64')).toBe(d.b64_json);
      }
    } finally {
      query.mockRestore();
      get.mockRestore();
    }
  });
});

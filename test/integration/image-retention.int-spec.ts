import { existsSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { PrismaService, SQL_DATABASE, type SqlDatabase } from '@app/database';
import { MAINTENANCE_QUEUE, PURGE_EXPIRED_IMAGES_JOB } from '@app/queue';
import { IMAGE_STORE, LocalDiskImageStore, type ImageStore } from '@app/storage';
import { startGateway, type TestGateway } from '../support/gateway';
import { waitUntil } from '../support/processes';
import { ImageRetentionPurger, PURGE_RETRY_AFTER_MINUTES } from '../../apps/worker/src/image-retention-purger';

jest.setTimeout(120_000);

/**
 * Stored images past IMAGE_RETENTION_HOURS (the default, 168 h) are deleted by the maintenance queue's
 * `purge-expired-images`, through the real gateway with its worker in process: images are generated over HTTP, their
 * `created_at` is moved back past the retention in the database, and the job runs on this mode's queue backend.
 */
describe('image retention', () => {
  let gw: TestGateway;
  let prisma: PrismaService;
  let db: SqlDatabase;
  let store: ImageStore;
  let maintenance: Queue;

  beforeAll(async () => {
    gw = await startGateway();
    prisma = gw.app.get(PrismaService);
    db = gw.app.get<SqlDatabase>(SQL_DATABASE);
    store = gw.app.get<ImageStore>(IMAGE_STORE);
    maintenance = gw.app.get<Queue>(getQueueToken(MAINTENANCE_QUEUE));
  });
  afterAll(async () => gw?.close());

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  async function generate(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
    const res = await fetch(`${gw.url}/v1/images/generations`, {
      method: 'POST',
      headers: { ...auth(key), 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'grok/grok-imagine-image', ...body }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { data: { url?: string; b64_json?: string }[] };
    return { id: res.headers.get('x-switchyard-job-id')!, data: answer.data };
  }

  async function getJob(key: string, id: string) {
    const res = await fetch(`${gw.url}/v1/images/generations/${id}`, { headers: auth(key) });
    return { status: res.status, jobHeader: res.headers.get('x-switchyard-job-id'), body: (await res.json()) as any };
  }

  const storedOf = (jobIds: string[]) => prisma.storedImage.findMany({ where: { jobId: { in: jobIds } }, orderBy: [{ jobId: 'asc' }, { index: 'asc' }] });
  const onDisk = (storageKey: string) => existsSync(join((store as LocalDiskImageStore).root, storageKey));

  /** Runs the purge as the scheduler does: a job on the maintenance queue, picked up by the gateway's own worker. */
  async function runPurge(): Promise<unknown> {
    const job = await maintenance.add(PURGE_EXPIRED_IMAGES_JOB, {});
    await waitUntil('the purge job', async () => ((await job.isCompleted()) || (await job.isFailed()) ? true : undefined), 30_000);
    const done = await maintenance.getJob(job.id!);
    expect(done?.failedReason).toBeUndefined();
    return done?.returnvalue;
  }

  it('deletes the files and rows of old images of finished jobs; the jobs say their images expired, links answer 410, billing is untouched', async () => {
    // the scheduler's first runs, at boot, are over before anything is moved back in time
    await waitUntil('the boot runs of the maintenance jobs', async () => {
      const counts = await maintenance.getJobCounts('waiting', 'active');
      return counts.waiting + counts.active === 0 ? true : undefined;
    }, 30_000);
    const { key, tenantId } = await gw.newTenant(5);
    const old = await generate(key, { prompt: 'Old, as links', n: 2 }, { 'idempotency-key': 'old-links' });
    const oldB64 = await generate(key, { prompt: 'Old, as base64', response_format: 'b64_json' });
    const alreadyMissing = await generate(key, { prompt: 'Old, file already gone' });
    const unfinished = await generate(key, { prompt: 'Old, job not finished' });
    const fresh = await generate(key, { prompt: 'Fresh' });
    expect(old.data).toHaveLength(2);

    await gw.settled();
    const billing = async () => ({
      usage: await prisma.usageRecord.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
      ledger: await prisma.ledgerEntry.findMany({ where: { tenantId }, orderBy: { id: 'asc' } }),
      tenant: await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } }),
    });
    const billedBefore = await billing();
    expect(billedBefore.usage).toHaveLength(5);

    const expiring = [old.id, oldB64.id, alreadyMissing.id];
    const stayed = [unfinished.id, fresh.id];
    const before = await storedOf([...expiring, ...stayed]);
    expect(before).toHaveLength(6);
    for (const image of before) expect(onDisk(image.storageKey)).toBe(true);

    // Past the retention: 168 h by default, and one more.
    await db.query(`UPDATE stored_images SET created_at = now() - make_interval(hours => 169) WHERE job_id = ANY($1::uuid[])`, [[...expiring, unfinished.id]]);
    // A job that is not finished (as when a run died after storing its images) keeps them whatever their age.
    await db.query(`UPDATE image_jobs SET status = 'running' WHERE id = $1::uuid`, [unfinished.id]);
    // A file already gone (a purge run that died between file and row, or an operator): the row alone is left.
    const [missing] = await storedOf([alreadyMissing.id]);
    expect(await store.delete(missing.storageKey)).toBe(true);
    const missingLink = await fetch(alreadyMissing.data[0].url!);
    expect(missingLink.status).toBe(410);
    expect(((await missingLink.json()) as any).error).toMatchObject({ code: 'image_expired', type: 'invalid_request_error' });

    const expiredImages = before.filter((i) => expiring.includes(i.jobId));
    const report = await runPurge();
    expect(report).toEqual({
      deleted: 4,
      bytes: expiredImages.reduce((n, i) => n + i.bytes, 0),
      jobs: 3,
      failed: 0,
      full: false,
    });

    // files and rows of the old images of finished jobs are gone; the others are all there
    for (const image of before) expect(onDisk(image.storageKey)).toBe(!expiring.includes(image.jobId));
    expect(await storedOf(expiring)).toEqual([]);
    const ids = (images: { id: string }[]) => images.map((i) => i.id);
    expect(ids(await storedOf(stayed))).toEqual(ids(before.filter((i) => stayed.includes(i.jobId))));
    const jobs = await prisma.imageJob.findMany({ where: { id: { in: [...expiring, ...stayed] } } });
    expect(jobs).toHaveLength(5);
    for (const job of jobs) expect(job.imagesExpiredAt !== null).toBe(expiring.includes(job.id));

    // one log line for the run, with the count and the bytes
    const lines = gw.logs.lines.filter((l) => l.includes('stored image(s)'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`deleted 4 stored image(s), ${(report as { bytes: number }).bytes} bytes, older than 168 h`);

    // the jobs still answer 200 with their status and metadata, and say their images expired
    for (const id of [old.id, oldB64.id, alreadyMissing.id]) {
      const job = await getJob(key, id);
      expect(job.status).toBe(200);
      expect(job.jobHeader).toBe(id);
      expect(job.body).toMatchObject({
        id,
        object: 'image.generation.job',
        status: 'succeeded',
        model: 'grok/grok-imagine-image',
        served_model: 'grok/grok-imagine-image',
        fallback_level: 0,
        images_expired: true,
        result: { created: expect.any(Number), data: [] },
        error: null,
      });
    }
    const kept = await getJob(key, fresh.id);
    expect(kept.body).toMatchObject({ status: 'succeeded', images_expired: false, result: { data: [{ url: expect.any(String) }] } });

    // a signed link to a purged image answers 410 in the route's envelope; the fresh one still serves its image
    for (const url of [...old.data.map((d) => d.url!), alreadyMissing.data[0].url!]) {
      const res = await fetch(url);
      expect(res.status).toBe(410);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'image_expired', type: 'invalid_request_error', param: null });
    }
    const freshImage = await fetch(fresh.data[0].url!);
    expect(freshImage.status).toBe(200);
    expect(freshImage.headers.get('content-type')).toMatch(/^image\//);

    // an Idempotency-Key replay of a purged job: 410 naming the job, no new job, no charge
    const replay = await fetch(`${gw.url}/v1/images/generations`, {
      method: 'POST',
      headers: { ...auth(key), 'content-type': 'application/json', 'idempotency-key': 'old-links' },
      body: JSON.stringify({ model: 'grok/grok-imagine-image', prompt: 'Old, as links', n: 2 }),
    });
    expect(replay.status).toBe(410);
    expect(replay.headers.get('x-switchyard-job-id')).toBe(old.id);
    expect(((await replay.json()) as any).error).toMatchObject({ code: 'images_expired' });

    // usage records, their lines, the ledger and the balance are exactly as before
    await gw.settled();
    expect(await billing()).toEqual(billedBefore);

    // a second run finds nothing more, and logs nothing
    expect(await runPurge()).toEqual({ deleted: 0, bytes: 0, jobs: 0, failed: 0, full: false });
    expect(gw.logs.lines.filter((l) => l.includes('stored image(s)'))).toHaveLength(1);
  });

  it('passes over files it failed to delete for an hour, so they cannot fill its batches and stop it from reaching the rest', async () => {
    const { key } = await gw.newTenant(5);
    const jobs = [];
    for (const prompt of ['Stuck one', 'Stuck two', 'Deletable']) jobs.push(await generate(key, { prompt }));
    const ids = jobs.map((j) => j.id);
    // past the retention, oldest first, and older than anything another test left behind
    await db.query(
      `UPDATE stored_images SET created_at = now() - make_interval(hours => 10000 - array_position($1::uuid[], job_id))
        WHERE job_id = ANY($1::uuid[])`,
      [ids],
    );
    const [stuckA, stuckB, deletable] = await Promise.all(ids.map(async (id) => (await storedOf([id]))[0]));
    // files that cannot be unlinked (ELOOP): the job's directory replaced by a link to itself
    const root = (store as LocalDiskImageStore).root;
    const jobDir = (image: { storageKey: string }) => join(root, dirname(image.storageKey));
    for (const image of [stuckA, stuckB]) {
      rmSync(jobDir(image), { recursive: true });
      symlinkSync(basename(jobDir(image)), jobDir(image));
    }
    const purger = gw.app.get(ImageRetentionPurger, { strict: false });

    // a batch of two: the two oldest fail, and are marked
    expect(await purger.purge(2)).toMatchObject({ deleted: 0, failed: 2, full: true });
    // the next run passes them over and reaches the image behind them
    expect(await purger.purge(2)).toMatchObject({ deleted: 1, failed: 0 });
    expect(await storedOf([deletable.jobId])).toEqual([]);
    expect(onDisk(deletable.storageKey)).toBe(false);
    expect((await storedOf([stuckA.jobId, stuckB.jobId])).map((i) => i.id).sort()).toEqual([stuckA.id, stuckB.id].sort());

    // once the hour is over (moved back here) and the disk is mended, they go too
    for (const image of [stuckA, stuckB]) rmSync(jobDir(image));
    await db.query(`UPDATE stored_images SET purge_failed_at = now() - make_interval(mins => $2::int + 1) WHERE id = ANY($1::uuid[])`, [
      [stuckA.id, stuckB.id],
      PURGE_RETRY_AFTER_MINUTES,
    ]);
    expect(await purger.purge(2)).toMatchObject({ deleted: 2, failed: 0 });
    expect(await storedOf([stuckA.jobId, stuckB.jobId])).toEqual([]);
  });

  it('answers a base64 job whose file went missing before the purge marked it as expired, not as an error', async () => {
    const { key } = await gw.newTenant(5);
    const job = await generate(key, { prompt: 'Gone early', response_format: 'b64_json' });
    const [image] = await storedOf([job.id]);
    await store.delete(image.storageKey);
    const answer = await getJob(key, job.id);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: job.id, status: 'succeeded', images_expired: true, result: { data: [] } });
  });

  it('signs links that expire no later than the images may be purged, however late they are asked for', async () => {
    const { key } = await gw.newTenant(5);
    const job = await generate(key, { prompt: 'Late link' });
    const expiresOf = (url: string) => Number(new URL(url).searchParams.get('expires'));
    // fresh: the full link lifetime
    const fresh = await getJob(key, job.id);
    const now = Math.floor(Date.now() / 1000);
    expect(expiresOf(fresh.body.result.data[0].url)).toBeGreaterThanOrEqual(now + gw.config.IMAGE_URL_TTL_SECONDS - 2);
    // ten minutes before the purge may take its images: a link for at most those ten minutes
    const retentionMs = gw.config.IMAGE_RETENTION_HOURS * 3_600_000;
    await db.query('UPDATE image_jobs SET created_at = $2 WHERE id = $1::uuid', [job.id, new Date(Date.now() - retentionMs + 600_000)]);
    const late = await getJob(key, job.id);
    const expires = expiresOf(late.body.result.data[0].url);
    expect(expires).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 600);
    expect(expires).toBeGreaterThan(Math.floor(Date.now() / 1000) + 590);
    const image = await fetch(late.body.result.data[0].url);
    expect(image.status).toBe(200);
  });
});

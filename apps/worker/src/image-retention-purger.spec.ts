import { Logger } from '@nestjs/common';
import { loadConfig, MetricsService } from '@app/common';
import type { SqlDatabase } from '@app/database';
import type { ImageStore } from '@app/storage';
import { ImageRetentionPurger } from './image-retention-purger';

/** What the purge did, in order: store deletes and database statements in one list. */
type Step =
  | { kind: 'select'; params: unknown[] }
  | { kind: 'delete-file'; key: string }
  | { kind: 'delete-rows'; ids: string[] }
  | { kind: 'mark-failed'; ids: string[] };

/**
 * A database holding stored-image rows (all past the retention, of finished jobs: the selection itself is SQL, proved
 * by the integration test) and a store holding files, both recording what the purge asks of them.
 */
function world(rows: { id: string; key: string; bytes: number }[], files: Set<string>, failing: Set<string> = new Set()) {
  const steps: Step[] = [];
  const db = {
    async query(sql: string, params: unknown[] = []) {
      if (/^\s*SELECT s\.id/.test(sql)) {
        steps.push({ kind: 'select', params });
        return rows.slice(0, Number(params[1])).map((r) => ({ id: r.id, storage_key: r.key }));
      }
      if (/^UPDATE stored_images SET purge_failed_at/.test(sql)) {
        steps.push({ kind: 'mark-failed', ids: params[0] as string[] });
        return [];
      }
      if (/DELETE FROM stored_images/.test(sql)) {
        const ids = params[0] as string[];
        steps.push({ kind: 'delete-rows', ids });
        const gone = rows.filter((r) => ids.includes(r.id));
        rows.splice(0, rows.length, ...rows.filter((r) => !ids.includes(r.id)));
        return [{ deleted: gone.length, bytes: String(gone.reduce((n, r) => n + r.bytes, 0)), jobs: gone.length > 0 ? 1 : 0 }];
      }
      throw new Error(`unexpected statement ${sql}`);
    },
  } as unknown as SqlDatabase;
  const store = {
    async delete(key: string) {
      steps.push({ kind: 'delete-file', key });
      if (failing.has(key)) throw Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' });
      return files.delete(key);
    },
  } as unknown as ImageStore;
  return { db, store, steps };
}

const row = (n: number) => ({ id: `id-${n}`, key: `t/j/${n}`, bytes: 100 + n });

const counted = async (metrics: MetricsService, name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;

describe('ImageRetentionPurger', () => {
  let log: jest.SpyInstance;
  let warn: jest.SpyInstance;
  let metrics: MetricsService;
  beforeEach(() => {
    metrics = new MetricsService();
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('deletes every file before the rows, so a crash in between leaves rows without files, never files without rows', async () => {
    const rows = [row(0), row(1), row(2)];
    const files = new Set(rows.map((r) => r.key));
    const { db, store, steps } = world(rows, files);
    const report = await new ImageRetentionPurger(db, store, loadConfig({ IMAGE_RETENTION_HOURS: '24' }), new MetricsService()).purge();
    expect(steps.map((s) => s.kind)).toEqual(['select', 'delete-file', 'delete-file', 'delete-file', 'delete-rows']);
    expect(steps[0]).toEqual({ kind: 'select', params: [24, 500, 60] });
    expect(steps[4]).toEqual({ kind: 'delete-rows', ids: ['id-0', 'id-1', 'id-2'] });
    expect(files.size).toBe(0);
    expect(report).toEqual({ deleted: 3, bytes: 303, jobs: 1, failed: 0, full: false });
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0][0]).toMatch(/deleted 3 stored image\(s\), 303 bytes, older than 24 h/);
  });

  it('deletes the row of a file that is already missing', async () => {
    const rows = [row(0), row(1)];
    const { db, store } = world(rows, new Set([row(1).key]));
    const report = await new ImageRetentionPurger(db, store, loadConfig({}), metrics).purge();
    expect(report).toMatchObject({ deleted: 2, failed: 0 });
    expect(rows).toEqual([]);
  });

  it('keeps the row of a file it could not delete, for the next run, and deletes the others', async () => {
    const rows = [row(0), row(1), row(2)];
    const files = new Set(rows.map((r) => r.key));
    const { db, store, steps } = world(rows, files, new Set([row(1).key]));
    const report = await new ImageRetentionPurger(db, store, loadConfig({}), metrics).purge();
    expect(steps.slice(-2)).toEqual([
      { kind: 'mark-failed', ids: ['id-1'] },
      { kind: 'delete-rows', ids: ['id-0', 'id-2'] },
    ]);
    expect(steps[0]).toEqual({ kind: 'select', params: [168, 500, 60] });
    expect(rows).toEqual([row(1)]);
    expect(files).toEqual(new Set([row(1).key]));
    expect(report).toMatchObject({ deleted: 2, failed: 1 });
    expect(await counted(metrics, 'switchyard_images_purged_total')).toBe(2);
    expect(await counted(metrics, 'switchyard_image_purge_failures_total')).toBe(1);
    expect(warn.mock.calls[0][0]).toMatch(/could not delete the files of 1 stored image\(s\).*tried again in 60 min.*EIO/);
  });

  it('says when a batch was full, and stays within it', async () => {
    const rows = [row(0), row(1), row(2)];
    const { db, store } = world(rows, new Set(rows.map((r) => r.key)));
    const purger = new ImageRetentionPurger(db, store, loadConfig({}), metrics);
    expect(await purger.purge(2)).toMatchObject({ deleted: 2, full: true });
    expect(await purger.purge(2)).toMatchObject({ deleted: 1, full: false });
  });

  it('does nothing, and logs nothing, with nothing past the retention or with a retention of 0', async () => {
    const empty = world([], new Set());
    expect(await new ImageRetentionPurger(empty.db, empty.store, loadConfig({}), new MetricsService()).purge()).toEqual({ deleted: 0, bytes: 0, jobs: 0, failed: 0, full: false });
    expect(empty.steps.map((s) => s.kind)).toEqual(['select']);

    const kept = world([row(0)], new Set([row(0).key]));
    expect(await new ImageRetentionPurger(kept.db, kept.store, loadConfig({ IMAGE_RETENTION_HOURS: '0' }), new MetricsService()).purge()).toMatchObject({ deleted: 0 });
    expect(kept.steps).toEqual([]);
    expect(log).not.toHaveBeenCalled();
  });
});

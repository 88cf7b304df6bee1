import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlDatabase, SqlSession } from './sql-session';

type Queryable = Pick<PGlite, 'query' | 'exec'> | Transaction;

async function queryRows<R>(db: Queryable, sql: string, params?: unknown[]): Promise<R[]> {
  const res = await db.query<R>(sql, params ?? []);
  return res.rows;
}

/**
 * The embedded database: Postgres compiled to WASM, in this process. One PGlite instance is one
 * connection, so only one process may open a data directory: a pid file guards it.
 */
export class PGliteDatabase implements SqlDatabase {
  private constructor(
    readonly pglite: PGlite,
    private readonly lockFile: string | null,
  ) {}

  static async open(dataDir: string): Promise<PGliteDatabase> {
    if (dataDir === 'memory://') return new PGliteDatabase(await PGlite.create(), null);
    const dir = join(dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    const lockFile = join(dataDir, 'pglite.pid');
    if (existsSync(lockFile)) {
      const pid = Number(readFileSync(lockFile, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new Error(
          `The embedded database in ${dir} is open in another Switchyard process (pid ${pid}). ` +
            'Stop it first, or use the admin API of the running gateway.',
        );
      }
    }
    writeFileSync(lockFile, String(process.pid));
    return new PGliteDatabase(await PGlite.create(dir), lockFile);
  }

  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]> {
    return queryRows<R>(this.pglite, sql, params);
  }
  async exec(sql: string): Promise<void> {
    await this.pglite.exec(sql);
  }
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }

  /** a `pg.Pool`-shaped view for BullMQ's Postgres backend */
  asPgPool(): PGlitePgPool {
    return new PGlitePgPool(this.pglite);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface PgResult<R = unknown> {
  rows: R[];
  rowCount: number | null;
}

/**
 * A `pg.Pool` look-alike over one PGlite instance, so BullMQ's Postgres backend can queue jobs in the
 * embedded database with the same code it uses on a real server. No npm package provides this: PGlite's
 * socket server corrupts traffic with more than one connection. PGlite runs one statement at a time, so a
 * "pooled client" that opens a transaction holds PGlite's transaction lock until COMMIT/ROLLBACK, and
 * LISTEN/UNLISTEN map to PGlite's notification callbacks.
 */
export class PGlitePgPool extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }
  query<R = unknown>(text: string, params?: readonly unknown[]): Promise<PgResult<R>> {
    return runOn<R>(this.db, text, params);
  }
  async connect(): Promise<PGlitePgClient> {
    const client = new PGlitePgClient(this.db);
    this.emit('connect', client);
    return client;
  }
  async end(): Promise<void> {
    // The PGlite instance is owned (and closed) by PGliteDatabase.
  }
}

async function runOn<R>(db: Queryable, text: string, params?: readonly unknown[]): Promise<PgResult<R>> {
  if (params && params.length > 0) {
    const r = await db.query<R>(text, [...params]);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  }
  // Without parameters pg uses the simple protocol, which allows several statements; so does exec.
  const results = await db.exec(text);
  const last = results[results.length - 1];
  return { rows: (last?.rows ?? []) as R[], rowCount: last?.affectedRows ?? last?.rows.length ?? 0 };
}

const LISTEN = /^\s*LISTEN\s+"?([^";\s]+)"?\s*;?\s*$/i;
const UNLISTEN = /^\s*UNLISTEN\s+("?([^";\s]+)"?|\*)\s*;?\s*$/i;
const BEGIN = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
const COMMIT = /^\s*(COMMIT|END)\s*;?\s*$/i;
const ROLLBACK = /^\s*ROLLBACK\s*;?\s*$/i;

/** the text after any leading `--` comment lines and blank lines */
function withoutLeadingComments(text: string): string {
  return text.replace(/^(\s*--[^\n]*(\n|$))+/, '');
}

export class PGlitePgClient extends EventEmitter {
  private tx: Transaction | null = null;
  private finishTx: ((rollback: boolean) => void) | null = null;
  private txDone: Promise<unknown> | null = null;
  private readonly unlisten = new Map<string, () => Promise<void>>();

  constructor(private readonly db: PGlite) {
    super();
  }

  async query<R = unknown>(text: string, params?: readonly unknown[]): Promise<PgResult<R>> {
    // BullMQ's statements open with comment lines; the statement is what follows them.
    const statement = withoutLeadingComments(text);
    const listen = LISTEN.exec(statement);
    if (listen) {
      const channel = listen[1];
      if (!this.unlisten.has(channel)) {
        const stop = await this.db.listen(channel, (payload) => this.emit('notification', { channel, payload }));
        this.unlisten.set(channel, () => stop());
      }
      return { rows: [], rowCount: 0 };
    }
    const unlisten = UNLISTEN.exec(statement);
    if (unlisten) {
      const channels = unlisten[1] === '*' ? [...this.unlisten.keys()] : [unlisten[2]];
      for (const c of channels) {
        await this.unlisten.get(c)?.();
        this.unlisten.delete(c);
      }
      return { rows: [], rowCount: 0 };
    }
    if (BEGIN.test(statement) && !this.tx) {
      await this.begin();
      return { rows: [], rowCount: 0 };
    }
    if (this.tx && (COMMIT.test(statement) || ROLLBACK.test(statement))) {
      await this.end(ROLLBACK.test(statement));
      return { rows: [], rowCount: 0 };
    }
    return runOn<R>(this.tx ?? this.db, text, params);
  }

  private begin(): Promise<void> {
    return new Promise<void>((started) => {
      this.txDone = this.db
        .transaction(async (tx) => {
          this.tx = tx;
          started();
          const rollback = await new Promise<boolean>((resolve) => (this.finishTx = resolve));
          if (rollback) await tx.rollback();
        })
        .catch(() => undefined);
    });
  }

  private async end(rollback: boolean): Promise<void> {
    const finish = this.finishTx;
    this.tx = null;
    this.finishTx = null;
    finish?.(rollback);
    await this.txDone;
    this.txDone = null;
  }

  release(): void {
    if (this.tx) void this.end(true);
    for (const stop of this.unlisten.values()) void stop();
    this.unlisten.clear();
    this.removeAllListeners('notification');
  }
}

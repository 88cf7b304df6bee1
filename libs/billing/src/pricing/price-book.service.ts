import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { PrismaService, Prisma } from '@app/database';
import { ModelCatalog, type ModelPrice, type ModelSpec } from '@app/providers';
import { normalizePrice } from './cost';

export interface CurrentPrice {
  priceId: string;
  version: number;
  price: ModelPrice;
  isOverride: boolean;
}

/** How long a replica trusts its copy of the price table before re-reading it. */
export const REFRESH_MS = 30_000;
/** after a failed reload, the next attempt */
export const REFRESH_RETRY_MS = 5_000;

/** JSON with sorted keys: jsonb does not keep key order, so plain JSON.stringify would see every row as changed. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function sameRates(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/**
 * The versioned price table. At boot it is brought in line with the catalog's list prices (a changed list
 * price writes a new version; an operator override is left alone), then served from memory. Every usage
 * record points at the version it was priced with.
 */
@Injectable()
export class PriceBook implements OnModuleInit {
  private readonly logger = new Logger(PriceBook.name);
  private current = new Map<string, CurrentPrice>();
  private loadedAt = 0;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly prisma: PrismaService,
    private readonly catalog: ModelCatalog,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.seedFromCatalog();
    await this.reload();
  }

  /**
   * The price in force for a model; undefined = the model is unpriced and must be refused. Served from
   * memory; a table older than REFRESH_MS is reloaded in the background, and while the database cannot
   * answer the last table keeps serving (retried every REFRESH_RETRY_MS).
   */
  async get(modelId: string): Promise<CurrentPrice | undefined> {
    if (Date.now() - this.loadedAt > REFRESH_MS) this.refreshInBackground();
    return this.current.get(modelId);
  }

  /** the model spec with the price in force (an operator override replaces the catalog's list price) */
  async priced(model: ModelSpec): Promise<{ model: ModelSpec; price: CurrentPrice } | undefined> {
    const price = await this.get(model.id);
    return price ? { model: { ...model, price: price.price }, price } : undefined;
  }

  /** An operator override: a new version that later catalog updates do not replace. */
  /**
   * Writes a new version of a model's price and serves it from now on. `inTransaction` runs in the same transaction
   * as the write (an audit row that must commit or roll back with it); the table is reloaded after the commit.
   */
  async setOverride(
    modelId: string,
    price: ModelPrice,
    inTransaction?: (tx: Prisma.TransactionClient, written: CurrentPrice) => Promise<void>,
  ): Promise<CurrentPrice> {
    const written = await this.prisma.$transaction(async (tx) => {
      const latest = await tx.price.findFirst({ where: { model: modelId }, orderBy: { version: 'desc' } });
      const row = await tx.price.create({
        data: {
          model: modelId,
          version: (latest?.version ?? 0) + 1,
          rates: price as unknown as Prisma.InputJsonValue,
          source: price.source,
          effectiveDate: price.date,
          isOverride: true,
        },
      });
      const current: CurrentPrice = { priceId: row.id, version: row.version, price, isOverride: true };
      await inTransaction?.(tx, current);
      return current;
    });
    await this.reload();
    return written;
  }

  private refreshInBackground(): void {
    if (this.refreshing) return;
    this.refreshing = this.reload()
      .catch((e: unknown) => {
        this.logger.warn(`price table not reloaded (${e instanceof Error ? e.message : String(e)}); serving the last one`);
        this.loadedAt = Date.now() - REFRESH_MS + REFRESH_RETRY_MS;
      })
      .finally(() => (this.refreshing = null));
  }

  /** Waits for a reload in progress (tests). */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  private async reload(): Promise<void> {
    const rows = await this.prisma.$queryRaw<{ id: string; model: string; version: number; rates: ModelPrice; is_override: boolean }[]>`
      SELECT DISTINCT ON (model) id, model, version, rates, is_override FROM prices ORDER BY model, version DESC`;
    const next = new Map<string, CurrentPrice>();
    // Rows written before prompt bands were a list carry one band object; they are served in today's shape.
    for (const r of rows) next.set(r.model, { priceId: r.id, version: r.version, price: normalizePrice(r.rates), isOverride: r.is_override });
    this.current = next;
    this.loadedAt = Date.now();
  }

  private async seedFromCatalog(): Promise<void> {
    const rows = await this.prisma.$queryRaw<{ model: string; version: number; rates: unknown; is_override: boolean }[]>`
      SELECT DISTINCT ON (model) model, version, rates, is_override FROM prices ORDER BY model, version DESC`;
    const latest = new Map(rows.map((r) => [r.model, r]));
    const inserts: Prisma.PriceCreateManyInput[] = [];
    for (const m of this.catalog.list()) {
      if (!m.price) continue;
      const have = latest.get(m.id);
      if (have && (have.is_override || sameRates(have.rates, m.price))) continue;
      inserts.push({
        model: m.id,
        version: (have?.version ?? 0) + 1,
        rates: m.price as unknown as Prisma.InputJsonValue,
        source: m.price.source,
        effectiveDate: m.price.date,
      });
    }
    if (inserts.length === 0) return;
    // Several replicas may seed at once: the (model, version) key lets exactly one of them write each version.
    const { count } = await this.prisma.price.createMany({ data: inserts, skipDuplicates: true });
    this.logger.log(`price table: ${count} new list price version(s) from the catalog`);
  }
}

import type { PrismaService } from '@app/database';
import type { ModelCatalog, ModelPrice } from '@app/providers';
import { PriceBook, REFRESH_MS, REFRESH_RETRY_MS } from './price-book.service';

const price = (input: number): ModelPrice => ({ tokens: { input, output: input * 4 }, source: 'https://example.test/pricing', date: '2026-11-01' });

/** The prices table as `reload` reads it; `down` makes every query fail as a lost database does. */
class PricesTable {
  down = false;
  reads = 0;
  rows = [{ id: 'p1', model: 'openai/gpt-4o-mini', version: 1, rates: price(150_000), is_override: false }];
  asPrisma(): PrismaService {
    return {
      $queryRaw: async () => {
        this.reads++;
        if (this.down) throw new Error('connection refused');
        return this.rows;
      },
    } as unknown as PrismaService;
  }
}

describe('PriceBook', () => {
  let now: number;
  beforeEach(() => {
    now = 1_800_000_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  async function loaded(table: PricesTable): Promise<PriceBook> {
    const book = new PriceBook(table.asPrisma(), { list: () => [] } as unknown as ModelCatalog);
    await book.onModuleInit();
    return book;
  }

  it('keeps serving the last table while the database is away, and reloads when it is back', async () => {
    const table = new PricesTable();
    const book = await loaded(table);
    table.down = true;
    now += REFRESH_MS + 1;
    await expect(book.get('openai/gpt-4o-mini')).resolves.toMatchObject({ priceId: 'p1' });
    await book.settled();
    const readsWhileDown = table.reads;

    // No retry before REFRESH_RETRY_MS: a dead database is not asked on every request.
    now += REFRESH_RETRY_MS - 100;
    await expect(book.get('openai/gpt-4o-mini')).resolves.toMatchObject({ priceId: 'p1' });
    await book.settled();
    expect(table.reads).toBe(readsWhileDown);

    table.down = false;
    table.rows = [{ id: 'p2', model: 'openai/gpt-4o-mini', version: 2, rates: price(120_000), is_override: true }];
    now += 200;
    await book.get('openai/gpt-4o-mini'); // starts the reload, answers from the table it has
    await book.settled();
    await expect(book.get('openai/gpt-4o-mini')).resolves.toMatchObject({ priceId: 'p2', version: 2, isOverride: true });
  });

  it('answers from memory without a query while the table is fresh', async () => {
    const table = new PricesTable();
    const book = await loaded(table);
    const reads = table.reads;
    now += REFRESH_MS - 1;
    for (let i = 0; i < 5; i++) await book.get('openai/gpt-4o-mini');
    await book.settled();
    expect(table.reads).toBe(reads);
    await expect(book.get('openai/unknown')).resolves.toBeUndefined();
  });
});

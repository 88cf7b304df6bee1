import { createServer } from 'node:net';
import { Pool } from 'pg';
import { isDatabaseUnavailable } from './database-unavailable';
import { toApiError } from './to-api-error';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('isDatabaseUnavailable', () => {
  it("recognises node-postgres's error when the server is not there, and answers it 503 with Retry-After", async () => {
    const pool = new Pool({ connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`, connectionTimeoutMillis: 2000 });
    const error = await pool.query('select 1').then(() => null, (e: unknown) => e);
    await pool.end();
    expect(isDatabaseUnavailable(error)).toBe(true);
    const api = toApiError(error, false);
    expect({ status: api.status, code: api.code, retryAfter: api.headers['Retry-After'] }).toEqual({ status: 503, code: 'service_unavailable', retryAfter: '5' });
    expect(api.message).not.toContain('127.0.0.1');
  });

  it.each([
    ['a Prisma "cannot reach" error', withCode("Can't reach database server at db:5432", 'P1001')],
    ['a Prisma pool timeout', withCode('Timed out fetching a new connection from the connection pool.', 'P2024')],
    ['a raw Prisma query whose cause is in the message', withCode("Raw query failed. Code: `N/A`. Message: `Can't reach database server`", 'P2010')],
    ['Postgres shutting down', withCode('terminating connection due to administrator command', '57P01')],
    ['a connection exception (SQLSTATE class 08)', withCode('connection failure', '08006')],
    ['too many connections', withCode('sorry, too many clients already', '53300')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ["the pool's connect timeout", new Error('timeout exceeded when trying to connect')],
    ['an outage one cause deep', new Error('reading the balance failed', { cause: withCode('connect ECONNREFUSED 10.0.0.5:5432', 'ECONNREFUSED') })],
    ['an outage inside an AggregateError', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'connect failed')],
  ])('recognises %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(toApiError(error, true).status).toBe(503);
  });

  it.each([
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a Prisma "record not found"', withCode('No record was found for a query.', 'P2025')],
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a thrown string', 'boom'],
    ['a cause cycle', (() => { const e = new Error('a'); (e as Error & { cause: unknown }).cause = e; return e; })()],
  ])('leaves %s a 500', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(toApiError(error, false).status).toBe(500);
  });
});

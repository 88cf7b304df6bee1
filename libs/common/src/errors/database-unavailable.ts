/**
 * Whether an error means the database could not be reached or dropped the connection (an outage to retry),
 * as opposed to a fault of the request or of the code. Recognises what the drivers Switchyard uses throw,
 * along an error's `cause` chain: node-postgres and the sockets under it (ECONNREFUSED, "Connection
 * terminated", the pool's connect timeout), Postgres's own connection and shutdown states, and Prisma's
 * wrappers around them (P1001 "Can't reach database server", P2024 pool timeout, …).
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
/** Prisma: can't reach, timed out reaching, timed out, server closed the connection, pool timeout */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** SQLSTATE: too many connections, admin/crash shutdown, cannot connect now (class 08 is matched by prefix) */
const POSTGRES_STATES = new Set(['53300', '57P01', '57P02', '57P03']);
const MESSAGES = /can't reach database server|connection terminated|timeout exceeded when trying to connect|query read timeout|server closed the connection|terminating connection due to administrator command/i;

export function isDatabaseUnavailable(e: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [e];
  while (queue.length > 0) {
    const c = queue.shift();
    if (c === null || typeof c !== 'object' || seen.has(c)) continue;
    seen.add(c);
    const { code, message, cause, errors } = c as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || PRISMA_CODES.has(code) || POSTGRES_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    if (typeof message === 'string' && MESSAGES.test(message)) return true;
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return false;
}

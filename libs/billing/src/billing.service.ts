import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiError } from '@app/common';
import { SQL_DATABASE, type SqlDatabase } from '@app/database';
import type { NormalizedUsage } from '@app/providers';
import type { Cost } from './pricing/cost';
import { formatUsd } from './money';

/** A reservation lives at most this long; the sweeper releases it after a crash. */
export const RESERVATION_TTL_MS = 15 * 60_000;

export interface Payer {
  tenantId: string;
  keyId: string | null;
}

export interface Reservation extends Payer {
  id: string;
  amountMicros: bigint;
}

export interface SettleInput {
  endpoint: string;
  requestedModel: string;
  servedModel: string | null;
  provider: string | null;
  fallbackLevel: number;
  attempts: number;
  /** `succeeded`, `partial` (stream cut short, billed for what was produced) or `failed` */
  status: 'succeeded' | 'partial' | 'failed';
  latencyMs: number;
  usage: NormalizedUsage | null;
  cost: Cost | null;
  priceId: string | null;
  estimated?: boolean;
  error?: string | null;
  /** the id the client gave the request (`X-Client-Request-Id` / `X-Request-Id`), for correlation only */
  clientRequestId?: string | null;
  /** every upstream attempt, in order (the fallback executor's records) */
  attemptLog?: readonly UsageAttempt[];
  /**
   * Bill only against the request's own reservation: when it is gone (the sweeper released it), nothing is
   * written and the request is reported as not settled. Image jobs settle this way, so a job never charges money
   * that is not held for it; chat settles without it, because its answer was already delivered (see SETTLE_SQL).
   */
  requireHold?: boolean;
}

/** One upstream attempt as the usage record keeps it. */
export interface UsageAttempt {
  /** public model id */
  model: string;
  /** index in the chain, 0 = the model asked for */
  level: number;
  /** 1-based attempt number on this model */
  attempt: number;
  outcome: 'success' | 'error';
  /** how it failed (`upstream_server`, `timeout`, `rate_limit`, ...) */
  errorKind?: string;
  /** the upstream's HTTP status, when it answered with one */
  status?: number;
  durationMs: number;
}

function attemptLogJson(log: readonly UsageAttempt[] | undefined): string {
  if (!log || log.length === 0) return '[]';
  return JSON.stringify(
    log.map((a) => ({
      model: a.model,
      level: a.level,
      attempt: a.attempt,
      outcome: a.outcome,
      error_kind: a.errorKind ?? null,
      upstream_status: a.status ?? null,
      duration_ms: Math.round(a.durationMs),
    })),
  );
}

function insufficient(message: string, code: string): ApiError {
  return new ApiError(402, 'insufficient_quota', message, code);
}

/**
 * Reservations commit without waiting for the WAL flush (`synchronous_commit` off for their own
 * transaction only). Every reserve and settle of a tenant locks its row until commit, so a flush inside the
 * lock serialises the tenant's requests on the disk; a hold needs no durability: if Postgres crashes before
 * flushing one, the hold is gone with its counter (consistent) and the request's settle still bills exactly.
 * Settle, which moves money and writes the usage record, keeps the durable commit.
 */
const RESERVE_SQL =
  "SELECT set_config('synchronous_commit', 'off', true), sy_reserve($1, $2::uuid, $3::uuid, $4::bigint, $5::timestamptz)";

const RELEASE_SQL = `
  WITH r AS (DELETE FROM reservations WHERE id = $1 RETURNING tenant_id, api_key_id, amount_micros),
  t AS (UPDATE tenants SET reserved_micros = reserved_micros - r.amount_micros FROM r WHERE tenants.id = r.tenant_id RETURNING 1)
  UPDATE api_keys SET reserved_micros = api_keys.reserved_micros - r.amount_micros
    FROM r WHERE api_keys.id = r.api_key_id AND EXISTS (SELECT 1 FROM t)`;

/** One request's columns of SETTLE_SQL, in order. */
function settleRow(reservation: Payer & { id: string }, input: SettleInput): unknown[] {
  const u = input.usage;
  const lines = (input.cost?.lines ?? []).map((l) => ({
    kind: l.kind,
    quantity: l.quantity,
    unit: l.unit,
    unit_price_micros: l.unitPriceMicros,
    cost_micros: l.costMicros.toString(),
  }));
  return [
    reservation.id,
    reservation.tenantId,
    reservation.keyId,
    input.endpoint,
    input.requestedModel,
    input.servedModel,
    input.provider,
    input.fallbackLevel,
    input.attempts,
    input.status,
    Math.round(input.latencyMs),
    (input.cost?.totalMicros ?? 0n).toString(),
    input.priceId,
    JSON.stringify(lines),
    u ? u.textInput + u.audioInput + (u.cacheWriteInput ?? 0) : 0,
    u?.cachedInput ?? 0,
    u?.textOutput ?? 0,
    u?.reasoningOutput ?? 0,
    u?.imageInput ?? 0,
    u?.imageOutput ?? 0,
    u?.images ?? 0,
    input.estimated ?? false,
    input.error ?? null,
    input.clientRequestId ?? null,
    attemptLogJson(input.attemptLog),
    input.requireHold ?? false,
  ];
}
const SETTLE_COLUMNS = 26;

/**
 * Settlement of one or more requests of one tenant in one statement: per request the usage record, the
 * reservation's release and the ledger debit; the balance and each key's spend updated once with the totals.
 * Keyed by the request ids (ON CONFLICT DO NOTHING), so each request is billed at most once. Returns the ids
 * written now.
 *
 * A request with `require_hold` (image jobs) is written only while its reservation exists, and that reservation
 * is locked (`h`) until the statement commits, so the sweeper cannot release it in between: a job whose hold is
 * gone is not billed here at all, and its worker decides (holds the cost again, or fails the job). The others are
 * billed even after the sweeper released their reservation: a chat answer was already delivered, and its usage
 * record (spooled through a database outage) must not be lost, so such a late settlement can take the balance
 * below zero by at most that request's cost.
 */
const SETTLE_SQL = `
  WITH i AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
                         $9::int[], $10::text[], $11::int[], $12::bigint[], $13::uuid[], $14::jsonb[], $15::int[], $16::int[],
                         $17::int[], $18::int[], $19::int[], $20::int[], $21::int[], $22::boolean[], $23::text[], $24::text[], $25::jsonb[],
                         $26::boolean[])
      AS x(id, tenant_id, api_key_id, endpoint, requested_model, served_model, provider, fallback_level, attempts, status,
           latency_ms, cost_micros, price_id, lines, input_tokens, cached_tokens, output_tokens, reasoning_tokens,
           image_input_tokens, image_output_tokens, images, estimated, error, client_request_id, attempt_log, require_hold)
  ), h AS (
    SELECT id FROM reservations WHERE id IN (SELECT id FROM i WHERE require_hold) FOR UPDATE
  ), u AS (
    INSERT INTO usage_records (
      id, tenant_id, api_key_id, endpoint, requested_model, served_model, provider, fallback_level, attempts,
      status, latency_ms, cost_micros, price_id, lines, input_tokens, cached_tokens, output_tokens,
      reasoning_tokens, image_input_tokens, image_output_tokens, images, estimated, error, client_request_id, attempt_log)
    SELECT id, tenant_id, api_key_id, endpoint, requested_model, served_model, provider, fallback_level, attempts,
           status, latency_ms, cost_micros, price_id, lines, input_tokens, cached_tokens, output_tokens,
           reasoning_tokens, image_input_tokens, image_output_tokens, images, estimated, error, client_request_id, attempt_log
      FROM i WHERE NOT require_hold OR id IN (SELECT id FROM h)
    ON CONFLICT (id) DO NOTHING
    RETURNING id, tenant_id, api_key_id, cost_micros
  ), r AS (
    DELETE FROM reservations WHERE id IN (SELECT id FROM u) RETURNING id, amount_micros
  ), settled AS (
    SELECT u.id, u.tenant_id, u.api_key_id, u.cost_micros, COALESCE(r.amount_micros, 0) AS released
      FROM u LEFT JOIN r ON r.id = u.id
  ), t AS (
    UPDATE tenants SET balance_micros = balance_micros - s.cost, reserved_micros = reserved_micros - s.released
      FROM (SELECT tenant_id, sum(cost_micros) AS cost, sum(released) AS released FROM settled GROUP BY tenant_id) s
     WHERE tenants.id = s.tenant_id RETURNING 1
  ), k AS (
    UPDATE api_keys SET spent_micros = spent_micros + s.cost, reserved_micros = reserved_micros - s.released
      FROM (SELECT api_key_id, sum(cost_micros) AS cost, sum(released) AS released FROM settled
             WHERE api_key_id IS NOT NULL GROUP BY api_key_id) s
     WHERE api_keys.id = s.api_key_id AND EXISTS (SELECT 1 FROM t) RETURNING 1
  ), l AS (
    INSERT INTO ledger_entries (id, tenant_id, kind, amount_micros, usage_id)
    SELECT gen_random_uuid(), tenant_id, 'debit', cost_micros, id FROM settled WHERE cost_micros > 0
    RETURNING 1
  )
  SELECT id FROM u`;

/**
 * Reserve → settle → release. Spend is reserved before any upstream call in one atomic, conditional
 * statement (the `sy_reserve` SQL function), and replaced by the actual cost together with the usage
 * record in one statement keyed by the request id, so a request is billed exactly once even if settle
 * runs twice; with `requireHold`, never after its reservation was released.
 *
 * Lock order: every statement that touches both locks the tenant row before the key row (the api_keys
 * update reads the tenants update's result, which makes Postgres run it first). Without that, settles and
 * releases running against reservations deadlock.
 */
@Injectable()
export class BillingService {
  private readonly logger = new Logger(BillingService.name);

  // The statements go to the database driver directly, not through Prisma: they run on every metered
  // request, are hand-written SQL either way, and Prisma's query pipeline around a raw statement costs
  // more CPU than the driver's whole round trip. Named statements are parsed and planned once per connection.
  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {}

  async reserve(id: string, payer: Payer, amountMicros: bigint, ttlMs = RESERVATION_TTL_MS): Promise<Reservation> {
    try {
      await this.db.query(RESERVE_SQL, [id, payer.tenantId, payer.keyId, amountMicros.toString(), new Date(Date.now() + ttlMs).toISOString()], {
        name: 'sy_reserve',
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (message.includes('insufficient_balance')) {
        throw insufficient(`Insufficient balance: this request may cost up to $${formatUsd(amountMicros)}, more than the available balance.`, 'insufficient_balance');
      }
      if (message.includes('spend_limit_exceeded')) {
        throw insufficient(`This API key's spend limit does not cover this request (up to $${formatUsd(amountMicros)}).`, 'spend_limit_exceeded');
      }
      // Nothing was reserved and nothing sent upstream: the database is away (a key still in the resolver's
      // cache gets this far), which is an outage to retry, not a fault of the request.
      this.logger.error(`reservation ${id} failed: ${message}`);
      throw ApiError.unavailable('The gateway cannot reach its database; try again shortly.');
    }
    // Only the payer's ids: a Reservation passed as the payer (topUp) must not lend its own id.
    return { id, tenantId: payer.tenantId, keyId: payer.keyId, amountMicros };
  }

  /**
   * Writes the usage record and replaces the reservation with the actual cost, atomically and at most once
   * per id. Returns false when the id was already settled, or (`requireHold`) its reservation is gone. A failed
   * request is settled with cost 0, which releases its reservation and leaves an auditable record.
   */
  async settle(reservation: Reservation | Payer & { id: string }, input: SettleInput): Promise<boolean> {
    const [inserted] = await this.settleMany([{ reservation, input }]);
    if (!inserted) this.logger.warn(`usage ${reservation.id} was already settled${input.requireHold ? ', or holds nothing' : ''}; not billed now`);
    return inserted;
  }

  /**
   * `settle` for several requests of one tenant in one statement (one lock of the tenant row, one commit),
   * each at most once. Returns, per item, whether it was written now (false: already settled).
   */
  async settleMany(items: readonly { reservation: Reservation | Payer & { id: string }; input: SettleInput }[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    const tenants = new Set(items.map((i) => i.reservation.tenantId));
    // One tenant per statement: every statement locks the tenant row first, so batches cannot deadlock.
    if (tenants.size !== 1) throw new Error('settleMany takes the requests of one tenant');
    const columns: unknown[][] = Array.from({ length: SETTLE_COLUMNS }, () => []);
    for (const { reservation, input } of items) settleRow(reservation, input).forEach((v, i) => columns[i].push(v));
    const rows = await this.db.query<{ id: string }>(SETTLE_SQL, columns, { name: 'sy_settle' });
    const written = new Set(rows.map((r) => r.id));
    return items.map((i) => written.has(i.reservation.id));
  }

  /** Gives a reservation back without writing usage (the request was refused before any upstream call). */
  async release(reservation: Reservation): Promise<void> {
    await this.db.query(RELEASE_SQL, [reservation.id], { name: 'sy_release' });
  }

  /** Grows an existing reservation (a fallback hop to a dearer model); refuses like reserve() when it does not fit. */
  async topUp(reservation: Reservation, newAmountMicros: bigint): Promise<Reservation> {
    if (newAmountMicros <= reservation.amountMicros) return reservation;
    const extraId = `${reservation.id}:${newAmountMicros}`;
    const extra = await this.reserve(extraId, reservation, newAmountMicros - reservation.amountMicros);
    // Fold the extra reservation into the request's own so settle releases both at once.
    await this.db.query(
      `WITH extra AS (DELETE FROM reservations WHERE id = $1 RETURNING 1)
       UPDATE reservations SET amount_micros = $3 WHERE id = $2 AND EXISTS (SELECT 1 FROM extra)`,
      [extra.id, reservation.id, newAmountMicros.toString()],
    );
    return { ...reservation, amountMicros: newAmountMicros };
  }
}


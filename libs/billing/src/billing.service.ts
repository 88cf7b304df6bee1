import { Injectable, Logger } from '@nestjs/common';
import { ApiError } from '@app/common';
import { PrismaService } from '@app/database';
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
}

function insufficient(message: string, code: string): ApiError {
  return new ApiError(402, 'insufficient_quota', message, code);
}

/**
 * Reserve → settle → release. Spend is reserved before any upstream call in one atomic, conditional
 * statement (the `sy_reserve` SQL function), and replaced by the actual cost together with the usage
 * record in one statement keyed by the request id, so a request is billed exactly once even if settle
 * runs twice, and never after its reservation was released.
 *
 * Lock order: every statement that touches both locks the tenant row before the key row (the api_keys
 * update reads the tenants update's result, which makes Postgres run it first). Without that, settles and
 * releases running against reservations deadlock.
 */
@Injectable()
export class BillingService {
  private readonly logger = new Logger(BillingService.name);

  constructor(private readonly prisma: PrismaService) {}

  async reserve(id: string, payer: Payer, amountMicros: bigint, ttlMs = RESERVATION_TTL_MS): Promise<Reservation> {
    try {
      await this.prisma.$executeRaw`SELECT sy_reserve(${id}, ${payer.tenantId}::uuid, ${payer.keyId}::uuid, ${amountMicros}, ${new Date(Date.now() + ttlMs)})`;
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
    return { id, ...payer, amountMicros };
  }

  /**
   * Writes the usage record and replaces the reservation with the actual cost, atomically and at most once
   * per id. Returns false when the id was already settled. A failed request is settled with cost 0, which
   * releases its reservation and leaves an auditable record.
   */
  async settle(reservation: Reservation | Payer & { id: string }, input: SettleInput): Promise<boolean> {
    const cost = input.cost?.totalMicros ?? 0n;
    const u = input.usage;
    const lines = (input.cost?.lines ?? []).map((l) => ({
      kind: l.kind,
      quantity: l.quantity,
      unit: l.unit,
      unit_price_micros: l.unitPriceMicros,
      cost_micros: l.costMicros.toString(),
    }));
    const rows = await this.prisma.$queryRaw<{ inserted: number }[]>`
      WITH u AS (
        INSERT INTO usage_records (
          id, tenant_id, api_key_id, endpoint, requested_model, served_model, provider, fallback_level, attempts,
          status, latency_ms, cost_micros, price_id, lines, input_tokens, cached_tokens, output_tokens,
          reasoning_tokens, image_input_tokens, image_output_tokens, images, estimated, error)
        VALUES (
          ${reservation.id}, ${reservation.tenantId}::uuid, ${reservation.keyId}::uuid, ${input.endpoint},
          ${input.requestedModel}, ${input.servedModel}, ${input.provider}, ${input.fallbackLevel}, ${input.attempts},
          ${input.status}, ${Math.round(input.latencyMs)}, ${cost}, ${input.priceId}::uuid, ${JSON.stringify(lines)}::jsonb,
          ${u ? u.textInput + u.audioInput : 0}, ${u?.cachedInput ?? 0}, ${u?.textOutput ?? 0}, ${u?.reasoningOutput ?? 0},
          ${u?.imageInput ?? 0}, ${u?.imageOutput ?? 0}, ${u?.images ?? 0}, ${input.estimated ?? false}, ${input.error ?? null})
        ON CONFLICT (id) DO NOTHING
        RETURNING id
      ), r AS (
        DELETE FROM reservations WHERE id = ${reservation.id} AND EXISTS (SELECT 1 FROM u) RETURNING amount_micros
      ), t AS (
        UPDATE tenants SET balance_micros = balance_micros - ${cost},
                           reserved_micros = reserved_micros - COALESCE((SELECT amount_micros FROM r), 0)
         WHERE id = ${reservation.tenantId}::uuid AND EXISTS (SELECT 1 FROM u) RETURNING 1
      ), k AS (
        UPDATE api_keys SET spent_micros = spent_micros + ${cost},
                            reserved_micros = reserved_micros - COALESCE((SELECT amount_micros FROM r), 0)
         WHERE id = ${reservation.keyId}::uuid AND EXISTS (SELECT 1 FROM t) RETURNING 1
      ), l AS (
        INSERT INTO ledger_entries (id, tenant_id, kind, amount_micros, usage_id)
        SELECT gen_random_uuid(), ${reservation.tenantId}::uuid, 'debit', ${cost}, ${reservation.id}
         WHERE EXISTS (SELECT 1 FROM u) AND ${cost} > 0
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM u)::int AS inserted, (SELECT count(*) FROM t)::int AS t,
             (SELECT count(*) FROM k)::int AS k, (SELECT count(*) FROM l)::int AS l`;
    const inserted = (rows[0]?.inserted ?? 0) > 0;
    if (!inserted) this.logger.warn(`usage ${reservation.id} was already settled; not billed again`);
    return inserted;
  }

  /** Gives a reservation back without writing usage (the request was refused before any upstream call). */
  async release(reservation: Reservation): Promise<void> {
    await this.prisma.$executeRaw`
      WITH r AS (DELETE FROM reservations WHERE id = ${reservation.id} RETURNING tenant_id, api_key_id, amount_micros),
      t AS (UPDATE tenants SET reserved_micros = reserved_micros - r.amount_micros FROM r WHERE tenants.id = r.tenant_id RETURNING 1)
      UPDATE api_keys SET reserved_micros = api_keys.reserved_micros - r.amount_micros
        FROM r WHERE api_keys.id = r.api_key_id AND EXISTS (SELECT 1 FROM t)`;
  }

  /** Grows an existing reservation (a fallback hop to a dearer model); refuses like reserve() when it does not fit. */
  async topUp(reservation: Reservation, newAmountMicros: bigint): Promise<Reservation> {
    if (newAmountMicros <= reservation.amountMicros) return reservation;
    const extraId = `${reservation.id}:${newAmountMicros}`;
    const extra = await this.reserve(extraId, reservation, newAmountMicros - reservation.amountMicros);
    // Fold the extra reservation into the request's own so settle releases both at once.
    await this.prisma.$transaction([
      this.prisma.reservation.delete({ where: { id: extra.id } }),
      this.prisma.reservation.update({ where: { id: reservation.id }, data: { amountMicros: newAmountMicros } }),
    ]);
    return { ...reservation, amountMicros: newAmountMicros };
  }
}


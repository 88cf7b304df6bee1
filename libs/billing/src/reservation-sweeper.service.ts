import { Injectable, Logger } from '@nestjs/common';
import { PrismaService } from '@app/database';

/**
 * Releases spend reservations whose request never settled (the process holding them crashed). One
 * statement removes the expired reservations and returns their amounts to tenants and keys, so a
 * reservation is released exactly once even when several sweepers run at the same time, and one that
 * settles concurrently is simply no longer there to release.
 */
@Injectable()
export class ReservationSweeper {
  private readonly logger = new Logger(ReservationSweeper.name);

  constructor(private readonly prisma: PrismaService) {}

  async releaseExpired(now = new Date()): Promise<number> {
    const rows = await this.prisma.$queryRaw<{ n: number }[]>`
      WITH gone AS (
        DELETE FROM reservations WHERE expires_at < ${now} RETURNING tenant_id, api_key_id, amount_micros
      ), t AS (
        UPDATE tenants SET reserved_micros = tenants.reserved_micros - s.total
        FROM (SELECT tenant_id, sum(amount_micros) AS total FROM gone GROUP BY tenant_id) s
        WHERE tenants.id = s.tenant_id
        RETURNING 1
      ), k AS (
        UPDATE api_keys SET reserved_micros = api_keys.reserved_micros - s.total
        FROM (SELECT api_key_id, sum(amount_micros) AS total FROM gone WHERE api_key_id IS NOT NULL GROUP BY api_key_id) s
        WHERE api_keys.id = s.api_key_id AND EXISTS (SELECT 1 FROM t)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM gone)::int AS n, (SELECT count(*) FROM t)::int AS t, (SELECT count(*) FROM k)::int AS k`;
    const released = rows[0]?.n ?? 0;
    if (released > 0) this.logger.warn(`released ${released} expired reservation(s)`);
    return released;
  }
}

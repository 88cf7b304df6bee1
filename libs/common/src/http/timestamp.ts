import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * `2026-11-01`, or `2026-11-01T10:00`, with optional seconds and fraction (`.` or `,`), `T` or a space, and an
 * optional offset (`Z`, `+02:00`, `+0200`, `+02`). The rest of ISO 8601 (week and ordinal dates, `2026-11-01T10`,
 * basic format) is refused: class-validator's `IsISO8601` accepts those, and `new Date` cannot read them (an Invalid
 * Date reached the queries).
 */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})([.,]\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

export const TIMESTAMP_FORMAT = 'an ISO 8601 date (2026-11-01) or date-time (2026-11-01T00:00:00Z); a time without an offset is UTC';

/**
 * The instant a timestamp names, or null when it is not one. A date or a time without an offset is read as UTC, never
 * in the server's own time zone, so the same request means the same instant on every replica.
 */
export function parseTimestamp(value: string): Date | null {
  const m = TIMESTAMP.exec(value);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', offset = 'Z'] = m;
  // setUTCFullYear, not Date.UTC, which reads the years 0-99 as 1900-1999
  const day = new Date(0);
  day.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  let zone = 'Z';
  if (offset.toUpperCase() !== 'Z') {
    const digits = offset.slice(1).replace(':', '').padEnd(4, '0');
    if (Number(digits.slice(0, 2)) > 23 || Number(digits.slice(2)) > 59) return null;
    zone = `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2)}`;
  }
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${fraction.slice(0, 4).replace(',', '.')}${zone}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** `parseTimestamp` of a value validation already accepted (`IsTimestamp`); throws if it was not. */
export function requireTimestamp(value: string): Date {
  const at = parseTimestamp(value);
  if (!at) throw new Error(`not a timestamp: ${JSON.stringify(value.slice(0, 60))}`);
  return at;
}

/** `parseTimestamp` for DTO fields: the field must be a timestamp it reads. */
export function IsTimestamp(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestamp',
      validator: {
        validate: (v: unknown) => typeof v === 'string' && parseTimestamp(v) !== null,
        defaultMessage: (args) => `${args?.property ?? 'value'} must be ${TIMESTAMP_FORMAT}`,
      },
    },
    options,
  );
}

import { parseTimestamp } from './timestamp';

describe('parseTimestamp', () => {
  // A time without an offset is UTC whatever the server's zone: proved in a process run in New York's zone by
  // int/admin-cli › "key create --expires …".
  it.each([
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T10:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:30', '2026-11-01T10:00:30.000Z'],
    ['2026-11-01 10:00:30', '2026-11-01T10:00:30.000Z'],
    ['2026-11-01T10:00:30.123456Z', '2026-11-01T10:00:30.123Z'],
    ['2026-11-01t10:00:30z', '2026-11-01T10:00:30.000Z'],
    ['2026-11-01T10:00:00+02:00', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T10:00:00-0530', '2026-11-01T15:30:00.000Z'],
    ['2028-02-29T23:59:59Z', '2028-02-29T23:59:59.000Z'],
    ['2026-11-01T10:00:00+02', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T10:00:30,5Z', '2026-11-01T10:00:30.500Z'],
    // the years 0-99 are themselves, not 1900-1999
    ['0001-01-01', '0001-01-01T00:00:00.000Z'],
    ['0026-11-01T00:00:00Z', '0026-11-01T00:00:00.000Z'],
  ])('%s is %s', (value, instant) => {
    expect(parseTimestamp(value)?.toISOString()).toBe(instant);
  });

  it.each([
    '2026-W05', // week date: valid ISO 8601, which Date cannot read
    '2026-W05-3',
    '2026-305', // ordinal date
    '20261201', // basic format
    '2026-12-01T10', // hour alone
    '2026-12', // month alone
    '2026',
    '2026-02-30',
    '2027-02-29T00:00:00Z',
    '2026-13-01',
    '2026-12-01T24:00:00Z',
    '2026-12-01T10:60:00Z',
    '2026-12-01T10:00:00+24:00',
    '2026-12-01T10:00:00+02:60',
    '2026-12-01T10:00:00+2',
    'tomorrow',
    '',
    ' 2026-12-01',
  ])('%j is refused', (value) => {
    expect(parseTimestamp(value)).toBeNull();
  });
});

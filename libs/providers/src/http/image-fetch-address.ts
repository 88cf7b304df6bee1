/**
 * Which addresses the image fetcher may connect to. One pure decision, applied to the URL's literal host and
 * to every address a name resolves to (at connect time, so DNS rebinding cannot slip between check and
 * connect). Anything that is not unmistakably a public unicast address is refused: an address that cannot be
 * parsed, a private or special-purpose range, or an IPv6 form that embeds a refused IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** [first address as a 32-bit number, prefix length] */
type V4Range = readonly [number, number];

function v4(text: string, prefix: number): V4Range {
  const value = parseIPv4(text);
  if (value === null) throw new Error(`bad range ${text}`);
  return [value, prefix];
}

// IANA IPv4 special-purpose registry, plus multicast and the reserved block: none of it is a public host.
const NON_PUBLIC_V4: readonly V4Range[] = [
  v4('0.0.0.0', 8), // "this network", includes the unspecified 0.0.0.0
  v4('10.0.0.0', 8), // private
  v4('100.64.0.0', 10), // carrier-grade NAT
  v4('127.0.0.0', 8), // loopback
  v4('169.254.0.0', 16), // link-local, cloud metadata (169.254.169.254)
  v4('172.16.0.0', 12), // private
  v4('192.0.0.0', 24), // IETF protocol assignments
  v4('192.0.2.0', 24), // documentation
  v4('192.88.99.0', 24), // 6to4 relay anycast
  v4('192.168.0.0', 16), // private
  v4('198.18.0.0', 15), // benchmarking
  v4('198.51.100.0', 24), // documentation
  v4('203.0.113.0', 24), // documentation
  v4('224.0.0.0', 4), // multicast
  v4('240.0.0.0', 4), // reserved, includes the broadcast 255.255.255.255
];

const LOOPBACK_V4: V4Range = v4('127.0.0.0', 8);

/** A strict dotted quad as a 32-bit number; shorthand, octal and hex forms are not addresses here. */
function parseIPv4(text: string): number | null {
  if (!isIPv4(text)) return null;
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function inV4Range(value: number, [base, prefix]: V4Range): boolean {
  const size = 2 ** (32 - prefix);
  return Math.floor(value / size) === Math.floor(base / size);
}

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail becomes the last two). */
function parseIPv6(text: string): number[] | null {
  // A zone index names an interface: only link-local addresses have one, and none of them are public.
  if (text.includes('%') || !isIPv6(text)) return null;
  let body = text.toLowerCase();
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  if (tail.includes('.')) {
    const value = parseIPv4(tail);
    if (value === null) return null;
    body = `${body.slice(0, lastColon + 1)}${Math.floor(value / 65536).toString(16)}:${(value % 65536).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...left, ...new Array<number>(missing).fill(0), ...right];
  return all.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? all : null;
}

/** The IPv4 address inside `::ffff:a.b.c.d` (IPv4-mapped), or null for any other IPv6 address. */
function mappedIPv4(groups: number[]): number | null {
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  return mapped ? groups[6] * 65536 + groups[7] : null;
}

function isPublicV4(value: number): boolean {
  return !NON_PUBLIC_V4.some((range) => inV4Range(value, range));
}

function isPublicV6(groups: number[]): boolean {
  const mapped = mappedIPv4(groups);
  if (mapped !== null) return isPublicV4(mapped);
  const [g0, g1, g2] = groups;
  // Only global unicast (2000::/3) can be public; this alone refuses ::, ::1, IPv4-compatible ::a.b.c.d,
  // NAT64 64:ff9b::/96, discard 100::/64, unique-local fc00::/7, link-local fe80::/10, multicast ff00::/8.
  if ((g0 & 0xe000) !== 0x2000) return false;
  if (g0 === 0x2001 && g1 < 0x0200) return false; // IETF protocol assignments (Teredo, ORCHID, benchmarking)
  if (g0 === 0x2001 && g1 === 0x0db8) return false; // documentation
  if (g0 === 0x3fff && g1 < 0x1000) return false; // documentation (3fff::/20)
  if (g0 === 0x5f00) return false; // SRv6 segment identifiers
  // 6to4 carries an IPv4 address that a relay would reach on our behalf.
  if (g0 === 0x2002) return isPublicV4(g1 * 65536 + g2);
  return true;
}

/**
 * True only for a canonical IPv4 or IPv6 address that is public unicast. Anything else — a name, an
 * unparseable or shorthand form (`127.1`, `0177.0.0.1`), a zoned IPv6 address — is false.
 */
export function isPublicAddress(ip: string): boolean {
  const value = parseIPv4(ip);
  if (value !== null) return isPublicV4(value);
  const groups = parseIPv6(ip);
  return groups !== null && isPublicV6(groups);
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms: the only refused addresses a test allowance may open. */
export function isLoopbackAddress(ip: string): boolean {
  const value = parseIPv4(ip);
  if (value !== null) return inV4Range(value, LOOPBACK_V4);
  const groups = parseIPv6(ip);
  if (groups === null) return false;
  const mapped = mappedIPv4(groups);
  if (mapped !== null) return inV4Range(mapped, LOOPBACK_V4);
  return groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}

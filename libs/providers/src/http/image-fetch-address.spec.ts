import { isLoopbackAddress, isPublicAddress } from './image-fetch-address';

describe('isPublicAddress', () => {
  it.each([
    // loopback
    '127.0.0.1', '127.255.255.254', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1',
    // unspecified and "this network"
    '0.0.0.0', '0.1.2.3', '::', '0:0:0:0:0:0:0:0',
    // private
    '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.0.1', '192.168.255.255',
    // link-local and cloud metadata
    '169.254.0.1', '169.254.169.254', 'fe80::1', 'febf:ffff::1',
    // carrier-grade NAT
    '100.64.0.1', '100.127.255.255',
    // IPv6 unique-local and old site-local
    'fc00::1', 'fd12:3456:789a::1', 'fec0::1',
    // multicast, broadcast, reserved
    '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', 'ff02::1', 'ff0e::1',
    // special-purpose IPv4 blocks
    '192.0.0.8', '192.0.2.1', '192.88.99.1', '198.18.0.1', '198.19.255.255', '198.51.100.7', '203.0.113.9',
    // IPv4-mapped IPv6 forms of refused addresses, dotted and hex
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::FFFF:7F00:0001', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe',
    '::ffff:0.0.0.0', '::ffff:192.168.1.1', '0:0:0:0:0:ffff:127.0.0.1',
    // IPv4-compatible (deprecated) and NAT64 forms: never treated as the IPv4 address they embed
    '::127.0.0.1', '::8.8.8.8', '64:ff9b::8.8.8.8', '64:ff9b::7f00:1', '64:ff9b:1::1',
    // other special IPv6 blocks
    '100::1', '2001::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:2::1', '2001:10::1', '2001:20::1', '2001:db8::1',
    '3fff::1', '5f00::1',
    // 6to4 embedding a refused IPv4 address
    '2002:7f00:1::1', '2002:a00:1::', '2002:c0a8:101::1',
  ])('refuses %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    // not a canonical address: shorthand, decimal, hex and octal forms, names, garbage, zoned addresses
    '2130706433', '0x7f000001', '0177.0.0.1', '127.1', '127.0.1', '0x7f.0.0.1', '017700000001', '1.2.3.4.5', '256.1.1.1',
    'localhost', 'example.com', '', ' 8.8.8.8', '8.8.8.8 ', '[::1]', '[2606:4700::1111]', 'fe80::1%eth0', '2606:4700::1111%1',
    '::ffff:8.8.8.8.8', '1:2:3:4:5:6:7:8:9', '2606:4700::1111::1',
  ])('refuses the non-address %j', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    '8.8.8.8', '1.1.1.1', '93.184.216.34', '9.255.255.255', '11.0.0.1', '100.63.255.255', '100.128.0.1', '126.255.255.255',
    '128.0.0.1', '169.253.255.255', '169.255.0.1', '172.15.255.255', '172.32.0.1', '192.0.1.1', '192.167.255.255',
    '192.169.0.1', '198.17.255.255', '198.20.0.1', '223.255.255.255',
    '2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:80b::200e', '2001:200::1', '2c0f:fb50::1',
    // IPv4-mapped and 6to4 forms of public addresses
    '::ffff:8.8.8.8', '::ffff:808:808', '2002:808:808::1',
  ])('allows the public address %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it('draws the edges of the refused IPv4 blocks exactly', () => {
    expect(isPublicAddress('9.255.255.255')).toBe(true);
    expect(isPublicAddress('10.0.0.0')).toBe(false);
    expect(isPublicAddress('11.0.0.0')).toBe(true);
    expect(isPublicAddress('172.15.255.255')).toBe(true);
    expect(isPublicAddress('172.16.0.0')).toBe(false);
    expect(isPublicAddress('172.31.255.255')).toBe(false);
    expect(isPublicAddress('172.32.0.0')).toBe(true);
    expect(isPublicAddress('100.63.255.255')).toBe(true);
    expect(isPublicAddress('100.64.0.0')).toBe(false);
    expect(isPublicAddress('100.127.255.255')).toBe(false);
    expect(isPublicAddress('100.128.0.0')).toBe(true);
    expect(isPublicAddress('223.255.255.255')).toBe(true);
    expect(isPublicAddress('224.0.0.0')).toBe(false);
  });
});

describe('isLoopbackAddress', () => {
  it.each(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:0:0:1'])('%s is loopback', (ip) => {
    expect(isLoopbackAddress(ip)).toBe(true);
  });

  it.each(['10.0.0.1', '0.0.0.0', '::', '169.254.169.254', '::ffff:10.0.0.1', '::127.0.0.1', 'fe80::1', 'localhost', '127.1', '2130706433', '8.8.8.8'])(
    '%s is not loopback',
    (ip) => {
      expect(isLoopbackAddress(ip)).toBe(false);
    },
  );
});

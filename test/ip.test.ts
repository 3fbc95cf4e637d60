import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, cidrsOverlap, formatCidr, formatIp, parseCidr, parseIp } from '../src/engine/ip.js';

describe('parseIp', () => {
  it('reads IPv4 into a 32-bit value', () => {
    assert.deepEqual(parseIp('172.17.0.1'), { family: 4, value: (172n << 24n) | (17n << 16n) | 1n });
    assert.deepEqual(parseIp('255.255.255.255'), { family: 4, value: 0xffffffffn });
  });

  it('reads IPv6 with and without ::, and with an IPv4 tail', () => {
    assert.deepEqual(parseIp('::'), { family: 6, value: 0n });
    assert.deepEqual(parseIp('::1'), { family: 6, value: 1n });
    assert.deepEqual(parseIp('fd00:10:16::1'), {
      family: 6,
      value: (0xfd00n << 112n) | (0x10n << 96n) | (0x16n << 80n) | 1n,
    });
    assert.deepEqual(parseIp('1:2:3:4:5:6:7:8'), { family: 6, value: 0x00010002000300040005000600070008n });
    assert.deepEqual(parseIp('fe80::'), { family: 6, value: 0xfe80n << 112n });
    assert.deepEqual(parseIp('::ffff:10.0.0.1'), { family: 6, value: (0xffffn << 32n) | (10n << 24n) | 1n });
  });

  it("rejects what Go's net.ParseIP rejects, and zones and prefixes", () => {
    for (const bad of ['010.0.0.1', '1.2.3', '256.0.0.1', '1::2::3', 'fe80::1%eth0', '10.0.0.0/8', '', 'gateway']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });
});

describe('parseCidr', () => {
  it('gives the first and last address of the block, keeping host bits as written', () => {
    const c = parseCidr('172.17.0.5/16')!;
    assert.equal(c.family, 4);
    assert.equal(c.prefix, 16);
    assert.equal(formatIp(c.address, 4), '172.17.0.5');
    assert.equal(formatIp(c.first, 4), '172.17.0.0');
    assert.equal(formatIp(c.last, 4), '172.17.255.255');
    assert.equal(formatCidr(c), '172.17.0.0/16');
    const v6 = parseCidr('fd00:10:16::/64')!;
    assert.equal(formatIp(v6.last, 6), 'fd00:10:16:0:ffff:ffff:ffff:ffff');
  });

  it('rejects a missing or too long prefix and a bad address', () => {
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/a', '10.0.0/8', '10.0.0.0/8/8']) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });

  it('knows containment and overlap within one family only', () => {
    const net = parseCidr('10.16.0.0/16')!;
    assert.equal(cidrContains(net, parseIp('10.16.255.1')!), true);
    assert.equal(cidrContains(net, parseIp('10.17.0.1')!), false);
    assert.equal(cidrContains(parseCidr('::/0')!, parseIp('10.16.0.1')!), false);
    assert.equal(cidrsOverlap(net, parseCidr('10.0.0.0/8')!), true);
    assert.equal(cidrsOverlap(net, parseCidr('10.17.0.0/16')!), false);
    assert.equal(cidrsOverlap(parseCidr('0.0.0.0/0')!, parseCidr('::/0')!), false);
  });
});

describe('formatIp', () => {
  it('compresses the longest run of zero groups, and not a single one (RFC 5952)', () => {
    assert.equal(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!.value, 6), '2001:db8::1:0:0:1');
    assert.equal(formatIp(parseIp('2001:db8:0:1:1:1:1:1')!.value, 6), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIp(0n, 6), '::');
    assert.equal(formatIp(1n, 6), '::1');
  });
});

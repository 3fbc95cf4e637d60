// IP address and CIDR arithmetic for the Kube-OVN Subnet checks. Pure: `node:net` decides
// what is an address (as Go's net.ParseIP, it rejects IPv4 octets with leading zeros);
// addresses become BigInts so that v4 and v6 share one code path.
import { isIP } from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  value: bigint;
}

export interface ParsedCidr {
  family: IpFamily;
  prefix: number;
  /** The address as written (host bits may be set: Kube-OVN accepts 10.0.0.1/24). */
  address: bigint;
  /** First address of the block (the network number). */
  first: bigint;
  /** Last address of the block (the IPv4 broadcast address). */
  last: bigint;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

function parseV4(text: string): bigint {
  let value = 0n;
  for (const octet of text.split('.')) value = (value << 8n) | BigInt(Number(octet));
  return value;
}

function parseV6(text: string): bigint {
  let body = text;
  let tail: bigint | undefined;
  // An embedded IPv4 tail (::ffff:1.2.3.4) stands for the last two 16-bit groups.
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.', lastColon)) {
    tail = parseV4(body.slice(lastColon + 1));
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = body.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  return tail === undefined ? value : (value & ~0xffffffffn) | tail;
}

/** Parses an IPv4 or IPv6 address (no zone, no prefix); undefined when it is not one. */
export function parseIp(text: string): ParsedIp | undefined {
  if (typeof text !== 'string' || text.includes('%')) return undefined;
  const family = isIP(text);
  if (family === 4) return { family, value: parseV4(text) };
  if (family === 6) return { family, value: parseV6(text) };
  return undefined;
}

/** Parses `address/prefix`; undefined when either part is malformed. */
export function parseCidr(text: string): ParsedCidr | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = BITS[ip.family];
  if (prefix > bits) return undefined;
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  return { family: ip.family, prefix, address: ip.value, first: ip.value & ~hostMask, last: ip.value | hostMask };
}

export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  return cidr.family === ip.family && ip.value >= cidr.first && ip.value <= cidr.last;
}

/** Canonical text of an address: dotted quad, or RFC 5952 IPv6 (longest zero run compressed). */
export function formatIp(value: bigint, family: IpFamily): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function formatCidr(cidr: ParsedCidr): string {
  return `${formatIp(cidr.first, cidr.family)}/${cidr.prefix}`;
}

/** Whether two blocks share any address. */
export function cidrsOverlap(a: ParsedCidr, b: ParsedCidr): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** Whether a block is point-to-point: a /31 or /127, whose two addresses are both hosts (RFC 3021, RFC 6164). */
export function isPointToPoint(cidr: ParsedCidr): boolean {
  return cidr.prefix === BITS[cidr.family] - 1;
}

/**
 * The network number of a block as Kube-OVN defines it (kubeovn/kube-ovn pkg/util/net.go
 * SubnetNumber, v1.13-v1.16): the first address, none for /31 and /127.
 */
export function subnetNumber(cidr: ParsedCidr): bigint | undefined {
  return isPointToPoint(cidr) ? undefined : cidr.first;
}

/**
 * The broadcast address of a block as Kube-OVN defines it (pkg/util/net.go SubnetBroadcast):
 * the all-ones address, for IPv6 too, none for /31 and /127.
 */
export function subnetBroadcast(cidr: ParsedCidr): bigint | undefined {
  return isPointToPoint(cidr) ? undefined : cidr.last;
}

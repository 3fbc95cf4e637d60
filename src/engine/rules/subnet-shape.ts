// Rule subnet-shape: a Kube-OVN Subnet that Kube-OVN can use, checked as its webhook does
// (kubeovn/kube-ovn pkg/util/validator.go ValidateSubnet) and a little further: exclude
// ranges must lie inside the CIDR, `protocol` must agree with it, and an OVN provider must
// name a NAD. Work is linear in the input and each field gets at most one cause: a
// gateway of 20,000 entries is one finding, not 20,000 that quote the whole list.
import { FieldPath } from '../field-path.js';
import { cidrContains, cidrsOverlap, formatCidr, formatIp, parseCidr, parseIp, type IpFamily, type ParsedCidr } from '../ip.js';
import { analyzeNad } from '../nad.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type SubnetContext } from '../rule.js';
import { bounded, quote } from '../values.js';

const PROTOCOLS = ['IPv4', 'IPv6', 'Dual', 'Mac'];
const CIDR_BLOCK = FieldPath.of('spec', 'cidrBlock');
const GATEWAY = FieldPath.of('spec', 'gateway');
const EXCLUDE_IPS = FieldPath.of('spec', 'excludeIps');
const PROTOCOL = FieldPath.of('spec', 'protocol');
const PROVIDER = FieldPath.of('spec', 'provider');

/** Blocks Kube-OVN refuses as subnets (pkg/util/net.go CIDRGlobalUnicast). */
const SPECIAL_BLOCKS: [string, ParsedCidr][] = (
  [
    ['IPv4 broadcast', '255.255.255.255/32'],
    ['IPv4 multicast', '224.0.0.0/4'],
    ['IPv4 loopback', '127.0.0.0/8'],
    ['IPv4 "this network"', '0.0.0.0/32'],
    ['IPv4 link-local', '169.254.0.0/16'],
    ['IPv6 unspecified', '::/128'],
    ['IPv6 loopback', '::1/128'],
    ['IPv6 multicast', 'ff00::/8'],
    ['IPv6 link-local', 'fe80::/10'],
  ] as const
).flatMap(([label, text]): [string, ParsedCidr][] => {
  const cidr = parseCidr(text);
  return cidr ? [[label, cidr]] : [];
});

function familyName(family: IpFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

function hasUpperCase(text: string): boolean {
  return text !== text.toLowerCase();
}

type Blocks = Map<IpFamily, ParsedCidr>;

/** Checks spec.cidrBlock; returns its blocks by family, or a cause when unusable. */
function readCidrBlock(cidrBlock: unknown): Blocks | Cause {
  const at = (message: string): Cause => ({ message, field: CIDR_BLOCK });
  if (typeof cidrBlock !== 'string') {
    return at('spec.cidrBlock must be a string such as "10.16.0.0/16", or "10.16.0.0/16,fd00:10:16::/64" for dual stack.');
  }
  if (hasUpperCase(cidrBlock)) {
    return at(
      `spec.cidrBlock ${quote(cidrBlock)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only. ` +
        `Write ${quote(cidrBlock.toLowerCase())}.`,
    );
  }
  const parts = cidrBlock.split(',');
  if (parts.length > 2) {
    return at(`spec.cidrBlock has ${parts.length} blocks; a Subnet has one, or an IPv4 and an IPv6 block for dual stack.`);
  }
  const blocks: Blocks = new Map();
  for (const part of parts) {
    const cidr = parseCidr(part);
    if (!cidr) return at(`spec.cidrBlock: ${quote(part)} is not a CIDR (address/prefix, e.g. 10.16.0.0/16).`);
    if (cidr.prefix === (cidr.family === 4 ? 32 : 128)) {
      return at(`spec.cidrBlock: ${quote(part)} is a single address (/${cidr.prefix}); a Subnet needs room for a gateway and its hosts.`);
    }
    const special = SPECIAL_BLOCKS.find(([, block]) => cidrsOverlap(block, cidr));
    if (special) {
      return at(`spec.cidrBlock: ${quote(part)} overlaps the ${special[0]} block ${formatCidr(special[1])}, which Kube-OVN refuses for a Subnet.`);
    }
    if (blocks.has(cidr.family)) {
      return at(`spec.cidrBlock has two ${familyName(cidr.family)} blocks; dual stack takes one IPv4 and one IPv6 block.`);
    }
    blocks.set(cidr.family, cidr);
  }
  return blocks;
}

/** The first problem with spec.gateway, if any: one per field, whatever the input's length. */
function gatewayCause(gateway: string, blocks: Blocks): Cause | undefined {
  const at = (message: string): Cause => ({ message, field: GATEWAY });
  if (hasUpperCase(gateway)) return at(`spec.gateway ${quote(gateway)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only.`);
  const entries = gateway.split(',');
  const dual = blocks.size === 2;
  const mismatch = `spec.gateway ${quote(gateway)} does not match spec.cidrBlock: give one gateway per block${dual ? ', IPv4 and IPv6, separated by a comma' : ''}.`;
  // Checked first, so that a list of thousands of entries costs one split and one message.
  if (entries.length > blocks.size) return at(mismatch);
  const seen = new Set<IpFamily>();
  for (const text of entries) {
    const ip = parseIp(text);
    if (!ip) return at(`spec.gateway: ${quote(text)} is not an IP address${dual ? ' (dual stack: "<IPv4>,<IPv6>")' : ''}.`);
    const cidr = blocks.get(ip.family);
    if (!cidr || seen.has(ip.family)) return at(mismatch);
    seen.add(ip.family);
    const conventional = formatIp(cidr.first + 1n, cidr.family);
    if (!cidrContains(cidr, ip)) {
      return at(
        `spec.gateway ${text} is outside ${formatCidr(cidr)}; Kube-OVN refuses it ("gateway ... is not in cidr"). Pick an ` +
          `address inside the block, conventionally ${conventional}.`,
      );
    }
    if (ip.value === cidr.first) return at(`spec.gateway ${text} is the network address of ${formatCidr(cidr)}; use a host address such as ${conventional}.`);
    // IPv6 has no broadcast address (RFC 4291); Kube-OVN accepts the all-ones host there.
    if (cidr.family === 4 && ip.value === cidr.last) {
      return at(`spec.gateway ${text} is the broadcast address of ${formatCidr(cidr)}; use a host address such as ${conventional}.`);
    }
  }
  return undefined;
}

/** What is wrong with one excludeIps entry, or undefined. */
function excludeProblem(item: unknown, blocks: Blocks): string | undefined {
  if (typeof item !== 'string') return 'must be a string: an address or a range "a..b"';
  if (hasUpperCase(item)) return `${quote(item)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only`;
  const ends = item.split('..');
  if (ends.length > 2) return `${quote(item)} is not an address nor a range "a..b"`;
  const first = parseIp(ends[0]);
  const last = ends.length === 2 ? parseIp(ends[1]) : first;
  if (!first || !last) return `${quote(first ? ends[1] : ends[0])} is not an IP address`;
  if (first.family !== last.family) return `${quote(item)} mixes IPv4 and IPv6; a range has two addresses of one family`;
  if (first.value > last.value) return `${quote(item)} runs backwards; write the lower address first: "${ends[1]}..${ends[0]}"`;
  const cidr = blocks.get(first.family);
  if (!cidr || !cidrContains(cidr, first) || !cidrContains(cidr, last)) {
    const where = cidr
      ? `outside ${formatCidr(cidr)}`
      : `${familyName(first.family)}, and spec.cidrBlock has no ${familyName(first.family)} block`;
    return `${quote(item)} is ${where}; Kube-OVN does not check this itself, and the exclusion then protects nothing`;
  }
  return undefined;
}

/** A cause per bad entry, each at its own index (the evaluator bounds how many are listed). */
function excludeIpsCauses(excludeIps: unknown, blocks: Blocks): Cause[] {
  if (excludeIps === undefined || excludeIps === null) return [];
  if (!Array.isArray(excludeIps)) {
    return [{ message: 'spec.excludeIps must be a list of addresses or ranges ("10.16.0.1" or "10.16.0.1..10.16.0.10").', field: EXCLUDE_IPS }];
  }
  const causes: Cause[] = [];
  excludeIps.forEach((item: unknown, index) => {
    const problem = excludeProblem(item, blocks);
    if (problem !== undefined) {
      causes.push({ message: `spec.excludeIps[${index}] ${problem}. Correct the address or range.`, field: EXCLUDE_IPS.index(index) });
    }
  });
  return causes;
}

function protocolCause(protocol: unknown, blocks: Blocks | undefined): Cause | undefined {
  if (protocol === undefined || protocol === '') return undefined;
  if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) {
    return { message: `spec.protocol ${quote(protocol)} is not one of ${PROTOCOLS.join(', ')}.`, field: PROTOCOL };
  }
  if (!blocks) return undefined;
  const expected = blocks.size === 2 ? 'Dual' : blocks.has(4) ? 'IPv4' : 'IPv6';
  if (protocol === expected) return undefined;
  return {
    message:
      `spec.protocol is ${protocol}, but spec.cidrBlock is ${expected === 'Dual' ? 'dual stack' : expected}; set protocol: ` +
      `${expected} or leave it out (Kube-OVN derives it from the CIDR).`,
    field: PROTOCOL,
  };
}

/** A provider ending in `.ovn` names a NAD: `<nad-name>.<nad-namespace>.ovn` (pkg/util/subnet.go). */
function providerCause(ctx: SubnetContext, provider: string): Cause | undefined {
  if (!provider.endsWith('.ovn') || provider === 'ovn') return undefined;
  const fields = provider.split('.');
  if (fields.length !== 3 || !fields[0] || !fields[1]) {
    return {
      message:
        `spec.provider ${quote(provider)} ends in .ovn but is not <nad-name>.<nad-namespace>.ovn: Kube-OVN recognises an ` +
        'OVN provider by exactly three dot-separated fields, so no attachment is ever bound to this Subnet. A NAD whose ' +
        'name has a dot cannot be a Kube-OVN provider; rename it.',
      field: PROVIDER,
    };
  }
  const [name, namespace] = fields.map((f) => bounded(f));
  const nad = ctx.cluster.getNetworkAttachmentDefinition(fields[1], fields[0]);
  const names = `spec.provider ${quote(provider)} names NetworkAttachmentDefinition ${namespace}/${name}`;
  if (!nad) {
    return { message: `${names}, which does not exist (yet); nothing attaches to this Subnet until it does.`, field: PROVIDER, action: 'warn' };
  }
  const analysis = analyzeNad(nad);
  if (analysis.ovnRole === 'ipam') {
    return {
      message:
        `${names}, which uses Kube-OVN for IPAM only; Kube-OVN binds such a NAD by "${name}.${namespace}", without ` +
        `".ovn". Set provider: ${name}.${namespace}.`,
      field: PROVIDER,
      action: 'warn',
    };
  }
  if (!analysis.ovnRole && analysis.parsed.plugins.length > 0) {
    return {
      message: `${names}, which is not a Kube-OVN network (type ${quote(analysis.type ?? 'unknown')}); nothing attaches to this Subnet through it.`,
      field: PROVIDER,
      action: 'warn',
    };
  }
  return undefined;
}

function shapeCauses(ctx: SubnetContext): Cause[] {
  const { cidrBlock, gateway, excludeIps, protocol, provider, vlan } = ctx.spec;
  const causes: (Cause | undefined)[] = [];
  let blocks: Blocks | undefined;
  if (cidrBlock === undefined || cidrBlock === '') {
    // Kube-OVN allows an underlay Subnet (spec.vlan) without CIDR: it hands out MACs only, and DHCP does the rest.
    if (!vlan) {
      causes.push({
        message: 'spec.cidrBlock is required (only an underlay Subnet with spec.vlan, addressed by an external DHCP server, may leave it out).',
        field: CIDR_BLOCK,
      });
    } else {
      if (gateway) causes.push({ message: 'spec.gateway must be empty on an underlay Subnet without spec.cidrBlock.', field: GATEWAY });
      if (Array.isArray(excludeIps) && excludeIps.length) {
        causes.push({ message: 'spec.excludeIps must be empty on an underlay Subnet without spec.cidrBlock.', field: EXCLUDE_IPS });
      }
    }
  } else {
    const read = readCidrBlock(cidrBlock);
    if (read instanceof Map) blocks = read;
    else causes.push(read);
  }
  if (blocks) {
    if (typeof gateway === 'string' && gateway !== '') causes.push(gatewayCause(gateway, blocks));
    else if (gateway !== undefined && gateway !== '' && gateway !== null) causes.push({ message: 'spec.gateway must be a string.', field: GATEWAY });
    causes.push(...excludeIpsCauses(excludeIps, blocks));
  }
  if (protocol === 'Mac' && blocks) {
    causes.push({ message: 'spec.protocol Mac is for an underlay Subnet without spec.cidrBlock; remove the protocol or the CIDR.', field: PROTOCOL });
  } else {
    causes.push(protocolCause(protocol, blocks));
  }
  if (typeof provider === 'string' && provider !== '') causes.push(providerCause(ctx, provider));
  return causes.filter((c): c is Cause => c !== undefined);
}

export const subnetShape: RuleDescriptor<'subnet-shape'> = defineRule({
  id: 'subnet-shape',
  title: 'Kube-OVN Subnet is well formed',
  summary: 'a Subnet with a bad CIDR, gateway, excludeIps or protocol',
  description:
    'cidrBlock is valid, gateway inside it and not its network or broadcast address, excludeIps valid and inside the ' +
    'CIDR, protocol consistent, and an .ovn provider has the form <name>.<namespace>.ovn.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: { subnet: shapeCauses },
});

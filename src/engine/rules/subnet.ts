// Rule subnet-shape: a Kube-OVN Subnet that Kube-OVN can use, checked as its webhook
// does (kubeovn/kube-ovn pkg/util/validator.go ValidateSubnet) and a little further:
// exclude ranges must lie inside the CIDR, `protocol` must agree with it, and an OVN
// provider must name a NAD. Also the Subnet half of ovn-subnet: a second Subnet for a
// provider makes the binding ambiguous.
import type { Report, RuleContext, ValidationRule } from '../rule.js';
import type { KubeOvnSubnet } from '../types.js';
import { cidrContains, cidrsOverlap, formatCidr, formatIp, parseCidr, parseIp, type IpFamily, type ParsedCidr } from '../ip.js';
import { analyzeNad } from '../nad.js';

const RULE = 'subnet-shape';
const PROTOCOLS = ['IPv4', 'IPv6', 'Dual', 'Mac'];

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
).map(([label, text]) => [label, parseCidr(text)!]);

function familyName(family: IpFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

function hasUpperCase(text: string): boolean {
  return text !== text.toLowerCase();
}

/** Checks spec.cidrBlock; returns its blocks by family, or undefined when unusable. */
function checkCidrBlock(cidrBlock: unknown, report: (message: string, field: string) => void): Map<IpFamily, ParsedCidr> | undefined {
  const field = 'spec.cidrBlock';
  if (typeof cidrBlock !== 'string') {
    report(`spec.cidrBlock must be a string such as "10.16.0.0/16", or "10.16.0.0/16,fd00:10:16::/64" for dual stack.`, field);
    return undefined;
  }
  if (hasUpperCase(cidrBlock)) {
    report(`spec.cidrBlock "${cidrBlock}" has upper-case letters; Kube-OVN accepts IPv6 in lower case only. Write "${cidrBlock.toLowerCase()}".`, field);
    return undefined;
  }
  const parts = cidrBlock.split(',');
  if (parts.length > 2) {
    report(`spec.cidrBlock "${cidrBlock}" has ${parts.length} blocks; a Subnet has one, or an IPv4 and an IPv6 block for dual stack.`, field);
    return undefined;
  }
  const blocks = new Map<IpFamily, ParsedCidr>();
  for (const part of parts) {
    const cidr = parseCidr(part);
    if (!cidr) {
      report(`spec.cidrBlock: "${part}" is not a CIDR (address/prefix, e.g. 10.16.0.0/16).`, field);
      return undefined;
    }
    if (cidr.prefix === (cidr.family === 4 ? 32 : 128)) {
      report(`spec.cidrBlock: "${part}" is a single address (/${cidr.prefix}); a Subnet needs room for a gateway and its hosts.`, field);
      return undefined;
    }
    const special = SPECIAL_BLOCKS.find(([, block]) => cidrsOverlap(block, cidr));
    if (special) {
      report(`spec.cidrBlock: "${part}" overlaps the ${special[0]} block ${formatCidr(special[1])}, which Kube-OVN refuses for a Subnet.`, field);
      return undefined;
    }
    if (blocks.has(cidr.family)) {
      report(`spec.cidrBlock "${cidrBlock}" has two ${familyName(cidr.family)} blocks; dual stack takes one IPv4 and one IPv6 block.`, field);
      return undefined;
    }
    blocks.set(cidr.family, cidr);
  }
  return blocks;
}

function checkGateway(gateway: string, blocks: Map<IpFamily, ParsedCidr>, report: (message: string, field: string) => void): void {
  const field = 'spec.gateway';
  if (hasUpperCase(gateway)) {
    report(`spec.gateway "${gateway}" has upper-case letters; Kube-OVN accepts IPv6 in lower case only.`, field);
    return;
  }
  const seen = new Set<IpFamily>();
  for (const text of gateway.split(',')) {
    const ip = parseIp(text);
    if (!ip) {
      report(`spec.gateway: "${text}" is not an IP address${blocks.size === 2 ? ' (dual stack: "<IPv4>,<IPv6>")' : ''}.`, field);
      continue;
    }
    const cidr = blocks.get(ip.family);
    if (!cidr || seen.has(ip.family)) {
      report(`spec.gateway "${gateway}" does not match spec.cidrBlock: give one gateway per block${blocks.size === 2 ? ', IPv4 and IPv6, separated by a comma' : ''}.`, field);
      continue;
    }
    seen.add(ip.family);
    if (!cidrContains(cidr, ip)) {
      report(`spec.gateway ${text} is outside ${formatCidr(cidr)}; Kube-OVN refuses it ("gateway ... is not in cidr"). Pick an address inside the block, conventionally ${formatIp(cidr.first + 1n, cidr.family)}.`, field);
    } else if (ip.value === cidr.first) {
      report(`spec.gateway ${text} is the network address of ${formatCidr(cidr)}; use a host address such as ${formatIp(cidr.first + 1n, cidr.family)}.`, field);
    } else if (cidr.family === 4 && ip.value === cidr.last) {
      // IPv6 has no broadcast address (RFC 4291); Kube-OVN accepts the all-ones host there.
      report(`spec.gateway ${text} is the broadcast address of ${formatCidr(cidr)}; use a host address such as ${formatIp(cidr.first + 1n, cidr.family)}.`, field);
    }
  }
}

function checkExcludeIps(excludeIps: unknown, blocks: Map<IpFamily, ParsedCidr>, report: (message: string, field: string) => void): void {
  if (excludeIps === undefined || excludeIps === null) return;
  if (!Array.isArray(excludeIps)) {
    report('spec.excludeIps must be a list of addresses or ranges ("10.16.0.1" or "10.16.0.1..10.16.0.10").', 'spec.excludeIps');
    return;
  }
  excludeIps.forEach((item: unknown, index) => {
    const field = `spec.excludeIps[${index}]`;
    if (typeof item !== 'string') {
      report(`${field} must be a string: an address or a range "a..b".`, field);
      return;
    }
    if (hasUpperCase(item)) {
      report(`${field} "${item}" has upper-case letters; Kube-OVN accepts IPv6 in lower case only. Write "${item.toLowerCase()}".`, field);
      return;
    }
    const ends = item.split('..');
    if (ends.length > 2) {
      report(`${field} "${item}" is not an address nor a range "a..b".`, field);
      return;
    }
    const ips = ends.map((e) => parseIp(e));
    const bad = ends.find((_, i) => !ips[i]);
    if (bad !== undefined) {
      report(`${field}: "${bad}" is not an IP address.`, field);
      return;
    }
    const [first, last = first] = ips as NonNullable<(typeof ips)[number]>[];
    if (first.family !== last.family) {
      report(`${field} "${item}" mixes IPv4 and IPv6; a range has two addresses of one family.`, field);
      return;
    }
    if (first.value > last.value) {
      report(`${field} "${item}" runs backwards; write the lower address first: "${ends[1]}..${ends[0]}".`, field);
      return;
    }
    const cidr = blocks.get(first.family);
    if (!cidr || !cidrContains(cidr, first) || !cidrContains(cidr, last)) {
      const inside = cidr ? `outside ${formatCidr(cidr)}` : `${familyName(first.family)}, and spec.cidrBlock has no ${familyName(first.family)} block`;
      report(`${field} "${item}" is ${inside}; Kube-OVN does not check this itself, and the exclusion then protects nothing. Correct the address or range.`, field);
    }
  });
}

function checkProtocol(protocol: unknown, blocks: Map<IpFamily, ParsedCidr> | undefined, report: (message: string, field: string) => void): void {
  if (protocol === undefined || protocol === '') return;
  const field = 'spec.protocol';
  if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) {
    report(`spec.protocol "${String(protocol)}" is not one of ${PROTOCOLS.join(', ')}.`, field);
    return;
  }
  if (!blocks) return;
  const expected = blocks.size === 2 ? 'Dual' : blocks.has(4) ? 'IPv4' : 'IPv6';
  if (protocol !== expected) {
    report(`spec.protocol is ${protocol}, but spec.cidrBlock is ${expected === 'Dual' ? 'dual stack' : expected}; set protocol: ${expected} or leave it out (Kube-OVN derives it from the CIDR).`, field);
  }
}

/** A provider ending in `.ovn` names a NAD: `<nad-name>.<nad-namespace>.ovn` (pkg/util/subnet.go). */
function checkProvider(ctx: RuleContext, provider: string, report: Report): void {
  const field = 'spec.provider';
  if (!provider.endsWith('.ovn') || provider === 'ovn') return;
  const fields = provider.split('.');
  if (fields.length !== 3 || !fields[0] || !fields[1]) {
    report(
      RULE,
      `spec.provider "${provider}" ends in .ovn but is not <nad-name>.<nad-namespace>.ovn: Kube-OVN recognises an OVN provider by exactly three dot-separated fields, so no attachment is ever bound to this Subnet. A NAD whose name has a dot cannot be a Kube-OVN provider; rename it.`,
      field,
    );
    return;
  }
  const [name, namespace] = fields;
  const nad = ctx.cluster.getNetworkAttachmentDefinition(namespace, name);
  if (!nad) {
    report(RULE, `spec.provider "${provider}" names NetworkAttachmentDefinition ${namespace}/${name}, which does not exist (yet); nothing attaches to this Subnet until it does.`, field, 'warn');
    return;
  }
  const role = analyzeNad(nad).ovnRole;
  if (role === 'ipam') {
    report(RULE, `spec.provider "${provider}" names NetworkAttachmentDefinition ${namespace}/${name}, which uses Kube-OVN for IPAM only; Kube-OVN binds such a NAD by "${name}.${namespace}", without ".ovn". Set provider: ${name}.${namespace}.`, field, 'warn');
  } else if (!role && analyzeNad(nad).parsed.plugins.length > 0) {
    report(RULE, `spec.provider "${provider}" names NetworkAttachmentDefinition ${namespace}/${name}, which is not a Kube-OVN network (type "${analyzeNad(nad).type ?? 'unknown'}"); nothing attaches to this Subnet through it.`, field, 'warn');
  }
}

/** The Subnet half of ovn-subnet: said when a Subnet takes a provider another Subnet already has. */
function checkProviderTaken(ctx: RuleContext, subnet: KubeOvnSubnet, provider: string, report: Report): void {
  if (provider === 'ovn' || (ctx.oldObject as KubeOvnSubnet | undefined)?.spec?.provider === provider) return;
  const name = subnet.metadata?.name;
  const others = ctx.cluster.findSubnetsByProvider(provider).filter((s) => s.metadata?.name !== name);
  if (others.length === 0) return;
  report(
    'ovn-subnet',
    `Subnet ${others.map((s) => s.metadata?.name).join(', ')} already has spec.provider "${provider}"; with two Subnets on one provider Kube-OVN binds each attachment to whichever it lists first. Use a NAD (and provider) per Subnet, or name the Subnet per pod with the annotation ${provider}.kubernetes.io/logical_switch.`,
    'spec.provider',
    'warn',
  );
}

export const subnetShapeRule: ValidationRule = {
  ids: [RULE, 'ovn-subnet'],
  kinds: ['Subnet'],
  validate(ctx, report) {
    const subnet = ctx.object as KubeOvnSubnet | undefined;
    if (!subnet) return;
    const spec: Record<string, any> = typeof subnet.spec === 'object' && subnet.spec !== null ? subnet.spec : {};
    const deny = (message: string, field: string) => report(RULE, message, field);
    const { cidrBlock, gateway, excludeIps, protocol, provider } = spec;
    let blocks: Map<IpFamily, ParsedCidr> | undefined;
    if (cidrBlock === undefined || cidrBlock === '') {
      // Kube-OVN allows an underlay Subnet (spec.vlan) without CIDR: it hands out MACs only, and DHCP does the rest.
      if (!spec.vlan) {
        deny('spec.cidrBlock is required (only an underlay Subnet with spec.vlan, addressed by an external DHCP server, may leave it out).', 'spec.cidrBlock');
      } else {
        if (gateway) deny(`spec.gateway must be empty on an underlay Subnet without spec.cidrBlock.`, 'spec.gateway');
        if (Array.isArray(excludeIps) && excludeIps.length) deny(`spec.excludeIps must be empty on an underlay Subnet without spec.cidrBlock.`, 'spec.excludeIps');
      }
    } else {
      blocks = checkCidrBlock(cidrBlock, deny);
    }
    if (blocks) {
      if (typeof gateway === 'string' && gateway !== '') checkGateway(gateway, blocks, deny);
      else if (gateway !== undefined && gateway !== '' && gateway !== null) deny('spec.gateway must be a string.', 'spec.gateway');
      checkExcludeIps(excludeIps, blocks, deny);
    }
    if (protocol === 'Mac' && blocks) deny('spec.protocol Mac is for an underlay Subnet without spec.cidrBlock; remove the protocol or the CIDR.', 'spec.protocol');
    else checkProtocol(protocol, blocks, deny);
    if (typeof provider === 'string' && provider !== '') {
      checkProvider(ctx, provider, report);
      checkProviderTaken(ctx, subnet, provider, report);
    }
  },
};

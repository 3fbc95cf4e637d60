// Rule subnet-shape: a Kube-OVN Subnet that Kube-OVN accepts and can use. It makes Kube-OVN's
// own checks (kubeovn/kube-ovn pkg/util/validator.go ValidateSubnet, pkg/webhook/subnet.go,
// v1.13-v1.16; notes/FACTS.md C) and a few more, each marked "goes further" below. Where
// Kube-OVN refuses the Subnet, the rule denies; where the checks differ between releases,
// it judges under the configured `kubeovnVersion`, or under every followed release
// (../kubeovn-version.ts). Where Kube-OVN accepts the Subnet and it still works, the rule
// only warns. Work is linear in the input and each field gets at most one cause: a gateway
// of 20,000 entries is one finding, not 20,000 that quote the whole list.
import { FieldPath } from '../field-path.js';
import {
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  subnetBroadcast,
  subnetNumber,
  type IpFamily,
  type ParsedCidr,
  type ParsedIp,
} from '../ip.js';
import {
  checksOverlayOnlyRouting,
  judgeUnderKubeOvn,
  refusesIpv6AllOnesGateway,
  refusesU2oIpOnGateway,
  refusesVpcNamedLikeSubnet,
  restrictsVpcChange,
} from '../kubeovn-version.js';
import { analyzeNad, isOvnProvider } from '../nad.js';
import {
  defineRule,
  ListCauses,
  type RuleDescriptor,
  VALIDATION_SETTINGS,
  type Cause,
  type SubnetContext,
} from '../rule.js';
import type { Version } from '../semver.js';
import { asArray, bounded, dig, quote, stringOf } from '../values.js';

/** ValidateSubnet's protocol values; there is no `Mac` (v1.13-v1.16). */
const PROTOCOLS = ['IPv4', 'IPv6', 'Dual'];
const GATEWAY_TYPES = ['distributed', 'centralized'];
/** Kube-OVN's default VPC (pkg/util/const.go DefaultVpc). */
const DEFAULT_VPC = 'ovn-cluster';
/** IPv6 needs a link MTU of at least 1280 (RFC 8200 section 5). */
const IPV6_MIN_MTU = 1280;

const SPEC = FieldPath.of('spec');
const CIDR_BLOCK = SPEC.field('cidrBlock');
const GATEWAY = SPEC.field('gateway');
const EXCLUDE_IPS = SPEC.field('excludeIps');
const PROTOCOL = SPEC.field('protocol');
const PROVIDER = SPEC.field('provider');

/** Blocks Kube-OVN refuses as subnets (pkg/util/net.go CIDRGlobalUnicast, pkg/util/const.go). */
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

/** Kube-OVN refuses upper case in every address field (pkg/util/net.go ContainsUppercase). */
function hasUpperCase(text: string): boolean {
  return text !== text.toLowerCase();
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

type Blocks = Map<IpFamily, ParsedCidr>;

/** The family Kube-OVN reads from the blocks (pkg/util/net.go CheckProtocol). */
function protocolOf(blocks: Blocks): string {
  return blocks.size === 2 ? 'Dual' : blocks.has(4) ? 'IPv4' : 'IPv6';
}

/** Checks spec.cidrBlock; returns its blocks by family, or a cause when unusable. */
function readCidrBlock(cidrBlock: unknown): Blocks | Cause {
  const at = (message: string): Cause => ({ message, field: CIDR_BLOCK });
  if (!isSet(cidrBlock)) {
    return at('spec.cidrBlock is required: Kube-OVN refuses a Subnet without one (CIDRBlock: "" format error).');
  }
  if (typeof cidrBlock !== 'string') {
    return at(
      'spec.cidrBlock must be a string such as "10.16.0.0/16", or "10.16.0.0/16,fd00:10:16::/64" for dual stack.',
    );
  }
  if (hasUpperCase(cidrBlock)) {
    return at(
      `spec.cidrBlock ${quote(cidrBlock)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only. ` +
        `Write ${quote(cidrBlock.toLowerCase())}.`,
    );
  }
  const parts = cidrBlock.split(',');
  if (parts.length > 2) {
    // Goes further: ValidateSubnet reads only the first address of three blocks (CheckProtocol)
    // and lets them through, but Kube-OVN's IPAM then has no range to hand out (pkg/ipam/subnet.go NewSubnet).
    return at(
      `spec.cidrBlock has ${parts.length} blocks; a Subnet has one, or an IPv4 and an IPv6 block for dual stack.`,
    );
  }
  const blocks: Blocks = new Map();
  for (const part of parts) {
    // pkg/util/net.go InvalidSpecialCIDR works on the text, before parsing.
    if (part.startsWith('0.0.0.0') || part.includes('255.255.255.255')) {
      return at(
        `spec.cidrBlock: Kube-OVN refuses ${quote(part)} (a block starting with 0.0.0.0 or holding 255.255.255.255).`,
      );
    }
    const cidr = parseCidr(part);
    if (!cidr) return at(`spec.cidrBlock: ${quote(part)} is not a CIDR (address/prefix, e.g. 10.16.0.0/16).`);
    if (cidr.prefix === (cidr.family === 4 ? 32 : 128)) {
      return at(
        `spec.cidrBlock: ${quote(part)} is a single address (/${cidr.prefix}); a Subnet needs room for a gateway and ` +
          `its hosts.`,
      );
    }
    const special = SPECIAL_BLOCKS.find(([, block]) => cidrsOverlap(block, cidr));
    if (special) {
      return at(
        `spec.cidrBlock: ${quote(part)} overlaps the ${special[0]} block ${formatCidr(special[1])}, which Kube-OVN ` +
          `refuses for a Subnet.`,
      );
    }
    if (blocks.has(cidr.family)) {
      return at(
        `spec.cidrBlock has two ${familyName(cidr.family)} blocks; dual stack takes one IPv4 and one IPv6 block.`,
      );
    }
    blocks.set(cidr.family, cidr);
  }
  return blocks;
}

/**
 * Why a comma-separated address list is not inside the Subnet, as Kube-OVN's CIDRContainIP
 * (pkg/util/net.go) sees it: every address parses, has a block of its family, and lies in it.
 */
function notInside(text: string, blocks: Blocks): string | undefined {
  for (const entry of text.split(',')) {
    const ip = parseIp(entry);
    if (!ip) return `${quote(entry)} is not an IP address`;
    const cidr = blocks.get(ip.family);
    if (!cidr) return `${entry} is ${familyName(ip.family)}, and spec.cidrBlock has no ${familyName(ip.family)} block`;
    if (!cidrContains(cidr, ip)) return `${entry} is outside ${formatCidr(cidr)}`;
  }
  return undefined;
}

/** A cause whose action follows the Kube-OVN release: undefined where no release concerned refuses it. */
function versioned(
  ctx: SubnetContext,
  refuses: (v: Version) => boolean,
  message: string,
  field: FieldPath,
): Cause | undefined {
  const verdict = judgeUnderKubeOvn(ctx.config, refuses);
  return verdict && { message: `${message} ${verdict.releases}`, field, action: verdict.action };
}

/** The first problem with spec.gateway, if any: one per field, whatever the input's length. */
function gatewayCause(ctx: SubnetContext, gateway: string, blocks: Blocks): Cause | undefined {
  const at = (message: string): Cause => ({ message, field: GATEWAY });
  if (hasUpperCase(gateway))
    return at(`spec.gateway ${quote(gateway)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only.`);
  const entries = gateway.split(',');
  const dual = blocks.size === 2;
  const mismatch =
    `spec.gateway ${quote(gateway)} does not match spec.cidrBlock: give one gateway per ` +
    `block${dual ? ', IPv4 and IPv6, separated by a comma' : ''}.`;
  // Checked first, so that a list of thousands of entries costs one split and one message.
  // Goes further: Kube-OVN lets two gateways of the block's family through.
  if (entries.length > blocks.size) return at(mismatch);
  const seen = new Set<IpFamily>();
  for (const text of entries) {
    const ip = parseIp(text);
    if (!ip)
      return at(`spec.gateway: ${quote(text)} is not an IP address${dual ? ' (dual stack: "<IPv4>,<IPv6>")' : ''}.`);
    const cidr = blocks.get(ip.family);
    if (!cidr || seen.has(ip.family)) return at(mismatch);
    seen.add(ip.family);
    const cause = gatewayAddressCause(ctx, text, ip, cidr);
    if (cause) return cause;
  }
  return undefined;
}

/** One gateway address against its block (validator.go ValidateNetworkBroadcast after CIDRContainIP). */
function gatewayAddressCause(ctx: SubnetContext, text: string, ip: ParsedIp, cidr: ParsedCidr): Cause | undefined {
  // /31 and /127 have neither a network nor a broadcast address: any address may be the
  // gateway, and the other one is then the one host.
  const conventional = formatIp(cidr.first + 1n, cidr.family);
  const block = formatCidr(cidr);
  if (!cidrContains(cidr, ip)) {
    return {
      message:
        `spec.gateway ${text} is outside ${block}; Kube-OVN refuses it ("gateway ... is not in cidr"). Pick an ` +
        `address inside the block, conventionally ${conventional}.`,
      field: GATEWAY,
    };
  }
  if (ip.value === subnetNumber(cidr)) {
    return {
      message: `spec.gateway ${text} is the network address of ${block}; use a host address such as ${conventional}.`,
      field: GATEWAY,
    };
  }
  if (ip.value !== subnetBroadcast(cidr)) return undefined;
  if (cidr.family === 4) {
    return {
      message: `spec.gateway ${text} is the broadcast address of ${block}; use a host address such as ${conventional}.`,
      field: GATEWAY,
    };
  }
  // IPv6 has no broadcast address (RFC 4291), but most releases refuse the all-ones host as one.
  return versioned(
    ctx,
    refusesIpv6AllOnesGateway,
    `spec.gateway ${text} is the all-ones address of ${block}, which Kube-OVN takes for a broadcast address ` +
      `("is the broadcast ip in cidr"); use a host address such as ${conventional}.`,
    GATEWAY,
  );
}

/** What is wrong with one excludeIps entry, and how bad it is; undefined when nothing. */
function excludeProblem(item: unknown, blocks: Blocks): Cause | undefined {
  const deny = (problem: string): Cause => ({ message: problem });
  if (typeof item !== 'string') return deny('must be a string: an address or a range "a..b"');
  if (hasUpperCase(item))
    return deny(`${quote(item)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only`);
  const ends = item.split('..');
  if (ends.length > 2) return deny(`${quote(item)} is not an address nor a range "a..b"`);
  const first = parseIp(ends[0]);
  const last = ends.length === 2 ? parseIp(ends[1]) : first;
  if (!first || !last) return deny(`${quote(first ? ends[1] : ends[0])} is not an IP address`);
  // Kube-OVN compares the ends as numbers whatever their family (validator.go, IP2BigInt).
  if (first.value > last.value)
    return deny(`${quote(item)} runs backwards; write the lower address first: "${ends[1]}..${ends[0]}"`);
  // Goes further, as warnings: Kube-OVN accepts these, and its IPAM silently drops them
  // (pkg/util/net.go ExpandExcludeIPs), so the Subnet works but excludes nothing here.
  const drops = 'Kube-OVN accepts it but drops it, so it excludes nothing';
  if (first.family !== last.family) {
    return { message: `${quote(item)} mixes IPv4 and IPv6; ${drops}`, action: 'warn' };
  }
  const cidr = blocks.get(first.family);
  if (!cidr || !cidrContains(cidr, first) || !cidrContains(cidr, last)) {
    const where = cidr
      ? `outside ${formatCidr(cidr)}`
      : `${familyName(first.family)}, and spec.cidrBlock has no ${familyName(first.family)} block`;
    return { message: `${quote(item)} is ${where}; ${drops}`, action: 'warn' };
  }
  return undefined;
}

/** A cause per bad entry, each at its own index; past FINDINGS_PER_RULE of an action, counted. */
function excludeIpsCauses(excludeIps: unknown, blocks: Blocks): Cause[] {
  if (!isSet(excludeIps)) return [];
  if (!Array.isArray(excludeIps)) {
    return [
      {
        message: 'spec.excludeIps must be a list of addresses or ranges ("10.16.0.1" or "10.16.0.1..10.16.0.10").',
        field: EXCLUDE_IPS,
      },
    ];
  }
  const causes = new ListCauses();
  excludeIps.forEach((item: unknown, index) => {
    const problem = excludeProblem(item, blocks);
    if (!problem) return;
    causes.add(problem.action ?? 'deny', () => {
      const fix = problem.action === 'warn' ? ' Check which address was meant.' : ' Correct the address or range.';
      return {
        ...problem,
        message: `spec.excludeIps[${index}] ${problem.message}.${fix}`,
        field: EXCLUDE_IPS.index(index),
      };
    });
  });
  return causes.causes;
}

function protocolCause(protocol: unknown, blocks: Blocks | undefined): Cause | undefined {
  if (!isSet(protocol)) return undefined;
  if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) {
    return {
      message:
        `spec.protocol ${quote(protocol)} is not one of ${PROTOCOLS.join(', ')}; Kube-OVN refuses it ("is not ` +
        `a valid protocol type").`,
      field: PROTOCOL,
    };
  }
  if (!blocks) return undefined;
  const expected = protocolOf(blocks);
  if (protocol === expected) return undefined;
  // Goes further, as a warning: Kube-OVN accepts the mismatch and its controller overwrites
  // spec.protocol with the CIDR's family (pkg/controller/subnet.go formatSubnet).
  return {
    message:
      `spec.protocol is ${protocol}, but spec.cidrBlock is ${expected === 'Dual' ? 'dual stack' : expected}; ` +
      `Kube-OVN ` +
      `replaces it with ${expected}. Set protocol: ${expected} or leave it out.`,
    field: PROTOCOL,
    action: 'warn',
  };
}

/** A provider ending in `.ovn` names a NAD: `<nad-name>.<nad-namespace>.ovn` (pkg/util/subnet.go). */
function providerCause(ctx: SubnetContext, provider: string): Cause | undefined {
  if (!provider.endsWith('.ovn') || provider === 'ovn') return undefined;
  const fields = provider.split('.');
  // Kube-OVN also counts "<empty>.<ns>.ovn" as OVN; no NAD has an empty name, so nicguard warns there too.
  if (!isOvnProvider(provider) || !fields[0] || !fields[1]) {
    // Goes further, as a warning: Kube-OVN accepts any provider (IsOvnProvider is then false).
    return {
      message:
        `spec.provider ${quote(provider)} ends in .ovn but is not <nad-name>.<nad-namespace>.ovn: Kube-OVN ` +
        `recognises an ` +
        'OVN provider by exactly three dot-separated fields, so no attachment is ever bound to this Subnet. A NAD ' +
        'whose ' +
        'name has a dot cannot be a Kube-OVN provider; rename it.',
      field: PROVIDER,
      action: 'warn',
    };
  }
  const [name, namespace] = fields.map((f) => bounded(f));
  const nad = ctx.cluster.getNetworkAttachmentDefinition(fields[1], fields[0]);
  const names = `spec.provider ${quote(provider)} names NetworkAttachmentDefinition ${namespace}/${name}`;
  if (!nad) {
    return {
      message: `${names}, which does not exist (yet); nothing attaches to this Subnet until it does.`,
      field: PROVIDER,
      action: 'warn',
    };
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
      message:
        `${names}, which is not a Kube-OVN network (type ${quote(analysis.type ?? 'unknown')}); nothing ` +
        `attaches to this Subnet through it.`,
      field: PROVIDER,
      action: 'warn',
    };
  }
  return undefined;
}

/** spec.allowSubnets: CIDRs in lower case (validator.go). */
function allowSubnetsCauses(allowSubnets: unknown): Cause[] {
  const field = SPEC.field('allowSubnets');
  if (!isSet(allowSubnets)) return [];
  if (!Array.isArray(allowSubnets)) return [{ message: 'spec.allowSubnets must be a list of CIDRs.', field }];
  return allowSubnets.flatMap((item: unknown, index): Cause[] => {
    const at = field.index(index);
    if (typeof item === 'string' && hasUpperCase(item)) {
      return [
        {
          message:
            `spec.allowSubnets[${index}] ${quote(item)} has upper-case letters; Kube-OVN accepts IPv6 in ` +
            `lower case only.`,
          field: at,
        },
      ];
    }
    if (typeof item === 'string' && parseCidr(item)) return [];
    return [
      {
        message:
          `spec.allowSubnets[${index}] ${quote(item)} is not a CIDR; Kube-OVN refuses it ("is not a valid ` +
          `address").`,
        field: at,
      },
    ];
  });
}

/** spec.externalEgressGateway: one address per family, no natOutgoing beside it (validator.go). */
function egressGatewayCause(spec: Record<string, unknown>, blocks: Blocks | undefined): Cause | undefined {
  const egw = spec.externalEgressGateway;
  const at = (message: string): Cause => ({ message, field: SPEC.field('externalEgressGateway') });
  if (!isSet(egw)) return undefined;
  if (typeof egw !== 'string')
    return at('spec.externalEgressGateway must be a string: one address, or an IPv4 and an IPv6 one.');
  if (spec.natOutgoing === true) {
    return at(
      'spec.externalEgressGateway and spec.natOutgoing: true exclude each other; Kube-OVN refuses both ("conflict ' +
        'configuration").',
    );
  }
  if (hasUpperCase(egw))
    return at(
      `spec.externalEgressGateway ${quote(egw)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only.`,
    );
  const entries = egw.split(',');
  if (entries.length > 2)
    return at(`spec.externalEgressGateway has ${entries.length} addresses; Kube-OVN takes one, or one per family.`);
  const ips: ParsedIp[] = [];
  for (const entry of entries) {
    const ip = parseIp(entry);
    if (!ip) return at(`spec.externalEgressGateway: ${quote(entry)} is not an IP address.`);
    ips.push(ip);
  }
  if (!blocks || blocks.size === 2) return undefined;
  // Kube-OVN compares CheckProtocol of both: two addresses of one family have none.
  const egwProtocol = ips.length === 2 ? (ips[0].family !== ips[1].family ? 'Dual' : '') : familyName(ips[0].family);
  if (egwProtocol === protocolOf(blocks)) return undefined;
  return at(
    `spec.externalEgressGateway ${quote(egw)} does not match the ${protocolOf(blocks)} spec.cidrBlock; Kube-OVN ` +
      `refuses it ` +
      '("address family is conflict with CIDR").',
  );
}

/** spec.vips: lower case and inside the CIDR (validator.go). */
/** What follows `spec.vips[i]` in the message for a bad VIP; undefined for a good one. */
function vipProblem(vip: unknown, blocks: Blocks): string | undefined {
  if (typeof vip !== 'string') return ' must be a string.';
  if (hasUpperCase(vip)) return ` ${quote(vip)} has upper-case letters; Kube-OVN accepts IPv6 in lower case only.`;
  const outside = notInside(vip, blocks);
  return outside && `: ${outside}; Kube-OVN refuses a VIP outside the Subnet.`;
}

function vipsCauses(vips: unknown, blocks: Blocks): Cause[] {
  const field = SPEC.field('vips');
  if (!isSet(vips)) return [];
  if (!Array.isArray(vips)) return [{ message: 'spec.vips must be a list of addresses.', field }];
  // A cause per bad VIP; past FINDINGS_PER_RULE, counted.
  const causes = new ListCauses();
  vips.forEach((vip: unknown, index) => {
    const problem = vipProblem(vip, blocks);
    if (problem) causes.add('deny', () => ({ message: `spec.vips[${index}]${problem}`, field: field.index(index) }));
  });
  return causes.causes;
}

/** spec.u2oInterconnectionIP: lower case, inside the CIDR, and (v1.15.18+) not the gateway. */
function u2oIpCause(ctx: SubnetContext, blocks: Blocks): Cause | undefined {
  const { u2oInterconnectionIP: u2oIp, gateway } = ctx.spec;
  const field = SPEC.field('u2oInterconnectionIP');
  if (!isSet(u2oIp)) return undefined;
  if (typeof u2oIp !== 'string') return { message: 'spec.u2oInterconnectionIP must be a string.', field };
  if (hasUpperCase(u2oIp)) {
    return {
      message:
        `spec.u2oInterconnectionIP ${quote(u2oIp)} has upper-case letters; Kube-OVN accepts IPv6 in lower ` +
        `case only.`,
      field,
    };
  }
  const problem = notInside(u2oIp, blocks);
  if (problem)
    return { message: `spec.u2oInterconnectionIP: ${problem}; Kube-OVN refuses it ("is not in subnet").`, field };
  // Compared as addresses, per family: 2001:db8::1 is 2001:0db8::0001 (validator.go, net.IP.Equal).
  // Kube-OVN splits each into at most one address per family (SplitStringIP); longer lists
  // yield none there, and comparing them here would cost their product.
  const [gatewayEntries, u2oEntries] = [(stringOf(gateway) ?? '').split(','), u2oIp.split(',')];
  if (gatewayEntries.length > 2 || u2oEntries.length > 2) return undefined;
  const gateways = gatewayEntries.flatMap((g) => parseIp(g) ?? []);
  const clash = u2oEntries
    .flatMap((u) => parseIp(u) ?? [])
    .find((u) => gateways.some((g) => g.family === u.family && g.value === u.value));
  if (!clash) return undefined;
  return versioned(
    ctx,
    refusesU2oIpOnGateway,
    `spec.u2oInterconnectionIP ${formatIp(clash.value, clash.family)} is the Subnet's gateway; the ` +
      `underlay-to-overlay ` +
      'port needs an address of its own.',
    field,
  );
}

/** logicalGateway, u2oInterconnection and u2oFeatures (validator.go). */
function u2oFlagCauses(ctx: SubnetContext): (Cause | undefined)[] {
  const { logicalGateway, u2oInterconnection, vlan } = ctx.spec;
  const causes: (Cause | undefined)[] = [];
  if (logicalGateway === true && u2oInterconnection === true) {
    causes.push({
      message:
        'spec.logicalGateway and spec.u2oInterconnection cannot both be true; Kube-OVN refuses the pair. Keep one.',
      field: SPEC.field('u2oInterconnection'),
    });
  }
  if (dig(ctx.spec, 'u2oFeatures', 'overlayOnlyRouting') === true) {
    const field = SPEC.field('u2oFeatures', 'overlayOnlyRouting');
    if (u2oInterconnection !== true) {
      causes.push(
        versioned(
          ctx,
          checksOverlayOnlyRouting,
          'spec.u2oFeatures.overlayOnlyRouting needs spec.u2oInterconnection: true.',
          field,
        ),
      );
    } else if (!isSet(vlan)) {
      causes.push(
        versioned(
          ctx,
          checksOverlayOnlyRouting,
          'spec.u2oFeatures.overlayOnlyRouting is for underlay Subnets only: set spec.vlan.',
          field,
        ),
      );
    }
  }
  return causes;
}

/** The family of one natOutgoingPolicyRules IP list, or a problem (validator.go validateNatOutGoingPolicyRuleIPs). */
function policyIpsFamily(text: string): IpFamily | string {
  if (text.trim() === '') return 'is blank';
  let family: IpFamily | undefined;
  for (const item of text.trim().split(',')) {
    const parsed = parseCidr(item) ?? parseIp(item);
    if (!parsed) return `${quote(item)} is not an address nor a CIDR`;
    if (family !== undefined && family !== parsed.family) return 'mixes IPv4 and IPv6';
    family = parsed.family;
  }
  return family ?? 'is blank';
}

/** What is wrong with one natOutgoingPolicyRules entry: a match list and its problem, or mixed families. */
function natPolicyProblem(rule: unknown): { key: string; problem: string } | 'mixed families' | undefined {
  const families: IpFamily[] = [];
  for (const key of ['srcIPs', 'dstIPs']) {
    const value = dig(rule, 'match', key);
    if (!isSet(value)) continue;
    const family = typeof value === 'string' ? policyIpsFamily(value) : 'must be a string';
    if (typeof family === 'string') return { key, problem: family };
    families.push(family);
  }
  return families.length === 2 && families[0] !== families[1] ? 'mixed families' : undefined;
}

/** A cause per bad rule; past FINDINGS_PER_RULE, counted. */
function natPolicyCauses(rules: unknown): Cause[] {
  const field = SPEC.field('natOutgoingPolicyRules');
  const causes = new ListCauses();
  asArray(rules).forEach((rule: unknown, index) => {
    const found = natPolicyProblem(rule);
    if (!found) return;
    causes.add('deny', () =>
      found === 'mixed families'
        ? {
            message:
              `spec.natOutgoingPolicyRules[${index}]: match.srcIPs and match.dstIPs are of different families; ` +
              `Kube-OVN refuses the rule.`,
            field: field.index(index).field('match'),
          }
        : {
            message:
              `spec.natOutgoingPolicyRules[${index}].match.${found.key} ${found.problem}; ` +
              `Kube-OVN refuses the rule.`,
            field: field.index(index).field('match', found.key),
          },
    );
  });
  return causes.causes;
}

/** Goes further, as a warning: Kube-OVN does not check the MTU, but Linux turns IPv6 off on a link below 1280. */
function mtuCause(mtu: unknown, blocks: Blocks): Cause | undefined {
  if (typeof mtu !== 'number' || mtu >= IPV6_MIN_MTU || !blocks.has(6)) return undefined;
  return {
    message:
      `spec.mtu ${mtu} is below ${IPV6_MIN_MTU}, the least IPv6 allows (RFC 8200); Linux disables IPv6 on such a ` +
      `link, so ` +
      "the Subnet's IPv6 addresses do not work. Kube-OVN does not check this. Raise the MTU to 1280 or more.",
    field: SPEC.field('mtu'),
    action: 'warn',
  };
}

/** The UPDATE checks of Kube-OVN's webhook (pkg/webhook/subnet.go SubnetUpdateHook). */
function updateCauses(ctx: SubnetContext): (Cause | undefined)[] {
  if (!ctx.oldSubnet) return [];
  const causes: (Cause | undefined)[] = [];
  const oldGateway = stringOf(dig(ctx.oldSubnet, 'spec', 'gateway')) ?? '';
  const inUse = ['v4usingIPs', 'v6usingIPs'].some((key) => {
    const n = Number(dig(ctx.subnet, 'status', key) ?? 0);
    return Number.isNaN(n) || n !== 0;
  });
  if ((stringOf(ctx.spec.gateway) ?? '') !== oldGateway && inUse) {
    causes.push({
      message:
        'spec.gateway cannot change while the Subnet has addresses in use (status.v4usingIPs, v6usingIPs); Kube-OVN ' +
        'refuses it.',
      field: GATEWAY,
    });
  }
  const [oldVpc, vpc] = [stringOf(dig(ctx.oldSubnet, 'spec', 'vpc')) ?? '', stringOf(ctx.spec.vpc) ?? ''];
  if (vpc !== oldVpc && (oldVpc !== '' || vpc !== DEFAULT_VPC)) {
    causes.push(
      versioned(
        ctx,
        restrictsVpcChange,
        `spec.vpc can only change from empty to ${DEFAULT_VPC}, not from ${quote(oldVpc)} to ${quote(vpc)}.`,
        SPEC.field('vpc'),
      ),
    );
  }
  return causes;
}

function shapeCauses(ctx: SubnetContext): Cause[] {
  const { spec } = ctx;
  const causes: (Cause | undefined)[] = [];
  let blocks: Blocks | undefined;
  const read = readCidrBlock(spec.cidrBlock);
  if (read instanceof Map) blocks = read;
  else causes.push(read);
  const { gateway } = spec;
  if (blocks) {
    if (typeof gateway === 'string' && gateway !== '') causes.push(gatewayCause(ctx, gateway, blocks));
    else if (isSet(gateway)) causes.push({ message: 'spec.gateway must be a string.', field: GATEWAY });
    causes.push(...excludeIpsCauses(spec.excludeIps, blocks), ...vipsCauses(spec.vips, blocks));
    causes.push(u2oIpCause(ctx, blocks), mtuCause(spec.mtu, blocks));
  }
  causes.push(protocolCause(spec.protocol, blocks), ...allowSubnetsCauses(spec.allowSubnets));
  if (isSet(spec.gatewayType) && !GATEWAY_TYPES.includes(spec.gatewayType as string)) {
    causes.push({
      message:
        `spec.gatewayType ${quote(spec.gatewayType)} is not one of ${GATEWAY_TYPES.join(', ')}; Kube-OVN ` +
        `refuses it.`,
      field: SPEC.field('gatewayType'),
    });
  }
  const name = stringOf(ctx.subnet.metadata?.name);
  if (name && spec.vpc === name) {
    const message =
      `spec.vpc is ${quote(name)}, the Subnet's own name; a Subnet and its VPC cannot share a name. ` + `Rename one.`;
    causes.push(versioned(ctx, refusesVpcNamedLikeSubnet, message, SPEC.field('vpc')));
  }
  causes.push(egressGatewayCause(spec, blocks), ...u2oFlagCauses(ctx), ...natPolicyCauses(spec.natOutgoingPolicyRules));
  if (typeof spec.provider === 'string' && spec.provider !== '') causes.push(providerCause(ctx, spec.provider));
  causes.push(...updateCauses(ctx));
  return causes.filter((c): c is Cause => c !== undefined);
}

export const subnetShape: RuleDescriptor<'subnet-shape'> = defineRule({
  id: 'subnet-shape',
  title: 'Kube-OVN Subnet is well formed',
  summary: 'a Subnet with a bad CIDR, gateway, excludeIps or protocol',
  description:
    "Kube-OVN's own Subnet checks (cidrBlock, gateway, excludeIps, protocol, gatewayType, vpc, allowSubnets, vips, " +
    'egress gateway, u2o settings, NAT policy rules), judged for the configured Kube-OVN release or for all of them, ' +
    'plus warnings where a Subnet Kube-OVN accepts does not do what it says (excludeIps outside the CIDR, protocol ' +
    'against the CIDR, IPv6 MTU below 1280, an .ovn provider no NAD can have).',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: { subnet: shapeCauses },
});

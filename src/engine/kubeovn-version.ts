// Which Kube-OVN release the cluster runs, and which of Kube-OVN's own Subnet checks that
// release makes. As for KubeVirt (./kubevirt-version.ts): where nicguard does not know the
// release, a check is judged under every followed release, denied only where every one
// of them refuses the Subnet, and warned about, naming the releases, where they disagree.
// Facts: kubeovn/kube-ovn pkg/util/validator.go ValidateSubnet and ValidateNetworkBroadcast,
// pkg/webhook/subnet.go, every tag of v1.13-v1.16 (notes/FACTS.md C, docs/compatibility.md).
import type { Action, PolicyConfig } from './types.js';
import { compareVersions, formatVersion, parseVersion, type Version } from './semver.js';

/**
 * The followed releases as stretches that behave alike for nicguard's checks, oldest first.
 * Each boundary is a tag where validator.go or webhook/subnet.go changes something judged:
 * v1.14.0 (vpc named like the Subnet), v1.14.37, v1.15.12, v1.16.2 (overlayOnlyRouting),
 * v1.15.0 (vpc may change only from "" to ovn-cluster), v1.15.15 (IPv6 all-ones gateway
 * accepted), v1.15.18 (u2oInterconnectionIP not the gateway), v1.16.0 (back to the v1.15.0
 * rules: v1.16 did not take the 1.15-line fixes).
 */
const STRETCHES: readonly (readonly [string, string])[] = [
  ['v1.13.0', 'v1.13.15'],
  ['v1.14.0', 'v1.14.36'],
  ['v1.14.37', 'v1.14.41'],
  ['v1.15.0', 'v1.15.11'],
  ['v1.15.12', 'v1.15.14'],
  ['v1.15.15', 'v1.15.17'],
  ['v1.15.18', 'v1.15.24'],
  ['v1.16.0', 'v1.16.1'],
  ['v1.16.2', 'v1.16.2'],
];

export interface KubeOvnStretch {
  first: Version;
  last: Version;
}

export const KUBE_OVN_STRETCHES: readonly KubeOvnStretch[] = STRETCHES.map(([first, last]) => ({
  first: parseVersion(first) as Version,
  last: parseVersion(last) as Version,
}));

/** One release per stretch (its first): judging under these is judging under every followed release. */
export const KUBE_OVN_FOLLOWED: readonly Version[] = KUBE_OVN_STRETCHES.map((s) => s.first);

function sameLine(v: Version, major: number, minor: number): boolean {
  return v.major === major && v.minor === minor;
}

/** The stretch a release of a followed line falls in (a later patch than read: the line's last one). */
function stretchOf(v: Version): KubeOvnStretch | undefined {
  return [...KUBE_OVN_STRETCHES]
    .reverse()
    .find((s) => sameLine(v, s.first.major, s.first.minor) && compareVersions(v, s.first) >= 0);
}

/**
 * Whether nicguard has read this release: a tag of a followed line up to the newest one read
 * (every tag v1.13.0 ... v1.16.2 was compared), not a pre-release. Boundaries have fallen
 * on patch releases (v1.14.37, v1.15.12, v1.15.15, v1.15.18, v1.16.2), so a later patch is
 * not assumed to behave as the last one read.
 */
function isFollowedKubeOvn(v: Version): boolean {
  if (!stretchOf(v) || v.suffix !== undefined) return false;
  const line = KUBE_OVN_STRETCHES.filter((s) => sameLine(s.first, v.major, v.minor));
  return compareVersions(v, line[line.length - 1].last) <= 0;
}

/** The tags read, first to last, for messages. */
const FOLLOWED_TAGS =
  `${formatVersion(KUBE_OVN_STRETCHES[0].first)} to ` +
  formatVersion(KUBE_OVN_STRETCHES[KUBE_OVN_STRETCHES.length - 1].last);

/** The configuration's `kubeovnVersion`, and whether nicguard has read that release (as KubeVirt's KnownVersion). */
export function configuredKubeOvnVersion(config: PolicyConfig): { version: Version; followed: boolean } | undefined {
  const version = parseVersion(config.kubeovnVersion);
  return version && { version, followed: isFollowedKubeOvn(version) };
}

/**
 * The Kube-OVN release of the configuration's `kubeovnVersion`, when nicguard has read it;
 * otherwise undefined, and nicguard judges under every followed release.
 */
export function knownKubeOvnVersion(config: PolicyConfig): Version | undefined {
  const configured = configuredKubeOvnVersion(config);
  return configured?.followed ? configured.version : undefined;
}

/** Why a check that depends on the release only warns where kubeovnVersion names one nicguard has not read. */
function unreadNote(config: PolicyConfig): string | undefined {
  const configured = configuredKubeOvnVersion(config);
  if (!configured || configured.followed) return undefined;
  return (
    `kubeovnVersion is ${formatVersion(configured.version)}, a release nicguard has not read (it follows the tags ` +
    `${FOLLOWED_TAGS}), so it warns instead of refusing.`
  );
}

// What each release checks. Defined over the followed lines only.

/** ValidateNetworkBroadcast refuses an IPv6 gateway at the all-ones address, except v1.15.15+ of the 1.15 line. */
export function refusesIpv6AllOnesGateway(v: Version): boolean {
  return !(sameLine(v, 1, 15) && v.patch >= 15);
}

/** ValidateSubnet refuses `spec.vpc` equal to the Subnet's name from v1.14.0. */
export function refusesVpcNamedLikeSubnet(v: Version): boolean {
  return compareVersions(v, { major: 1, minor: 14, patch: 0 }) >= 0;
}

/** ValidateSubnet refuses u2oInterconnectionIP equal to the gateway in v1.15.18+ of the 1.15 line only. */
export function refusesU2oIpOnGateway(v: Version): boolean {
  return sameLine(v, 1, 15) && v.patch >= 18;
}

/** ValidateSubnet checks u2oFeatures.overlayOnlyRouting from v1.14.37, v1.15.12 and v1.16.2. */
export function checksOverlayOnlyRouting(v: Version): boolean {
  if (sameLine(v, 1, 14)) return v.patch >= 37;
  if (sameLine(v, 1, 15)) return v.patch >= 12;
  return compareVersions(v, { major: 1, minor: 16, patch: 2 }) >= 0;
}

/** The UPDATE webhook lets spec.vpc change only from "" to ovn-cluster, from v1.15.0. */
export function restrictsVpcChange(v: Version): boolean {
  return compareVersions(v, { major: 1, minor: 15, patch: 0 }) >= 0;
}

/**
 * Names stretches as release ranges: "v1.13, v1.15.0-v1.15.14": a whole line by its
 * minor version, a part of one by its first and last followed patch.
 */
export function describeKubeOvnReleases(versions: readonly Version[]): string {
  const chosen = KUBE_OVN_STRETCHES.filter((s) => versions.some((v) => stretchOf(v) === s));
  const parts: string[] = [];
  for (let i = 0; i < chosen.length;) {
    const line = KUBE_OVN_STRETCHES.filter((s) => sameLine(s.first, chosen[i].first.major, chosen[i].first.minor));
    let j = i;
    // Extend over stretches that follow each other in the same line.
    const position = (k: number) => KUBE_OVN_STRETCHES.indexOf(chosen[k]);
    const adjacent = (k: number) => position(k + 1) === position(k) + 1;
    while (j + 1 < chosen.length && adjacent(j) && line.includes(chosen[j + 1])) j++;
    const run = chosen.slice(i, j + 1);
    if (run.length === line.length) parts.push(`v${run[0].first.major}.${run[0].first.minor}`);
    else {
      const [from, to] = [formatVersion(run[0].first), formatVersion(run[run.length - 1].last)];
      parts.push(from === to ? from : `${from}-${to}`);
    }
    i = j + 1;
  }
  return parts.join(', ');
}

export const HOW_TO_SET_KUBE_OVN_VERSION =
  "Set kubeovnVersion in nicguard's configuration to judge for the release in use.";

export interface KubeOvnVerdict {
  action: Action;
  /** A sentence naming the releases that refuse (and, for a warning, those that accept). */
  releases: string;
}

/**
 * Judges a check whose outcome depends on the Kube-OVN release: `refuses(v)` says whether
 * release v refuses the Subnet. Undefined when no release concerned refuses it; deny when
 * the known release, or every followed release with none named, refuses it; warn otherwise
 * (a named release nicguard has not read is never refused on).
 */
export function judgeUnderKubeOvn(config: PolicyConfig, refuses: (v: Version) => boolean): KubeOvnVerdict | undefined {
  const known = knownKubeOvnVersion(config);
  if (known)
    return refuses(known) ? { action: 'deny', releases: `Kube-OVN ${formatVersion(known)} refuses it.` } : undefined;
  const refusing = KUBE_OVN_FOLLOWED.filter(refuses);
  if (refusing.length === 0) return undefined;
  const unread = unreadNote(config);
  if (refusing.length === KUBE_OVN_FOLLOWED.length) {
    const all = 'Every Kube-OVN release from v1.13 to v1.16 refuses it.';
    return unread ? { action: 'warn', releases: `${all} ${unread}` } : { action: 'deny', releases: all };
  }
  const accepting = KUBE_OVN_FOLLOWED.filter((v) => !refuses(v));
  return {
    action: 'warn',
    releases:
      `Kube-OVN ${describeKubeOvnReleases(refusing)} refuse it; ${describeKubeOvnReleases(accepting)} accept it. ` +
      (unread ?? HOW_TO_SET_KUBE_OVN_VERSION),
  };
}

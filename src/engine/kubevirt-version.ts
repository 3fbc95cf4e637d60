// Which KubeVirt release the cluster runs, and what follows from it. Facts that differ
// between releases (the hotplug port reservation, which admission checks exist) are
// functions of a version; where nicguard does not know the version, a rule judges under
// every supported release and denies only what every one of them refuses (docs/compatibility.md).
import type { ClusterView, PolicyConfig } from './types.js';
import { compareVersions, formatVersion, parseVersion, type Version } from './semver.js';
import { dig, stringOf } from './values.js';

// Parsing and comparing live in ./semver.ts, shared with the Kube-OVN version logic.
export { atLeast, compareVersions, formatVersion } from './semver.js';
export type KubeVirtVersion = Version;
export const parseKubeVirtVersion = parseVersion;

/**
 * One release from each stretch of KubeVirt releases that behave alike for the rules,
 * v1.4 to v1.9: judging under these is judging under every supported release. Each
 * boundary is a release where some fact changes (docs/compatibility.md).
 */
export const REPRESENTATIVE_VERSIONS: readonly KubeVirtVersion[] = [
  'v1.4.1',
  'v1.5.0',
  'v1.6.0',
  'v1.6.4',
  'v1.6.5',
  'v1.6.6',
  'v1.7.0',
  'v1.7.2',
  'v1.7.3',
  'v1.7.4',
  'v1.8.0',
  'v1.8.2',
  'v1.8.3',
  'v1.9.0',
].map((text) => parseKubeVirtVersion(text) as KubeVirtVersion);

export const OLDEST_SUPPORTED = REPRESENTATIVE_VERSIONS[0];
export const NEWEST_SUPPORTED = REPRESENTATIVE_VERSIONS[REPRESENTATIVE_VERSIONS.length - 1];

/**
 * The newest patch read of each followed minor line: every tag v1.4.0 ... v1.9.0 of
 * kubevirt/kubevirt (docs/compatibility.md, "Versions followed"). Patch releases have changed
 * facts before (v1.6.4 and v1.7.2 brought slot model v3), so a later patch is not assumed to
 * behave as the last one read.
 */
const NEWEST_PATCH_READ: ReadonlyMap<string, number> = new Map([
  ['1.4', 1],
  ['1.5', 3],
  ['1.6', 6],
  ['1.7', 4],
  ['1.8', 4],
  ['1.9', 0],
]);

/** The tags read, first to last, for messages: `v1.4.0 to v1.9.0`. */
const FOLLOWED_TAGS = (() => {
  const lines = [...NEWEST_PATCH_READ];
  const [last, patch] = lines[lines.length - 1];
  return `v${lines[0][0]}.0 to v${last}.${patch}`;
})();

/**
 * Whether nicguard's facts come from this release's own sources (a tag it has read). A
 * pre-release (`v1.9.0-rc.1`) is not its release: its code may differ (docs/compatibility.md).
 */
export function isFollowedKubeVirt(version: KubeVirtVersion): boolean {
  const newest = NEWEST_PATCH_READ.get(`${version.major}.${version.minor}`);
  return newest !== undefined && version.patch <= newest && version.suffix === undefined;
}

/** Where the version came from, for messages and `explain`. */
export type VersionSource = 'configuration' | 'KubeVirt CR status.observedKubeVirtVersion';

export interface KnownVersion {
  version: KubeVirtVersion;
  source: VersionSource;
  /**
   * A release nicguard has read (isFollowedKubeVirt). Another one (v1.3, v1.10, a patch newer
   * than the last read) is judged under every followed release and only warned about.
   */
  followed: boolean;
}

/**
 * The KubeVirt version the cluster runs: the configuration's `kubevirtVersion` (or
 * `--kubevirt-version`), else the KubeVirt CR's status.observedKubeVirtVersion (the
 * informers watch it; in CI it comes from --objects). Undefined when neither says.
 */
export function knownKubeVirtVersion(config: PolicyConfig, cluster: ClusterView): KnownVersion | undefined {
  const configured = parseKubeVirtVersion(config.kubevirtVersion);
  if (configured) return { version: configured, source: 'configuration', followed: isFollowedKubeVirt(configured) };
  const observed = parseKubeVirtVersion(stringOf(dig(cluster.getKubeVirt(), 'status', 'observedKubeVirtVersion')));
  return observed
    ? {
        version: observed,
        source: 'KubeVirt CR status.observedKubeVirtVersion',
        followed: isFollowedKubeVirt(observed),
      }
    : undefined;
}

/** The versions to judge under: the known one if nicguard has read it, else every representative release. */
export function versionsToJudge(known: KnownVersion | undefined): readonly KubeVirtVersion[] {
  return known?.followed ? [known.version] : REPRESENTATIVE_VERSIONS;
}

/**
 * Names a set of representative versions as release ranges, e.g. "v1.4-v1.5, v1.6.0-v1.6.3":
 * each listed version stands for the releases up to the next representative one.
 */
export function describeVersions(versions: readonly KubeVirtVersion[]): string {
  const ranges: string[] = [];
  const all = REPRESENTATIVE_VERSIONS;
  let i = 0;
  while (i < all.length) {
    if (!versions.some((v) => compareVersions(v, all[i]) === 0)) {
      i++;
      continue;
    }
    const start = all[i];
    while (i + 1 < all.length && versions.some((v) => compareVersions(v, all[i + 1]) === 0)) i++;
    const next = all[i + 1];
    const end = next ? `before ${formatVersion(next)}` : 'later';
    ranges.push(`${formatVersion(start)} to ${end}`);
    i++;
  }
  return ranges.join(', ');
}

/** How to tell nicguard the version, for warnings that judged under several. */
export const HOW_TO_SET_VERSION =
  'Tell nicguard the KubeVirt version with kubevirtVersion in its configuration or --kubevirt-version, ' +
  'or give it the KubeVirt CR (in a cluster it reads status.observedKubeVirtVersion).';

/**
 * Why a finding that depends on the KubeVirt release only warns: nicguard does not know the
 * release, or knows one whose sources it has not read. Never a denial on a guessed release.
 */
export function whyOnlyWarns(known: KnownVersion | undefined): string {
  if (!known || known.followed) {
    return (
      'nicguard does not know which KubeVirt the cluster runs, so it warns instead of refusing. ' + HOW_TO_SET_VERSION
    );
  }
  return (
    `The cluster runs KubeVirt ${formatVersion(known.version)} (from the ${known.source}), a release nicguard has ` +
    `not read (it follows the tags ${FOLLOWED_TAGS}; ` +
    'docs/compatibility.md), so it warns instead of refusing.'
  );
}

/** What a version-dependent check concludes: deny, or warn with the releases named. */
export interface ReleaseVerdict {
  action: 'deny' | 'warn';
  /** Appended to the cause's message: which releases refuse, and how to tell nicguard the version. */
  note: string;
}

/**
 * Judges one check under the releases nicguard must consider: the known one, or every
 * representative release. Undefined when none refuses; deny when the known release or
 * every release refuses; else warn, naming the releases that refuse and those that accept,
 * so that nicguard never denies what the cluster's KubeVirt would accept.
 */
export function acrossReleases(
  known: KnownVersion | undefined,
  rejects: (version: KubeVirtVersion) => boolean,
): ReleaseVerdict | undefined {
  const versions = versionsToJudge(known);
  const refusing = versions.filter(rejects);
  if (refusing.length === 0) return undefined;
  if (known?.followed) {
    return { action: 'deny', note: ` (KubeVirt ${formatVersion(known.version)}, from the ${known.source})` };
  }
  // Unknown, the cluster runs one of the followed releases: what all of them refuse, it refuses.
  if (!known && refusing.length === versions.length) return { action: 'deny', note: '' };
  const accepting = versions.filter((v) => !refusing.includes(v));
  const sides = accepting.length
    ? `KubeVirt ${describeVersions(refusing)} refuses this; ${describeVersions(accepting)} accepts it.`
    : `Every KubeVirt release nicguard follows refuses this.`;
  return { action: 'warn', note: ` ${sides} ${whyOnlyWarns(known)}` };
}

// Release versions `vMAJOR.MINOR.PATCH`, shared by the KubeVirt and Kube-OVN version logic
// (kubevirt-version.ts, kubeovn-version.ts): both projects tag releases this way.

export interface Version {
  major: number;
  minor: number;
  patch: number;
  /** What followed the patch number, e.g. `-rc.1`: compared as its release, but not that release's tag. */
  suffix?: string;
}

/** `v1.8.4`, `1.8.4`, `v1.8.4-rc.1` (pre-releases compare as their release); undefined otherwise. */
export function parseVersion(text: unknown): Version | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^v?(\d{1,3})\.(\d{1,3})\.(\d{1,4})([-+][0-9A-Za-z.-]*)?$/.exec(text.trim());
  if (!m) return undefined;
  const version: Version = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
  if (m[4]) version.suffix = m[4];
  return version;
}

export function formatVersion(v: Version): string {
  return `v${v.major}.${v.minor}.${v.patch}${v.suffix ?? ''}`;
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** At least `major.minor.patch`. */
export function atLeast(v: Version, major: number, minor: number, patch = 0): boolean {
  return compareVersions(v, { major, minor, patch }) >= 0;
}

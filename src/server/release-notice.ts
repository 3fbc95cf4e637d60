// Which KubeVirt and Kube-OVN releases the webhook judges under, said in its log at start
// and again whenever that changes (the KubeVirt CR's status is watched, the configuration
// reloads). A release nicguard has not read turns every check that depends on the release
// into a warning; an operator should hear that from the log, not from the first finding.
import type { Logger } from 'pino';
import { formatVersion, knownKubeVirtVersion } from '../engine/kubevirt-version.js';
import { configuredKubeOvnVersion } from '../engine/kubeovn-version.js';
import type { ClusterView, PolicyConfig } from '../engine/types.js';

/** What the log says about the releases: a line's level, fields and message. */
export interface ReleaseLine {
  level: 'info' | 'warn';
  fields: { kubevirt: string; kubeovn: string };
  message: string;
}

/** The releases the rules judge under, as one log line. Pure: the caller logs it when it changes. */
export function releaseLine(config: PolicyConfig, cluster: ClusterView): ReleaseLine {
  const kubevirt = knownKubeVirtVersion(config, cluster);
  const kubeovn = configuredKubeOvnVersion(config);
  const unread: string[] = [];
  if (kubevirt && !kubevirt.followed) unread.push(`KubeVirt ${formatVersion(kubevirt.version)}`);
  if (kubeovn && !kubeovn.followed) unread.push(`Kube-OVN ${formatVersion(kubeovn.version)}`);
  const fields = {
    kubevirt: kubevirt
      ? `${formatVersion(kubevirt.version)} (from the ${kubevirt.source})`
      : 'unknown: every release nicguard follows',
    kubeovn: kubeovn
      ? `${formatVersion(kubeovn.version)} (from the configuration)`
      : 'unknown: every release nicguard follows',
  };
  if (unread.length === 0) return { level: 'info', fields, message: 'judging under these releases' };
  return {
    level: 'warn',
    fields,
    message:
      `${unread.join(' and ')}: not a release nicguard has read (docs/compatibility.md); checks that depend on ` +
      'the release are judged under every release it follows and only warn',
  };
}

/** Logs the release line once, and again only when it changes. */
export class ReleaseNotice {
  private last = '';

  constructor(private readonly logger: Logger) {}

  note(config: PolicyConfig, cluster: ClusterView | undefined): void {
    if (!cluster) return;
    const line = releaseLine(config, cluster);
    const key = JSON.stringify(line);
    if (key === this.last) return;
    this.last = key;
    this.logger[line.level](line.fields, line.message);
  }
}

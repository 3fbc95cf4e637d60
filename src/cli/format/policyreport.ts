// `nicguard audit -o policyreport` and `--apply`: the audit as wgpolicyk8s.io/v1alpha2
// PolicyReports (one per namespace) and a ClusterPolicyReport (Subnets), the shape Kyverno,
// Kubewarden and Policy Reporter read (CRDs: kyverno/kyverno v1.19.0
// config/crds/policyreport/wgpolicyk8s.io_policyreports.yaml and _clusterpolicyreports.yaml).
// One result per finding; the report is always written whole, so a fixed problem's result
// disappears at the next run. A namespace whose results would not fit in one object (etcd
// refuses a write over 1.5 MiB) gets as many reports as they need: nicguard, nicguard-2, ...
import { stringify } from 'yaml';
import type { KubeObject } from '../../engine/types.js';
import type { AuditFinding, AuditLevel, AuditReport } from '../../offline/audit.js';

export const POLICY_REPORT_GROUP = 'wgpolicyk8s.io';
export const POLICY_REPORT_VERSION = 'v1alpha2';
export const POLICY_REPORT_API_VERSION = `${POLICY_REPORT_GROUP}/${POLICY_REPORT_VERSION}`;
export const POLICY_REPORTS = { group: POLICY_REPORT_GROUP, version: POLICY_REPORT_VERSION, plural: 'policyreports' };
export const CLUSTER_POLICY_REPORTS = {
  group: POLICY_REPORT_GROUP,
  version: POLICY_REPORT_VERSION,
  plural: 'clusterpolicyreports',
};
/**
 * Every report nicguard writes has this name (with `-2`, `-3`, ... for a namespace's further
 * reports), and this label (how --apply finds its stale ones).
 */
export const REPORT_NAME = 'nicguard';
/** The names of nicguard's reports: its own and the further ones of a large namespace. */
export const REPORT_NAMES = /^nicguard(?:-[1-9][0-9]*)?$/;
/**
 * Bytes of results (as JSON) one report holds at most. etcd refuses a request over 1.5 MiB
 * (DefaultMaxRequestBytes, etcd server/embed/config.go, v3.7.0) and the API server's etcd
 * client one over 2 MiB (a 2.3 MB report of 4,000 results: HTTP 500, "trying to send message
 * larger than max", test/e2e/audit.test.ts). The rest of the object (metadata, summary, the
 * API server's managedFields) stays well within the margin.
 */
export const REPORT_RESULT_BYTES = 1024 * 1024;
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'nicguard' };
/** The `policy` of every result: nicguard is one policy, its rules and audit checks are the rules. */
export const POLICY_NAME = 'nicguard';

type PolicyResult = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

/**
 * fail and warn are the report's own; an info finding is a fact about an object that
 * breaks no rule (no hotplug port left, a NAD nothing uses): pass, with severity info.
 */
const RESULT: Record<AuditLevel, { result: PolicyResult; severity: string }> = {
  fail: { result: 'fail', severity: 'high' },
  warn: { result: 'warn', severity: 'medium' },
  info: { result: 'pass', severity: 'info' },
};

export interface PolicyReports {
  /** At least one per namespace that holds an audited object, results or not. */
  namespaced: KubeObject[];
  /** The Subnets' reports (at least one); absent when the audit was limited to a namespace. */
  cluster?: KubeObject[];
}

function result(f: AuditFinding, timestamp: { seconds: number; nanos: number }): Record<string, unknown> {
  const { result: outcome, severity } = RESULT[f.level];
  return {
    policy: POLICY_NAME,
    rule: f.rule,
    result: outcome,
    severity,
    message: f.message,
    source: 'nicguard',
    category: 'KubeVirt network hotplug',
    scored: true,
    timestamp,
    resources: [
      {
        apiVersion: f.subject.apiVersion,
        kind: f.subject.kind,
        ...(f.subject.namespace ? { namespace: f.subject.namespace } : {}),
        name: f.subject.name,
        ...(f.subject.uid ? { uid: f.subject.uid } : {}),
      },
    ],
    ...(f.field ? { properties: { field: f.field } } : {}),
  };
}

function report(
  kind: 'PolicyReport' | 'ClusterPolicyReport',
  namespace: string | undefined,
  results: Record<string, unknown>[],
  index: number,
): KubeObject {
  const summary: Record<PolicyResult, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) summary[r.result as PolicyResult]++;
  return {
    apiVersion: POLICY_REPORT_API_VERSION,
    kind,
    metadata: {
      name: index === 0 ? REPORT_NAME : `${REPORT_NAME}-${index + 1}`,
      ...(namespace ? { namespace } : {}),
      labels: { [MANAGED_BY.key]: MANAGED_BY.value },
    },
    summary,
    results,
  };
}

/** The reports of one namespace (or of the cluster): one, or as many as REPORT_RESULT_BYTES asks. */
function reportsOf(
  kind: 'PolicyReport' | 'ClusterPolicyReport',
  namespace: string | undefined,
  results: Record<string, unknown>[],
): KubeObject[] {
  const reports: KubeObject[] = [];
  let held: Record<string, unknown>[] = [];
  let bytes = 0;
  for (const r of results) {
    const size = Buffer.byteLength(JSON.stringify(r)) + 1;
    if (held.length > 0 && bytes + size > REPORT_RESULT_BYTES) {
      reports.push(report(kind, namespace, held, reports.length));
      held = [];
      bytes = 0;
    }
    held.push(r);
    bytes += size;
  }
  reports.push(report(kind, namespace, held, reports.length));
  return reports;
}

export function buildPolicyReports(audit: AuditReport): PolicyReports {
  const ms = Date.parse(audit.time);
  const timestamp = { seconds: Math.floor(ms / 1000), nanos: 0 };
  const byNamespace = new Map<string, Record<string, unknown>[]>(audit.namespaces.map((ns) => [ns, []]));
  const clusterResults: Record<string, unknown>[] = [];
  for (const f of audit.findings) {
    const target = f.subject.namespace === undefined ? clusterResults : byNamespace.get(f.subject.namespace);
    target?.push(result(f, timestamp));
  }
  return {
    namespaced: [...byNamespace].flatMap(([ns, results]) => reportsOf('PolicyReport', ns, results)),
    ...(audit.clusterScoped ? { cluster: reportsOf('ClusterPolicyReport', undefined, clusterResults) } : {}),
  };
}

/** The reports as YAML documents, ready for `kubectl apply -f -`. */
export function formatPolicyReports(reports: PolicyReports): string {
  const all = [...reports.namespaced, ...(reports.cluster ?? [])];
  return all.map((r) => stringify(r, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

// `nicguard audit`: what is already wrong in a cluster (or a folder of dumped objects),
// as text, JSON, SARIF or wgpolicyk8s.io PolicyReports, optionally written back to the
// cluster (--apply) for Policy Reporter and `kubectl get policyreports`.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { LiveCluster, LiveClusterError } from '../cluster/live.js';
import type { PolicyConfig } from '../engine/types.js';
import { namesUpTo } from '../engine/values.js';
import { formatManifestError, type ManifestError } from '../io/manifests.js';
import {
  AUDIT_CATALOGUE,
  auditCluster,
  describeObjects,
  runAudit,
  snapshotFromFiles,
  type AuditLevel,
  type AuditReport,
} from '../offline/audit.js';
import { EXIT_BAD_INPUT, loadConfigForCommand } from './config-option.js';
import {
  buildPolicyReports,
  CLUSTER_POLICY_REPORTS,
  formatPolicyReports,
  MANAGED_BY,
  POLICY_REPORTS,
  REPORT_NAMES,
  type PolicyReports,
} from './format/policyreport.js';
import { KUBEVIRT_VERSION_HELP, collect, kubevirtVersionOption } from './options.js';
import { VERSION } from './version.js';

const OUTPUT_FORMATS = ['text', 'json', 'sarif', 'policyreport'] as const;
/** Deleted reports named in the summary line; the rest are counted (a cleanup may delete thousands). */
const DELETED_LISTED = 10;
type AuditFormat = (typeof OUTPUT_FORMATS)[number];

interface AuditOptions {
  kubevirtVersion?: string;
  objects?: string[];
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  config?: string;
  output: AuditFormat;
  pendingThreshold: number;
  apply?: boolean;
  failExitCode: number;
}

const EXIT_OK = 0;
const EXIT_FAILURES = 1;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration (`10m`, `1h30m`, `90s`, `0`), as kubectl's --request-timeout takes one. */
export function parseDuration(value: string): number {
  if (value.trim() === '0') return 0;
  const parts = [...value.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value.trim()) {
    throw new InvalidArgumentError('expected a duration such as 10m, 1h30m or 90s.');
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * UNIT_MS[p[2]], 0);
}

function parseExitCode(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new InvalidArgumentError('expected an integer from 0 to 255.');
  return n;
}

/** Findings grouped by object; the summary line goes to stderr for every format. */
function formatText(report: AuditReport): string {
  const lines: string[] = [];
  let last = '';
  for (const f of report.findings) {
    if (f.ref !== last) {
      if (last) lines.push('');
      lines.push(`${f.ref}${f.source ? `  (${f.source.file}:${f.source.line})` : ''}`);
      last = f.ref;
    }
    lines.push(
      `  ${f.level.toUpperCase().padEnd(4)}  ${f.rule}${f.field ? `  ${f.field}` : ''}`,
      `        ${f.message}`,
    );
  }
  return lines.length ? lines.join('\n') + '\n' : 'No findings.\n';
}

function summaryCounts(report: AuditReport): string {
  const { fail, warn, info } = report.summary;
  return `${fail} fail, ${warn} warn, ${info} info`;
}

const SARIF_LEVEL: Record<AuditLevel, string> = { fail: 'error', warn: 'warning', info: 'note' };

/** SARIF 2.1.0: objects, not files, are the subjects; a file location where the object came from one. */
function formatSarif(report: AuditReport, errors: readonly ManifestError[]): string {
  const ruleIndex = new Map(AUDIT_CATALOGUE.map((c, i) => [c.id, i]));
  const results = report.findings.map((f) => ({
    ruleId: f.rule,
    ruleIndex: ruleIndex.get(f.rule),
    level: SARIF_LEVEL[f.level],
    message: { text: f.message },
    locations: [
      {
        ...(f.source
          ? { physicalLocation: { artifactLocation: { uri: f.source.file }, region: { startLine: f.source.line } } }
          : {}),
        logicalLocations: [{ fullyQualifiedName: f.field ? `${f.ref}: ${f.field}` : f.ref, kind: 'object' }],
      },
    ],
    properties: { object: f.ref, ...(f.field ? { field: f.field } : {}) },
  }));
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'nicguard',
            version: VERSION,
            semanticVersion: VERSION,
            rules: AUDIT_CATALOGUE.map((c) => ({
              id: c.id,
              shortDescription: { text: c.title },
              fullDescription: { text: c.description },
            })),
          },
        },
        invocations: [
          {
            executionSuccessful: errors.length === 0,
            toolExecutionNotifications: errors.map((e) => ({
              level: 'error',
              message: { text: formatManifestError(e) },
            })),
          },
        ],
        results,
      },
    ],
  };
  return JSON.stringify(sarif, null, 2) + '\n';
}

function render(report: AuditReport, errors: readonly ManifestError[], format: AuditFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(report, null, 2) + '\n';
    case 'sarif':
      return formatSarif(report, errors);
    case 'policyreport':
      return formatPolicyReports(buildPolicyReports(report));
    default:
      return formatText(report);
  }
}

interface Applied {
  written: string[];
  deleted: string[];
}

/**
 * Writes every report whole and deletes nicguard's reports that this run did not write: those
 * of namespaces that no longer hold an audited object, and a large namespace's further reports
 * it no longer needs (inside the audited scope only).
 */
async function applyReports(
  live: LiveCluster,
  reports: PolicyReports,
  namespace: string | undefined,
): Promise<Applied> {
  const applied: Applied = { written: [], deleted: [] };
  const written = new Set<string>();
  const kinds = [
    { resource: POLICY_REPORTS, label: 'policyreport', reports: reports.namespaced },
    // A namespace audit leaves the cluster's reports alone.
    ...(reports.cluster
      ? [{ resource: CLUSTER_POLICY_REPORTS, label: 'clusterpolicyreport', reports: reports.cluster }]
      : []),
  ];
  for (const { resource, label, reports: toWrite } of kinds) {
    for (const r of toWrite) {
      await live.putReport(r, resource.plural);
      const where = `${r.metadata?.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata?.name}`;
      written.add(`${label} ${where}`);
      applied.written.push(`${label} ${where}`);
    }
    for (const { namespace: ns, name } of await live.namesByLabel(resource, `${MANAGED_BY.key}=${MANAGED_BY.value}`)) {
      const where = `${label} ${ns ? `${ns}/` : ''}${name}`;
      if (!REPORT_NAMES.test(name) || written.has(where) || (namespace !== undefined && ns !== namespace)) continue;
      await live.deleteReport(resource, ns, name);
      applied.deleted.push(where);
    }
  }
  return applied;
}

const EXAMPLES = `
Examples:
  # What is already wrong in the cluster of the current kubectl context
  $ nicguard audit
  $ kubectl nicguard audit -n tenant-a

  # Over a dump instead of a live cluster
  $ kubectl get vm,vmi,net-attach-def,subnet,kubevirt -A -o yaml > cluster.yaml
  $ nicguard audit --objects cluster.yaml -o json

  # PolicyReports, printed or written to the cluster (replacing nicguard's previous ones)
  $ nicguard audit -o policyreport
  $ nicguard audit --apply

Exit codes:
  0  nothing failing (warnings and info allowed)
  1  at least one fail result (see --fail-exit-code)
  2  bad input or usage: unreadable files, a cluster that cannot be read, bad config
`;

/** The report, and the file errors (files) or the missing CRDs (a cluster) to tell on stderr. */
async function audit(
  opts: AuditOptions,
  live: LiveCluster | undefined,
  config: PolicyConfig,
): Promise<{ report: AuditReport; errors: ManifestError[]; missing: string[] }> {
  const auditOpts = {
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    pendingThresholdMs: opts.pendingThreshold,
    now: new Date(),
  };
  if (live) return { ...(await auditCluster(live, config, auditOpts)), errors: [] };
  const snapshot = snapshotFromFiles(opts.objects ?? []);
  return { report: runAudit(snapshot, config, auditOpts), errors: snapshot.errors, missing: [] };
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'Report what is already wrong among the VMs, VMIs, NADs and Kube-OVN Subnets of a cluster (or of --objects)',
    )
    .option(
      '--objects <path>',
      'audit these dumped objects (file or folder, repeatable) instead of a live cluster',
      collect,
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or the pod service account)',
    )
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <namespace>', 'audit the namespaced objects of this namespace only (no Subnets)')
    .option('-A, --all-namespaces', 'audit the whole cluster (the default)')
    .option('-c, --config <file>', 'policy configuration (YAML; see schemas/config.schema.json)')
    .option('--kubevirt-version <version>', KUBEVIRT_VERSION_HELP, kubevirtVersionOption)
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .addOption(
      new Option('--pending-threshold <duration>', 'a hotplug or unplug pending this long is reported (e.g. 90s, 1h)')
        .argParser(parseDuration)
        .default(10 * 60_000, '10m'),
    )
    .option(
      '--apply',
      'write the PolicyReports (per namespace, named nicguard, and nicguard-2, ... past 1 MiB of results) and ' +
        'the ClusterPolicyReport to the cluster',
    )
    .option(
      '--fail-exit-code <n>',
      'exit code when fail results are found (0 for a CronJob that only writes reports)',
      parseExitCode,
      EXIT_FAILURES,
    )
    .addHelpText('after', EXAMPLES)
    .action(async (opts: AuditOptions) => {
      const usage = (message: string) => {
        process.stderr.write(`nicguard audit: ${message}\n`);
        process.exitCode = EXIT_BAD_INPUT;
      };
      if (opts.objects && (opts.kubeconfig || opts.context || opts.apply)) {
        return usage('--objects audits files; --kubeconfig, --context and --apply are for a live cluster');
      }
      if (opts.namespace && opts.allNamespaces) return usage('give -n NAMESPACE or -A, not both');
      const config = loadConfigForCommand('audit', opts.config, opts.kubevirtVersion);
      if (!config) return;
      try {
        const live = opts.objects
          ? undefined
          : LiveCluster.connect({ kubeconfig: opts.kubeconfig, context: opts.context });
        const where = live ? `cluster ${live.server}` : (opts.objects ?? []).join(', ');
        const { report, errors, missing } = await audit(opts, live, config);
        for (const e of errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
        for (const m of missing)
          process.stderr.write(`nicguard audit: ${m} is not installed in the cluster; read as empty\n`);
        process.stdout.write(render(report, errors, opts.output));
        let appliedNote = '';
        if (opts.apply && live) {
          const applied = await applyReports(live, buildPolicyReports(report), opts.namespace);
          appliedNote =
            `; wrote ${applied.written.length} ${applied.written.length === 1 ? 'report' : 'reports'}` +
            (applied.deleted.length ? `, deleted ${namesUpTo(applied.deleted, DELETED_LISTED)}` : '');
        }
        process.stderr.write(
          `nicguard audit: ${where}: ${describeObjects(report.summary.objects)}; ` +
            `${summaryCounts(report)}${appliedNote}\n`,
        );
        process.exitCode = errors.length ? EXIT_BAD_INPUT : report.summary.fail ? opts.failExitCode : EXIT_OK;
      } catch (err) {
        if (!(err instanceof LiveClusterError)) throw err;
        usage(err.message);
      }
    });
}

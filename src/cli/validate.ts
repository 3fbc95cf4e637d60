// `nicguard validate`: runs the policy engine over manifests offline, as the webhooks would
// admit them (mutation, then validation), for CI and pre-commit checks.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { readFileCluster } from '../cluster/files.js';
import { indexedKindOf, type ObjectIndex } from '../cluster/object-index.js';
import { evaluate, supportedKind } from '../engine/evaluate.js';
import type { KubeObject, PolicyConfig, PolicyRequest } from '../engine/types.js';
import { objectRef } from '../engine/vm.js';
import { EXIT_BAD_INPUT, loadConfigForCommand } from './config-option.js';
import { readBaseVersions } from '../io/git-base.js';
import { formatManifestError, loadManifests, type LoadedObject, type ManifestError } from '../io/manifests.js';
import { formatJson } from './format/json.js';
import { formatJunit } from './format/junit.js';
import { summarize, type ObjectResult, type ValidationReport } from './format/report.js';
import { formatSarif } from './format/sarif.js';
import { formatText } from './format/text.js';

export const OUTPUT_FORMATS = ['text', 'json', 'junit', 'sarif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface ValidateOptions {
  filename: string[];
  old: string[];
  base?: string;
  objects: string[];
  config?: string;
  output: OutputFormat;
  warnExitCode?: number;
  /** Namespace of namespaced objects that name none, as `kubectl apply` assumes. */
  namespace: string;
  user?: string;
}

export const EXIT_OK = 0;
export const EXIT_DENIED = 1;

/** Kinds the API server would give a namespace: the request then carries it, so ours does too. */
const NAMESPACED = new Set(['VirtualMachine', 'VirtualMachineInstance', 'NetworkAttachmentDefinition']);
/** Input objects that describe the cluster too: a change adding a NAD and a VM using it is checked as a whole. */
const CLUSTER_KINDS = new Set(['NetworkAttachmentDefinition', 'Subnet', 'KubeVirt']);

function groupOf(apiVersion: string | undefined): string {
  return (apiVersion ?? '').split('/').slice(0, -1).join('/');
}

function isNamespaced(obj: KubeObject): boolean {
  return NAMESPACED.has(obj.kind ?? '') || (obj.kind === 'KubeVirt' && groupOf(obj.apiVersion) === 'kubevirt.io');
}

function withNamespace(obj: KubeObject, namespace: string): KubeObject {
  if (!isNamespaced(obj) || obj.metadata?.namespace) return obj;
  return { ...obj, metadata: { ...(obj.metadata ?? {}), namespace } };
}

/** Same kind (and API group), namespace and name: the previous version of an object. */
function identity(obj: KubeObject, namespace: string): string | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined; // generateName objects are always new
  const ns = obj.metadata?.namespace ?? (isNamespaced(obj) ? namespace : '');
  return `${groupOf(obj.apiVersion)}/${obj.kind}/${ns}/${name}`;
}

function requestFor(input: LoadedObject, previous: Map<string, LoadedObject>, opts: ValidateOptions): { request: PolicyRequest; oldSource?: string } {
  if (input.review) return { request: input.review };
  const object = withNamespace(input.object, opts.namespace);
  const key = identity(object, opts.namespace);
  const old = key ? previous.get(key) : undefined;
  const request: PolicyRequest = {
    operation: old ? 'UPDATE' : 'CREATE',
    kind: object.kind ?? '',
    group: groupOf(object.apiVersion),
    ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
    ...(object.metadata?.name ? { name: object.metadata.name } : {}),
    object,
    ...(old ? { oldObject: withNamespace(old.object, opts.namespace) } : {}),
    ...(opts.user ? { userInfo: { username: opts.user } } : {}),
    dryRun: true,
  };
  return { request, ...(old ? { oldSource: old.source.file } : {}) };
}

function checkOne(input: LoadedObject, previous: Map<string, LoadedObject>, cluster: ObjectIndex, config: PolicyConfig, opts: ValidateOptions): ObjectResult | undefined {
  const { request, oldSource } = requestFor(input, previous, opts);
  const subject = request.object ?? request.oldObject;
  const kind = supportedKind(request.kind, request.group, subject?.apiVersion);
  if (!kind) return undefined;
  const result = evaluate(request, cluster, config, 'both');
  const namespace = request.namespace ?? subject?.metadata?.namespace;
  return {
    file: input.source.file,
    line: input.source.line,
    column: input.source.column,
    document: input.source.document,
    apiVersion: subject?.apiVersion ?? '',
    kind,
    ...(namespace ? { namespace } : {}),
    name: request.name ?? subject?.metadata?.name ?? subject?.metadata?.generateName ?? '',
    ref: objectRef(kind, subject, namespace, request.name),
    operation: request.operation,
    ...(oldSource ? { oldSource } : {}),
    admissionReview: !!input.review,
    allowed: result.allowed,
    findings: result.findings.map((f) => ({ ...f, ...input.locate(f.field) })),
    patch: result.patch,
  };
}

/** Reads the inputs, the previous versions and the cluster, and evaluates every object. Never throws for bad input. */
export function runValidation(opts: ValidateOptions, config: PolicyConfig): ValidationReport {
  const errors: ManifestError[] = [];
  const inputs = loadManifests(opts.filename);
  errors.push(...inputs.errors);

  const previous = new Map<string, LoadedObject>();
  const remember = (objects: LoadedObject[]) => {
    for (const o of objects) {
      const key = o.review ? undefined : identity(o.object, opts.namespace);
      if (key) previous.set(key, o);
    }
  };
  if (opts.base) {
    const base = readBaseVersions(inputs.files, opts.base);
    errors.push(...base.errors);
    remember(base.objects);
  }
  if (opts.old.length) {
    const old = loadManifests(opts.old);
    errors.push(...old.errors);
    remember(old.objects);
  }

  const clusterLoad = readFileCluster(opts.objects);
  errors.push(...clusterLoad.errors);
  const cluster = clusterLoad.view;
  for (const { object, review } of inputs.objects) {
    const kind = review ? undefined : indexedKindOf(object);
    if (kind && CLUSTER_KINDS.has(kind)) cluster.upsert(withNamespace(object, opts.namespace), kind);
  }

  const results: ObjectResult[] = [];
  let skipped = 0;
  for (const input of inputs.objects) {
    const result = checkOne(input, previous, cluster, config, opts);
    if (result) results.push(result);
    else skipped++;
  }
  return { results, errors, summary: summarize(results, skipped, errors) };
}

/** 2 for bad input beats 1 for a denial: a half-read change cannot be called safe or unsafe. */
export function exitCodeOf(report: ValidationReport, warnExitCode?: number): number {
  if (report.summary.errors) return EXIT_BAD_INPUT;
  if (report.summary.denied) return EXIT_DENIED;
  if (warnExitCode !== undefined && report.summary.warnings) return warnExitCode;
  return EXIT_OK;
}

export function formatReport(report: ValidationReport, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return formatJson(report);
    case 'junit':
      return formatJunit(report);
    case 'sarif':
      return formatSarif(report);
    default:
      return formatText(report);
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseExitCode(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new InvalidArgumentError('expected an integer from 0 to 255.');
  return n;
}

const EXAMPLES = `
Examples:
  # Check a folder of manifests (recursive: .yaml, .yml, .json)
  $ nicguard validate -f manifests/

  # What a pull request changes: each file's previous version from git, NADs and Subnets from a folder
  $ nicguard validate -f vms/ --base origin/main --objects cluster-state/

  # A hotplug against the VM as it runs now
  $ nicguard validate -f examples/new --old examples/old --objects examples/cluster

  # From a live cluster, through stdin
  $ kubectl get vm vm-fedora -o yaml | nicguard validate -f - --objects cluster-state/

  # Reports for CI
  $ nicguard validate -f manifests/ -o sarif > nicguard.sarif
  $ nicguard validate -f manifests/ -o junit > nicguard-junit.xml

Exit codes:
  0  nothing denied (warnings allowed, unless --warn-exit-code is set)
  1  at least one object denied
  2  bad input or usage: unreadable or unparsable file, bad config (the other files are still checked)
`;

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check VirtualMachine, VMI, NetworkAttachmentDefinition and Kube-OVN Subnet manifests offline, as the webhooks would admit them')
    .argument('[paths...]', 'files or folders to check (same as -f)')
    .option('-f, --filename <path>', 'file, folder (recursive) or - for stdin; repeatable; plain manifests, List and AdmissionReview objects', collect)
    .option('--old <path>', 'previous versions (file or folder, repeatable): same kind, namespace and name makes an UPDATE', collect)
    .option('--base <git-ref>', "take each input file's previous version from this git revision (e.g. origin/main)")
    .option('--objects <dir>', 'cluster objects the rules look up: NADs, Subnets, VMIs, the KubeVirt CR (repeatable)', collect)
    .option('-c, --config <file>', 'policy configuration (YAML; see schemas/config.schema.json)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .option('--warn-exit-code <n>', 'exit with this code when there are warnings but nothing is denied', parseExitCode)
    .option('-n, --namespace <namespace>', 'namespace of objects that name none', 'default')
    .option('--user <username>', 'userInfo.username of the simulated requests (exempt service accounts are not checked by the hotplug rules)')
    .addHelpText('after', EXAMPLES)
    .action((paths: string[], raw: Partial<ValidateOptions>) => {
      const opts: ValidateOptions = {
        ...(raw as ValidateOptions),
        filename: [...(raw.filename ?? []), ...paths],
        old: raw.old ?? [],
        objects: raw.objects ?? [],
      };
      if (opts.filename.length === 0) {
        process.stderr.write('nicguard validate: nothing to check; give files or folders with -f (or - for stdin)\n');
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      const config = loadConfigForCommand('validate', opts.config);
      if (!config) return;
      const report = runValidation(opts, config);
      // Machine formats usually go to a file: their input errors must still reach the log.
      if (opts.output !== 'text') for (const e of report.errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
      process.stdout.write(formatReport(report, opts.output));
      process.exitCode = exitCodeOf(report, opts.warnExitCode);
    });
}

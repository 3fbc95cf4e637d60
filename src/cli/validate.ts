// `nicguard validate`: runs the policy engine over manifests offline, as the webhooks would
// admit them (mutation, then validation), for CI and pre-commit checks.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EXIT_BAD_INPUT, loadConfigForCommand } from './config-option.js';
import { formatManifestError } from '../io/manifests.js';
import { KUBEVIRT_VERSION_HELP, collect, kubevirtVersionOption } from './options.js';
import type { ValidationInputs } from '../offline/run-validation.js';
import type { ValidationReport } from '../offline/report.js';
import { reportNotes } from './format/text.js';
import { STDIN } from '../io/manifests.js';
import { Glob } from '../io/glob.js';
import { conciseUsageErrors, usageError } from './usage.js';

const OUTPUT_FORMATS = ['text', 'json', 'junit', 'sarif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface ValidateOptions extends ValidationInputs {
  kubevirtVersion?: string;
  config?: string;
  /** Read the cluster view live (also implied by --kubeconfig and --context). */
  clusterView?: boolean;
  kubeconfig?: string;
  context?: string;
  output: OutputFormat;
  warnExitCode?: number;
}

const EXIT_OK = 0;
const EXIT_DENIED = 1;

/** 2 for bad input beats 1 for a denial: a half-read change cannot be called safe or unsafe. */
function exitCodeOf(report: ValidationReport, warnExitCode?: number): number {
  if (report.summary.errors) return EXIT_BAD_INPUT;
  if (report.summary.denied) return EXIT_DENIED;
  if (warnExitCode !== undefined && report.summary.warnings) return warnExitCode;
  return EXIT_OK;
}

/** Only the chosen format's module is loaded. */
async function formatReport(report: ValidationReport, format: OutputFormat): Promise<string> {
  switch (format) {
    case 'json':
      return (await import('./format/json.js')).formatJson(report);
    case 'junit':
      return (await import('./format/junit.js')).formatJunit(report);
    case 'sarif':
      return (await import('./format/sarif.js')).formatSarif(report);
    default:
      return (await import('./format/text.js')).formatText(report);
  }
}

function parseGlob(value: string, previous: string[] | undefined): string[] {
  try {
    new Glob(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
  return collect(value, previous);
}

/** --base takes each input file's version from git; standard input has no file there. */
const BASE_WITH_STDIN =
  '--base cannot take a previous version for standard input (-f -): it has no path in git.\n' +
  'Render the base to a file and give it with --old, e.g. git show main:vm.yaml > base.yaml (or kubectl kustomize ' +
  'on a checkout of main > base.yaml), then: ... | nicguard validate -f - --old base.yaml';

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

  # A GitOps folder: kustomization.yaml, Chart.yaml and values files are skipped; leave out more with --exclude
  $ nicguard validate -f clusters/ --exclude 'charts/**' --exclude '**/secrets/*.yaml'

  # Rendered output (kustomize, helm template) through stdin, against the base rendered to a file
  $ kubectl kustomize overlays/prod | nicguard validate -f - --old base-rendered.yaml

  # A hotplug against the VM as it runs now
  $ nicguard validate -f examples/new --old examples/old --objects examples/cluster

  # The cluster view (NADs, Subnets, VMIs, KubeVirt CR) read live, once, read-only
  $ nicguard validate -f vm.yaml --cluster
  $ kubectl nicguard validate -f vm.yaml --context prod

  # The running version as the old object, through stdin
  $ kubectl get vm vm-fedora -o yaml > running.yaml
  $ nicguard validate -f vm.yaml --old running.yaml --cluster

  # Reports for CI
  $ nicguard validate -f manifests/ -o sarif > nicguard.sarif
  $ nicguard validate -f manifests/ -o junit > nicguard-junit.xml

Exit codes:
  0  nothing denied (warnings allowed, unless --warn-exit-code is set)
  1  at least one object denied
  2  bad input or usage: unreadable or unparsable file, bad config (the other files are still checked)
`;

export function registerValidate(program: Command): void {
  const command = program
    .command('validate')
    .description(
      'Check VirtualMachine, VMI, NetworkAttachmentDefinition and Kube-OVN Subnet manifests offline, as the webhooks ' +
        'would admit them',
    )
    .argument('[paths...]', 'files or folders to check (same as -f)')
    .option(
      '-f, --filename <path>',
      'file, folder (recursive) or - for stdin; repeatable; plain manifests, List and AdmissionReview objects',
      collect,
    )
    .option(
      '--old <path>',
      'previous versions (file or folder, repeatable): same kind, namespace and name makes an UPDATE',
      collect,
    )
    .option('--base <git-ref>', "take each input file's previous version from this git revision (e.g. origin/main)")
    .option(
      '--exclude <glob>',
      'leave out files and folders found in an input folder whose path relative to it matches (repeatable), e.g. ' +
        'charts/**',
      parseGlob,
    )
    .option(
      '--objects <dir>',
      'cluster objects the rules look up: NADs, Subnets, VMIs, the KubeVirt CR (repeatable)',
      collect,
    )
    .option('-c, --config <file>', 'policy configuration (YAML; see schemas/config.schema.json)')
    .option('--kubevirt-version <version>', KUBEVIRT_VERSION_HELP, kubevirtVersionOption)
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .option('--warn-exit-code <n>', 'exit with this code when there are warnings but nothing is denied', parseExitCode)
    .option('-n, --namespace <namespace>', 'namespace of objects that name none', 'default')
    .option('--cluster', 'read the cluster objects live from the current kubeconfig context (read-only, once)')
    .option('--kubeconfig <file>', 'read the cluster objects live through this kubeconfig (implies --cluster)')
    .option('--context <name>', 'kubeconfig context to read the cluster objects through (implies --cluster)')
    .option(
      '--user <username>',
      'userInfo.username of the simulated requests (exempt service accounts are not checked by the hotplug rules)',
    )
    .addHelpText('after', EXAMPLES)
    .action(async (paths: string[], raw: Partial<ValidateOptions> & { cluster?: boolean }, command: Command) => {
      const { cluster: clusterFlag, ...rest } = raw;
      const opts: ValidateOptions = {
        ...(rest as ValidateOptions),
        clusterView: !!(clusterFlag || raw.kubeconfig || raw.context),
        filename: [...(raw.filename ?? []), ...paths],
        old: raw.old ?? [],
        objects: raw.objects ?? [],
      };
      if (opts.filename.length === 0)
        return usageError('validate', 'nothing to check; give files or folders with -f (or - for stdin)');
      if (opts.base !== undefined && opts.filename.includes(STDIN)) return usageError('validate', BASE_WITH_STDIN);
      const config = loadConfigForCommand('validate', opts.config, opts.kubevirtVersion);
      if (!config) return;
      if (opts.clusterView) {
        // The Kubernetes client is loaded only for a live cluster view: it is most of a cold start.
        const { contextNamespace, LiveCluster, LiveClusterError } = await import('../cluster/live.js');
        try {
          const live = LiveCluster.connect({ kubeconfig: opts.kubeconfig, context: opts.context });
          // As kubectl apply: objects that name no namespace go to the context's, unless -n says otherwise.
          if (command.getOptionValueSource('namespace') === 'default')
            opts.namespace = contextNamespace(live.kc) ?? opts.namespace;
          // Projected as the webhook's informers keep them: the same view, so the same decisions, and
          // a few hundred bytes per VMI instead of ~10 KB (at 100,000 VMIs 315 MB of RSS instead of 1.35 GB).
          const { projection } = await import('../cluster/projection.js');
          const read = await live.readView(projection());
          for (const m of read.missing)
            process.stderr.write(`nicguard validate: ${m} is not installed in the cluster; read as empty\n`);
          opts.cluster = read.view;
        } catch (err) {
          if (!(err instanceof LiveClusterError)) throw err;
          process.stderr.write(`nicguard validate: ${err.message}\n`);
          process.exitCode = EXIT_BAD_INPUT;
          return;
        }
      }
      const { runValidation } = await import('../offline/run-validation.js');
      const report = runValidation(opts, config);
      // Machine formats usually go to a file: their input errors and notes must still reach the log.
      if (opts.output !== 'text') {
        for (const e of report.errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
        for (const note of reportNotes(report)) process.stderr.write(`nicguard: ${note}\n`);
      }
      process.stdout.write(await formatReport(report, opts.output));
      process.exitCode = exitCodeOf(report, opts.warnExitCode);
    });
  conciseUsageErrors(command);
}

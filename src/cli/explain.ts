// `nicguard explain`: one VM's interfaces as the cluster resolves them (NAD, type, Kube-OVN
// provider and Subnet) and its hotplug budget, so a user can see whether another NIC fits.
import { Option, type Command } from 'commander';
import { withDefaultNamespace } from '../admission/offline.js';
import { indexManifests } from '../cluster/files.js';
import { isIndexedKind, kindOfObject } from '../engine/kinds.js';
import type { KubeObject } from '../engine/types.js';
import { objectRef } from '../engine/vm.js';
import { readBaseVersions } from '../io/git-base.js';
import {
  STDIN,
  displayName,
  formatManifestError,
  loadManifests,
  type LoadedObject,
  type ManifestError,
} from '../io/manifests.js';
import { conciseUsageErrors, usageError } from './usage.js';
import { objectIdentity } from '../admission/offline.js';
import { explainVm, pickVm, type Explanation } from '../offline/explain-model.js';
import { LiveClusterError } from '../cluster/live.js';
import { liveNotes, readLiveExplanation, type LivePicture } from './explain-live.js';
import { EXIT_BAD_INPUT, loadConfigForCommand } from './config-option.js';
import { KUBEVIRT_VERSION_HELP, collect, kubevirtVersionOption } from './options.js';
import { appendAll } from '../engine/values.js';

interface ExplainOptions {
  kubevirtVersion?: string;
  filename?: string[];
  objects: string[];
  old?: string;
  base?: string;
  config?: string;
  namespace?: string;
  output: 'text' | 'json';
  kubeconfig?: string;
  context?: string;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

const BASE_FROM: Record<Explanation['baseFrom'], string> = {
  old: ', from --old',
  vmi: ', from the running VMI',
  self: ', taken as this spec',
};

/**
 * `oldFrom` names where the previous version came from when not --old (e.g. the --base
 * revision); `live` adds what the running VMI reports, for a live read.
 */
function formatExplanation(e: Explanation, oldFrom?: string, live?: LivePicture): string {
  const withChange = e.interfaces.some((i) => i.change);
  const liveByName = new Map((live?.interfaces ?? []).map((i) => [i.name, i]));
  const withLive = live?.interfaces !== undefined;
  const header = [
    'INTERFACE',
    'BINDING',
    'MODEL',
    'STATE',
    'NETWORK',
    'NAD',
    'NAD TYPE',
    'OVN PROVIDER',
    'SUBNET',
    ...(withChange ? ['CHANGE'] : []),
    ...(withLive ? ['LIVE', 'INFO SOURCE'] : []),
  ];
  const rows = e.interfaces.map((i) => [
    i.name || '(unnamed)',
    i.binding,
    i.model ?? '-',
    i.state ?? '-',
    i.network === 'multus' && i.defaultNetwork ? 'multus (default)' : i.network,
    i.nad ? `${i.nad}${i.nadFound ? '' : ' (not found)'}` : '-',
    i.nadType ?? '-',
    i.ovnProvider === undefined ? '-' : i.ovnProvider || '(empty)',
    i.subnets === undefined ? '-' : i.subnets.length ? i.subnets.join(',') : '(none)',
    ...(withChange ? [i.change ?? '-'] : []),
    ...(withLive ? [liveByName.get(i.name)?.state ?? '-', liveByName.get(i.name)?.infoSource ?? '-'] : []),
  ]);
  // Interfaces the VMI still has but the VM spec dropped: only the live picture shows them.
  for (const extra of live?.interfaces ?? []) {
    if (e.interfaces.some((i) => i.name === extra.name)) continue;
    rows.push([
      extra.name,
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      ...(withChange ? ['-'] : []),
      extra.state,
      extra.infoSource ?? '-',
    ]);
  }
  const where = e.object.line > 0 ? `${displayName(e.object.file)}:${e.object.line}` : `live from ${e.object.file}`;
  const b = e.budget;
  const total = b.rootComplex
    ? 'none: kubevirt.io/placePCIDevicesOnRootComplex is "true"'
    : b.notPcie
      ? 'none: the VM is not PCIe (architecture or machine type)'
      : b.model === 'v1'
        ? `T=${b.slotTotal}, less the base`
        : b.model === 'v2'
          ? 'memory-scaled count (KubeVirt v1.6.0-v1.6.3, v1.7.0-v1.7.1)'
          : b.model === 'v3'
            ? `max(0, ${b.slotTotal}` +
              `${b.slotTotalSource === 'annotation' ? ' from kubevirt.io/pci-interface-slot-count' : ''}` +
              ' - base), topped up to the memory-scaled count'
            : 'q35 without KubeVirt reservation: one hotplugged device';
  const m = e.slotModel;
  const version =
    m.setting !== 'auto'
      ? 'set in the configuration'
      : !m.kubevirtVersion
        ? 'KubeVirt version unknown: the tightest of the supported releases'
        : m.versionFollowed === false
          ? `KubeVirt ${m.kubevirtVersion} from the ${m.versionSource}, a release nicguard has not read: the ` +
            'tightest of the releases it follows'
          : `KubeVirt ${m.kubevirtVersion} from the ${m.versionSource}`;
  const perRelease =
    m.models.length > 1
      ? m.models.map(
          (x) => `  ${x.model.padEnd(4)} ${String(x.free).padStart(2)} free  (KubeVirt ${x.kubevirtVersions ?? ''})`,
        )
      : [];
  const lines = [
    `${e.object.kind} ${e.object.namespace}/${e.object.name}  (${where}, ${e.running ? 'running' : 'not running'})`,
    ...(live ? liveNotes(live, e) : []),
    '',
    ...(rows.length ? table([header, ...rows]) : ['(no interfaces)']),
    '',
    `Hotplug budget (slot model ${b.model}; ${version}):`,
    ...perRelease,
    ...table([
      [
        '  base interfaces',
        String(b.base),
        `in the domain when it was last defined (boot or last ` +
          `migration)${e.baseFrom === 'old' && oldFrom ? `, from ${oldFrom}` : BASE_FROM[e.baseFrom]}`,
      ],
      ['  reserved ports', String(b.reserved), total],
      ['  ports in use', String(b.inUse), 'interfaces hotplugged since then, still attached'],
      [
        '  ports free',
        String(b.free),
        b.asked
          ? 'before this change'
          : b.free > 0
            ? `${b.free} more interface${b.free === 1 ? '' : 's'} can be hotplugged`
            : 'a further NIC needs a restart',
      ],
      ...(b.asked
        ? [
            [
              '  asked for',
              String(b.asked),
              `hotplugged by this change (${b.askedInterfaces.join(', ')}): ` +
                (b.asked <= b.free
                  ? `fits, ${b.free - b.asked} port${b.free - b.asked === 1 ? '' : 's'} left`
                  : `${b.asked - b.free} more than fit`),
            ],
          ]
        : []),
      ['  PCI bus slots', `${b.pciUsed} of ${b.pciLimit}`, 'root-bus slots used by devices and hotplug ports'],
    ]),
    ...(b.slotTotalError ? [`  ! ${b.slotTotalError}`] : []),
    ...(live?.interfaces ?? []).filter((i) => i.detail).map((i) => `  ! ${i.name}: ${i.state}: ${i.detail}`),
    '',
  ];
  if (e.findings.length) {
    lines.push('Checks:');
    for (const f of e.findings)
      lines.push(
        `  ${f.action.toUpperCase().padEnd(4)}  ${f.rule}${f.field ? `  ${f.field}` : ''}`,
        `        ${f.message}`,
      );
  } else {
    lines.push('Checks: no findings');
  }
  return lines.join('\n') + '\n';
}

const EXAMPLES = `
Examples:
  # The VM in a file, its NADs and Subnets from a folder
  $ nicguard explain -f examples/new/vm-fedora.yaml --objects examples/cluster

  # A VM from a dump of the cluster (kubectl get vm,vmi,net-attach-def,subnet -A -o yaml)
  $ nicguard explain default/vm-fedora --objects cluster-state/

  # What a change does to the budget: the running version as --old
  $ nicguard explain -f examples/new/vm-fedora.yaml --old examples/old/vm-fedora.yaml --objects examples/cluster

  # ... or the version on the base branch, as validate --base takes it
  $ nicguard explain -f vms/vm-fedora.yaml --base origin/main --objects cluster-state/

  $ nicguard explain -f vm.yaml -o json

  # Live, from the cluster of the current kubectl context (read once, read-only)
  $ nicguard explain vm/vm-fedora -n default
  $ kubectl nicguard explain vm-fedora --context prod
`;

/** The usage problem of a combination of options, if any. */
function optionProblem(files: string[], opts: ExplainOptions): string | undefined {
  if (files.length > 1)
    return (
      `explain shows one VM: give one -f (got ${files.length}: ${files.join(', ')}), or check several with ` +
      `nicguard validate`
    );
  if (opts.base !== undefined && opts.old !== undefined)
    return 'give the previous version with --old or --base, not both';
  if (opts.base !== undefined && (files.length === 0 || files[0] === STDIN)) {
    return (
      '--base takes the previous version of the -f file from git: give the VM with -f FILE (for stdin, render ' +
      'the base to a file and pass --old)'
    );
  }
  return undefined;
}

/** The previous version of the target among `candidates`, by identity (group, kind, namespace, name). */
function previousVersion(
  target: LoadedObject,
  candidates: LoadedObject[],
  defaultNamespace: string,
): KubeObject | undefined {
  const identity = (obj: KubeObject) => objectIdentity(withDefaultNamespace(obj, defaultNamespace), defaultNamespace);
  const wanted = identity(target.object);
  return candidates.find((o) => !o.review && identity(o.object) === wanted)?.object;
}

export function registerExplain(program: Command): void {
  const command = program
    .command('explain')
    .description(
      "Show a VM's interfaces (binding, model, state, network, NAD, NAD type, Kube-OVN provider and Subnet) " +
        'and its hotplug budget',
    )
    .argument(
      '[name]',
      'VM or VMI to explain: name or namespace/name (needed when the input holds several); live also vm/NAME, vmi/NAME',
    )
    .option(
      '-f, --filename <path>',
      'file or folder holding the VM (- for stdin); without it the VM is taken from --objects or the cluster',
      collect,
    )
    .option('--objects <dir>', 'cluster objects: NADs, Subnets, VMIs, KubeVirt CR (repeatable)', collect)
    .option(
      '--old <path>',
      'the VM as it runs now (as last defined): base count and hotplugged interfaces are measured against it',
    )
    .option(
      '--base <git-ref>',
      "take the VM's previous version from this git revision of its -f file (e.g. origin/main), instead of --old",
    )
    .option('-c, --config <file>', 'policy configuration (slot model, slot counts)')
    .option('--kubevirt-version <version>', KUBEVIRT_VERSION_HELP, kubevirtVersionOption)
    .option('-n, --namespace <namespace>', "namespace of the VM (live: default the context's)")
    .option('--kubeconfig <file>', 'read the VM and the cluster view live through this kubeconfig')
    .option('--context <name>', 'kubeconfig context to read live through')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', EXAMPLES)
    .action(async (name: string | undefined, opts: ExplainOptions) => {
      const objects = opts.objects ?? [];
      const files = opts.filename ?? [];
      const problem = optionProblem(files, opts);
      if (problem) return usageError('explain', problem);
      const filename = files[0];
      // A name and no files: the cluster is the input, as for kubectl.
      const liveRead = !!(opts.kubeconfig || opts.context) || (!!name && !filename && objects.length === 0);
      if (!liveRead && !filename && objects.length === 0) {
        return usageError(
          'explain',
          'give the VM with -f FILE, or a folder of cluster objects with --objects DIR, or name it to read it from ' +
            'the cluster (nicguard explain vm/NAME)',
        );
      }
      if (liveRead && (objects.length || opts.old || opts.base)) {
        return usageError(
          'explain',
          '--objects, --old and --base are for files; a live read takes the VMI and cluster view from the cluster',
        );
      }
      const config = loadConfigForCommand('explain', opts.config, opts.kubevirtVersion);
      if (!config) return;
      if (liveRead) {
        try {
          const read = await readLiveExplanation(name, { ...opts, filename }, config);
          if (typeof read === 'string') {
            process.stderr.write(`nicguard explain: ${read}\n`);
            process.exitCode = EXIT_BAD_INPUT;
            return;
          }
          const { explanation, live } = read;
          process.stdout.write(
            opts.output === 'json'
              ? JSON.stringify({ ...explanation, live }, null, 2) + '\n'
              : formatExplanation(explanation, undefined, live),
          );
          process.exitCode = 0;
          return;
        } catch (err) {
          if (!(err instanceof LiveClusterError)) throw err;
          process.stderr.write(`nicguard explain: ${err.message}\n`);
          process.exitCode = EXIT_BAD_INPUT;
          return;
        }
      }
      // Objects that name no namespace take -n, as in `validate`.
      const defaultNamespace = opts.namespace ?? 'default';
      const errors: ManifestError[] = [];
      const clusterLoad = loadManifests(objects);
      const cluster = indexManifests(clusterLoad);
      appendAll(errors, cluster.errors);
      const input = filename ? loadManifests([filename]) : clusterLoad;
      if (filename) {
        appendAll(errors, input.errors);
        // NADs and Subnets next to the VM count as part of the cluster, as in `validate`.
        for (const o of input.objects) {
          const kind = o.review ? undefined : kindOfObject(o.object);
          if (isIndexedKind(kind) && kind !== 'VirtualMachineInstance')
            cluster.view.upsert(withDefaultNamespace(o.object, defaultNamespace), kind);
        }
      }
      for (const e of errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
      const target = pickVm(input.objects, name, opts.namespace, defaultNamespace);
      if (typeof target === 'string') {
        process.stderr.write(
          `nicguard explain: ${target} in ${filename ? displayName(filename) : objects.join(', ')}\n`,
        );
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      let old: KubeObject | undefined;
      if (opts.old) {
        const oldLoad = loadManifests([opts.old]);
        for (const e of oldLoad.errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
        appendAll(errors, oldLoad.errors);
        old = previousVersion(target, oldLoad.objects, defaultNamespace);
        if (!old) {
          process.stderr.write(
            `nicguard explain: ${objectRef(String(target.object.kind), target.object)} is not in ${opts.old}\n`,
          );
          process.exitCode = EXIT_BAD_INPUT;
          return;
        }
      } else if (opts.base) {
        const base = readBaseVersions(input.files, opts.base);
        for (const e of base.errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
        appendAll(errors, base.errors);
        old = previousVersion(target, base.objects, defaultNamespace);
        // A VM new on this branch has no previous version: explained as new, and said so.
        if (!old && !base.errors.length) {
          process.stderr.write(
            `nicguard explain: ${objectRef(String(target.object.kind), target.object)} is not at ${opts.base}: ` +
              `explained as a new VM\n`,
          );
        }
      }
      const explanation = explainVm(target, old, cluster.view, config, defaultNamespace);
      process.stdout.write(
        opts.output === 'json'
          ? JSON.stringify(explanation, null, 2) + '\n'
          : formatExplanation(explanation, opts.base),
      );
      process.exitCode = errors.length ? EXIT_BAD_INPUT : 0;
    });
  conciseUsageErrors(command);
}

// `nicguard explain`: one VM's interfaces as the cluster resolves them (NAD, type, Kube-OVN
// provider and Subnet) and its hotplug budget, so a user can see whether another NIC fits.
import { Option, type Command } from 'commander';
import { withDefaultNamespace } from '../admission/offline.js';
import { indexManifests } from '../cluster/files.js';
import { isIndexedKind, kindOfObject } from '../engine/kinds.js';
import type { KubeObject } from '../engine/types.js';
import { objectRef } from '../engine/vm.js';
import { displayName, formatManifestError, loadManifests, type ManifestError } from '../io/manifests.js';
import { objectIdentity } from '../admission/offline.js';
import { explainVm, pickVm, type Explanation } from '../offline/explain-model.js';
import { contextNamespace, LiveCluster, LiveClusterError } from '../cluster/live.js';
import type { ObjectIndex } from '../cluster/object-index.js';
import { KIND_FACTS, type VmKind } from '../engine/kinds.js';
import type { PolicyConfig } from '../engine/types.js';
import { dig, stringOf } from '../engine/values.js';
import { viewVm } from '../engine/vm.js';
import { liveInterfaces, type LiveInterface } from '../offline/audit.js';
import type { LoadedObject } from '../io/manifests.js';
import { EXIT_BAD_INPUT, loadConfigForCommand } from './config-option.js';
import { collect } from './options.js';

interface ExplainOptions {
  filename?: string;
  objects: string[];
  old?: string;
  config?: string;
  namespace?: string;
  output: 'text' | 'json';
  kubeconfig?: string;
  context?: string;
}

/** What only a live read knows: where it came from and the VMI's own account of each interface. */
interface LivePicture {
  server: string;
  context: string;
  kubevirtVersion?: string;
  vmiPhase?: string;
  /** From the VMI's spec and status.interfaces; absent when the VM is not running. */
  interfaces?: LiveInterface[];
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

function formatExplanation(e: Explanation, live?: LivePicture): string {
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
    : b.model === 'v1'
      ? `T=${b.slotTotal}${b.slotTotalSource === 'annotation' ? ' from kubevirt.io/pci-interface-slot-count' : ''}, less the base`
      : b.model === 'v2'
        ? 'memory-based count of KubeVirt v1.6-v1.8'
        : 'q35 without KubeVirt reservation: one hotplugged device';
  const lines = [
    `${e.object.kind} ${e.object.namespace}/${e.object.name}  (${where}, ${e.running ? 'running' : 'not running'})`,
    ...(live ? liveHeader(live, e) : []),
    '',
    ...(rows.length ? table([header, ...rows]) : ['(no interfaces)']),
    '',
    `Hotplug budget (slot model ${b.model}):`,
    ...table([
      [
        '  base interfaces',
        String(b.base),
        `in the domain when it was last defined (boot or last migration)${BASE_FROM[e.baseFrom]}`,
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
              `hotplugged by this change (${b.askedInterfaces.join(', ')}): ${b.asked <= b.free ? `fits, ${b.free - b.asked} port${b.free - b.asked === 1 ? '' : 's'} left` : `${b.asked - b.free} more than fit`}`,
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

/** The KubeVirt version, and whether the configured slot model fits it (docs/rules.md#hotplug-slots). */
function liveHeader(live: LivePicture, e: Explanation): string[] {
  const lines = [
    `  context ${live.context || '(current)'}, VMI ${live.vmiPhase ?? 'none'}, KubeVirt ${live.kubevirtVersion ?? 'version unknown'}`,
  ];
  const [major, minor] = (live.kubevirtVersion ?? '').replace(/^v/, '').split('.').map(Number);
  if (e.budget.model === 'v1' && (major > 1 || (major === 1 && minor >= 6))) {
    lines.push(
      '  slot model v1 is a lower bound here: KubeVirt v1.6 and later reserve by memory (slotModel: v2 in --config)',
    );
  }
  return lines;
}

/** Aliases kubectl knows for the two kinds, as in `kubectl get vm/NAME`. */
const KIND_ALIASES: Record<string, VmKind> = {};
for (const kind of ['VirtualMachine', 'VirtualMachineInstance'] as const) {
  const { plural, group } = KIND_FACTS[kind];
  const short = kind === 'VirtualMachine' ? 'vm' : 'vmi';
  for (const alias of [
    short,
    `${short}s`,
    kind.toLowerCase(),
    plural,
    `${plural}.${group}`,
    `${kind.toLowerCase()}.${group}`,
  ])
    KIND_ALIASES[alias] = kind;
}

/** `vm/NAME`, `vmi/NAME`, `NAMESPACE/NAME` or `NAME`. */
export function parseLiveTarget(arg: string, namespace: string): { kind?: VmKind; namespace: string; name: string } {
  const slash = arg.indexOf('/');
  if (slash < 0) return { namespace, name: arg };
  const head = arg.slice(0, slash);
  const kind = KIND_ALIASES[head.toLowerCase()];
  return kind ? { kind, namespace, name: arg.slice(slash + 1) } : { namespace: head, name: arg.slice(slash + 1) };
}

async function readLiveTarget(live: LiveCluster, arg: string, namespace: string): Promise<LoadedObject | string> {
  const want = parseLiveTarget(arg, namespace);
  const kinds: VmKind[] = want.kind ? [want.kind] : ['VirtualMachine', 'VirtualMachineInstance'];
  for (const kind of kinds) {
    const object = await live.get(kind, want.namespace, want.name);
    if (object) {
      return {
        object,
        source: { file: live.server, line: 0, column: 0, document: 0 },
        locate: () => ({ line: 0, column: 0 }),
      };
    }
  }
  return `no ${kinds.join(' or ')} ${want.namespace}/${want.name} in the cluster at ${live.server}`;
}

function livePicture(live: LiveCluster, target: KubeObject, view: ObjectIndex, namespace: string): LivePicture {
  const kind = kindOfObject(target) as VmKind;
  const name = stringOf(target.metadata?.name) ?? '';
  const ns = stringOf(target.metadata?.namespace) ?? namespace;
  const vmi = kind === 'VirtualMachineInstance' ? target : view.getVirtualMachineInstance(ns, name);
  const version = stringOf(dig(view.getKubeVirt(), 'status', 'observedKubeVirtVersion'));
  const phase = stringOf(dig(vmi, 'status', 'phase'));
  return {
    server: live.server,
    context: live.kc.getCurrentContext(),
    ...(version ? { kubevirtVersion: version } : {}),
    ...(phase ? { vmiPhase: phase } : {}),
    ...(vmi
      ? { interfaces: liveInterfaces(kind === 'VirtualMachine' ? viewVm(target, kind, ns) : undefined, vmi) }
      : {}),
  };
}

/** `explain` against the live cluster: the VM (from the cluster or -f) and the cluster view, read once. */
async function explainLive(name: string | undefined, opts: ExplainOptions, config: PolicyConfig): Promise<void> {
  const live = LiveCluster.connect({ kubeconfig: opts.kubeconfig, context: opts.context });
  const namespace = opts.namespace ?? contextNamespace(live.kc) ?? 'default';
  let target: LoadedObject | string;
  if (opts.filename) {
    const input = loadManifests([opts.filename]);
    for (const e of input.errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
    target = pickVm(input.objects, name, opts.namespace, namespace);
  } else if (!name) {
    target = 'name the VM: nicguard explain vm/NAME (or NAME, or NAMESPACE/NAME)';
  } else {
    target = await readLiveTarget(live, name, namespace);
  }
  if (typeof target === 'string') {
    process.stderr.write(`nicguard explain: ${target}\n`);
    process.exitCode = EXIT_BAD_INPUT;
    return;
  }
  const { view, missing } = await live.readView();
  for (const m of missing)
    process.stderr.write(`nicguard explain: ${m} is not installed in the cluster; read as empty\n`);
  const explanation = explainVm(target, undefined, view, config, namespace);
  const picture = livePicture(live, withDefaultNamespace(target.object, namespace), view, namespace);
  process.stdout.write(
    opts.output === 'json'
      ? JSON.stringify({ ...explanation, live: picture }, null, 2) + '\n'
      : formatExplanation(explanation, picture),
  );
  process.exitCode = 0;
}

const EXAMPLES = `
Examples:
  # The VM in a file, its NADs and Subnets from a folder
  $ nicguard explain -f examples/new/vm-fedora.yaml --objects examples/cluster

  # A VM from a dump of the cluster (kubectl get vm,vmi,net-attach-def,subnet -A -o yaml)
  $ nicguard explain default/vm-fedora --objects cluster-state/

  # What a change does to the budget: the running version as --old
  $ nicguard explain -f examples/new/vm-fedora.yaml --old examples/old/vm-fedora.yaml --objects examples/cluster

  $ nicguard explain -f vm.yaml -o json

  # Live, from the cluster of the current kubectl context (read once, read-only)
  $ nicguard explain vm/vm-fedora -n default
  $ kubectl nicguard explain vm-fedora --context prod
`;

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description(
      "Show a VM's interfaces (binding, model, state, network, NAD, NAD type, Kube-OVN provider and Subnet) and its hotplug budget",
    )
    .argument('[name]', 'VM or VMI to explain: name or namespace/name (needed when the input holds several)')
    .option(
      '-f, --filename <path>',
      'file or folder holding the VM (- for stdin); without it the VM is taken from --objects or the cluster',
    )
    .option('--objects <dir>', 'cluster objects: NADs, Subnets, VMIs, KubeVirt CR (repeatable)', collect)
    .option(
      '--old <path>',
      'the VM as it runs now (as last defined): base count and hotplugged interfaces are measured against it',
    )
    .option('-c, --config <file>', 'policy configuration (slot model, slot counts)')
    .option('-n, --namespace <namespace>', "namespace of the VM (live: default the context's)")
    .option('--kubeconfig <file>', 'read the VM and the cluster view live through this kubeconfig')
    .option('--context <name>', 'kubeconfig context to read live through')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', EXAMPLES)
    .action(async (name: string | undefined, opts: ExplainOptions) => {
      const objects = opts.objects ?? [];
      // A name and no files: the cluster is the input, as for kubectl.
      const liveRead = !!(opts.kubeconfig || opts.context) || (!!name && !opts.filename && objects.length === 0);
      if (!liveRead && !opts.filename && objects.length === 0) {
        process.stderr.write(
          'nicguard explain: give the VM with -f FILE, or a folder of cluster objects with --objects DIR, ' +
            'or name it to read it from the cluster (nicguard explain vm/NAME)\n',
        );
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      if (liveRead && (objects.length || opts.old)) {
        process.stderr.write(
          'nicguard explain: --objects and --old are for files; a live read takes the VMI and cluster view from the cluster\n',
        );
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      const config = loadConfigForCommand('explain', opts.config);
      if (!config) return;
      if (liveRead) {
        try {
          return await explainLive(name, opts, config);
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
      errors.push(...cluster.errors);
      const input = opts.filename ? loadManifests([opts.filename]) : clusterLoad;
      if (opts.filename) {
        errors.push(...input.errors);
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
          `nicguard explain: ${target} in ${opts.filename ? displayName(opts.filename) : objects.join(', ')}\n`,
        );
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      let old: KubeObject | undefined;
      if (opts.old) {
        const oldLoad = loadManifests([opts.old]);
        for (const e of oldLoad.errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
        errors.push(...oldLoad.errors);
        const identity = (obj: KubeObject) =>
          objectIdentity(withDefaultNamespace(obj, defaultNamespace), defaultNamespace);
        const wantedIdentity = identity(target.object);
        const match = oldLoad.objects.find((o) => !o.review && identity(o.object) === wantedIdentity);
        if (!match) {
          process.stderr.write(
            `nicguard explain: ${objectRef(String(target.object.kind), target.object)} is not in ${opts.old}\n`,
          );
          process.exitCode = EXIT_BAD_INPUT;
          return;
        }
        old = match.object;
      }
      const explanation = explainVm(target, old, cluster.view, config, defaultNamespace);
      process.stdout.write(
        opts.output === 'json' ? JSON.stringify(explanation, null, 2) + '\n' : formatExplanation(explanation),
      );
      process.exitCode = errors.length ? EXIT_BAD_INPUT : 0;
    });
}

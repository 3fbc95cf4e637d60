// `nicguard explain`: one VM's interfaces as the cluster resolves them (NAD, type, Kube-OVN
// provider and Subnet) and its hotplug budget, so a user can see whether another NIC fits.
import { Option, type Command } from 'commander';
import { indexManifests } from '../cluster/files.js';
import type { ObjectIndex } from '../cluster/object-index.js';
import { evaluate, supportedKind } from '../engine/evaluate.js';
import { analyzeNad, boundProvider } from '../engine/nad.js';
import { slotBudget, vmiAnnotations, type SlotBudget } from '../engine/pci-topology.js';
import type { Finding, KubeObject, PolicyConfig, PolicyRequest } from '../engine/types.js';
import { hotpluggedInterfaces, isRunning, objectRef, unpluggedInterfaces, viewVm, type InterfaceView, type VmView } from '../engine/vm.js';
import { displayName, formatManifestError, loadManifests, type LoadedObject, type ManifestError } from '../io/manifests.js';
import { REPORT_API_VERSION } from './format/json.js';
import { EXIT_BAD_INPUT, loadConfigForCommand } from './config-option.js';

export interface InterfaceExplanation {
  name: string;
  binding: string;
  model?: string;
  state?: string;
  /** `pod`, `multus`, or what is wrong with the network (`none`, `multiple`, `missing`). */
  network: string;
  /** multus `default: true`: the VM's primary network. */
  defaultNetwork: boolean;
  /** `namespace/name` of the NAD a multus network resolves to. */
  nad?: string;
  nadFound?: boolean;
  nadType?: string;
  ovnProvider?: string;
  subnets?: string[];
  /** Against --old or the running VMI: `added` (hotplugged), `unplugged`, or unset. */
  change?: 'added' | 'unplugged';
}

export interface Explanation {
  apiVersion: string;
  kind: 'Explanation';
  object: { kind: string; namespace: string; name: string; file: string; line: number };
  running: boolean;
  /** What the budget is measured against: --old, the running VMI from --objects, or the object itself. */
  baseFrom: 'old' | 'vmi' | 'self';
  interfaces: InterfaceExplanation[];
  /** slotBudget's answer, with the hotplugged interfaces by name. */
  budget: Omit<SlotBudget, 'askedInterfaces'> & { askedInterfaces: string[] };
  /** What `nicguard validate` would say about this object (CREATE, or UPDATE against --old). */
  findings: Finding[];
}

interface ExplainOptions {
  filename?: string;
  objects: string[];
  old?: string;
  config?: string;
  namespace?: string;
  output: 'text' | 'json';
}

const VM_KINDS = new Set(['VirtualMachine', 'VirtualMachineInstance']);

function explainInterface(iface: InterfaceView, cluster: ObjectIndex): InterfaceExplanation {
  const net = iface.network;
  const out: InterfaceExplanation = {
    name: iface.name,
    binding: iface.binding === 'binding' ? `plugin:${iface.pluginName ?? ''}` : iface.binding,
    ...(iface.model ? { model: iface.model } : {}),
    ...(iface.state ? { state: iface.state } : {}),
    network: net ? net.source : 'missing',
    defaultNetwork: !!net?.isMultusDefault,
  };
  if (!net?.nad) return out;
  out.nad = `${net.nad.namespace}/${net.nad.name}`;
  const nad = cluster.getNetworkAttachmentDefinition(net.nad.namespace, net.nad.name);
  out.nadFound = !!nad;
  if (!nad) return out;
  const analysis = analyzeNad(nad);
  out.nadType = analysis.parsed.error ? `(${analysis.parsed.error})` : analysis.type;
  // The provider Kube-OVN binds Subnets by; ovn-provider reports a config that disagrees.
  const provider = boundProvider(nad);
  if (provider) {
    out.ovnProvider = provider;
    out.subnets = cluster.findSubnetsByProvider(provider).map((s) => s.metadata?.name ?? '');
  }
  return out;
}

function markChanges(interfaces: InterfaceExplanation[], vm: VmView, oldVm: VmView | undefined): void {
  if (!oldVm) return;
  const added = new Set(hotpluggedInterfaces(oldVm, vm).map((i) => i.name));
  const unplugged = new Set(unpluggedInterfaces(oldVm, vm).map((u) => u.old.name));
  for (const i of interfaces) {
    if (added.has(i.name)) i.change = 'added';
    else if (unplugged.has(i.name)) i.change = 'unplugged';
  }
}

/** `name` or `namespace/name`; namespace from the argument beats -n. */
function wanted(arg: string | undefined, namespace: string | undefined): { namespace?: string; name?: string } {
  if (!arg) return { namespace };
  const slash = arg.indexOf('/');
  return slash < 0 ? { namespace, name: arg } : { namespace: arg.slice(0, slash), name: arg.slice(slash + 1) };
}

function pickVm(candidates: LoadedObject[], arg: string | undefined, namespace: string | undefined): LoadedObject | string {
  const want = wanted(arg, namespace);
  const vms = candidates.filter((c) => !c.review && VM_KINDS.has(c.object.kind ?? '') && supportedKind(c.object.kind, undefined, c.object.apiVersion));
  const matches = vms.filter(
    (c) =>
      (want.name === undefined || c.object.metadata?.name === want.name) &&
      (want.namespace === undefined || (c.object.metadata?.namespace ?? 'default') === want.namespace),
  );
  const names = (list: LoadedObject[]) => list.map((c) => objectRef(c.object.kind ?? '', c.object)).join(', ');
  if (matches.length === 0) {
    const what = want.name ? `no VirtualMachine or VirtualMachineInstance ${want.namespace ? `${want.namespace}/` : ''}${want.name}` : 'no VirtualMachine or VirtualMachineInstance';
    return `${what} found${vms.length ? `; found ${names(vms)}` : ''}`;
  }
  // A dump of a namespace holds both the VM and its VMI: the VM is what users edit.
  const vmsOnly = matches.filter((c) => c.object.kind === 'VirtualMachine');
  const chosen = vmsOnly.length ? vmsOnly : matches;
  if (chosen.length > 1) {
    const where = chosen.map((c) => `${objectRef(c.object.kind ?? '', c.object)} (${displayName(c.source.file)}:${c.source.line})`).join(', ');
    return `several match, name one (namespace/name) or give a single file: ${where}`;
  }
  return chosen[0];
}

export function explainVm(target: LoadedObject, old: KubeObject | undefined, cluster: ObjectIndex, config: PolicyConfig): Explanation {
  const kind = target.object.kind as 'VirtualMachine' | 'VirtualMachineInstance';
  const namespace = target.object.metadata?.namespace ?? 'default';
  const object: KubeObject = { ...target.object, metadata: { ...(target.object.metadata ?? {}), namespace } };
  const vm = viewVm(object, kind, namespace)!;
  // The running VMI, where the cluster has one, knows the domain best (as for the slots rule);
  // a VM interface it lacks is a hotplug still pending.
  const vmi = kind === 'VirtualMachine' ? cluster.getVirtualMachineInstance(namespace, vm.name) : undefined;
  const baseFrom: Explanation['baseFrom'] = old ? 'old' : vmi ? 'vmi' : 'self';
  const oldVm = old ? viewVm(old, kind, namespace) : vmi ? viewVm(vmi, 'VirtualMachineInstance', namespace) : undefined;
  const interfaces = vm.interfaces.map((i) => explainInterface(i, cluster));
  markChanges(interfaces, vm, oldVm);
  const annotations = vmi ? vmiAnnotations(vmi, 'VirtualMachineInstance') : vmiAnnotations(old ?? object, kind);
  const budget = slotBudget(vm, oldVm, config, { annotations, ...(vmi ? { vmi } : {}) });
  const request: PolicyRequest = {
    operation: old ? 'UPDATE' : 'CREATE',
    kind,
    group: 'kubevirt.io',
    namespace,
    name: vm.name,
    object,
    ...(old ? { oldObject: old } : {}),
    dryRun: true,
  };
  return {
    apiVersion: REPORT_API_VERSION,
    kind: 'Explanation',
    object: { kind, namespace, name: vm.name, file: target.source.file, line: target.source.line },
    baseFrom,
    running: isRunning(kind, old ?? object, cluster),
    interfaces,
    budget: { ...budget, askedInterfaces: budget.askedInterfaces.map((i) => i.name) },
    findings: evaluate(request, cluster, config, 'both').findings,
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

const BASE_FROM: Record<Explanation['baseFrom'], string> = {
  old: ', from --old',
  vmi: ', from the running VMI',
  self: ', taken as this spec',
};

export function formatExplanation(e: Explanation): string {
  const withChange = e.interfaces.some((i) => i.change);
  const header = ['INTERFACE', 'BINDING', 'MODEL', 'STATE', 'NETWORK', 'NAD', 'NAD TYPE', 'OVN PROVIDER', 'SUBNET', ...(withChange ? ['CHANGE'] : [])];
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
  ]);
  const b = e.budget;
  const total = b.rootComplex
    ? 'none: kubevirt.io/placePCIDevicesOnRootComplex is "true"'
    : b.model === 'v1'
      ? `T=${b.slotTotal}${b.slotTotalSource === 'annotation' ? ' from kubevirt.io/pci-interface-slot-count' : ''}, less the base`
      : b.model === 'v2'
        ? 'memory-based count of KubeVirt v1.6-v1.8'
        : 'q35 without KubeVirt reservation: one hotplugged device';
  const lines = [
    `${e.object.kind} ${e.object.namespace}/${e.object.name}  (${displayName(e.object.file)}:${e.object.line}, ${e.running ? 'running' : 'not running'})`,
    '',
    ...(rows.length ? table([header, ...rows]) : ['(no interfaces)']),
    '',
    `Hotplug budget (slot model ${b.model}):`,
    ...table([
      ['  base interfaces', String(b.base), `in the domain when it was last defined (boot or last migration)${BASE_FROM[e.baseFrom]}`],
      ['  reserved ports', String(b.reserved), total],
      ['  ports in use', String(b.inUse), 'interfaces hotplugged since then, still attached'],
      ['  ports free', String(b.free), b.asked ? 'before this change' : b.free > 0 ? `${b.free} more interface${b.free === 1 ? '' : 's'} can be hotplugged` : 'a further NIC needs a restart'],
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
    '',
  ];
  if (e.findings.length) {
    lines.push('Checks:');
    for (const f of e.findings) lines.push(`  ${f.action.toUpperCase().padEnd(4)}  ${f.rule}${f.field ? `  ${f.field}` : ''}`, `        ${f.message}`);
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

  $ nicguard explain -f vm.yaml -o json
`;

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description("Show a VM's interfaces (binding, model, state, network, NAD, NAD type, Kube-OVN provider and Subnet) and its hotplug budget")
    .argument('[name]', 'VM or VMI to explain: name or namespace/name (needed when the input holds several)')
    .option('-f, --filename <path>', 'file or folder holding the VM (- for stdin); without it the VM is taken from --objects')
    .option('--objects <dir>', 'cluster objects: NADs, Subnets, VMIs, KubeVirt CR (repeatable)', (v: string, p: string[] | undefined) => [...(p ?? []), v])
    .option('--old <path>', 'the VM as it runs now (as last defined): base count and hotplugged interfaces are measured against it')
    .option('-c, --config <file>', 'policy configuration (slot model, slot counts)')
    .option('-n, --namespace <namespace>', 'namespace of the VM')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', EXAMPLES)
    .action((name: string | undefined, opts: ExplainOptions) => {
      const objects = opts.objects ?? [];
      if (!opts.filename && objects.length === 0) {
        process.stderr.write('nicguard explain: give the VM with -f FILE, or a folder of cluster objects with --objects DIR\n');
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      const config = loadConfigForCommand('explain', opts.config);
      if (!config) return;
      const errors: ManifestError[] = [];
      const clusterLoad = loadManifests(objects);
      const cluster = indexManifests(clusterLoad);
      errors.push(...cluster.errors);
      const input = opts.filename ? loadManifests([opts.filename]) : clusterLoad;
      if (opts.filename) {
        errors.push(...input.errors);
        // NADs and Subnets next to the VM count as part of the cluster, as in `validate`.
        for (const o of input.objects) {
          if (o.review || o.object.kind === 'VirtualMachineInstance') continue;
          const ns = o.object.metadata?.namespace ?? (o.object.kind === 'Subnet' ? undefined : opts.namespace ?? 'default');
          cluster.view.upsert(ns ? { ...o.object, metadata: { ...o.object.metadata, namespace: ns } } : o.object);
        }
      }
      for (const e of errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
      const target = pickVm(input.objects, name, opts.namespace);
      if (typeof target === 'string') {
        process.stderr.write(`nicguard explain: ${target} in ${opts.filename ? displayName(opts.filename) : objects.join(', ')}\n`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      let old: KubeObject | undefined;
      if (opts.old) {
        const oldLoad = loadManifests([opts.old]);
        for (const e of oldLoad.errors) process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);
        errors.push(...oldLoad.errors);
        const match = oldLoad.objects.find(
          (o) =>
            o.object.kind === target.object.kind &&
            o.object.metadata?.name === target.object.metadata?.name &&
            (o.object.metadata?.namespace ?? 'default') === (target.object.metadata?.namespace ?? 'default'),
        );
        if (!match) {
          process.stderr.write(`nicguard explain: ${objectRef(target.object.kind ?? '', target.object)} is not in ${opts.old}\n`);
          process.exitCode = EXIT_BAD_INPUT;
          return;
        }
        old = match.object;
      }
      const explanation = explainVm(target, old, cluster.view, config);
      process.stdout.write(opts.output === 'json' ? JSON.stringify(explanation, null, 2) + '\n' : formatExplanation(explanation));
      process.exitCode = errors.length ? EXIT_BAD_INPUT : 0;
    });
}

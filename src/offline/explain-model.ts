// The model behind `nicguard explain`: one VM's interfaces as the cluster resolves them
// (NAD, type, Kube-OVN provider and Subnet), its hotplug budget, and what validation says
// about it. Rendering is the CLI's (src/cli/explain.ts).
import { offlineRequest, withDefaultNamespace } from '../admission/offline.js';
import type { ObjectIndex } from '../cluster/object-index.js';
import { evaluate } from '../engine/evaluate.js';
import { isVmKind, kindOfObject, type VmKind } from '../engine/kinds.js';
import { analyzeNad, boundProvider } from '../engine/nad.js';
import { describeVersions, formatVersion, knownKubeVirtVersion } from '../engine/kubevirt-version.js';
import { reservationRulesToJudge, slotBudget, type SlotBudget } from '../engine/pci-topology.js';
import type { Finding, KubeObject, PolicyConfig } from '../engine/types.js';
import { stringOf } from '../engine/values.js';
import {
  hotpluggedInterfaces,
  isRunning,
  objectRef,
  unpluggedInterfaces,
  viewVm,
  vmiAnnotationsOf,
  type InterfaceView,
  type VmView,
} from '../engine/vm.js';
import { displayName, type LoadedObject } from '../io/manifests.js';

export const EXPLANATION_API_VERSION = 'nicguard.io/v1alpha1';

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

export interface SlotModelExplanation {
  /** The configuration's slotModel (`auto` follows the KubeVirt version). */
  setting: string;
  kubevirtVersion?: string;
  versionSource?: string;
  /** False for a release nicguard has not read: it is weighed as every followed release, as an unknown one. */
  versionFollowed?: boolean;
  models: { model: string; kubevirtVersions?: string; reserved: number; free: number }[];
}

export interface Explanation {
  apiVersion: string;
  kind: 'Explanation';
  object: { kind: string; namespace: string; name: string; file: string; line: number };
  running: boolean;
  /** What the budget is measured against: --old, the running VMI from --objects, or the object itself. */
  baseFrom: 'old' | 'vmi' | 'self';
  interfaces: InterfaceExplanation[];
  /** The reservation rules weighed: the configured model, the known version's, or one per release family. */
  slotModel: SlotModelExplanation;
  /** slotBudget's answer (the tightest of the rules weighed), with the hotplugged interfaces by name. */
  budget: Omit<SlotBudget, 'askedInterfaces'> & { askedInterfaces: string[] };
  /** What `nicguard validate` would say about this object (CREATE, or UPDATE against --old). */
  findings: Omit<Finding, 'fieldPath'>[];
}

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
    out.subnets = cluster.findSubnetsByProvider(provider).map((s) => stringOf(s.metadata?.name) ?? '');
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

/**
 * The VM or VMI to explain among `candidates`, or what went wrong. Objects without a
 * namespace take `defaultNamespace`, as `validate -n` gives them.
 */
export function pickVm(
  candidates: LoadedObject[],
  arg: string | undefined,
  namespace: string | undefined,
  defaultNamespace: string,
): LoadedObject | string {
  const want = wanted(arg, namespace);
  const vms = candidates.filter((c) => !c.review && isVmKind(kindOfObject(c.object)));
  const matches = vms.filter((c) => {
    const meta = withDefaultNamespace(c.object, defaultNamespace).metadata;
    return (
      (want.name === undefined || meta?.name === want.name) &&
      (want.namespace === undefined || meta?.namespace === want.namespace)
    );
  });
  const names = (list: LoadedObject[]) => list.map((c) => objectRef(String(c.object.kind), c.object)).join(', ');
  if (matches.length === 0) {
    const what = want.name
      ? `no VirtualMachine or VirtualMachineInstance ${want.namespace ? `${want.namespace}/` : ''}${want.name}`
      : 'no VirtualMachine or VirtualMachineInstance';
    return `${what} found${vms.length ? `; found ${names(vms)}` : ''}`;
  }
  // A dump of a namespace holds both the VM and its VMI: the VM is what users edit.
  const vmsOnly = matches.filter((c) => c.object.kind === 'VirtualMachine');
  const chosen = vmsOnly.length ? vmsOnly : matches;
  if (chosen.length > 1) {
    const where = chosen
      .map((c) => `${objectRef(String(c.object.kind), c.object)} (${displayName(c.source.file)}:${c.source.line})`)
      .join(', ');
    return `several match, name one (namespace/name) or give a single file: ${where}`;
  }
  return chosen[0];
}

export function explainVm(
  target: LoadedObject,
  old: KubeObject | undefined,
  cluster: ObjectIndex,
  config: PolicyConfig,
  defaultNamespace: string,
): Explanation {
  const object = withDefaultNamespace(target.object, defaultNamespace);
  const kind = kindOfObject(object) as VmKind;
  const namespace = stringOf(object.metadata?.namespace) ?? defaultNamespace;
  const vm = viewVm(object, kind, namespace);
  // The running VMI, where the cluster has one, knows the domain best (as for the slots rule);
  // a VM interface it lacks is a hotplug still pending.
  const vmi = kind === 'VirtualMachine' ? cluster.getVirtualMachineInstance(namespace, vm.name) : undefined;
  const baseFrom: Explanation['baseFrom'] = old ? 'old' : vmi ? 'vmi' : 'self';
  const oldVm = old ? viewVm(old, kind, namespace) : vmi ? viewVm(vmi, 'VirtualMachineInstance', namespace) : undefined;
  const interfaces = vm.interfaces.map((i) => explainInterface(i, cluster));
  markChanges(interfaces, vm, oldVm);
  const annotations = vmi ? vmiAnnotationsOf(vmi, 'VirtualMachineInstance') : vmiAnnotationsOf(old ?? object, kind);
  // Under each reservation rule that may apply; the budget shown is the tightest, and
  // `slotModel` says which rules were weighed and where the KubeVirt version came from.
  const known = knownKubeVirtVersion(config, cluster);
  const budgets = reservationRulesToJudge(config, known).map((choice) => ({
    choice,
    budget: slotBudget(vm, oldVm, choice.rule, config, { annotations, ...(vmi ? { vmi } : {}) }),
  }));
  const budget = budgets.reduce((a, b) => (b.budget.free < a.budget.free ? b : a)).budget;
  const slotModel: SlotModelExplanation = {
    setting: config.slotModel,
    ...(known
      ? { kubevirtVersion: formatVersion(known.version), versionSource: known.source, versionFollowed: known.followed }
      : {}),
    models: budgets.map(({ choice, budget: b }) => ({
      model: b.model,
      ...(choice.versions ? { kubevirtVersions: describeVersions(choice.versions) } : {}),
      reserved: b.reserved,
      free: b.free,
    })),
  };
  const request = offlineRequest({ object, oldObject: old, namespace: defaultNamespace });
  const findings = evaluate(request, cluster, config, 'both').findings.map(({ fieldPath: _path, ...f }) => f);
  return {
    apiVersion: EXPLANATION_API_VERSION,
    kind: 'Explanation',
    object: { kind, namespace, name: vm.name, file: target.source.file, line: target.source.line },
    baseFrom,
    running: isRunning(kind, old ?? object, cluster),
    interfaces,
    budget: { ...budget, askedInterfaces: budget.askedInterfaces.map((i) => i.name) },
    slotModel,
    findings,
  };
}

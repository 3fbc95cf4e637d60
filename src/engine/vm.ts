// A read-only view of the network part of a VirtualMachine or VirtualMachineInstance,
// with the words RULES.md defines (running, hotplugged, unplugged, base count).
import type { KubeObject, ClusterView } from './types.js';
import { isObject, asArray } from './values.js';

export const BINDINGS = ['bridge', 'masquerade', 'sriov', 'passtBinding', 'binding', 'slirp', 'passt', 'macvtap'] as const;
export type Binding = (typeof BINDINGS)[number] | 'none' | 'multiple';

export interface NetworkView {
  name: string;
  index: number;
  path: string;
  raw: any;
  /** `pod`, `multus`, or what is wrong with the source. */
  source: 'pod' | 'multus' | 'none' | 'multiple';
  /** multus.networkName as written. */
  networkName?: string;
  /** multus.default: true — the VM's primary network comes from Multus. */
  isMultusDefault: boolean;
  /** The NAD the network resolves to, when it is a multus network with a name. */
  nad?: { namespace: string; name: string };
}

export interface InterfaceView {
  name: string;
  index: number;
  path: string;
  raw: any;
  binding: Binding;
  /** Plugin name for `binding: {name}`. */
  pluginName?: string;
  model?: string;
  state?: string;
  network?: NetworkView;
}

export interface VmView {
  kind: 'VirtualMachine' | 'VirtualMachineInstance';
  namespace: string;
  name: string;
  /** Path of the VMI spec inside the object: `spec.template.spec` or `spec`. */
  specPath: string;
  spec: any;
  annotations: Record<string, string>;
  interfaces: InterfaceView[];
  networks: NetworkView[];
}

const RUNNING_PHASES = new Set(['Running', 'Migrating', 'Paused', 'Starting']);

/** `name` means the VM's namespace; `ns/name` is split at the first slash (KubeVirt's multus/nad.go). */
export function resolveNetworkName(networkName: string, vmNamespace: string): { namespace: string; name: string } {
  const slash = networkName.indexOf('/');
  if (slash < 0) return { namespace: vmNamespace, name: networkName };
  return { namespace: networkName.slice(0, slash), name: networkName.slice(slash + 1) };
}

function viewNetwork(raw: any, index: number, basePath: string, namespace: string): NetworkView {
  const path = `${basePath}.networks[${index}]`;
  const hasPod = isObject(raw) && raw.pod !== undefined && raw.pod !== null;
  const hasMultus = isObject(raw) && raw.multus !== undefined && raw.multus !== null;
  const source = hasPod && hasMultus ? 'multiple' : hasPod ? 'pod' : hasMultus ? 'multus' : 'none';
  const multus = hasMultus && isObject(raw.multus) ? raw.multus : undefined;
  const networkName = typeof multus?.networkName === 'string' ? multus.networkName : undefined;
  return {
    name: isObject(raw) && typeof raw.name === 'string' ? raw.name : '',
    index,
    path,
    raw,
    source,
    networkName,
    isMultusDefault: multus?.default === true,
    nad: networkName ? resolveNetworkName(networkName, namespace) : undefined,
  };
}

function bindingOf(raw: any): Binding {
  if (!isObject(raw)) return 'none';
  const present = BINDINGS.filter((b) => raw[b] !== undefined && raw[b] !== null);
  if (present.length === 0) return 'none';
  if (present.length > 1) return 'multiple';
  return present[0];
}

function viewInterface(raw: any, index: number, basePath: string, networks: NetworkView[]): InterfaceView {
  const name = isObject(raw) && typeof raw.name === 'string' ? raw.name : '';
  const binding = bindingOf(raw);
  return {
    name,
    index,
    path: `${basePath}.domain.devices.interfaces[${index}]`,
    raw,
    binding,
    pluginName: binding === 'binding' && isObject(raw.binding) ? String(raw.binding.name ?? '') : undefined,
    model: isObject(raw) && typeof raw.model === 'string' && raw.model !== '' ? raw.model : undefined,
    state: isObject(raw) && typeof raw.state === 'string' && raw.state !== '' ? raw.state : undefined,
    network: networks.find((n) => n.name === name),
  };
}

/** The VMI spec inside a VM or VMI, or undefined for anything else. */
export function vmiSpecOf(obj: KubeObject | undefined, kind: string): { spec: any; path: string } | undefined {
  if (!obj) return undefined;
  if (kind === 'VirtualMachine') return { spec: obj.spec?.template?.spec, path: 'spec.template.spec' };
  if (kind === 'VirtualMachineInstance') return { spec: obj.spec, path: 'spec' };
  return undefined;
}

export function viewVm(obj: KubeObject | undefined, kind: string, fallbackNamespace = 'default'): VmView | undefined {
  const located = vmiSpecOf(obj, kind);
  if (!obj || !located) return undefined;
  const spec = isObject(located.spec) ? located.spec : {};
  const namespace = obj.metadata?.namespace || fallbackNamespace;
  const networks = asArray(spec.networks).map((n, i) => viewNetwork(n, i, located.path, namespace));
  const interfaces = asArray(spec.domain?.devices?.interfaces).map((f, i) => viewInterface(f, i, located.path, networks));
  return {
    kind: kind as VmView['kind'],
    namespace,
    name: obj.metadata?.name || obj.metadata?.generateName || '',
    specPath: located.path,
    spec,
    annotations: { ...(obj.metadata?.annotations ?? {}), ...(kind === 'VirtualMachine' ? obj.spec?.template?.metadata?.annotations ?? {} : {}) },
    interfaces,
    networks,
  };
}

export function isAbsent(iface: InterfaceView): boolean {
  return iface.state === 'absent';
}

/** Secondary: a multus network that is not the default one. */
export function isSecondary(iface: InterfaceView): boolean {
  return iface.network?.source === 'multus' && !iface.network.isMultusDefault;
}

/**
 * Whether a VMI exists for the VM (RULES.md "running"): a VMI always is; a VM by its old
 * status, else by a VMI in the cluster view, else by its run strategy (plain manifests in CI).
 */
export function isRunning(kind: string, oldObject: KubeObject | undefined, cluster?: ClusterView): boolean {
  if (kind === 'VirtualMachineInstance') return true;
  if (kind !== 'VirtualMachine' || !oldObject) return false;
  const status = oldObject.status;
  if (isObject(status) && (status.printableStatus !== undefined || status.ready !== undefined)) {
    return RUNNING_PHASES.has(status.printableStatus) || status.ready === true;
  }
  const ns = oldObject.metadata?.namespace;
  const name = oldObject.metadata?.name;
  if (cluster && ns && name && cluster.getVirtualMachineInstance(ns, name)) return true;
  const strategy = oldObject.spec?.runStrategy;
  return strategy === 'Always' || strategy === 'RerunOnFailure' || oldObject.spec?.running === true;
}

/** Present in the new spec, not absent, and not in the old spec by name. */
export function hotpluggedInterfaces(oldVm: VmView, newVm: VmView): InterfaceView[] {
  const oldNames = new Set(oldVm.interfaces.map((i) => i.name));
  return newVm.interfaces.filter((i) => !isAbsent(i) && !oldNames.has(i.name));
}

/** Present and not absent in the old spec; absent or gone in the new one. Returns old views. */
export function unpluggedInterfaces(oldVm: VmView, newVm: VmView): { old: InterfaceView; now?: InterfaceView }[] {
  const byName = new Map(newVm.interfaces.map((i) => [i.name, i]));
  return oldVm.interfaces
    .filter((i) => !isAbsent(i))
    .map((old) => ({ old, now: byName.get(old.name) }))
    .filter(({ now }) => !now || isAbsent(now));
}

/** `Kind namespace/name` for messages. */
export function objectRef(kind: string, obj: KubeObject | undefined, namespace?: string, name?: string): string {
  const ns = obj?.metadata?.namespace ?? namespace;
  const n = obj?.metadata?.name ?? name ?? obj?.metadata?.generateName ?? '<unnamed>';
  return ns ? `${kind} ${ns}/${n}` : `${kind} ${n}`;
}

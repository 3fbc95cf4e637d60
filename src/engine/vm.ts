// A read-only view of the network part of a VirtualMachine or VirtualMachineInstance, with
// the words the rules use (running, hotplugged, unplugged). Every field is type-checked
// here, so rules never see a name that is a number or a list that is an object.
import type { ClusterView, KubeObject } from './types.js';
import type { VmKind } from './kinds.js';
import { FieldPath } from './field-path.js';
import { asArray, asObject, bounded, dig, isObject, quote, stringMap, stringOf } from './values.js';

const BINDINGS = ['bridge', 'masquerade', 'sriov', 'passtBinding', 'binding', 'slirp', 'passt', 'macvtap'] as const;
export type Binding = (typeof BINDINGS)[number] | 'none' | 'multiple';

export const NETWORK_SOURCES = ['pod', 'multus', 'resourceClaim'] as const;
export type NetworkSource = (typeof NETWORK_SOURCES)[number];

export interface NetworkView {
  name: string;
  index: number;
  path: FieldPath;
  /** The entry as written; `fields` is the same when it is an object, else empty. */
  raw: unknown;
  fields: Record<string, unknown>;
  /**
   * `pod`, `multus`, `resourceClaim` (a DRA network, KubeVirt v1.9.0+), or what is wrong with
   * the source. Releases before v1.9.0 drop `resourceClaim`: `sources` lets rules count without it.
   */
  source: NetworkSource | 'none' | 'multiple';
  /** Every source written, in the order pod, multus, resourceClaim. */
  sources: readonly NetworkSource[];
  /** resourceClaim.claimName and .requestName as written (strings only). */
  resourceClaim?: { claimName: string; requestName: string };
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
  path: FieldPath;
  raw: unknown;
  fields: Record<string, unknown>;
  binding: Binding;
  /** The bindings written, when there is more than one. */
  bindings: readonly string[];
  /** Plugin name for `binding: {name}`. */
  pluginName?: string;
  model?: string;
  state?: string;
  network?: NetworkView;
}

export interface VmView {
  kind: VmKind;
  namespace: string;
  name: string;
  /** Path of the VMI spec inside the object: `spec.template.spec` or `spec`. */
  specPath: FieldPath;
  spec: Record<string, unknown>;
  /** The annotations KubeVirt reads for the domain: a VMI's own, a VM's template's. */
  vmiAnnotations: Record<string, string>;
  /** Those plus, for a VM, its own metadata.annotations (for lookups that accept either). */
  annotations: Record<string, string>;
  interfaces: InterfaceView[];
  /**
   * The interfaces by name, in first-seen order of the names; of two with one name the later
   * (as the views of old and new interfaces pair them). Made once per view for every rule.
   */
  interfaceByName: ReadonlyMap<string, InterfaceView>;
  networks: NetworkView[];
}

const RUNNING_PHASES = new Set(['Running', 'Migrating', 'Paused', 'Starting']);

/** `name` means the VM's namespace; `ns/name` is split at the first slash (KubeVirt's multus/nad.go). */
function resolveNetworkName(networkName: string, vmNamespace: string): { namespace: string; name: string } {
  const slash = networkName.indexOf('/');
  if (slash < 0) return { namespace: vmNamespace, name: networkName };
  return { namespace: networkName.slice(0, slash), name: networkName.slice(slash + 1) };
}

/**
 * The keys of `names` present (not null) in `fields`, in the order of `names`. It walks the
 * object's own keys, two or three on nearly every interface and network, rather than probing
 * for each of the eight binding names; one key gives a shared one-element list, not a new array.
 */
function presentKeys<T extends string>(
  fields: Record<string, unknown>,
  rank: ReadonlyMap<string, number>,
  single: ReadonlyMap<T, readonly T[]>,
): readonly T[] {
  let found: T | undefined;
  let many: T[] | undefined;
  for (const key in fields) {
    if (!rank.has(key) || fields[key] === undefined || fields[key] === null) continue;
    if (found === undefined) found = key as T;
    else (many ??= [found]).push(key as T);
  }
  if (many) return many.sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
  return found === undefined ? NONE : (single.get(found) as readonly T[]);
}
const NONE: readonly never[] = Object.freeze([]);
const singles = <T extends string>(names: readonly T[]): ReadonlyMap<T, readonly T[]> =>
  new Map(names.map((n) => [n, Object.freeze([n])]));
const ranks = (names: readonly string[]): ReadonlyMap<string, number> => new Map(names.map((n, i) => [n, i]));
const SOURCE_RANK = ranks(NETWORK_SOURCES);
const BINDING_RANK = ranks(BINDINGS);
const SINGLE_SOURCE = singles(NETWORK_SOURCES);
const SINGLE_BINDING = singles(BINDINGS);

function viewNetwork(raw: unknown, index: number, listPath: FieldPath, namespace: string): NetworkView {
  const fields = asObject(raw);
  const sources = presentKeys(fields, SOURCE_RANK, SINGLE_SOURCE);
  const source = sources.length > 1 ? 'multiple' : (sources[0] ?? 'none');
  const multus = sources.includes('multus') ? asObject(fields.multus) : {};
  const claim = sources.includes('resourceClaim') ? asObject(fields.resourceClaim) : undefined;
  const networkName = stringOf(multus.networkName) || undefined;
  return {
    name: stringOf(fields.name) ?? '',
    index,
    path: listPath.index(index),
    raw,
    fields,
    source,
    sources,
    // One object shape for every network view (a spread made two).
    resourceClaim: claim
      ? { claimName: stringOf(claim.claimName) ?? '', requestName: stringOf(claim.requestName) ?? '' }
      : undefined,
    networkName,
    isMultusDefault: multus.default === true,
    nad: networkName ? resolveNetworkName(networkName, namespace) : undefined,
  };
}

function viewInterface(
  raw: unknown,
  index: number,
  listPath: FieldPath,
  networks: Map<string, NetworkView>,
): InterfaceView {
  const fields = asObject(raw);
  const name = stringOf(fields.name) ?? '';
  const bindings = presentKeys(fields, BINDING_RANK, SINGLE_BINDING);
  const binding: Binding = bindings.length === 0 ? 'none' : bindings.length > 1 ? 'multiple' : bindings[0];
  return {
    name,
    index,
    path: listPath.index(index),
    raw,
    fields,
    binding,
    bindings,
    pluginName: binding === 'binding' ? String(dig(fields, 'binding', 'name') ?? '') : undefined,
    model: stringOf(fields.model) || undefined,
    state: stringOf(fields.state) || undefined,
    network: name ? networks.get(name) : undefined,
  };
}

/** Where the VMI spec sits in a VM or VMI, and its lists; paths are immutable, so made once. */
const PATHS = {
  VirtualMachine: vmPaths(FieldPath.of('spec', 'template', 'spec')),
  VirtualMachineInstance: vmPaths(FieldPath.of('spec')),
} as const;

function vmPaths(spec: FieldPath) {
  return { spec, networks: spec.field('networks'), interfaces: spec.field('domain', 'devices', 'interfaces') };
}

/**
 * KubeVirt's CRDs cap spec.networks and spec.domain.devices.interfaces at 256 entries
 * (`+kubebuilder:validation:MaxItems:=256` in kubevirt/kubevirt
 * staging/src/kubevirt.io/api/core/v1/types.go and schema.go, from v1.3.0, commit 2c2c86b6c7,
 * to v1.9.0), and the API server checks them before any validating webhook and before it stores
 * an object. Past it the rules, whose work grows with every entry, are not run.
 */
export const KUBEVIRT_LIST_LIMIT = 256;

/** A list of a VM or VMI longer than KubeVirt allows: where, and how long. */
export interface OverlongList {
  path: FieldPath;
  length: number;
}
const NO_OVERLONG_LISTS: readonly OverlongList[] = Object.freeze([]);

/**
 * The network lists of a VM or VMI longer than KubeVirt allows, with their lengths. Asked of
 * every VM review before any rule runs, so the common answer (none) allocates nothing.
 */
export function overlongLists(obj: KubeObject, kind: VmKind): readonly OverlongList[] {
  const spec = asObject(vmiSpecOf(obj, kind));
  const interfaces = interfacesOf(spec);
  const networks = spec.networks;
  const interfacesOver = Array.isArray(interfaces) && interfaces.length > KUBEVIRT_LIST_LIMIT;
  const networksOver = Array.isArray(networks) && networks.length > KUBEVIRT_LIST_LIMIT;
  if (!interfacesOver && !networksOver) return NO_OVERLONG_LISTS;
  const paths = PATHS[kind];
  const out: OverlongList[] = [];
  if (interfacesOver) out.push({ path: paths.interfaces, length: interfaces.length });
  if (networksOver) out.push({ path: paths.networks, length: networks.length });
  return out;
}

// The paths every VM review reads are walked with named property loads, not dig(): its keyed
// loads see every key and object shape at one site, which V8 handles megamorphically.

/** A VM's spec.template, when it is an object. */
function templateOf(obj: unknown): Record<string, unknown> | undefined {
  const spec = isObject(obj) ? obj.spec : undefined;
  const template = isObject(spec) ? spec.template : undefined;
  return isObject(template) ? template : undefined;
}

/** The VMI spec inside a VM or VMI, as written (may be of any type). */
export function vmiSpecOf(obj: KubeObject, kind: VmKind): unknown {
  return kind === 'VirtualMachine' ? templateOf(obj)?.spec : obj.spec;
}

/** `domain.devices.interfaces` of a VMI spec, as written (may be of any type). */
export function interfacesOf(spec: unknown): unknown {
  const domain = isObject(spec) ? spec.domain : undefined;
  const devices = isObject(domain) ? domain.devices : undefined;
  return isObject(devices) ? devices.interfaces : undefined;
}

/** The annotations KubeVirt reads for the domain: a VMI's own, a VM's spec.template.metadata.annotations. */
export function vmiAnnotationsOf(obj: KubeObject | undefined, kind: VmKind): Record<string, string> {
  const metadata = kind === 'VirtualMachine' ? templateOf(obj)?.metadata : isObject(obj) ? obj.metadata : undefined;
  return stringMap(isObject(metadata) ? metadata.annotations : undefined);
}

export function viewVm(obj: KubeObject, kind: VmKind, fallbackNamespace = 'default'): VmView {
  const paths = PATHS[kind];
  const specPath = paths.spec;
  const spec = asObject(vmiSpecOf(obj, kind));
  const metadata = asObject(obj.metadata);
  const namespace = stringOf(metadata.namespace) || fallbackNamespace;
  const networksPath = paths.networks;
  const networks = asArray(spec.networks).map((n, i) => viewNetwork(n, i, networksPath, namespace));
  const byName = new Map<string, NetworkView>();
  for (const n of networks) if (n.name && !byName.has(n.name)) byName.set(n.name, n);
  const interfacesPath = paths.interfaces;
  const interfaces = asArray(interfacesOf(spec)).map((f, i) => viewInterface(f, i, interfacesPath, byName));
  const interfaceByName = new Map<string, InterfaceView>();
  for (const i of interfaces) interfaceByName.set(i.name, i);
  const vmiAnnotations = vmiAnnotationsOf(obj, kind);
  return {
    kind,
    namespace,
    name: stringOf(metadata.name) || stringOf(metadata.generateName) || '',
    specPath,
    spec,
    vmiAnnotations,
    annotations: kind === 'VirtualMachine' ? { ...stringMap(metadata.annotations), ...vmiAnnotations } : vmiAnnotations,
    interfaces,
    interfaceByName,
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

/** On the pod network or the multus default network: the VM's primary network. */
export function isOnDefaultNetwork(iface: InterfaceView): boolean {
  return iface.network?.source === 'pod' || iface.network?.isMultusDefault === true;
}

/**
 * Whether a VMI exists for the VM ("running" in docs/rules.md): a VMI always is; a VM by its old
 * status, else by a VMI in the cluster view, else by its run strategy (plain manifests in CI).
 */
export function isRunning(kind: VmKind, oldObject: KubeObject, cluster?: ClusterView): boolean {
  if (kind === 'VirtualMachineInstance') return true;
  const status = oldObject.status;
  if (isObject(status) && (status.printableStatus !== undefined || status.ready !== undefined)) {
    return RUNNING_PHASES.has(String(status.printableStatus)) || status.ready === true;
  }
  const ns = stringOf(dig(oldObject, 'metadata', 'namespace'));
  const name = stringOf(dig(oldObject, 'metadata', 'name'));
  if (cluster && ns && name && cluster.getVirtualMachineInstance(ns, name)) return true;
  const spec = asObject(oldObject.spec);
  return spec.runStrategy === 'Always' || spec.runStrategy === 'RerunOnFailure' || spec.running === true;
}

/** Present in the new spec, not absent, and not in the old spec by name. */
export function hotpluggedInterfaces(oldVm: VmView, newVm: VmView): InterfaceView[] {
  return newVm.interfaces.filter((i) => !isAbsent(i) && !oldVm.interfaceByName.has(i.name));
}

export interface Unplug {
  old: InterfaceView;
  /** The interface in the new spec, set absent; undefined when it was removed outright. */
  now?: InterfaceView;
}

/**
 * Present and not absent in the old spec; absent or gone in the new one (an interface
 * removed outright has no `now`). Of two new interfaces with one name, the later counts.
 */
export function unpluggedInterfaces(oldVm: VmView, newVm: VmView): Unplug[] {
  const out: Unplug[] = [];
  for (const old of oldVm.interfaces) {
    if (isAbsent(old)) continue;
    const now = newVm.interfaceByName.get(old.name);
    if (!now || isAbsent(now)) out.push({ old, now });
  }
  return out;
}

/** `Kind namespace/name` for messages; every part type-checked and bounded. */
export function objectRef(kind: string, obj: KubeObject | undefined, namespace?: string, name?: string): string {
  const metadata = asObject(obj?.metadata);
  const ns = stringOf(metadata.namespace) || namespace;
  const n = stringOf(metadata.name) || name || stringOf(metadata.generateName) || '<unnamed>';
  const cut = (s: string) => (s.length > 253 ? `${s.slice(0, 253)}...` : s);
  return ns ? `${kind} ${cut(ns)}/${cut(n)}` : `${kind} ${cut(n)}`;
}

/** How a message names an interface's binding: `bridge binding`, `binding plugin "x"`. */
export function bindingLabel(iface: InterfaceView): string {
  switch (iface.binding) {
    case 'binding':
      return `binding plugin ${quote(iface.pluginName ?? '')}`;
    case 'passtBinding':
      return 'passt binding';
    default:
      return `${iface.binding} binding`;
  }
}

/** How a message names the primary network an interface is on. */
export function primaryNetworkLabel(iface: InterfaceView): string {
  return iface.network?.source === 'pod'
    ? 'the pod network'
    : `the multus default network ${quote(iface.network?.networkName ?? '')}`;
}

/** `VM vm-fedora` or `VMI vm-fedora`, for "running VM x" in messages. */
export function shortRef(vm: VmView): string {
  return `${vm.kind === 'VirtualMachine' ? 'VM' : 'VMI'} ${bounded(vm.name)}`;
}

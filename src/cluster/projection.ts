// What the informer cache keeps of each object: only the fields the rules (and `explain`)
// read, cut at ingest before the object is indexed. A VMI as the API server returns it is
// ~6 KB of JSON (managedFields, the whole domain spec, conditions, guest info) of which the
// rules read a few hundred bytes; keeping whole objects cost ~31 MB RSS per 1,000 VMIs.
//
// Read by the engine (grep getVirtualMachineInstance/getKubeVirt/findSubnets/
// getNetworkAttachment in src):
// - VMI: metadata.annotations kubevirt.io/pci-interface-slot-count and
//   kubevirt.io/placePCIDevicesOnRootComplex (slots, pci-topology.ts); spec.domain.devices
//   .interfaces name/state and status.interfaces name (hotplug-path, slotBudget). Also kept,
//   small and asked for by the scale issue: spec.networks (name, source), status.phase and
//   status.interfaces infoSource/interfaceName.
// - NAD: metadata.annotations k8s.v1.cni.cncf.io/resourceName (netsource) and spec.config.
// - Subnet: metadata.name and the whole spec (provider, cidrBlock, gateway, excludeIps, ...).
// - KubeVirt: spec.configuration, spec.workloadUpdateStrategy, status.observedKubeVirtVersion.
// A field the engine starts to read must be added here, and test/projection.test.ts
// checks that decisions over projected objects equal those over full ones.
import { KIND_FACTS, type IndexedKind } from '../engine/kinds.js';
import { SRIOV_RESOURCE_ANNOTATION } from '../engine/nad.js';
import { ROOT_COMPLEX_ANNOTATION, SLOT_COUNT_ANNOTATION } from '../engine/pci-topology.js';
import type { KubeObject } from '../engine/types.js';
import { dig, isObject } from '../engine/values.js';

type Json = Record<string, unknown>;

/**
 * Shares equal values between objects: strings (namespaces, interface and network names,
 * phases, annotation values), which JSON.parse copies for each object, and whole projected
 * parts (a spec, a status), which across a fleet built from a few templates are mostly
 * equal. Shared parts are frozen: a change to one object's part must never show in
 * another's. Bounded, so that a stream of unique values cannot grow it without end: when
 * a table is full it starts over (values already handed out stay shared), which keeps the
 * values of the current fleet shared even after churn.
 */
export class Interner {
  private readonly strings = new Map<string, string>();
  private readonly parts = new Map<string, unknown>();
  constructor(
    private readonly stringLimit = 100_000,
    /** Lower: a part's key is its JSON, as large as the part. */
    private readonly partLimit = 20_000,
  ) {}

  intern<T>(value: T): T {
    if (typeof value !== 'string') return value;
    const known = this.strings.get(value);
    if (known !== undefined) return known as T;
    if (this.strings.size >= this.stringLimit) this.strings.clear();
    this.strings.set(value, value);
    return value;
  }

  /** One frozen instance per distinct JSON value. */
  share<T>(value: T): T {
    const key = JSON.stringify(value);
    const known = this.parts.get(key);
    if (known !== undefined) return known as T;
    if (this.parts.size >= this.partLimit) this.parts.clear();
    deepFreeze(value);
    this.parts.set(key, value);
    return value;
  }

  get size(): number {
    return this.strings.size + this.parts.size;
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}

/** The named annotations an object carries, or undefined when it has none of them. */
function pickAnnotations(meta: Json, keys: readonly string[], strings: Interner): Record<string, string> | undefined {
  const all = meta.annotations;
  if (!isObject(all)) return undefined;
  let out: Record<string, string> | undefined;
  for (const key of keys) {
    const value = all[key];
    if (value !== undefined) (out ??= {})[key] = strings.intern(value as string);
  }
  return out;
}

function metadataOf(obj: KubeObject, annotationKeys: readonly string[], strings: Interner): Json {
  const meta = (isObject(obj.metadata) ? obj.metadata : {}) as Json;
  const out: Json = { name: meta.name };
  // Kept so that a relist can tell an unchanged object by it and keep the cached one.
  if (typeof meta.resourceVersion === 'string') out.resourceVersion = meta.resourceVersion;
  if (meta.namespace !== undefined) out.namespace = strings.intern(meta.namespace);
  const annotations = annotationKeys.length ? pickAnnotations(meta, annotationKeys, strings) : undefined;
  if (annotations) out.annotations = strings.share(annotations);
  return out;
}

/** Copies the listed fields that are present, interning string values. */
function pick(from: unknown, keys: readonly string[], strings: Interner): Json {
  const out: Json = {};
  if (!isObject(from)) return out;
  for (const key of keys) if (from[key] !== undefined) out[key] = strings.intern(from[key]);
  return out;
}

function pickEach(list: unknown, keys: readonly string[], strings: Interner): Json[] | undefined {
  return Array.isArray(list) ? list.filter(isObject).map((item) => pick(item, keys, strings)) : undefined;
}

const VMI_ANNOTATIONS = [SLOT_COUNT_ANNOTATION, ROOT_COMPLEX_ANNOTATION] as const;

/** A network's source, reduced to its kind and the NAD it names (`pod: {}`, `multus: {networkName}`). */
function projectNetwork(net: Json, strings: Interner): Json {
  const out: Json = { name: strings.intern(net.name) };
  if (isObject(net.multus)) out.multus = pick(net.multus, ['networkName', 'default'], strings);
  if (isObject(net.pod)) out.pod = {};
  return out;
}

function projectVmi(obj: KubeObject, strings: Interner): KubeObject {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const status = isObject(obj.status) ? obj.status : {};
  const interfaces = pickEach(dig(spec, 'domain', 'devices', 'interfaces'), ['name', 'state'], strings);
  const networks = Array.isArray(spec.networks)
    ? spec.networks.filter(isObject).map((n) => projectNetwork(n, strings))
    : undefined;
  const statusInterfaces = pickEach(status.interfaces, ['name', 'infoSource', 'interfaceName'], strings);
  // VMIs started from one template have equal projected specs and, mostly, statuses.
  return {
    metadata: metadataOf(obj, VMI_ANNOTATIONS, strings),
    spec: strings.share({
      ...(interfaces ? { domain: { devices: { interfaces } } } : {}),
      ...(networks ? { networks } : {}),
    }),
    status: strings.share({
      ...(status.phase !== undefined ? { phase: strings.intern(status.phase) } : {}),
      ...(statusInterfaces ? { interfaces: statusInterfaces } : {}),
    }),
  };
}

function projectNad(obj: KubeObject, strings: Interner): KubeObject {
  const config = dig(obj, 'spec', 'config');
  return {
    metadata: metadataOf(obj, [SRIOV_RESOURCE_ANNOTATION], strings),
    // NADs that share one CNI config (the same network in many namespaces) share the string.
    spec: config === undefined ? {} : { config: strings.intern(config) },
  };
}

function projectSubnet(obj: KubeObject, strings: Interner): KubeObject {
  // A Subnet spec is small and the rules read most of it; keep it whole.
  return { metadata: metadataOf(obj, [], strings), spec: strings.share(isObject(obj.spec) ? obj.spec : {}) };
}

function projectKubeVirt(obj: KubeObject, strings: Interner): KubeObject {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const version = isObject(obj.status) ? obj.status.observedKubeVirtVersion : undefined;
  return {
    metadata: metadataOf(obj, [], strings),
    spec: strings.share(pick(spec, ['configuration', 'workloadUpdateStrategy'], strings)),
    ...(version !== undefined ? { status: { observedKubeVirtVersion: version } } : {}),
  };
}

const PROJECTIONS: Record<IndexedKind, (obj: KubeObject, strings: Interner) => KubeObject> = {
  VirtualMachineInstance: projectVmi,
  NetworkAttachmentDefinition: projectNad,
  Subnet: projectSubnet,
  KubeVirt: projectKubeVirt,
};

/**
 * The part of `obj` the cluster view keeps, with kind and apiVersion set from the kind
 * facts (list items and watch objects often lack both). Parts may be shared (frozen) with
 * other projected objects; only the Subnet spec and KubeVirt configuration come from `obj`.
 */
export function projectObject(kind: IndexedKind, obj: KubeObject, strings: Interner): KubeObject {
  const facts = KIND_FACTS[kind];
  const projected = PROJECTIONS[kind](obj, strings);
  projected.apiVersion = `${facts.group}/${facts.version}`;
  projected.kind = kind;
  return projected;
}

/** projectObject with one Interner for a whole read: what a one-shot reader of the cluster view keeps (the CLI). */
export function projection(): (kind: IndexedKind, obj: KubeObject) => KubeObject {
  const strings = new Interner();
  return (kind, obj) => projectObject(kind, obj, strings);
}

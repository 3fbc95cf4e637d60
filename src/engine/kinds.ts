// The one table of facts about the kinds nicguard reads: API group, version, plural,
// scope, whether the engine judges it, whether the cluster view keeps it. The engine, the
// object index, the file loader, the informers, `validate`, `explain` and the manifest
// tests all read it; nothing else spells a group or a plural.

export interface KindFacts {
  kind: string;
  group: string;
  version: string;
  /** The resource name in API paths and RBAC. */
  plural: string;
  namespaced: boolean;
  /** The engine judges CREATE and UPDATE of this kind. */
  judged: boolean;
  /** The cluster view keeps objects of this kind for the rules to look up. */
  indexed: boolean;
  /**
   * The group may be left out where the kind alone is unambiguous (hand-written reviews,
   * old manifests): VM, VMI and NAD. A Subnet is only Kube-OVN's with its group, since
   * other projects have a `Subnet` kind too.
   */
  groupOptional: boolean;
}

export const KIND_FACTS = {
  VirtualMachine: {
    kind: 'VirtualMachine',
    group: 'kubevirt.io',
    version: 'v1',
    plural: 'virtualmachines',
    namespaced: true,
    judged: true,
    indexed: false,
    groupOptional: true,
  },
  VirtualMachineInstance: {
    kind: 'VirtualMachineInstance',
    group: 'kubevirt.io',
    version: 'v1',
    plural: 'virtualmachineinstances',
    namespaced: true,
    judged: true,
    indexed: true,
    groupOptional: true,
  },
  NetworkAttachmentDefinition: {
    kind: 'NetworkAttachmentDefinition',
    group: 'k8s.cni.cncf.io',
    version: 'v1',
    plural: 'network-attachment-definitions',
    namespaced: true,
    judged: true,
    indexed: true,
    groupOptional: true,
  },
  Subnet: {
    kind: 'Subnet',
    group: 'kubeovn.io',
    version: 'v1',
    plural: 'subnets',
    namespaced: false,
    judged: true,
    indexed: true,
    groupOptional: false,
  },
  KubeVirt: {
    kind: 'KubeVirt',
    group: 'kubevirt.io',
    version: 'v1',
    plural: 'kubevirts',
    namespaced: true,
    judged: false,
    indexed: true,
    groupOptional: false,
  },
} as const satisfies Record<string, KindFacts>;

export type KnownKind = keyof typeof KIND_FACTS;
type KindsWhere<Flag extends 'judged' | 'indexed'> = {
  [K in KnownKind]: (typeof KIND_FACTS)[K][Flag] extends true ? K : never;
}[KnownKind];
/** Kinds the engine judges. */
export type JudgedKind = KindsWhere<'judged'>;
/** Kinds the cluster view keeps. */
export type IndexedKind = KindsWhere<'indexed'>;
export type VmKind = 'VirtualMachine' | 'VirtualMachineInstance';

const ALL: readonly KindFacts[] = Object.values(KIND_FACTS);
export const INDEXED_KINDS = ALL.filter((k) => k.indexed).map((k) => k.kind) as IndexedKind[];

/** `kubevirt.io/v1` -> `kubevirt.io`; `v1` -> `` (the core group). */
export function groupOfApiVersion(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * The known kind an object or request is about, judged by kind and group; `group`
 * undefined or empty counts as "not given" for the kinds whose group is optional.
 */
export function knownKindOf(kind: unknown, group: string | undefined): KnownKind | undefined {
  if (typeof kind !== 'string' || !Object.hasOwn(KIND_FACTS, kind)) return undefined;
  const facts: KindFacts = KIND_FACTS[kind as KnownKind];
  if (group === facts.group) return kind as KnownKind;
  return facts.groupOptional && !group ? (kind as KnownKind) : undefined;
}

/** The kind of an object by its own kind and apiVersion, for objects read from files or a cluster. */
export function kindOfObject(obj: { kind?: unknown; apiVersion?: unknown }): KnownKind | undefined {
  const kind = knownKindOf(obj.kind, groupOfApiVersion(obj.apiVersion));
  // A stored object always carries its group; only requests may leave it out.
  return kind && KIND_FACTS[kind].group === groupOfApiVersion(obj.apiVersion) ? kind : undefined;
}

export function isJudgedKind(kind: KnownKind | undefined): kind is JudgedKind {
  return kind !== undefined && KIND_FACTS[kind].judged;
}

export function isIndexedKind(kind: KnownKind | undefined): kind is IndexedKind {
  return kind !== undefined && KIND_FACTS[kind].indexed;
}

export function isVmKind(kind: string | undefined): kind is VmKind {
  return kind === 'VirtualMachine' || kind === 'VirtualMachineInstance';
}

/** `plural.group`, as RBAC, logs and the sync metrics name a resource. */
export function resourceName(kind: KnownKind): string {
  const f = KIND_FACTS[kind];
  return `${f.plural}.${f.group}`;
}

// The engine's vocabulary. Nothing here knows about HTTP, files or a cluster.
import type { FieldPath } from './field-path.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** What a finding does to the request. */
export type Action = 'deny' | 'warn';

/** What configuration may set per rule; `mutate` only means something for unplug-by-removal. */
export type RuleSetting = 'deny' | 'warn' | 'off' | 'mutate';

/** The id of a registered rule; the registry in ./rules/index.ts is the only list. */
export type { RuleId } from './rules/index.js';
import type { RuleId } from './rules/index.js';

export type { JudgedKind as SupportedKind } from './kinds.js';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object, loosely typed: admission input is untrusted and may be malformed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
}

/** The parts of an AdmissionRequest the engine uses; the CLI builds the same shape from files. */
export interface PolicyRequest {
  uid?: string;
  operation: Operation;
  /** Kind of the object, e.g. `VirtualMachine` (AdmissionRequest.kind.kind). */
  kind: string;
  /** API group, e.g. `kubevirt.io`; used to tell a Kube-OVN Subnet from another `Subnet`. */
  group?: string;
  namespace?: string;
  name?: string;
  object?: KubeObject;
  oldObject?: KubeObject;
  userInfo?: UserInfo;
  dryRun?: boolean;
  /**
   * Built from a manifest (`nicguard validate`, `explain`), not sent by an API server: the
   * object has not passed the API server's decoding and CRD schema validation.
   */
  fromManifest?: boolean;
}

export interface Finding {
  rule: RuleId;
  action: Action;
  /** `Kind namespace/name`, so a message read out of context still names its object. */
  object: string;
  /** Dotted path with indexes, e.g. `spec.template.spec.domain.devices.interfaces[1].model`. */
  field?: string;
  /** The same path as segments, for locating the field in a file; not part of any output. */
  fieldPath?: FieldPath;
  message: string;
}

/** RFC 6902 operation, as fast-json-patch produces it. */
export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test' | '_get';
  path: string;
  value?: unknown;
  from?: string;
}

export interface EvaluationResult {
  /** False when any finding denies. */
  allowed: boolean;
  findings: Finding[];
  /** The object after mutation; present only when a mutation changed something. */
  mutated?: KubeObject;
  /** JSON patch from the request's object to `mutated`; empty when nothing changed. */
  patch: PatchOperation[];
}

/**
 * How KubeVirt reserves PCIe root ports for NIC hotplug: v1 (v1.4-v1.5), v2 (v1.6.0-v1.6.3,
 * v1.7.0-v1.7.1), v3 (v1.6.4+, v1.7.2+, v1.8, v1.9), legacy-q35 (a single spare port, not
 * KubeVirt's own). `auto` follows the KubeVirt version (docs/compatibility.md).
 */
export type SlotModel = 'v1' | 'v2' | 'v3' | 'legacy-q35';
export type SlotModelSetting = SlotModel | 'auto';

export interface PolicyConfig {
  /** Effective setting of every rule (defaults filled in). */
  rules: Record<RuleId, RuleSetting>;
  slotModel: SlotModelSetting;
  /** The KubeVirt release the cluster runs (e.g. `v1.8.4`); else read from the KubeVirt CR. */
  kubevirtVersion?: string;
  /** The Kube-OVN release the cluster runs (e.g. `v1.15.24`); unknown: judged under every followed release. */
  kubeovnVersion?: string;
  /** KubeVirt's T: interfaces the domain is laid out for, existing ones included. */
  hotplugSlotTotal: number;
  /** Slots on the root PCI bus, reserved ones included. */
  pciSlotLimit: number;
  exemptServiceAccounts: string[];
  exemptNamespaces: string[];
  /** Whether the cluster runs Multus' dynamic networks controller (bridge hotplug without migration). */
  dynamicNetworksController: boolean;
}

/** A NetworkAttachmentDefinition as read: every field untrusted, so typed no further than KubeObject. */
export type NetworkAttachmentDefinition = KubeObject;

/** A Kube-OVN Subnet as read. */
export type KubeOvnSubnet = KubeObject;

/**
 * What the engine may ask of the cluster. Synchronous on purpose: both implementations
 * (informer cache, folder of files) answer from memory, and admission must not block on I/O.
 */
export interface ClusterView {
  getNetworkAttachmentDefinition(namespace: string, name: string): NetworkAttachmentDefinition | undefined;
  /** Every NAD of that name, in any namespace: for "did you mean other-ns/name?". */
  findNetworkAttachmentDefinitionsByName(name: string): NetworkAttachmentDefinition[];
  /** Kube-OVN Subnets whose `spec.provider` equals the given provider. */
  findSubnetsByProvider(provider: string): KubeOvnSubnet[];
  getVirtualMachineInstance(namespace: string, name: string): KubeObject | undefined;
  /** The KubeVirt CR (first one found), for workloadUpdateMethods and feature gates. */
  getKubeVirt(): KubeObject | undefined;
}

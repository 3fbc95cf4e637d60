// Facts about a VM or VMI request that several rules read: whether it is a hotplug, which
// interfaces it adds, unplugs or removes, and what each multus network resolves to.
// Computed once per request, on first use, so that no rule calls another and a request
// no rule asks about costs nothing.
import type { Action, ClusterView, KubeObject, NetworkAttachmentDefinition, PolicyConfig } from './types.js';
import {
  acrossReleases,
  atLeast,
  knownKubeVirtVersion,
  type KnownVersion,
  type KubeVirtVersion,
} from './kubevirt-version.js';
import { reservationRulesToJudge, type RuleChoice } from './pci-topology.js';
import type { FieldPath } from './field-path.js';
import { asArray, asObject, bounded, dig } from './values.js';
import type { Cause, HotplugContext } from './rule.js';
import type { VmKind } from './kinds.js';
import { analyzeNad, ovnProviderProblems, type NadAnalysis, type ProviderProblem } from './nad.js';
import {
  hotpluggedInterfaces,
  isAbsent,
  isRunning,
  isSecondary,
  unpluggedInterfaces,
  type InterfaceView,
  type NetworkView,
  type Unplug,
  type VmView,
} from './vm.js';

/** An UPDATE of a running VM or VMI: what it plugs and unplugs. */
export interface HotplugChange {
  old: { object: KubeObject; vm: VmView };
  /** Interfaces added (present, not absent, new by name). */
  added: InterfaceView[];
  /** Interfaces attached before and now absent or gone. */
  unplugged: Unplug[];
  /** The SR-IOV ones among them, which cannot be hot-unplugged. */
  sriovUnplugs: Unplug[];
  /** Secondary bridge interfaces deleted from the spec outright: meant as an unplug. Old views. */
  removedBridge: InterfaceView[];
  /** Absent interfaces whose secondary network was deleted: it must stay until the unplug completes. */
  absentWithoutNetwork: InterfaceView[];
}

/** A multus network the request should be judged on, with its NAD looked up. */
export interface NetworkUse {
  iface: InterfaceView;
  network: NetworkView;
  /** `namespace/name` of the NAD the network resolves to. */
  nadNamespace: string;
  nadName: string;
  /** The reference is new in this request (CREATE, a new or re-activated NIC, a changed networkName or binding). */
  isNew: boolean;
  /** The NAD, when the cluster has it. */
  nad?: NetworkAttachmentDefinition;
  /** Its analysis, when it exists. */
  analysis?: NadAnalysis;
  /** Its Kube-OVN provider problems (empty for a sound or non-Kube-OVN NAD). */
  providerProblems: ProviderProblem[];
}

export interface VmFacts {
  /** The KubeVirt version the cluster runs, where configuration or the KubeVirt CR says. */
  readonly kubevirt: KnownVersion | undefined;
  /** The hotplug port reservation rules to judge under (one, or one per release family). */
  readonly reservationRules: RuleChoice[];
  readonly hotplug: HotplugChange | undefined;
  /** The running VMI: the old object itself for a VMI, the cluster's copy for a VM. */
  readonly runningVmi: KubeObject | undefined;
  readonly networkUses: NetworkUse[];
  /** What the KubeVirt CR configures for admission: feature gates and network permissions. */
  readonly kubevirtSettings: KubeVirtSettings;
  /**
   * The hotplug context made from these facts, kept here by the engine once made (null: the
   * request is no hotplug), since five rules ask for it per request (src/engine/evaluate.ts).
   */
  hotplugContext: HotplugContext | null | undefined;
}

/**
 * The parts of the KubeVirt CR's spec.configuration that KubeVirt's network admission reads.
 * Where nicguard has no KubeVirt CR (CI without --objects), `known` is false and checks that
 * depend on a gate or a permission stay quiet rather than guess.
 */
export interface KubeVirtSettings {
  known: boolean;
  /** developerConfiguration.featureGates */
  featureGates: ReadonlySet<string>;
  /** developerConfiguration.disabledFeatureGates (read from v1.8.0) */
  disabledFeatureGates: ReadonlySet<string>;
  /** network.permitBridgeInterfaceOnPodNetwork, default true (pkg/virt-config/virt-config.go). */
  permitBridgeInterfaceOnPodNetwork: boolean;
  /** network.permitSlirpInterface, default false (v1.4.1 pkg/virt-config/virt-config.go). */
  permitSlirpInterface: boolean;
}

function kubevirtSettings(kubevirt: KubeObject | undefined): KubeVirtSettings {
  const configuration = asObject(dig(kubevirt, 'spec', 'configuration'));
  const names = (v: unknown) => new Set(asArray(v).filter((x): x is string => typeof x === 'string'));
  const network = asObject(configuration.network);
  return {
    known: kubevirt !== undefined,
    featureGates: names(dig(configuration, 'developerConfiguration', 'featureGates')),
    disabledFeatureGates: names(dig(configuration, 'developerConfiguration', 'disabledFeatureGates')),
    permitBridgeInterfaceOnPodNetwork: network.permitBridgeInterfaceOnPodNetwork !== false,
    permitSlirpInterface: network.permitSlirpInterface === true,
  };
}

/**
 * Beta gates, on unless disabled, from the release where KubeVirt's IsEnabled turns Beta on
 * by default (kubevirt/kubevirt pkg/virt-config/featuregate/feature-gates.go `IsEnabled`,
 * v1.9.0; v1.8.x `isFeatureGateEnabled` still needs them listed).
 */
const BETA_ON_BY_DEFAULT: Readonly<Record<string, KubeVirtVersion>> = {
  // featuregate/active.go v1.9.0: RegisterFeatureGate(PasstBinding, Beta)
  PasstBinding: { major: 1, minor: 9, patch: 0 },
};

/** Whether a feature gate is on under `version`; undefined without a KubeVirt CR. */
export function gateEnabled(settings: KubeVirtSettings, gate: string, version: KubeVirtVersion): boolean | undefined {
  if (!settings.known) return undefined;
  if (settings.featureGates.has(gate)) return true;
  const betaFrom = BETA_ON_BY_DEFAULT[gate];
  if (betaFrom && atLeast(version, betaFrom.major, betaFrom.minor, betaFrom.patch)) {
    return !settings.disabledFeatureGates.has(gate);
  }
  return false;
}

/**
 * Whether KubeVirt's network admission judges this request: every VM create and update, VMI
 * create only (pkg/virt-api/webhooks/validating-webhook/admitters/vms-admitter.go,
 * vmi-create-admitter.go; the VMI update admitter runs no network checks, v1.4.1-v1.9.0).
 * The rules that mirror it stay quiet elsewhere, so that they never refuse what KubeVirt lets through.
 */
export function judgedByKubeVirtAdmission(kind: VmKind, operation: string): boolean {
  return kind === 'VirtualMachine' || operation === 'CREATE';
}

/**
 * One cause of a check that depends on the KubeVirt release (acrossReleases): none where no
 * release to judge under refuses, a denial where all do, else a warning naming them. The
 * cause may be given as a function: its message is then built only when some release refuses.
 */
export function versionedCauses(
  facts: VmFacts,
  rejects: (version: KubeVirtVersion) => boolean,
  cause: Omit<Cause, 'action'> | (() => Omit<Cause, 'action'>),
): Cause[] {
  const verdict = acrossReleases(facts.kubevirt, rejects);
  if (!verdict) return [];
  const c = typeof cause === 'function' ? cause() : cause;
  return [{ ...c, message: `${c.message}${verdict.note}`, action: verdict.action }];
}

function hotplugChange(oldObject: KubeObject, oldVm: VmView, vm: VmView): HotplugChange {
  const unplugged = unpluggedInterfaces(oldVm, vm);
  const sriovUnplugs = unplugged.filter(({ old }) => old.binding === 'sriov');
  const removedBridge = unplugged
    .filter(({ old, now }) => !now && old.binding === 'bridge' && isSecondary(old))
    .map(({ old }) => old);
  // Looked up only for an absent interface without a network, which nearly no request has.
  let oldNetworks: Map<string, NetworkView> | undefined;
  const absentWithoutNetwork = vm.interfaces.filter((i) => {
    if (!isAbsent(i) || i.network) return false;
    oldNetworks ??= new Map(oldVm.networks.map((n) => [n.name, n]));
    const oldNet = oldNetworks.get(i.name);
    return oldNet?.source === 'multus' && !oldNet.isMultusDefault;
  });
  return {
    old: { object: oldObject, vm: oldVm },
    added: hotpluggedInterfaces(oldVm, vm),
    unplugged,
    sriovUnplugs,
    removedBridge,
    absentWithoutNetwork,
  };
}

/**
 * The multus networks to judge. Absent interfaces are left out: they are on their way out,
 * and an unplug needs no NAD (Multus deletes with the config it cached at attach time). On
 * a running VM, unchanged references are left out too: they are attached already, or wait
 * for a restart that this request did not cause.
 */
function networkUses(vm: VmView, oldVm: VmView | undefined, hotplug: boolean, cluster: ClusterView): NetworkUse[] {
  const uses: NetworkUse[] = [];
  for (const iface of vm.interfaces) {
    const network = iface.network;
    // Missing networks, sources and names are network-pairing's to report.
    if (isAbsent(iface) || !network || network.source !== 'multus' || !network.nad?.name || !network.nad.namespace) {
      continue;
    }
    const old = oldVm?.interfaceByName.get(iface.name);
    const isNew =
      !old || isAbsent(old) || old.network?.networkName !== network.networkName || old.binding !== iface.binding;
    if (hotplug && !isNew) continue;
    const { namespace, name } = network.nad;
    const nad = cluster.getNetworkAttachmentDefinition(namespace, name);
    uses.push({
      iface,
      network,
      nadNamespace: namespace,
      nadName: name,
      isNew,
      ...(nad ? { nad, analysis: analyzeNad(nad) } : {}),
      providerProblems: nad ? ovnProviderProblems(nad, namespace) : [],
    });
  }
  return uses;
}

/** The facts of one VM or VMI request; each is computed when a rule first reads it. */
export function vmFacts(
  kind: VmKind,
  vm: VmView,
  old: { object: KubeObject; vm: VmView } | undefined,
  cluster: ClusterView,
  config: PolicyConfig,
): VmFacts {
  return new LazyVmFacts(kind, vm, old, cluster, config);
}

// A class rather than an object of closures: one allocation per request, getters on the prototype.
class LazyVmFacts implements VmFacts {
  hotplugContext: HotplugContext | null | undefined = undefined;
  private known: KnownVersion | undefined | null = null;
  private rules: RuleChoice[] | undefined;
  private change: HotplugChange | undefined | null = null;
  private vmi: KubeObject | undefined | null = null;
  private uses: NetworkUse[] | undefined;
  private settings: KubeVirtSettings | undefined;

  constructor(
    private readonly kind: VmKind,
    private readonly vm: VmView,
    private readonly old: { object: KubeObject; vm: VmView } | undefined,
    private readonly cluster: ClusterView,
    private readonly config: PolicyConfig,
  ) {}

  get kubevirt(): KnownVersion | undefined {
    if (this.known === null) this.known = knownKubeVirtVersion(this.config, this.cluster);
    return this.known;
  }

  get reservationRules(): RuleChoice[] {
    this.rules ??= reservationRulesToJudge(this.config, this.kubevirt);
    return this.rules;
  }

  get hotplug(): HotplugChange | undefined {
    if (this.change === null) {
      const old = this.old;
      this.change =
        old && isRunning(this.kind, old.object, this.cluster) ? hotplugChange(old.object, old.vm, this.vm) : undefined;
    }
    return this.change;
  }

  get runningVmi(): KubeObject | undefined {
    if (this.vmi === null) {
      this.vmi =
        this.kind === 'VirtualMachineInstance'
          ? this.old?.object
          : this.cluster.getVirtualMachineInstance(this.vm.namespace, this.vm.name);
    }
    return this.vmi;
  }

  get networkUses(): NetworkUse[] {
    this.uses ??= networkUses(this.vm, this.old?.vm, this.hotplug !== undefined, this.cluster);
    return this.uses;
  }

  get kubevirtSettings(): KubeVirtSettings {
    this.settings ??= kubevirtSettings(this.cluster.getKubeVirt());
    return this.settings;
  }
}

/** Where a finding about a network's NAD points: its networkName. */
export function networkField(use: NetworkUse): FieldPath {
  return use.network.path.field('multus', 'networkName');
}

/** `namespace/name` of the NAD, bounded for messages. */
export function nadRef(use: NetworkUse): string {
  return `${bounded(use.nadNamespace)}/${bounded(use.nadName)}`;
}

/** Deny where a running VM takes the NIC now; warn where the problem waits for the next start. */
export function hotplugSeverity(hotplug: boolean, use: NetworkUse): Action {
  return hotplug && use.isNew ? 'deny' : 'warn';
}

/** Content mismatches deny where this request makes the reference; an old one on a stopped VM gets a warning. */
export function contentSeverity(use: NetworkUse): Action {
  return use.isNew ? 'deny' : 'warn';
}

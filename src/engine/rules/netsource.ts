// Rules nad-exists, nad-binding-match, ovn-provider and ovn-subnet, seen from a VM or VMI:
// what each multus network's NetworkAttachmentDefinition must be for the NIC to attach.
// All of these surface only when a pod starts or a hotplug runs, far from the edit that
// caused them; here they surface at the edit.
import type { Action, NetworkAttachmentDefinition } from '../types.js';
import type { Report, RuleContext, ValidationRule } from '../rule.js';
import { SRIOV_RESOURCE_ANNOTATION } from '../nad.js';
import { isAbsent, type InterfaceView, type NetworkView } from '../vm.js';
import { analyzeNad, boundProvider } from '../nad.js';
import { ovnProviderProblems } from './nad-object.js';

/** Kube-OVN lets a pod name its Subnet for a provider, bypassing the provider binding. */
const LOGICAL_SWITCH_ANNOTATION_SUFFIX = '.kubernetes.io/logical_switch';

interface NetworkUse {
  iface: InterfaceView;
  network: NetworkView & { nad: { namespace: string; name: string } };
  /** The reference is new in this request (CREATE, a new or re-activated NIC, a changed networkName or binding). */
  isNew: boolean;
}

/**
 * The multus networks this request should be judged on. Absent interfaces are left out:
 * they are on their way out, and a user may well have deleted their NAD already; an
 * unplug needs no NAD (Multus deletes with the config it cached at attach time). On a
 * running VM, unchanged references are left out too: they are attached already, or wait
 * for a restart that this request did not cause.
 */
function networkUses(ctx: RuleContext): NetworkUse[] {
  const oldByName = ctx.oldVm ? new Map(ctx.oldVm.interfaces.map((i) => [i.name, i])) : undefined;
  const uses: NetworkUse[] = [];
  for (const iface of ctx.vm!.interfaces) {
    const network = iface.network;
    // Missing networks, sources and names are network-pairing's to report.
    if (isAbsent(iface) || !network || network.source !== 'multus' || !network.nad?.name || !network.nad.namespace) continue;
    const old = oldByName?.get(iface.name);
    const isNew = !old || isAbsent(old) || old.network?.networkName !== network.networkName || old.binding !== iface.binding;
    if (ctx.hotplug && !isNew) continue;
    uses.push({ iface, network: network as NetworkUse['network'], isNew });
  }
  return uses;
}

function nadRef(use: NetworkUse): string {
  return `${use.network.nad.namespace}/${use.network.nad.name}`;
}

function networkField(use: NetworkUse): string {
  return `${use.network.path}.multus.networkName`;
}

/** Deny where a running VM takes the NIC now; warn where the problem waits for the next start. */
function hotplugSeverity(ctx: RuleContext, use: NetworkUse): Action {
  return ctx.hotplug && use.isNew ? 'deny' : 'warn';
}

/** Content mismatches deny where this request makes the reference; an old one on a stopped VM gets a warning. */
function contentSeverity(use: NetworkUse): Action {
  return use.isNew ? 'deny' : 'warn';
}

function consequence(ctx: RuleContext, use: NetworkUse, now: string, atStart: string): string {
  return hotplugSeverity(ctx, use) === 'deny' ? now : atStart;
}

function reportMissingNad(ctx: RuleContext, use: NetworkUse, report: Report): void {
  const { namespace, name } = use.network.nad;
  const elsewhere = ctx.cluster
    .findNetworkAttachmentDefinitionsByName(name)
    .map((n) => n.metadata?.namespace)
    .filter((ns): ns is string => !!ns && ns !== namespace)
    .sort();
  const givenWithoutNamespace = !use.network.networkName!.includes('/');
  let hint = '';
  if (elsewhere.length) {
    hint =
      ` A NetworkAttachmentDefinition "${name}" exists in ${elsewhere.map((ns) => `namespace ${ns}`).join(', ')}: did you mean ${elsewhere[0]}/${name}?` +
      (givenWithoutNamespace ? ` A networkName without a namespace means the VM's own namespace (${namespace}); write networkName: ${elsewhere[0]}/${name}.` : '');
  }
  report(
    'nad-exists',
    `network "${use.network.name}" refers to NetworkAttachmentDefinition ${namespace}/${name}, which does not exist. ` +
      consequence(
        ctx,
        use,
        `Hotplugging interface "${use.iface.name}" would fail when Multus cannot find it ("cannot find a network-attachment-definition"); create the NAD first, or correct networkName.`,
        `The VM's pod cannot start until it exists ("cannot find a network-attachment-definition"); create it before the VM starts, or correct networkName.`,
      ) +
      hint,
    networkField(use),
    hotplugSeverity(ctx, use),
  );
}

/** Rule nad-binding-match: KubeVirt tells SR-IOV by the binding alone and takes the VF resource from the NAD. */
function checkBindingMatch(use: NetworkUse, nad: NetworkAttachmentDefinition, report: Report): void {
  const analysis = analyzeNad(nad);
  const ref = nadRef(use);
  const severity = contentSeverity(use);
  if (use.iface.binding === 'sriov') {
    // A NAD without config leaves the type to a file on the node: only the annotation can be judged.
    if (analysis.parsed.plugins.length > 0 && !analysis.isSriov) {
      report(
        'nad-binding-match',
        `interface "${use.iface.name}" uses sriov binding, but NetworkAttachmentDefinition ${ref} is of type "${analysis.type ?? 'unknown'}", not sriov: KubeVirt would hand the pod a VF that this CNI cannot configure. Point the network at an SR-IOV NAD, or use bridge: {} for this NAD.`,
        `${use.iface.path}.sriov`,
        severity,
      );
    }
    const resource = nad.metadata?.annotations?.[SRIOV_RESOURCE_ANNOTATION];
    if (typeof resource !== 'string' || resource.trim() === '') {
      report(
        'nad-binding-match',
        `interface "${use.iface.name}" uses sriov binding, but NetworkAttachmentDefinition ${ref} has no ${SRIOV_RESOURCE_ANNOTATION} annotation, so KubeVirt cannot request a VF for the pod. Add the annotation naming the SR-IOV device plugin resource (e.g. intel.com/sriov_netdevice) to the NAD.`,
        networkField(use),
        severity,
      );
    }
  } else if (use.iface.binding === 'bridge' && analysis.isSriov) {
    report(
      'nad-binding-match',
      `interface "${use.iface.name}" uses bridge binding on NetworkAttachmentDefinition ${ref}, which is an SR-IOV network: the pod gets no VF, so the SR-IOV CNI fails. Use sriov: {} for this interface.`,
      `${use.iface.path}.bridge`,
      severity,
    );
  }
}

/** Rule ovn-subnet, VM side: the provider Kube-OVN derives for this reference is bound to exactly one Subnet. */
function checkSubnetBinding(ctx: RuleContext, use: NetworkUse, provider: string, ipamOnly: boolean, report: Report): void {
  // A logical_switch annotation names the Subnet directly (pkg/controller/pod.go).
  if (!ipamOnly && ctx.vm!.annotations[provider + LOGICAL_SWITCH_ANNOTATION_SUFFIX]) return;
  const subnets = ctx.cluster.findSubnetsByProvider(provider);
  if (subnets.length === 1) return;
  const severity = hotplugSeverity(ctx, use);
  const ref = nadRef(use);
  const message =
    subnets.length === 0
      ? `network "${use.network.name}" uses Kube-OVN NetworkAttachmentDefinition ${ref}, but no Subnet has spec.provider "${provider}". ` +
        (ipamOnly
          ? `Kube-OVN fails the attachment ("provider ${provider} is not bound to any subnet").`
          : `Kube-OVN then fails the attachment ("provider ${provider} is not bound to any subnet"), or, before v1.15.18 and in v1.16.2, silently gives the interface an address from the default subnet (kubeovn/kube-ovn#6957).`) +
        ` Create a Subnet with provider: ${provider} first.`
      : `network "${use.network.name}" uses Kube-OVN NetworkAttachmentDefinition ${ref}, and Subnets ${subnets.map((s) => s.metadata?.name).join(', ')} all have spec.provider "${provider}": Kube-OVN binds the interface to whichever it lists first. Keep one Subnet per provider` +
        (ipamOnly ? '.' : `, or name the Subnet with the annotation ${provider}${LOGICAL_SWITCH_ANNOTATION_SUFFIX} on the VM's template.`);
  report('ovn-subnet', message, networkField(use), severity);
}

function checkNetwork(ctx: RuleContext, use: NetworkUse, report: Report): void {
  const { namespace, name } = use.network.nad;
  const nad = ctx.cluster.getNetworkAttachmentDefinition(namespace, name);
  if (!nad) {
    reportMissingNad(ctx, use, report);
    return;
  }
  const problems = ovnProviderProblems(nad, namespace);
  const unreadable = analyzeNad(nad).parsed.error;
  if (unreadable) {
    // Not a Kube-OVN matter: no CNI can use the NAD, so it is as good as missing.
    report(
      'nad-exists',
      `network "${use.network.name}" refers to NetworkAttachmentDefinition ${namespace}/${name}, whose ${unreadable}; Multus cannot attach anything with it. Fix the NAD's spec.config.`,
      networkField(use),
      hotplugSeverity(ctx, use),
    );
    return;
  }
  checkBindingMatch(use, nad, report);
  for (const p of problems) {
    report(
      'ovn-provider',
      `network "${use.network.name}" uses Kube-OVN NetworkAttachmentDefinition ${namespace}/${name}, which is set up wrongly: ${p.message} Fix the NAD; the VM needs no change.`,
      networkField(use),
      contentSeverity(use),
    );
  }
  const provider = boundProvider(nad, namespace);
  if (provider && problems.length === 0) checkSubnetBinding(ctx, use, provider, analyzeNad(nad).ovnRole === 'ipam', report);
}

export const networkSourceRules: ValidationRule = {
  ids: ['nad-exists', 'nad-binding-match', 'ovn-provider', 'ovn-subnet'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate(ctx, report) {
    // KubeVirt's controllers only carry out a spec that was judged when a user wrote it.
    if (!ctx.vm || ctx.exempt) return;
    for (const use of networkUses(ctx)) checkNetwork(ctx, use, report);
  },
};

// Rule ovn-subnet: exactly one Kube-OVN Subnet has the provider Kube-OVN derives for a NAD.
// With none, the attachment fails or addresses silently come from the default subnet; with
// two, Kube-OVN binds to whichever it lists first (kubeovn/kube-ovn pkg/controller/pod.go).
// Judged from all three sides: the VM that uses the NAD, the NAD, and the Subnet.
import { hotplugSeverity, nadRef, networkField, type NetworkUse } from '../analysis.js';
import { FieldPath } from '../field-path.js';
import { boundProvider, ovnProviderProblems } from '../nad.js';
import {
  defineRule,
  type RuleDescriptor,
  VALIDATION_SETTINGS,
  type Cause,
  type NadContext,
  type SubnetContext,
  type VmContext,
} from '../rule.js';
import type { KubeOvnSubnet } from '../types.js';
import { bounded, dig, quote, stringOf } from '../values.js';

/** Kube-OVN lets a pod name its Subnet for a provider, bypassing the provider binding. */
const LOGICAL_SWITCH_ANNOTATION_SUFFIX = '.kubernetes.io/logical_switch';

function subnetNames(subnets: KubeOvnSubnet[]): string {
  const names = subnets.slice(0, 5).map((s) => bounded(stringOf(s.metadata?.name) ?? ''));
  return names.join(', ') + (subnets.length > 5 ? ` and ${subnets.length - 5} more` : '');
}

function vmCause(ctx: VmContext, use: NetworkUse): Cause | undefined {
  const sound = use.nad && !use.analysis?.parsed.error && use.providerProblems.length === 0;
  const provider = sound && use.nad ? boundProvider(use.nad, use.nadNamespace) : undefined;
  if (!provider) return undefined;
  const ipamOnly = use.analysis?.ovnRole === 'ipam';
  // A logical_switch annotation names the Subnet directly (pkg/controller/pod.go).
  if (!ipamOnly && ctx.vm.annotations[provider + LOGICAL_SWITCH_ANNOTATION_SUFFIX]) return undefined;
  const subnets = ctx.cluster.findSubnetsByProvider(provider);
  if (subnets.length === 1) return undefined;
  const uses = `network ${quote(use.network.name)} uses Kube-OVN NetworkAttachmentDefinition ${nadRef(use)}`;
  const message =
    subnets.length === 0
      ? `${uses}, but no Subnet has spec.provider "${provider}". ` +
        (ipamOnly
          ? `Kube-OVN fails the attachment ("provider ${provider} is not bound to any subnet").`
          : `Kube-OVN then fails the attachment ("provider ${provider} is not bound to any subnet", v1.15.18 and ` +
            `later ` +
            'in the 1.15 line), or, before v1.15.18 and in v1.13, v1.14, v1.16.0-v1.16.2, silently gives the ' +
            'interface an address from the default subnet (kubeovn/kube-ovn#6957).') +
        ` Create a Subnet with provider: ${provider} first.`
      : `${uses}, and Subnets ${subnetNames(subnets)} all have spec.provider "${provider}": Kube-OVN binds the ` +
        'interface to whichever it lists first. Keep one Subnet per provider' +
        (ipamOnly
          ? '.'
          : `, or name the Subnet with the annotation ${provider}${LOGICAL_SWITCH_ANNOTATION_SUFFIX} on the VM's ` +
            `template.`);
  return { message, field: networkField(use), action: hotplugSeverity(ctx.facts.hotplug !== undefined, use) };
}

/** The NAD side: said once, when the NAD becomes a Kube-OVN network; not on every later edit. */
function nadCauses({ nad, oldNad, namespace, cluster }: NadContext): Cause[] {
  if (ovnProviderProblems(nad, namespace).length > 0) return [];
  const provider = boundProvider(nad, namespace);
  if (!provider || (oldNad && boundProvider(oldNad, namespace) === provider)) return [];
  const subnets = cluster.findSubnetsByProvider(provider);
  if (subnets.length === 1) return [];
  const message =
    subnets.length === 0
      ? `no Kube-OVN Subnet has spec.provider "${provider}" yet; until one does, pods and VMs attached to this NAD ` +
        `fail ` +
        `("provider ${provider} is not bound to any subnet") or, on some Kube-OVN versions, get an address from the ` +
        `default subnet. Create a Subnet with provider: ${provider}.`
      : `Subnets ${subnetNames(subnets)} all have spec.provider "${provider}"; Kube-OVN binds the attachment to ` +
        'whichever it lists first. Keep one Subnet per provider.';
  return [{ message, field: FieldPath.of('spec', 'config'), action: 'warn' }];
}

/** The Subnet side: said when a Subnet takes a provider another Subnet already has. */
function subnetCauses({ subnet, oldSubnet, spec, cluster }: SubnetContext): Cause[] {
  const provider = stringOf(spec.provider);
  if (!provider || provider === 'ovn' || stringOf(dig(oldSubnet, 'spec', 'provider')) === provider) return [];
  const name = stringOf(subnet.metadata?.name);
  const others = cluster.findSubnetsByProvider(provider).filter((s) => stringOf(s.metadata?.name) !== name);
  if (others.length === 0) return [];
  return [
    {
      message:
        `Subnet ${subnetNames(others)} already has spec.provider ${quote(provider)}; with two Subnets on one ` +
        `provider ` +
        'Kube-OVN binds each attachment to whichever it lists first. Use a NAD (and provider) per Subnet, or name ' +
        'the ' +
        `Subnet per pod with the annotation ${bounded(provider)}${LOGICAL_SWITCH_ANNOTATION_SUFFIX}.`,
      field: FieldPath.of('spec', 'provider'),
      action: 'warn',
    },
  ];
}

export const ovnSubnet: RuleDescriptor<'ovn-subnet'> = defineRule({
  id: 'ovn-subnet',
  title: 'Kube-OVN provider is bound to exactly one Subnet',
  summary: 'a provider bound to no Kube-OVN Subnet, or to two',
  description:
    "Exactly one Kube-OVN Subnet has the NAD's provider; with none, attach fails or addresses silently come from the " +
    'default subnet, and two are ambiguous.',
  defaultSetting: 'deny',
  defaultNote: ' on hotplug, warn on create',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: (ctx) => (ctx.exempt ? [] : ctx.facts.networkUses.flatMap((use) => vmCause(ctx, use) ?? [])),
    nad: nadCauses,
    subnet: subnetCauses,
  },
});

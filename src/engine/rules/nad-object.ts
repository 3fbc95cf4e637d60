// Rule ovn-provider on NetworkAttachmentDefinitions (and the NAD half of ovn-subnet).
//
// Kube-OVN's controller does not read a NAD's `provider`: it derives the provider from the
// reference, `<nad>.<namespace>.ovn` (`<nad>.<namespace>` for a NAD that uses Kube-OVN for
// IPAM only), and looks up the Subnet bound to it (kubeovn/kube-ovn pkg/controller/pod.go).
// The CNI plugin, on the node, takes `provider` from the config instead, an empty one
// meaning the primary network `ovn`, and refuses a config without `server_socket`
// (cmd/cni/cni.go loadNetConf). So both must agree, or the NIC gets no address, or one
// from the wrong Subnet. The checks live here once; netsource.ts applies them to the NAD
// a VM refers to.
import type { Report, RuleContext, ValidationRule } from '../rule.js';
import type { NetworkAttachmentDefinition } from '../types.js';
import { analyzeNad, boundProvider, expectedOvnProvider } from '../nad.js';

export const DEFAULT_SERVER_SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';

export interface ProviderProblem {
  /** Field of the NAD: `spec.config` or `metadata.name`. */
  field: string;
  message: string;
}

const problemCache = new WeakMap<object, { key: string; problems: ProviderProblem[] }>();

function isBlank(v: unknown): boolean {
  return typeof v !== 'string' || v.trim() === '';
}

/** Kube-OVN's own test (pkg/util/subnet.go IsOvnProvider): three dot-separated fields ending in `ovn`. */
export function looksLikeOvnProvider(provider: string): boolean {
  const fields = provider.split('.');
  return provider === '' || provider === 'ovn' || (fields.length === 3 && fields[2] === 'ovn');
}

function computeProblems(nad: NetworkAttachmentDefinition, name: string | undefined, namespace: string): ProviderProblem[] {
  const analysis = analyzeNad(nad);
  if (analysis.parsed.error) {
    return [{ field: 'spec.config', message: `${analysis.parsed.error}: Multus cannot read it, so no pod can attach to this network. Make spec.config a JSON object (a CNI config or conflist).` }];
  }
  // A NAD made from generateName has no name yet: the provider cannot be judged.
  if (!analysis.ovnRole || !name) return [];
  const problems: ProviderProblem[] = [];
  const ipamOnly = analysis.ovnRole === 'ipam';
  const expected = expectedOvnProvider(name, namespace, ipamOnly);
  const dotted = name.includes('.');
  if (dotted && !ipamOnly) {
    problems.push({
      field: 'metadata.name',
      message: `the NAD name "${name}" contains a dot, so the provider Kube-OVN derives for it, "${expected}", has more than the three dot-separated fields by which Kube-OVN recognises an OVN provider (pkg/util/subnet.go). Rename the NAD without dots and set "provider": "<new-name>.${namespace}.ovn".`,
    });
  }
  for (const plugin of analysis.ovnPlugins) {
    // IPAM-only: Kube-OVN's plugin runs as the IPAM of another one and reads ipam.provider and ipam.server_socket.
    const where = ipamOnly ? `the "${plugin.type ?? '?'}" plugin's ipam section` : 'the kube-ovn plugin';
    const section: Record<string, unknown> = ipamOnly ? (plugin.ipam as Record<string, unknown>) : plugin;
    const key = ipamOnly ? 'ipam.provider' : 'provider';
    const provider = section.provider;
    if (!dotted || ipamOnly) {
      if (isBlank(provider)) {
        problems.push({
          field: 'spec.config',
          message: `${where} in spec.config has no "provider", so Kube-OVN's CNI plugin falls back to the primary network "ovn" and never finds the address the controller allocated for "${expected}". Set "${key}": "${expected}".`,
        });
      } else if (provider !== expected) {
        const hint = ipamOnly
          ? provider === `${expected}.ovn`
            ? ' A NAD that uses Kube-OVN for IPAM only has no ".ovn" suffix (kubeovn/kube-ovn#2783).'
            : ''
          : provider === `${name}.${namespace}`
            ? ' Only a NAD that uses Kube-OVN for IPAM alone goes without the ".ovn" suffix.'
            : '';
        problems.push({
          field: 'spec.config',
          message: `"${key}" in spec.config is "${provider}", but Kube-OVN derives "${expected}" from the NAD's name and namespace and binds the Subnet by that; the CNI plugin would look for its address under "${provider}", and the interface gets none, or one from the wrong Subnet.${hint} Set "${key}": "${expected}".`,
        });
      }
    }
    if (isBlank(section.server_socket)) {
      problems.push({
        field: 'spec.config',
        message: `${where} in spec.config has no "server_socket"; Kube-OVN's CNI plugin has no default and fails every attachment ("server_socket is required in cni.conf"). Set "${ipamOnly ? 'ipam.server_socket' : 'server_socket'}": "${DEFAULT_SERVER_SOCKET}".`,
      });
    }
  }
  return problems;
}

/**
 * Everything wrong with a NAD's Kube-OVN provider set-up (rule ovn-provider), plus an
 * unreadable spec.config. Empty for a sound NAD and for one that is no Kube-OVN network.
 * `namespace` stands in where the object has none (a CREATE that takes the request's).
 */
export function ovnProviderProblems(nad: NetworkAttachmentDefinition, namespace = nad.metadata?.namespace ?? ''): ProviderProblem[] {
  const name = nad.metadata?.name;
  const key = `${name ?? ''}/${namespace}`;
  const cached = problemCache.get(nad);
  if (cached && cached.key === key) return cached.problems;
  const problems = computeProblems(nad, name, namespace);
  problemCache.set(nad, { key, problems });
  return problems;
}

/** The NAD half of ovn-subnet: a new Kube-OVN NAD whose provider no Subnet (or several) is bound to. */
function checkBoundSubnet(ctx: RuleContext, nad: NetworkAttachmentDefinition, namespace: string, report: Report): void {
  const provider = boundProvider(nad, namespace);
  if (!provider) return;
  const old = ctx.oldObject as NetworkAttachmentDefinition | undefined;
  // Said once, when the NAD becomes a Kube-OVN network; not on every later edit.
  if (old && boundProvider(old, namespace) === provider) return;
  const subnets = ctx.cluster.findSubnetsByProvider(provider);
  if (subnets.length === 1) return;
  const message =
    subnets.length === 0
      ? `no Kube-OVN Subnet has spec.provider "${provider}" yet; until one does, pods and VMs attached to this NAD fail ("provider ${provider} is not bound to any subnet") or, on some Kube-OVN versions, get an address from the default subnet. Create a Subnet with provider: ${provider}.`
      : `Subnets ${subnets.map((s) => s.metadata?.name).join(', ')} all have spec.provider "${provider}"; Kube-OVN binds the attachment to whichever it lists first. Keep one Subnet per provider.`;
  report('ovn-subnet', message, 'spec.config', 'warn');
}

export const nadObjectRules: ValidationRule = {
  ids: ['ovn-provider', 'ovn-subnet'],
  kinds: ['NetworkAttachmentDefinition'],
  validate(ctx, report) {
    const nad = ctx.object as NetworkAttachmentDefinition | undefined;
    if (!nad) return;
    const namespace = nad.metadata?.namespace ?? ctx.request.namespace ?? 'default';
    const problems = ovnProviderProblems(nad, namespace);
    for (const p of problems) report('ovn-provider', p.message, p.field);
    if (problems.length === 0) checkBoundSubnet(ctx, nad, namespace, report);
  },
};

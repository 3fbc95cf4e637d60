// Reading a NetworkAttachmentDefinition's CNI config: a JSON string that may hold a single
// plugin or a `plugins` list (a conflist).
import type { NetworkAttachmentDefinition } from './types.js';
import { dig, isObject, quote, stringOf } from './values.js';

export interface CniPluginConfig {
  type?: string;
  provider?: string;
  server_socket?: string;
  ipam?: { type?: string; provider?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ParsedNadConfig {
  /** The plugin entries: the top level itself, or each member of `plugins`. */
  plugins: CniPluginConfig[];
  /** Set when `spec.config` is missing or not a JSON object. */
  error?: string;
}

export const SRIOV_RESOURCE_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';

function parseNadConfig(nad: NetworkAttachmentDefinition | undefined): ParsedNadConfig {
  const text = dig(nad, 'spec', 'config');
  // A NAD without config is legal: Multus then reads a file named after it on the node.
  if (text === undefined || text === '') return { plugins: [] };
  if (typeof text !== 'string') return { plugins: [], error: 'spec.config is not a string' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { plugins: [], error: `spec.config is not valid JSON (${(err as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { plugins: [], error: 'spec.config is not a JSON object' };
  }
  const top = parsed as CniPluginConfig & { plugins?: unknown };
  if (Array.isArray(top.plugins)) {
    return { plugins: top.plugins.filter((p): p is CniPluginConfig => typeof p === 'object' && p !== null) };
  }
  return { plugins: [top] };
}

/** The Kube-OVN provider Kube-OVN derives for a NAD (pkg/util/network_attachment.go). */
function expectedOvnProvider(name: string, namespace: string, ipamOnly = false): string {
  return ipamOnly ? `${name}.${namespace}` : `${name}.${namespace}.ovn`;
}

const KUBE_OVN_TYPE = 'kube-ovn';

/** How a NAD uses Kube-OVN: as the network (`type: kube-ovn`), for IPAM only, or not at all. */
export type OvnRole = 'network' | 'ipam' | undefined;

export interface NadAnalysis {
  parsed: ParsedNadConfig;
  ovnRole: OvnRole;
  /** The plugin entries that make the role: `type: kube-ovn` ones, else the IPAM-only ones. */
  ovnPlugins: CniPluginConfig[];
  isSriov: boolean;
  /** The first plugin's type, for messages. */
  type?: string;
}

// Informer and file views hand out the same object until it changes, so a NAD's config is
// parsed once, not once per VM that refers to it. Keyed by the object alone: the analysis
// depends on nothing else (no configuration, no cluster).
const analyses = new WeakMap<object, NadAnalysis>();

export function analyzeNad(nad: NetworkAttachmentDefinition): NadAnalysis {
  const cached = analyses.get(nad);
  if (cached) return cached;
  const parsed = parseNadConfig(nad);
  const network = parsed.plugins.filter((p) => p.type === KUBE_OVN_TYPE);
  const ipam = network.length ? [] : parsed.plugins.filter((p) => isObject(p.ipam) && p.ipam.type === KUBE_OVN_TYPE);
  const analysis: NadAnalysis = {
    parsed,
    ovnRole: network.length ? 'network' : ipam.length ? 'ipam' : undefined,
    ovnPlugins: network.length ? network : ipam,
    isSriov: parsed.plugins.some((p) => p.type === 'sriov'),
    type: typeof parsed.plugins[0]?.type === 'string' ? parsed.plugins[0].type : undefined,
  };
  analyses.set(nad, analysis);
  return analysis;
}

/** The provider Kube-OVN's controller binds a Subnet by for this NAD, or undefined when it is no Kube-OVN NAD. */
export function boundProvider(nad: NetworkAttachmentDefinition, namespace = nadNamespace(nad)): string | undefined {
  const { ovnRole } = analyzeNad(nad);
  const name = stringOf(dig(nad, 'metadata', 'name'));
  if (!ovnRole || !name) return undefined;
  return expectedOvnProvider(name, namespace, ovnRole === 'ipam');
}

function nadNamespace(nad: NetworkAttachmentDefinition): string {
  return stringOf(dig(nad, 'metadata', 'namespace')) ?? '';
}

// The Kube-OVN provider set-up of a NAD (rule ovn-provider), read both for a NAD that is
// admitted and for the NAD a VM refers to.
//
// Kube-OVN's controller does not read a NAD's `provider`: it derives the provider from the
// reference, `<nad>.<namespace>.ovn` (`<nad>.<namespace>` for a NAD that uses Kube-OVN for
// IPAM only), and looks up the Subnet bound to it (kubeovn/kube-ovn pkg/controller/pod.go).
// The CNI plugin, on the node, takes `provider` from the config instead, an empty one
// meaning the primary network `ovn`, and refuses a config without `server_socket`
// (cmd/cni/cni.go loadNetConf). So both must agree, or the NIC gets no address, or one
// from the wrong Subnet.

const DEFAULT_SERVER_SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';

export interface ProviderProblem {
  /** Field of the NAD: `spec.config` or `metadata.name`. */
  field: 'spec.config' | 'metadata.name';
  message: string;
}

function isBlank(v: unknown): boolean {
  return typeof v !== 'string' || v.trim() === '';
}

function providerHint(provider: unknown, expected: string, name: string, namespace: string, ipamOnly: boolean): string {
  if (ipamOnly) {
    return provider === `${expected}.ovn`
      ? ' A NAD that uses Kube-OVN for IPAM only has no ".ovn" suffix (kubeovn/kube-ovn#2783).'
      : '';
  }
  return provider === `${name}.${namespace}`
    ? ' Only a NAD that uses Kube-OVN for IPAM alone goes without the ".ovn" suffix.'
    : '';
}

function computeProviderProblems(
  nad: NetworkAttachmentDefinition,
  name: string | undefined,
  namespace: string,
): ProviderProblem[] {
  const analysis = analyzeNad(nad);
  if (analysis.parsed.error) {
    return [
      {
        field: 'spec.config',
        message:
          `${analysis.parsed.error}: Multus cannot read it, so no pod can attach to this network. Make ` +
          `spec.config a JSON object (a CNI config or conflist).`,
      },
    ];
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
      message:
        `the NAD name ${quote(name)} contains a dot, so the provider Kube-OVN derives for it, ` +
        `${quote(expected)}, has more than the three dot-separated fields by which Kube-OVN recognises an OVN ` +
        `provider (pkg/util/subnet.go). Rename the NAD without dots and set "provider": ` +
        `"<new-name>.${namespace}.ovn".`,
    });
  }
  for (const plugin of analysis.ovnPlugins) {
    // IPAM-only: Kube-OVN's plugin runs as the IPAM of another one and reads ipam.provider and ipam.server_socket.
    const where = ipamOnly ? `the ${quote(plugin.type ?? '?')} plugin's ipam section` : 'the kube-ovn plugin';
    const section: Record<string, unknown> = ipamOnly && isObject(plugin.ipam) ? plugin.ipam : plugin;
    const key = ipamOnly ? 'ipam.provider' : 'provider';
    const provider = section.provider;
    if (!dotted || ipamOnly) {
      if (isBlank(provider)) {
        problems.push({
          field: 'spec.config',
          message:
            `${where} in spec.config has no "provider", so Kube-OVN's CNI plugin falls back to the primary ` +
            `network "ovn" and never finds the address the controller allocated for "${expected}". Set "${key}": ` +
            `"${expected}".`,
        });
      } else if (provider !== expected) {
        problems.push({
          field: 'spec.config',
          message:
            `"${key}" in spec.config is ${quote(provider)}, but Kube-OVN derives "${expected}" from the NAD's ` +
            `name and namespace and binds the Subnet by that; the CNI plugin would look for its address under ` +
            `${quote(provider)}, and the interface gets none, or one from the wrong ` +
            `Subnet.${providerHint(provider, expected, name, namespace, ipamOnly)} Set "${key}": "${expected}".`,
        });
      }
    }
    if (isBlank(section.server_socket)) {
      problems.push({
        field: 'spec.config',
        message:
          `${where} in spec.config has no "server_socket"; Kube-OVN's CNI plugin has no default and fails ` +
          `every attachment ("server_socket is required in cni.conf"). Set ` +
          `"${ipamOnly ? 'ipam.server_socket' : 'server_socket'}": "${DEFAULT_SERVER_SOCKET}".`,
      });
    }
  }
  return problems;
}

// Keyed by the object and the name and namespace it is judged under (a CREATE may take the
// request's namespace); nothing else goes in.
const problemCache = new WeakMap<object, { key: string; problems: ProviderProblem[] }>();

/**
 * Everything wrong with a NAD's Kube-OVN provider set-up, plus an unreadable spec.config.
 * Empty for a sound NAD and for one that is no Kube-OVN network. `namespace` stands in
 * where the object has none (a CREATE that takes the request's).
 */
export function ovnProviderProblems(
  nad: NetworkAttachmentDefinition,
  namespace = nadNamespace(nad),
): ProviderProblem[] {
  const name = stringOf(dig(nad, 'metadata', 'name'));
  const key = `${name ?? ''}/${namespace}`;
  const cached = problemCache.get(nad);
  if (cached && cached.key === key) return cached.problems;
  const problems = computeProviderProblems(nad, name, namespace);
  problemCache.set(nad, { key, problems });
  return problems;
}

/**
 * Whether Kube-OVN treats a Subnet's provider as an OVN one (kubeovn/kube-ovn pkg/util/subnet.go
 * IsOvnProvider, v1.13-v1.16): empty, `ovn`, or exactly three dot-separated fields ending in `ovn`.
 */
export function isOvnProvider(provider: string): boolean {
  if (provider === '' || provider === 'ovn') return true;
  const fields = provider.split('.');
  return fields.length === 3 && fields[2] === 'ovn';
}

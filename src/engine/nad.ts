// Reading a NetworkAttachmentDefinition's CNI config: a JSON string that may hold a single
// plugin or a `plugins` list (a conflist).
import type { NetworkAttachmentDefinition } from './types.js';
import { isObject } from './values.js';

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

export function parseNadConfig(nad: NetworkAttachmentDefinition | undefined): ParsedNadConfig {
  const text = nad?.spec?.config;
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
export function expectedOvnProvider(name: string, namespace: string, ipamOnly = false): string {
  return ipamOnly ? `${name}.${namespace}` : `${name}.${namespace}.ovn`;
}

export const KUBE_OVN_TYPE = 'kube-ovn';

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
// parsed once, not once per VM that refers to it.
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
export function boundProvider(nad: NetworkAttachmentDefinition, namespace = nad.metadata?.namespace ?? ''): string | undefined {
  const { ovnRole } = analyzeNad(nad);
  const name = nad.metadata?.name;
  if (!ovnRole || !name) return undefined;
  return expectedOvnProvider(name, namespace, ovnRole === 'ipam');
}

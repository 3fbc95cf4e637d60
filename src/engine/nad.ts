// Reading a NetworkAttachmentDefinition's CNI config: a JSON string that may hold a single
// plugin or a `plugins` list (a conflist).
import type { NetworkAttachmentDefinition } from './types.js';

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

/** The first plugin entry's type: what Multus runs first, and what "the NAD type" means to a user. */
export function nadType(nad: NetworkAttachmentDefinition | undefined): string | undefined {
  return parseNadConfig(nad).plugins[0]?.type;
}

/** The entry that makes this a Kube-OVN network (`type: kube-ovn`), if any. */
export function kubeOvnPlugin(nad: NetworkAttachmentDefinition | undefined): CniPluginConfig | undefined {
  return parseNadConfig(nad).plugins.find((p) => p.type === 'kube-ovn');
}

/** The entry that uses Kube-OVN only for IPAM (`ipam.type: kube-ovn` under another type). */
export function kubeOvnIpamPlugin(nad: NetworkAttachmentDefinition | undefined): CniPluginConfig | undefined {
  return parseNadConfig(nad).plugins.find((p) => p.type !== 'kube-ovn' && p.ipam?.type === 'kube-ovn');
}

/** The Kube-OVN provider Kube-OVN derives for a NAD (pkg/util/network_attachment.go). */
export function expectedOvnProvider(name: string, namespace: string, ipamOnly = false): string {
  return ipamOnly ? `${name}.${namespace}` : `${name}.${namespace}.ovn`;
}

/** The provider a NAD's config declares, for the Kube-OVN entry or the IPAM-only entry. */
export function declaredOvnProvider(nad: NetworkAttachmentDefinition | undefined): string | undefined {
  const main = kubeOvnPlugin(nad);
  if (main) return main.provider;
  const ipam = kubeOvnIpamPlugin(nad);
  return ipam ? ipam.ipam?.provider ?? ipam.provider : undefined;
}

export function isSriovNad(nad: NetworkAttachmentDefinition | undefined): boolean {
  return parseNadConfig(nad).plugins.some((p) => p.type === 'sriov');
}

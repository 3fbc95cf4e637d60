// Shared test fixtures: the seed scenarios from examples/, and request builders.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ObjectIndex } from '../src/cluster/object-index.js';
import { defaultConfig } from '../src/engine/config.js';
import { evaluate } from '../src/engine/evaluate.js';
import { useCrdSchemas } from '../src/engine/crd-schemas.js';
import { readCrdSchema } from '../src/io/crd-schemas.js';

// As the CLI does: the schema rule reads the shipped CRD schemas.
useCrdSchemas(readCrdSchema);
import {
  compareVersions,
  parseKubeVirtVersion,
  REPRESENTATIVE_VERSIONS,
  type KubeVirtVersion,
} from '../src/engine/kubevirt-version.js';
import type { KubeObject, PolicyConfig, PolicyRequest, RuleId } from '../src/engine/types.js';

/** A manifest as tests build and edit it: the engine's KubeObject with spec and status open for editing. */
export type Manifest = KubeObject & { spec?: any; status?: any };

/** Repository root (tests run from dist/test). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLES = join(ROOT, 'examples');

export function readYaml(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as Manifest)
    .filter((o) => o && typeof o === 'object');
}

export function example(relPath: string): Manifest {
  return readYaml(join(EXAMPLES, relPath))[0];
}

/** The seed cluster (examples/cluster) plus any extra objects. */
export function seedCluster(...extra: KubeObject[]): ObjectIndex {
  const index = new ObjectIndex();
  const dir = join(EXAMPLES, 'cluster');
  for (const f of readdirSync(dir)) for (const o of readYaml(join(dir, f))) index.upsert(o);
  for (const o of extra) index.upsert(o);
  return index;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

export function update(oldObject: KubeObject, object: KubeObject, extra: Partial<PolicyRequest> = {}): PolicyRequest {
  return {
    operation: 'UPDATE',
    kind: object.kind ?? oldObject.kind ?? '',
    group: (object.apiVersion ?? '').split('/').slice(0, -1).join('/'),
    namespace: object.metadata?.namespace,
    name: object.metadata?.name,
    object,
    oldObject,
    userInfo: { username: 'alice' },
    ...extra,
  };
}

export function create(object: KubeObject, extra: Partial<PolicyRequest> = {}): PolicyRequest {
  return {
    operation: 'CREATE',
    kind: object.kind ?? '',
    group: (object.apiVersion ?? '').split('/').slice(0, -1).join('/'),
    namespace: object.metadata?.namespace,
    name: object.metadata?.name,
    object,
    userInfo: { username: 'alice' },
    ...extra,
  };
}

export function config(overrides: Partial<PolicyConfig> = {}): PolicyConfig {
  const base = defaultConfig();
  return { ...base, ...overrides, rules: { ...base.rules, ...(overrides.rules ?? {}) } };
}

/** Evaluates and returns the findings of one rule, for focused assertions. */
export function findingsOf(rule: RuleId, request: PolicyRequest, cluster = seedCluster(), cfg = config()) {
  return evaluate(request, cluster, cfg).findings.filter((f) => f.rule === rule);
}

/** The VMI-spec part of a VM, for editing interfaces and networks in tests. */
/** A Kube-OVN NetworkAttachmentDefinition in `default` with the given provider, config pretty-printed. */
export function kubeOvnNad(name: string, provider: string) {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace: 'default' },
    spec: {
      config: JSON.stringify(
        { cniVersion: '0.3.1', type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider },
        null,
        2,
      ),
    },
  };
}

export function vmSpec(vm: Manifest): any {
  return vm.kind === 'VirtualMachine' ? vm.spec.template.spec : vm.spec;
}

/** Adds a NIC and its network to a VM or VMI object (mutates it, returns it). */
export function addNic(vm: Manifest, nic: Record<string, unknown>, network: Record<string, unknown>): KubeObject {
  const spec = vmSpec(vm);
  spec.domain.devices.interfaces.push(nic);
  spec.networks.push(network);
  return vm;
}

/** The representative releases a conformance vector's ranges ("vA-vB" or "vA") cover. */
export function covered(ranges: string[]): KubeVirtVersion[] {
  return REPRESENTATIVE_VERSIONS.filter((v) =>
    ranges.some((range) => {
      const [from, to = from] = range.split('-').map((t) => parseKubeVirtVersion(t) as KubeVirtVersion);
      return compareVersions(v, from) >= 0 && compareVersions(v, to) <= 0;
    }),
  );
}

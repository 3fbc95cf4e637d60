// The informer cache keeps projected objects (src/cluster/projection.ts). Decisions must not
// depend on that: every scenario here is evaluated over a cluster of full objects (as the
// API server returns them, managedFields and status included) and over the same cluster
// projected, and the results must be identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectIndex, indexedKindOf } from '../src/cluster/object-index.js';
import { projectObject, Interner } from '../src/cluster/projection.js';
import { evaluate } from '../src/engine/evaluate.js';
import { ROOT_COMPLEX_ANNOTATION, SLOT_COUNT_ANNOTATION } from '../src/engine/pci-topology.js';
import type { PolicyConfig, PolicyRequest } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { addMultusNic, asVmi, fedora, fedoraWithBridge, removeNic } from './hotplug-fixtures.js';
import { clone, config, create, EXAMPLES, example, readYaml, update } from './support.js';

/** A VMI as the API server returns it: managed fields, extra annotations, conditions, guest info. */
function clusterVmi(vm: KubeObject, annotations: Record<string, string>, statusInterfaces: string[]): KubeObject {
  const vmi = asVmi(vm);
  vmi.metadata = {
    ...vmi.metadata,
    uid: 'a1b2c3',
    resourceVersion: '4242',
    labels: { 'kubevirt.io/nodeName': 'node-1' },
    annotations: {
      ...annotations,
      'kubevirt.io/latest-observed-api-version': 'v1',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    },
    managedFields: [
      {
        manager: 'virt-controller',
        operation: 'Update',
        apiVersion: 'kubevirt.io/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:status': {} },
      },
    ],
  };
  vmi.status = {
    phase: 'Running',
    nodeName: 'node-1',
    conditions: [{ type: 'Ready', status: 'True' }],
    interfaces: statusInterfaces.map((name, i) => ({
      name,
      infoSource: 'domain, guest-agent',
      interfaceName: `eth${i}`,
      ipAddress: `10.0.0.${i + 2}`,
      mac: `02:00:00:00:00:0${i}`,
    })),
    guestOSInfo: { id: 'fedora' },
  };
  return vmi;
}

function clusterObjects(): KubeObject[] {
  const objects = ['kubevirt.yaml', 'networks.yaml', 'subnets.yaml'].flatMap((f) =>
    readYaml(join(EXAMPLES, 'cluster', f)),
  );
  for (const o of objects) {
    o.metadata = {
      ...o.metadata,
      uid: 'u',
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      annotations: { ...o.metadata?.annotations, note: 'x' },
    };
  }
  objects.find((o) => o.kind === 'KubeVirt')!.status = {
    phase: 'Deployed',
    observedKubeVirtVersion: 'v1.6.0',
    conditions: [],
  };
  // A running VM with a pending unplug, one whose domain has a slot-count annotation, one on the root complex.
  const pending = clone(fedoraWithBridge());
  pending.spec.template.spec.domain.devices.interfaces.find((i: { name: string }) => i.name === 'dyniface1').state =
    'absent';
  const counted = clone(fedora());
  counted.metadata!.name = 'counted';
  const flat = clone(fedora());
  flat.metadata!.name = 'flat';
  objects.push(
    clusterVmi(pending, {}, ['default', 'dyniface1']),
    clusterVmi(counted, { [SLOT_COUNT_ANNOTATION]: '2' }, ['default']),
    clusterVmi(flat, { [ROOT_COMPLEX_ANNOTATION]: 'true' }, ['default']),
  );
  return objects;
}

function named(vm: KubeObject, name: string): KubeObject {
  const copy = clone(vm);
  copy.metadata!.name = name;
  return copy;
}

/** Requests over every rule family: hotplugs, unplugs, re-adds, slots, NADs, Subnets. */
function scenarios(): [string, PolicyRequest][] {
  const readd = clone(fedoraWithBridge());
  readd.spec.template.spec.domain.devices.interfaces.find((i: { name: string }) => i.name === 'dyniface1').state =
    'absent';
  const review = JSON.parse(readFileSync(join(EXAMPLES, 'reviews', 'nad-wrong-provider.json'), 'utf8'));
  return [
    ['seed hotplug', update(fedora(), fedoraWithBridge())],
    ['masquerade hotplug', update(fedora(), example('bad/masquerade-hotplug.yaml'))],
    ['sriov hotplug', update(fedora(), addMultusNic(fedora(), 'vf1', { sriov: {} }, 'sriov-net'))],
    ['missing NAD', update(fedora(), addMultusNic(fedora(), 'x1', { bridge: {} }, 'nowhere'))],
    ['NAD in another namespace', update(fedora(), addMultusNic(fedora(), 'x1', { bridge: {} }, 'storage-net'))],
    ['re-add while the unplug is pending', update(readd, fedoraWithBridge())],
    ['unplug', update(fedoraWithBridge(), removeNic(fedoraWithBridge(), 'dyniface1'))],
    [
      'slot-count annotation on the VMI',
      update(named(fedora(), 'counted'), addMultusNic(named(fedora(), 'counted'), 'a1', { bridge: {} }, 'attachnet')),
    ],
    [
      'root complex VMI',
      update(named(fedora(), 'flat'), addMultusNic(named(fedora(), 'flat'), 'a1', { bridge: {} }, 'attachnet')),
    ],
    ['VMI update', update(asVmi(fedora()), asVmi(fedoraWithBridge()))],
    ['wrong OVN provider NAD', create(example('bad/wrong-ovn-provider.yaml'))],
    ['review from examples/reviews', review.request as PolicyRequest],
    [
      'Subnet sharing a provider',
      create({
        apiVersion: 'kubeovn.io/v1',
        kind: 'Subnet',
        metadata: { name: 'second' },
        spec: { provider: 'attachnet.default.ovn', cidrBlock: '10.99.0.0/24', protocol: 'IPv4' },
      }),
    ],
  ];
}

const CONFIGS: [string, PolicyConfig][] = [
  ['default', config()],
  ['v2 slots, no dynamic networks controller', config({ slotModel: 'v2', dynamicNetworksController: false })],
  ['legacy-q35', config({ slotModel: 'legacy-q35' })],
];

test('decisions over projected objects equal those over full objects', () => {
  const full = new ObjectIndex();
  const projected = new ObjectIndex();
  const strings = new Interner();
  for (const obj of clusterObjects()) {
    const kind = indexedKindOf(obj)!;
    assert.ok(kind, `${obj.kind} is indexed`);
    full.upsert(obj);
    projected.upsert(projectObject(kind, clone(obj), strings));
  }
  assert.equal(projected.size, full.size);
  const rulesSeen = new Set<string>();
  for (const [scenario, request] of scenarios()) {
    for (const [configName, cfg] of CONFIGS) {
      for (const phase of ['validate', 'mutate', 'both'] as const) {
        const expected = evaluate(clone(request), full, cfg, phase);
        const actual = evaluate(clone(request), projected, cfg, phase);
        assert.deepEqual(actual, expected, `${scenario}, ${configName}, ${phase}`);
        for (const f of expected.findings) rulesSeen.add(f.rule);
      }
    }
  }
  // The scenarios reach the rules that read cluster objects, so the comparison means something.
  for (const rule of ['hotplug-slots', 'hotplug-path', 'nad-exists', 'ovn-provider', 'hotplug-binding']) {
    assert.ok(rulesSeen.has(rule), `some scenario triggers ${rule} (seen: ${[...rulesSeen].join(', ')})`);
  }
});

test('projection drops what no rule reads and shares repeated strings', () => {
  const strings = new Interner();
  const vmis = clusterObjects().filter((o) => o.kind === 'VirtualMachineInstance');
  const [a, b] = vmis.map(
    (o) => projectObject('VirtualMachineInstance', JSON.parse(JSON.stringify(o)) as KubeObject, strings) as KubeObject,
  );
  assert.equal(a.metadata?.managedFields, undefined);
  assert.equal(a.metadata?.labels, undefined);
  assert.deepEqual(Object.keys(a.metadata?.annotations ?? {}), []);
  assert.deepEqual(b.metadata?.annotations, { [SLOT_COUNT_ANNOTATION]: '2' });
  assert.equal(a.status.nodeName, undefined);
  assert.equal(a.status.interfaces[0].ipAddress, undefined);
  assert.equal(strings.size > 0, true);
  const kubevirt = projectObject(
    'KubeVirt',
    clusterObjects().find((o) => o.kind === 'KubeVirt')!,
    strings,
  ) as KubeObject;
  assert.deepEqual(kubevirt.status, { observedKubeVirtVersion: 'v1.6.0' });
  assert.deepEqual(kubevirt.spec.workloadUpdateStrategy, { workloadUpdateMethods: ['LiveMigrate'] });
});

// Each rule's check, called alone on a small fixture: one that it flags and one that it
// passes. Every registered rule must have its pair here, so a new rule comes with its test.
// The end-to-end behaviour of the rules together (settings, mutation before validation)
// is tested through evaluate() in the rules-*.test.ts files.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildContext, checkRule } from '../src/engine/evaluate.js';
import { RULES, type RuleId } from '../src/engine/rules/index.js';
import type { PolicyRequest } from '../src/engine/types.js';
import {
  addMultusNic,
  asVmi,
  fedora,
  fedoraWithBridge,
  ifaceNamed,
  interfacesOf,
  removeNic,
} from './hotplug-fixtures.js';
import { clone, config, create, example, seedCluster, update, type Manifest } from './support.js';

interface Pair {
  flagged: () => PolicyRequest;
  passed: () => PolicyRequest;
}

const nad = (name: string, cni: unknown): Manifest => ({
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  metadata: { name, namespace: 'default' },
  spec: { config: JSON.stringify(cni) },
});
const SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';
const subnet = (spec: Record<string, unknown>): Manifest => ({
  apiVersion: 'kubeovn.io/v1',
  kind: 'Subnet',
  metadata: { name: 'lonely' },
  spec: { protocol: 'IPv4', ...spec },
});
const hotplug = (edit: (vm: Manifest) => void): PolicyRequest => {
  const vm = fedora();
  edit(vm);
  return update(fedora(), vm);
};
const sriovRunning = (): Manifest => addMultusNic(fedora(), 'vf1', { sriov: {} }, 'sriov-net');
const withModel = (model: string): PolicyRequest => {
  const vm = fedora();
  interfacesOf(vm)[0].model = model;
  return create(vm);
};
/** Unplugging dyniface1 from the running VMI, whose status reports that pod interface name. */
const vmiUnplug = (podInterfaceName: string): PolicyRequest => {
  const running: Manifest = {
    ...asVmi(fedoraWithBridge()),
    status: { interfaces: [{ name: 'dyniface1', podInterfaceName }] },
  };
  const next = clone(running);
  next.spec.domain.devices.interfaces[1].state = 'absent';
  return update(running, next);
};

const PAIRS: Record<RuleId, Pair> = {
  'network-pairing': {
    flagged: () => create(addMultusNic(fedora(), 'bad name', { bridge: {} }, 'attachnet')),
    passed: () => create(fedoraWithBridge()),
  },
  'interface-fields': {
    flagged: () => withModel('virtio-bogus'),
    passed: () => withModel('e1000e'),
  },
  'binding-support': {
    flagged: () => create(addMultusNic(fedora(), 'm1', { masquerade: {} }, 'attachnet')),
    passed: () => create(fedoraWithBridge()),
  },
  'dra-networks': {
    flagged: () => {
      const vm = fedora();
      interfacesOf(vm).push({ name: 'vf', sriov: {} });
      vm.spec.template.spec.networks.push({ name: 'vf', resourceClaim: { claimName: 'nic', requestName: '' } });
      return create(vm);
    },
    passed: () => create(fedoraWithBridge()),
  },
  'unplug-skipped': {
    flagged: () => vmiUnplug('net1'),
    passed: () => vmiUnplug('pod4d5e6f1a2b3'),
  },
  'hotplug-binding': {
    flagged: () => hotplug((vm) => addMultusNic(vm, 'm1', { masquerade: {} }, 'attachnet')),
    passed: () => update(fedora(), fedoraWithBridge()),
  },
  'hotplug-model': {
    flagged: () => hotplug((vm) => addMultusNic(vm, 'b1', { bridge: {}, model: 'e1000' }, 'attachnet')),
    passed: () => hotplug((vm) => addMultusNic(vm, 'b1', { bridge: {}, model: 'virtio' }, 'attachnet')),
  },
  'sriov-unplug': {
    flagged: () => update(sriovRunning(), removeNic(sriovRunning(), 'vf1')),
    passed: () => update(sriovRunning(), sriovRunning()),
  },
  'absent-scope': {
    flagged: () => {
      const vm = fedora();
      interfacesOf(vm)[0].state = 'absent';
      return create(vm);
    },
    passed: () => {
      const vm = fedoraWithBridge();
      ifaceNamed(vm, 'dyniface1').state = 'absent';
      return update(fedoraWithBridge(), vm);
    },
  },
  'hotplug-slots': {
    flagged: () =>
      hotplug((vm) => ['a', 'b', 'c', 'd'].forEach((n) => addMultusNic(vm, n, { bridge: {} }, 'attachnet'))),
    passed: () => hotplug((vm) => addMultusNic(vm, 'a', { bridge: {} }, 'attachnet')),
  },
  'pci-bus': {
    flagged: () => {
      const vm = fedora();
      for (let i = 0; i < 40; i++) addMultusNic(vm, `n${i}`, { bridge: {} }, 'attachnet');
      return create(vm);
    },
    passed: () => create(fedora()),
  },
  'nad-exists': {
    flagged: () => hotplug((vm) => addMultusNic(vm, 'x', { bridge: {} }, 'no-such-nad')),
    passed: () => update(fedora(), fedoraWithBridge()),
  },
  'nad-binding-match': {
    flagged: () => hotplug((vm) => addMultusNic(vm, 'x', { bridge: {} }, 'sriov-net')),
    passed: () => hotplug((vm) => addMultusNic(vm, 'x', { sriov: {} }, 'sriov-net')),
  },
  'ovn-provider': {
    flagged: () => create(example('bad/wrong-ovn-provider.yaml')),
    passed: () =>
      create(nad('attachnet2', { type: 'kube-ovn', server_socket: SOCKET, provider: 'attachnet2.default.ovn' })),
  },
  'ovn-subnet': {
    flagged: () =>
      create(nad('attachnet2', { type: 'kube-ovn', server_socket: SOCKET, provider: 'attachnet2.default.ovn' })),
    passed: () => create(subnet({ cidrBlock: '10.70.0.0/24', provider: 'nobody.default.ovn' })),
  },
  'subnet-shape': {
    flagged: () => create(subnet({ cidrBlock: '10.70.0.0/24', gateway: '10.71.0.1' })),
    passed: () => create(subnet({ cidrBlock: '10.70.0.0/24', gateway: '10.70.0.1' })),
  },
  'unplug-by-removal': {
    flagged: () => update(fedoraWithBridge(), removeNic(fedoraWithBridge(), 'dyniface1')),
    passed: () => {
      const vm = fedoraWithBridge();
      ifaceNamed(vm, 'dyniface1').state = 'absent';
      return update(fedoraWithBridge(), vm);
    },
  },
  schema: {
    flagged: () =>
      create(
        { ...fedora(), spec: { runStrategy: 'Always' }, template: fedora().spec.template },
        { fromManifest: true },
      ),
    passed: () => create(fedora(), { fromManifest: true }),
  },
  'hotplug-path': {
    flagged: () => hotplug((vm) => addMultusNic(vm, 'vf1', { sriov: {} }, 'sriov-net')),
    passed: () => update(fedora(), fedoraWithBridge()),
  },
};

function causesOf(id: RuleId, request: PolicyRequest) {
  const rule = RULES.find((r) => r.id === id);
  assert.ok(rule);
  assert.ok(request.object);
  const ctx = buildContext(request, request.object, seedCluster(), config());
  assert.ok(ctx, 'the request is judged');
  return checkRule(rule, ctx);
}

describe('each rule alone', () => {
  it('has a fixture pair for every registered rule', () => {
    assert.deepEqual(Object.keys(PAIRS).sort(), RULES.map((r) => r.id).sort());
  });

  for (const rule of RULES) {
    it(`${rule.id}: flags its fixture and passes the sound one`, () => {
      const flagged = causesOf(rule.id, PAIRS[rule.id].flagged());
      assert.ok(flagged.length > 0, `${rule.id} finds nothing in its failing fixture`);
      for (const cause of flagged) assert.ok(cause.message.length > 20 && cause.message.length < 2048, cause.message);
      assert.deepEqual(causesOf(rule.id, PAIRS[rule.id].passed()), []);
    });
  }

  it('checks only the kinds it declares', () => {
    const nadRequest = create(example('bad/wrong-ovn-provider.yaml'));
    assert.deepEqual(causesOf('hotplug-binding', nadRequest), []);
    assert.deepEqual(causesOf('subnet-shape', update(fedora(), clone(fedora()))), []);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clone, config, create, example, findingsOf, update, vmSpec } from './support.js';
import {
  KUBEVIRT_CONTROLLER,
  addMultusNic,
  asVmi,
  fedora,
  fedoraWithBridge,
  ifaceNamed,
  interfacesOf,
  networksOf,
  stopped,
  withRules,
} from './hotplug-fixtures.js';
import type { RuleId } from '../src/engine/types.js';

const IFACES = 'spec.template.spec.domain.devices.interfaces';

function of(rule: RuleId, request: Parameters<typeof findingsOf>[1], cfg = config()) {
  return findingsOf(rule, request, undefined, cfg);
}

/** vm-fedora with an SR-IOV NIC on the seed cluster's sriov-net, as it runs. */
function fedoraWithSriov() {
  return addMultusNic(fedora(), 'sriov1', { sriov: {} }, 'sriov-net');
}

describe('hotplug-binding', () => {
  it("accepts the seeds' bridge hotplug and an SR-IOV hotplug", () => {
    assert.deepEqual(of('hotplug-binding', update(fedora(), fedoraWithBridge())), []);
    assert.deepEqual(of('hotplug-binding', update(fedora(), fedoraWithSriov())), []);
  });

  it('denies the masquerade hotplug of examples/bad, saying what to use instead', () => {
    const findings = of('hotplug-binding', update(fedora(), example('bad/masquerade-hotplug.yaml')));
    assert.equal(findings.length, 1);
    const [f] = findings;
    assert.equal(f.action, 'deny');
    assert.equal(f.object, 'VirtualMachine default/vm-fedora');
    assert.equal(f.field, `${IFACES}[1].masquerade`);
    assert.match(f.message, /interface "dyniface1" cannot be hotplugged into running vm-fedora/);
    assert.match(f.message, /masquerade binding/);
    assert.match(f.message, /Use bridge: \{\} \(or sriov: \{\}\)/);
  });

  it('denies passt and binding plugins too', () => {
    const now = fedora();
    addMultusNic(now, 'passt1', { passtBinding: {} }, 'attachnet');
    addMultusNic(now, 'plug1', { binding: { name: 'l2bridge' } }, 'new-fancy-net');
    const findings = of('hotplug-binding', update(fedora(), now));
    assert.deepEqual(
      findings.map((f) => f.field),
      [`${IFACES}[1].passtBinding`, `${IFACES}[2].binding`],
    );
    assert.match(findings[0].message, /passt binding/);
    assert.match(findings[1].message, /binding plugin "l2bridge"/);
  });

  it('denies adding the primary network to a running VM, with every reason in one finding', () => {
    // A VM that runs on a secondary network only, then gets the pod network added.
    const old = fedora();
    interfacesOf(old)[0] = { name: 'data', bridge: {} };
    networksOf(old)[0] = { name: 'data', multus: { networkName: 'attachnet' } };
    const bridgeOnPod = clone(old);
    interfacesOf(bridgeOnPod).push({ name: 'defaultnetwork', bridge: {} });
    networksOf(bridgeOnPod).push({ name: 'defaultnetwork', pod: {} });
    const [onPod, ...none] = of('hotplug-binding', update(old, bridgeOnPod));
    assert.equal(none.length, 0);
    assert.equal(onPod.field, 'spec.template.spec.networks[1]');
    assert.match(onPod.message, /on the pod network, and the primary network can only be added by restarting the VM/);

    const masqueradeOnPod = clone(bridgeOnPod);
    interfacesOf(masqueradeOnPod)[1] = { name: 'defaultnetwork', masquerade: {} };
    const [both] = of('hotplug-binding', update(old, masqueradeOnPod));
    assert.equal(both.field, `${IFACES}[1].masquerade`);
    assert.match(both.message, /masquerade binding.*; it is on the pod network/);
  });

  it('reports each bad hotplug of one change', () => {
    const now = fedora();
    addMultusNic(now, 'm1', { masquerade: {} }, 'attachnet');
    addMultusNic(now, 'ok1', { bridge: {} }, 'new-fancy-net');
    addMultusNic(now, 'm2', { masquerade: {} }, 'shared-networks/storage-net');
    const findings = of('hotplug-binding', update(fedora(), now));
    assert.deepEqual(
      findings.map((f) => f.message.match(/"(\w+)"/)![1]),
      ['m1', 'm2'],
    );
  });

  it("leaves a stopped VM, a CREATE and KubeVirt's own controllers alone", () => {
    const bad = example('bad/masquerade-hotplug.yaml');
    assert.deepEqual(of('hotplug-binding', update(stopped(fedora()), stopped(bad))), []);
    assert.deepEqual(of('hotplug-binding', create(bad)), []);
    assert.deepEqual(of('hotplug-binding', update(fedora(), bad, { userInfo: { username: KUBEVIRT_CONTROLLER } })), []);
  });

  it('counts a VM as running from its status, whatever its run strategy says', () => {
    const old = fedora();
    old.spec.runStrategy = 'Manual';
    old.status = { printableStatus: 'Running', ready: true };
    assert.equal(of('hotplug-binding', update(old, example('bad/masquerade-hotplug.yaml'))).length, 1);
  });

  it('checks VMI updates at VMI field paths', () => {
    const [f] = of('hotplug-binding', update(asVmi(fedora()), asVmi(example('bad/masquerade-hotplug.yaml'))));
    assert.equal(f.object, 'VirtualMachineInstance default/vm-fedora');
    assert.equal(f.field, 'spec.domain.devices.interfaces[1].masquerade');
  });

  it('follows the configuration', () => {
    const request = update(fedora(), example('bad/masquerade-hotplug.yaml'));
    assert.deepEqual(
      of('hotplug-binding', request, withRules({ 'hotplug-binding': 'warn' })).map((f) => f.action),
      ['warn'],
    );
    assert.deepEqual(of('hotplug-binding', request, withRules({ 'hotplug-binding': 'off' })), []);
  });
});

describe('hotplug-model', () => {
  it('accepts a hotplugged bridge NIC with model virtio or no model', () => {
    const withVirtio = fedoraWithBridge();
    ifaceNamed(withVirtio, 'dyniface1').model = 'virtio';
    assert.deepEqual(of('hotplug-model', update(fedora(), withVirtio)), []);
    assert.deepEqual(of('hotplug-model', update(fedora(), fedoraWithBridge())), []);
  });

  it('denies a hotplugged bridge NIC with another model, at the model field', () => {
    const now = fedoraWithBridge();
    ifaceNamed(now, 'dyniface1').model = 'e1000';
    const [f, ...rest] = of('hotplug-model', update(fedora(), now));
    assert.equal(rest.length, 0);
    assert.equal(f.action, 'deny');
    assert.equal(f.field, `${IFACES}[1].model`);
    assert.match(f.message, /"dyniface1" is hotplugged into running vm-fedora with model e1000/);
    assert.match(f.message, /Set model: virtio or leave model out/);
  });

  it('does not judge models of NICs that were already there, of stopped VMs, or of non-bridge bindings', () => {
    const old = fedoraWithBridge();
    ifaceNamed(old, 'dyniface1').model = 'e1000e';
    assert.deepEqual(of('hotplug-model', update(old, clone(old))), []);

    const stoppedNow = stopped(fedoraWithBridge());
    ifaceNamed(stoppedNow, 'dyniface1').model = 'rtl8139';
    assert.deepEqual(of('hotplug-model', update(stopped(fedora()), stoppedNow)), []);

    // A masquerade hotplug is hotplug-binding's finding; one root cause, one finding.
    const masquerade = example('bad/masquerade-hotplug.yaml');
    ifaceNamed(masquerade, 'dyniface1').model = 'e1000';
    assert.deepEqual(of('hotplug-model', update(fedora(), masquerade)), []);
  });
});

describe('absent-scope', () => {
  it("accepts the seeds' unplug of a secondary bridge NIC", () => {
    const now = fedoraWithBridge();
    ifaceNamed(now, 'dyniface1').state = 'absent';
    assert.deepEqual(of('absent-scope', update(fedoraWithBridge(), now)), []);
  });

  it('denies absent on the masquerade pod interface, naming both reasons in one finding', () => {
    const now = fedoraWithBridge();
    ifaceNamed(now, 'defaultnetwork').state = 'absent';
    const findings = of('absent-scope', update(fedoraWithBridge(), now));
    assert.equal(findings.length, 1);
    const [f] = findings;
    assert.equal(f.action, 'deny');
    assert.equal(f.field, `${IFACES}[0].state`);
    assert.match(
      f.message,
      /"defaultnetwork" has state: absent, but it uses masquerade binding.*; it is on the pod network/,
    );
    assert.match(f.message, /Remove state: absent/);
  });

  it('denies absent on a bridge NIC on the multus default network', () => {
    const vm = fedora();
    interfacesOf(vm)[0] = { name: 'primary', bridge: {}, state: 'absent' };
    networksOf(vm)[0] = { name: 'primary', multus: { networkName: 'attachnet', default: true } };
    const [f] = of('absent-scope', create(vm));
    assert.match(f.message, /multus default network "attachnet".*cannot be unplugged/);
  });

  it('applies on CREATE and to stopped VMs, where KubeVirt refuses it as well', () => {
    const vm = fedoraWithSriov();
    ifaceNamed(vm, 'sriov1').state = 'absent';
    assert.equal(of('absent-scope', create(vm)).length, 1);
    assert.equal(of('absent-scope', update(stopped(fedoraWithSriov()), stopped(vm))).length, 1);
    assert.match(
      of('absent-scope', create(vm))[0].message,
      /sriov binding, and only bridge interfaces can be unplugged/,
    );
  });

  it('leaves an SR-IOV unplug of a running VM to sriov-unplug, unless that rule is off', () => {
    const now = fedoraWithSriov();
    ifaceNamed(now, 'sriov1').state = 'absent';
    const request = update(fedoraWithSriov(), now);
    assert.deepEqual(of('absent-scope', request), []);
    assert.equal(of('sriov-unplug', request).length, 1);
    assert.equal(of('absent-scope', request, withRules({ 'sriov-unplug': 'off' })).length, 1);
  });

  it("stays quiet for KubeVirt's controllers and when off", () => {
    const now = fedoraWithBridge();
    ifaceNamed(now, 'defaultnetwork').state = 'absent';
    assert.deepEqual(
      of('absent-scope', update(fedoraWithBridge(), now, { userInfo: { username: KUBEVIRT_CONTROLLER } })),
      [],
    );
    assert.deepEqual(of('absent-scope', create(now), withRules({ 'absent-scope': 'off' })), []);
    assert.deepEqual(
      of('absent-scope', create(now), withRules({ 'absent-scope': 'warn' })).map((f) => f.action),
      ['warn'],
    );
  });

  it('reports every misplaced absent, in a VMI too', () => {
    const vmi = asVmi(fedoraWithSriov());
    addMultusNic(vmi, 'm1', { masquerade: {} }, 'attachnet');
    for (const iface of vmSpec(vmi).domain.devices.interfaces) iface.state = 'absent';
    const findings = of('absent-scope', create(vmi));
    assert.deepEqual(
      findings.map((f) => f.field),
      [0, 1, 2].map((i) => `spec.domain.devices.interfaces[${i}].state`),
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clone, config, create, findingsOf, update, vmSpec } from './support.js';
import {
  addMultusNic,
  asVmi,
  withRules,
  fedora,
  fedoraWithBridge,
  interfacesOf,
  networksOf,
  stopped,
} from './hotplug-fixtures.js';

const IFACES = 'spec.template.spec.domain.devices.interfaces';
const NETS = 'spec.template.spec.networks';

function pairing(request: Parameters<typeof findingsOf>[1], cfg = config()) {
  return findingsOf('network-pairing', request, undefined, cfg);
}

describe('network-pairing', () => {
  it('accepts the seed VMs, before and after the hotplug, as VM and as VMI', () => {
    assert.deepEqual(pairing(create(fedora())), []);
    assert.deepEqual(pairing(create(fedoraWithBridge())), []);
    assert.deepEqual(pairing(update(fedora(), fedoraWithBridge())), []);
    assert.deepEqual(pairing(create(asVmi(fedoraWithBridge()))), []);
  });

  it('denies an interface without a network of the same name, naming the interface, the field and the fix', () => {
    const vm = fedora();
    interfacesOf(vm).push({ name: 'dyniface1', bridge: {} });
    const [f, ...rest] = pairing(create(vm));
    assert.equal(rest.length, 0);
    assert.equal(f.action, 'deny');
    assert.equal(f.object, 'VirtualMachine default/vm-fedora');
    assert.equal(f.field, `${IFACES}[1].name`);
    assert.match(f.message, /"dyniface1" has no network/);
    assert.match(f.message, /add a network named "dyniface1"/);
  });

  it('denies a network without an interface', () => {
    const vm = fedora();
    networksOf(vm).push({ name: 'dyniface1', multus: { networkName: 'attachnet' } });
    const findings = pairing(create(vm));
    assert.deepEqual(
      findings.map((f) => f.field),
      [`${NETS}[1].name`],
    );
    assert.match(findings[0].message, /network "dyniface1" has no interface/);
  });

  it('denies duplicate interface and network names, once each, at the second occurrence', () => {
    const vm = fedoraWithBridge();
    interfacesOf(vm).push({ name: 'dyniface1', bridge: {} });
    networksOf(vm).push({ name: 'dyniface1', multus: { networkName: 'new-fancy-net' } });
    const findings = pairing(create(vm));
    assert.deepEqual(
      findings.map((f) => f.field),
      [`${IFACES}[2].name`, `${NETS}[2].name`],
    );
    assert.match(findings[0].message, /already used by interfaces\[1\]/);
    assert.match(findings[1].message, /already used by networks\[1\]/);
  });

  it('denies interface names with characters KubeVirt refuses, without a cascade of pairing findings', () => {
    const vm = addMultusNic(fedora(), 'eth.1', { bridge: {} }, 'attachnet');
    const findings = pairing(create(vm));
    assert.equal(findings.length, 1);
    assert.equal(findings[0].field, `${IFACES}[1].name`);
    assert.match(findings[0].message, /"eth\.1" may contain only letters, digits, dashes/);
  });

  it('accepts dashes, underscores and digits in names', () => {
    const vm = addMultusNic(fedora(), 'storage_net-2', { bridge: {} }, 'shared-networks/storage-net');
    assert.deepEqual(pairing(create(vm)), []);
  });

  it('denies a network with no source, with two sources, and a multus network without networkName', () => {
    const vm = fedora();
    interfacesOf(vm).push({ name: 'a', bridge: {} }, { name: 'b', bridge: {} }, { name: 'c', bridge: {} });
    networksOf(vm).push(
      { name: 'a' },
      { name: 'b', pod: {}, multus: { networkName: 'attachnet' } },
      { name: 'c', multus: {} },
    );
    const findings = pairing(create(vm));
    assert.deepEqual(
      findings.map((f) => f.field),
      [`${NETS}[1]`, `${NETS}[2]`, `${NETS}[3].multus.networkName`],
    );
    assert.match(findings[0].message, /network "a" has no source; set pod: \{\} or multus/);
    assert.match(findings[1].message, /network "b" has pod and multus; a network has exactly one source/);
    assert.match(findings[2].message, /network "c" is a multus network without networkName/);
  });

  it('denies a second pod network, a second multus default, and a pod network beside a multus default', () => {
    const vm = fedora();
    interfacesOf(vm).push({ name: 'pod2', masquerade: {} }, { name: 'def1', bridge: {} }, { name: 'def2', bridge: {} });
    networksOf(vm).push(
      { name: 'pod2', pod: {} },
      { name: 'def1', multus: { networkName: 'attachnet', default: true } },
      { name: 'def2', multus: { networkName: 'new-fancy-net', default: true } },
    );
    const findings = pairing(create(vm));
    assert.deepEqual(
      findings.map((f) => f.field),
      [`${NETS}[1].pod`, `${NETS}[3].multus.default`, `${NETS}[2].multus.default`],
    );
    assert.match(findings[0].message, /"pod2" is a second pod network \(the first is "defaultnetwork"\)/);
    assert.match(findings[1].message, /"def2" is a second multus default network \(the first is "def1"\)/);
    assert.match(findings[2].message, /"def1" is a multus default network, but pod network "defaultnetwork"/);
  });

  it('accepts a single multus default network as the primary network', () => {
    const vm = fedora();
    interfacesOf(vm)[0] = { name: 'defaultnetwork', bridge: {} };
    networksOf(vm)[0] = { name: 'defaultnetwork', multus: { networkName: 'attachnet', default: true } };
    assert.deepEqual(pairing(create(vm)), []);
  });

  it('leaves the binding count to binding-support, which follows the KubeVirt release', () => {
    const vm = fedora();
    addMultusNic(vm, 'nobind', {}, 'attachnet');
    addMultusNic(vm, 'twobind', { bridge: {}, binding: { name: 'passt' } }, 'new-fancy-net');
    assert.deepEqual(pairing(create(vm)), []);
    const findings = findingsOf('binding-support', create(vm));
    assert.deepEqual(
      findings.map((f) => [f.field, f.action]),
      [
        [`${IFACES}[1]`, 'warn'],
        [`${IFACES}[2].binding`, 'deny'],
        // v1.4 also wants feature gate NetworkBindingPlugins, which the seed KubeVirt CR does not list.
        [`${IFACES}[2].name`, 'warn'],
      ],
    );
    assert.match(findings[0].message, /"nobind" has no binding/);
    assert.match(findings[1].message, /"twobind" has more than one binding \(bridge, binding\)/);
  });

  it('reports every problem of one VM, not just the first', () => {
    const vm = fedora();
    interfacesOf(vm).push({ name: 'lonely', bridge: {} }, { name: 'bad name', bridge: {} });
    networksOf(vm).push(
      { name: 'orphan', multus: { networkName: '' } },
      { name: 'bad name', multus: { networkName: 'attachnet' } },
    );
    const findings = pairing(create(vm));
    assert.equal(findings.length, 4, findings.map((f) => f.message).join('\n'));
    assert.ok(findings.every((f) => f.action === 'deny'));
  });

  it('applies to stopped VMs and to updates, since KubeVirt refuses such a spec in any state', () => {
    const old = stopped(fedora());
    const now = clone(old);
    networksOf(now).push({ name: 'orphan', pod: {} });
    const findings = pairing(update(old, now));
    assert.deepEqual(
      findings.map((f) => f.field),
      [`${NETS}[1].name`, `${NETS}[1].pod`],
    );
  });

  it('checks VMIs at their own field paths', () => {
    const vmi = asVmi(fedora());
    vmi.spec.domain.devices.interfaces.push({ name: 'dyniface1', bridge: {} });
    const [f] = pairing(create(vmi));
    assert.equal(f.object, 'VirtualMachineInstance default/vm-fedora');
    assert.equal(f.field, 'spec.domain.devices.interfaces[1].name');
  });

  it('explains that an interface being unplugged keeps its network', () => {
    const old = fedoraWithBridge();
    const now = clone(old);
    interfacesOf(now)[1].state = 'absent';
    networksOf(now).pop();
    // With the default mutate setting the network would be put back; deny shows the pairing error.
    const [f] = pairing(update(old, now), withRules({ 'unplug-by-removal': 'deny' }));
    assert.match(f.message, /being unplugged \(state: absent\) keeps its network/);
  });

  it('reports lists that are not lists instead of crashing', () => {
    const vm = fedora();
    vmSpec(vm).domain.devices.interfaces = { name: 'defaultnetwork', masquerade: {} };
    vmSpec(vm).networks = 'pod';
    const findings = pairing(create(vm));
    assert.deepEqual(
      findings.map((f) => f.field),
      [IFACES, NETS],
    );
    assert.match(findings[0].message, /must be a list/);
  });

  it('reports entries that are not objects', () => {
    const vm = fedora();
    interfacesOf(vm).push('dyniface1');
    const findings = pairing(create(vm));
    assert.deepEqual(
      findings.map((f) => f.field),
      [`${IFACES}[1]`],
    );
    assert.match(findings[0].message, /interfaces\[1\] is not an object/);
  });

  it('follows the configuration: warn lowers the action, off silences the rule', () => {
    const vm = fedora();
    networksOf(vm).push({ name: 'orphan', multus: { networkName: 'attachnet' } });
    assert.deepEqual(
      pairing(create(vm), withRules({ 'network-pairing': 'warn' })).map((f) => f.action),
      ['warn'],
    );
    assert.deepEqual(pairing(create(vm), withRules({ 'network-pairing': 'off' })), []);
  });
});

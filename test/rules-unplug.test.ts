import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fastJsonPatch from 'fast-json-patch';
import { evaluate } from '../src/engine/evaluate.js';
import type { Manifest as KubeObject } from './support.js';
import { clone, config, create, findingsOf, seedCluster, update } from './support.js';
import {
  KUBEVIRT_CONTROLLER,
  addMultusNic,
  asVmi,
  fedora,
  fedoraWithBridge,
  ifaceNamed,
  interfacesOf,
  networksOf,
  removeNic,
  stopped,
  withRules,
} from './hotplug-fixtures.js';

const IFACES = 'spec.template.spec.domain.devices.interfaces';

function fedoraWithSriov(): KubeObject {
  return addMultusNic(fedora(), 'sriov1', { sriov: {} }, 'sriov-net');
}

/** vm-fedora with three secondary NICs: bridge a, sriov b, bridge c. */
function fedoraWithThree(): KubeObject {
  const vm = fedora();
  addMultusNic(vm, 'a', { bridge: {} }, 'attachnet');
  addMultusNic(vm, 'b', { sriov: {} }, 'sriov-net');
  addMultusNic(vm, 'c', { bridge: {}, model: 'virtio', macAddress: '02:00:00:00:00:0c' }, 'new-fancy-net');
  return vm;
}

const names = (list: any[]) => list.map((x) => x.name);
const applyPatch = (obj: KubeObject, patch: unknown[]) =>
  fastJsonPatch.applyPatch(clone(obj), patch as fastJsonPatch.Operation[], true, false).newDocument;

describe('sriov-unplug', () => {
  it('denies state: absent on an SR-IOV NIC of a running VM, saying to stop the VM', () => {
    const now = fedoraWithSriov();
    ifaceNamed(now, 'sriov1').state = 'absent';
    const [f, ...rest] = findingsOf('sriov-unplug', update(fedoraWithSriov(), now));
    assert.equal(rest.length, 0);
    assert.equal(f.action, 'deny');
    assert.equal(f.object, 'VirtualMachine default/vm-fedora');
    assert.equal(f.field, `${IFACES}[1].state`);
    assert.match(f.message, /SR-IOV interface "sriov1" cannot be hot-unplugged/);
    assert.match(f.message, /stop the VM, remove the interface and its network, then start it again/);
  });

  it('denies removing an SR-IOV NIC from a running VM, which KubeVirt accepts but does not detach', () => {
    const [f] = findingsOf('sriov-unplug', update(fedoraWithSriov(), removeNic(fedoraWithSriov(), 'sriov1')));
    assert.equal(f.field, IFACES);
    assert.match(f.message, /"sriov1" was removed from the spec of running VM vm-fedora/);
    assert.match(f.message, /RestartRequired/);
  });

  it('accepts the same removal on a stopped VM, and keeping the NIC on a running one', () => {
    assert.deepEqual(
      findingsOf('sriov-unplug', update(stopped(fedoraWithSriov()), removeNic(stopped(fedoraWithSriov()), 'sriov1'))),
      [],
    );
    assert.deepEqual(findingsOf('sriov-unplug', update(fedoraWithSriov(), fedoraWithSriov())), []);
    assert.deepEqual(findingsOf('sriov-unplug', create(fedoraWithSriov())), []);
  });

  it("leaves KubeVirt's controllers alone", () => {
    const request = update(fedoraWithSriov(), removeNic(fedoraWithSriov(), 'sriov1'), {
      userInfo: { username: KUBEVIRT_CONTROLLER },
    });
    assert.deepEqual(findingsOf('sriov-unplug', request), []);
  });

  it('reports each SR-IOV NIC, on a VMI too, and only SR-IOV ones', () => {
    const old = asVmi(fedoraWithSriov());
    addMultusNic(old, 'sriov2', { sriov: {} }, 'sriov-net');
    const now = clone(old);
    now.spec.domain.devices.interfaces[1].state = 'absent';
    removeNic(now, 'sriov2');
    const findings = findingsOf('sriov-unplug', update(old, now));
    assert.deepEqual(
      findings.map((f) => f.field),
      ['spec.domain.devices.interfaces[1].state', 'spec.domain.devices.interfaces'],
    );
    assert.equal(findings[0].object, 'VirtualMachineInstance default/vm-fedora');
    assert.match(findings[1].message, /running VMI vm-fedora/);
  });

  it('follows the configuration', () => {
    const request = update(fedoraWithSriov(), removeNic(fedoraWithSriov(), 'sriov1'));
    assert.deepEqual(
      findingsOf('sriov-unplug', request, seedCluster(), withRules({ 'sriov-unplug': 'warn' })).map((f) => f.action),
      ['warn'],
    );
    assert.deepEqual(findingsOf('sriov-unplug', request, seedCluster(), withRules({ 'sriov-unplug': 'off' })), []);
  });
});

describe('unplug-by-removal (mutate)', () => {
  it('puts a removed bridge NIC and its network back with state: absent, with the exact patch and a warning', () => {
    const old = fedoraWithBridge();
    const request = update(old, removeNic(fedoraWithBridge(), 'dyniface1'));
    const result = evaluate(request, seedCluster(), config());
    assert.deepEqual(result.patch, [
      {
        op: 'add',
        path: '/spec/template/spec/networks/1',
        value: { name: 'dyniface1', multus: { networkName: 'attachnet' } },
      },
      {
        op: 'add',
        path: '/spec/template/spec/domain/devices/interfaces/1',
        value: { name: 'dyniface1', bridge: {}, state: 'absent' },
      },
    ]);
    const mine = result.findings.filter((f) => f.rule === 'unplug-by-removal');
    assert.equal(mine.length, 1);
    assert.equal(mine[0].action, 'warn');
    assert.equal(mine[0].field, `${IFACES}[1].state`);
    assert.match(
      mine[0].message,
      /"dyniface1" was removed from the spec of running VM vm-fedora, but removing an interface does not unplug it/,
    );
    assert.match(mine[0].message, /put it back with state: absent and its network "dyniface1"/);
    assert.match(mine[0].message, /Next time set state: absent/);
    assert.ok(result.allowed);
    assert.deepEqual(applyPatch(request.object!, result.patch), result.mutated);
    // Copied and diffed along the edited lists only: the patch is still the whole difference.
    assert.deepEqual(result.patch, fastJsonPatch.compare(request.object!, result.mutated!));
  });

  it('leaves the request object untouched and copies none of what it does not edit', () => {
    const now = removeNic(fedoraWithBridge(), 'dyniface1');
    (now.spec as any).template.spec.domain.resources = { requests: { junk: Array.from({ length: 90_000 }, () => 1) } };
    const request = update(fedoraWithBridge(), now);
    const before = clone(request.object!);
    const result = evaluate(request, seedCluster(), config(), 'mutate');
    assert.deepEqual(request.object, before, 'the request object is not changed');
    assert.equal(result.patch.length, 2);
    const mutated = result.mutated as any;
    assert.equal(
      mutated.spec.template.spec.domain.resources,
      (request.object as any).spec.template.spec.domain.resources,
      'an untouched part is shared, not copied',
    );
    assert.notEqual(mutated.spec.template.spec.networks, (request.object as any).spec.template.spec.networks);
    assert.deepEqual(result.patch, fastJsonPatch.compare(request.object!, mutated));
  });

  it('is idempotent: evaluating the mutated object again changes nothing', () => {
    const old = fedoraWithBridge();
    const first = evaluate(update(old, removeNic(fedoraWithBridge(), 'dyniface1')), seedCluster(), config());
    const again = evaluate(update(old, first.mutated!), seedCluster(), config());
    assert.deepEqual(again.patch, []);
    assert.equal(again.mutated, undefined);
    assert.deepEqual(
      again.findings.filter((f) => f.rule === 'unplug-by-removal'),
      [],
    );
  });

  it('restores NICs at their old positions, keeping every field of the old entry', () => {
    const old = fedoraWithThree();
    const now = removeNic(removeNic(fedoraWithThree(), 'a'), 'c');
    interfacesOf(now).push({ name: 'd', bridge: {} });
    networksOf(now).push({ name: 'd', multus: { networkName: 'attachnet' } });
    const request = update(old, now);
    const result = evaluate(request, seedCluster(), config());
    assert.deepEqual(names(interfacesOf(result.mutated!)), ['defaultnetwork', 'a', 'b', 'c', 'd']);
    assert.deepEqual(names(networksOf(result.mutated!)), ['defaultnetwork', 'a', 'b', 'c', 'd']);
    assert.deepEqual(ifaceNamed(result.mutated!, 'c'), {
      name: 'c',
      bridge: {},
      model: 'virtio',
      macAddress: '02:00:00:00:00:0c',
      state: 'absent',
    });
    assert.deepEqual(applyPatch(request.object!, result.patch), result.mutated);
    const warnings = result.findings.filter((f) => f.rule === 'unplug-by-removal');
    assert.deepEqual(
      warnings.map((f) => f.field),
      [`${IFACES}[1].state`, `${IFACES}[3].state`],
    );
  });

  it('restores only the interface when the network was kept', () => {
    const result = evaluate(
      update(fedoraWithBridge(), removeNic(fedoraWithBridge(), 'dyniface1', { keepNetwork: true })),
      seedCluster(),
      config(),
    );
    assert.deepEqual(result.patch, [
      {
        op: 'add',
        path: '/spec/template/spec/domain/devices/interfaces/1',
        value: { name: 'dyniface1', bridge: {}, state: 'absent' },
      },
    ]);
    const [f] = result.findings.filter((x) => x.rule === 'unplug-by-removal');
    assert.doesNotMatch(f.message, /and its network/);
    // Restored, the kept network has its interface again: no pairing error either.
    assert.deepEqual(
      result.findings.filter((x) => x.rule === 'network-pairing'),
      [],
    );
  });

  it('puts the network back where the user set absent but deleted the network', () => {
    const now = fedoraWithBridge();
    ifaceNamed(now, 'dyniface1').state = 'absent';
    networksOf(now).pop();
    const result = evaluate(update(fedoraWithBridge(), now), seedCluster(), config());
    assert.deepEqual(result.patch, [
      {
        op: 'add',
        path: '/spec/template/spec/networks/1',
        value: { name: 'dyniface1', multus: { networkName: 'attachnet' } },
      },
    ]);
    const [f] = result.findings.filter((x) => x.rule === 'unplug-by-removal');
    assert.equal(f.field, 'spec.template.spec.networks[1]');
    assert.match(f.message, /"dyniface1" is being unplugged \(state: absent\) but its network was deleted/);
    assert.deepEqual(evaluate(update(fedoraWithBridge(), result.mutated!), seedCluster(), config()).patch, []);
  });

  it('restores into lists the user deleted outright, and on a VMI at VMI paths', () => {
    const now = fedoraWithBridge();
    delete now.spec.template.spec.networks;
    delete now.spec.template.spec.domain.devices.interfaces;
    const result = evaluate(update(fedoraWithBridge(), now), seedCluster(), config());
    assert.deepEqual(names(interfacesOf(result.mutated!)), ['dyniface1']);
    assert.deepEqual(names(networksOf(result.mutated!)), ['dyniface1']);

    const vmiResult = evaluate(
      update(asVmi(fedoraWithBridge()), removeNic(asVmi(fedoraWithBridge()), 'dyniface1')),
      seedCluster(),
      config(),
    );
    assert.deepEqual(
      vmiResult.patch.map((p) => p.path),
      ['/spec/networks/1', '/spec/domain/devices/interfaces/1'],
    );
  });

  it("leaves alone: stopped VMs, non-bridge or primary NICs, absent NICs KubeVirt's controller clears, CREATEs", () => {
    const cluster = seedCluster();
    const stoppedResult = evaluate(
      update(stopped(fedoraWithBridge()), removeNic(stopped(fedoraWithBridge()), 'dyniface1')),
      cluster,
      config(),
    );
    assert.deepEqual(stoppedResult.patch, []);

    const masquerade = evaluate(
      update(fedoraWithBridge(), removeNic(fedoraWithBridge(), 'defaultnetwork')),
      cluster,
      config(),
    );
    assert.deepEqual(masquerade.patch, []);

    // virt-controller removes an absent entry once its unplug has completed.
    const absent = fedoraWithBridge();
    ifaceNamed(absent, 'dyniface1').state = 'absent';
    const cleared = evaluate(
      update(absent, removeNic(clone(absent), 'dyniface1'), { userInfo: { username: KUBEVIRT_CONTROLLER } }),
      cluster,
      config(),
    );
    assert.deepEqual(cleared.patch, []);
    assert.deepEqual(
      cleared.findings.filter((f) => f.rule === 'unplug-by-removal' || f.rule === 'network-pairing'),
      [],
    );
    // ... and whoever removes an entry that was already absent does not unplug anything anew.
    assert.deepEqual(evaluate(update(absent, removeNic(clone(absent), 'dyniface1')), cluster, config()).patch, []);
    // An exempt controller removing a live NIC is trusted too.
    const byController = update(fedoraWithBridge(), removeNic(fedoraWithBridge(), 'dyniface1'), {
      userInfo: { username: KUBEVIRT_CONTROLLER },
    });
    assert.deepEqual(evaluate(byController, cluster, config()).patch, []);

    assert.deepEqual(evaluate(create(removeNic(fedoraWithBridge(), 'dyniface1')), cluster, config()).patch, []);
  });
});

describe('unplug-by-removal on an object it cannot repair', () => {
  it('neither copies nor patches a VM whose domain is not an object, however large', () => {
    // Found by the fuzzer: `domain` replaced by a list of 90,000 items in a 3.6 MB review.
    // The object was copied and diffed (60-75 ms) only for draftLists to give up.
    const now = removeNic(fedoraWithBridge(), 'dyniface1');
    (now.spec as any).template.spec.domain = Array.from({ length: 20_000 }, (_, i) => ({ name: `x${i}` }));
    const request = update(fedoraWithBridge(), now);
    // Any copy or diff of the list reads its items: the first one counts its reads.
    let reads = 0;
    Object.defineProperty((request.object!.spec as any).template.spec.domain[0], 'name', {
      get: () => {
        reads++;
        return 'x0';
      },
      enumerable: true,
    });
    const result = evaluate(request, seedCluster(), config(), 'mutate');
    assert.deepEqual(result.patch, []);
    assert.equal(reads, 0, 'no copy or diff of the object');
  });

  it('neither copies nor patches a VM whose interface list holds something other than objects', () => {
    // Found by the fuzzer (batch seed 20262398, extreme #2): interfaces[0] a list of 70,000 items in
    // an 806 KB review; the copy and the diff of the repair took 30-67 ms for a list the API server refuses.
    const now = removeNic(fedoraWithBridge(), 'dyniface1');
    const list = Array.from({ length: 20_000 }, (_, i) => ({ name: `x${i}` }));
    interfacesOf(now).unshift(list);
    let reads = 0;
    Object.defineProperty(list[0], 'name', {
      get: () => {
        reads++;
        return 'x0';
      },
      enumerable: true,
    });
    const result = evaluate(update(fedoraWithBridge(), now), seedCluster(), config(), 'mutate');
    assert.deepEqual(result.patch, []);
    assert.equal(reads, 0, 'no copy or diff of the object');
  });
});

describe('unplug-by-removal (deny, warn, off)', () => {
  const request = () => update(fedoraWithBridge(), removeNic(fedoraWithBridge(), 'dyniface1'));

  it('with deny, refuses the removal and tells the user to set state: absent; nothing is patched', () => {
    const result = evaluate(request(), seedCluster(), withRules({ 'unplug-by-removal': 'deny' }));
    assert.deepEqual(result.patch, []);
    assert.equal(result.allowed, false);
    const [f, ...rest] = result.findings.filter((x) => x.rule === 'unplug-by-removal');
    assert.equal(rest.length, 0);
    assert.equal(f.action, 'deny');
    assert.equal(f.field, IFACES);
    assert.match(f.message, /"dyniface1" was removed from the spec of running VM vm-fedora/);
    assert.match(f.message, /Put it back with state: absent, and keep its network "dyniface1"/);
  });

  it('with warn, lets it through with the same message; with off, says nothing', () => {
    const warned = evaluate(request(), seedCluster(), withRules({ 'unplug-by-removal': 'warn' }));
    assert.deepEqual(warned.patch, []);
    assert.deepEqual(
      warned.findings.filter((x) => x.rule === 'unplug-by-removal').map((f) => f.action),
      ['warn'],
    );
    const off = evaluate(request(), seedCluster(), withRules({ 'unplug-by-removal': 'off' }));
    assert.deepEqual(off.patch, []);
    assert.deepEqual(
      off.findings.filter((x) => x.rule === 'unplug-by-removal'),
      [],
    );
  });

  it('with mutate, warns in a validation-only run that sees the removal (the mutating webhook did not run)', () => {
    const result = evaluate(request(), seedCluster(), config(), 'validate');
    assert.deepEqual(
      result.findings.filter((x) => x.rule === 'unplug-by-removal').map((f) => f.action),
      ['warn'],
    );
  });

  it('reports every removed NIC', () => {
    const now = removeNic(removeNic(fedoraWithThree(), 'a'), 'c');
    const findings = findingsOf(
      'unplug-by-removal',
      update(fedoraWithThree(), now),
      seedCluster(),
      withRules({ 'unplug-by-removal': 'deny' }),
    );
    assert.deepEqual(
      findings.map((f) => f.message.match(/"(\w+)"/)![1]),
      ['a', 'c'],
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyConfig } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { evaluate } from '../src/engine/evaluate.js';
import { viewVm } from '../src/engine/vm.js';
import { parseQuantity } from '../src/engine/quantity.js';
import {
  reservationRuleOf,
  slotBudget,
  rootBusDevices,
  sumDevices,
  SLOT_COUNT_ANNOTATION,
  ROOT_COMPLEX_ANNOTATION,
} from '../src/engine/pci-topology.js';
import { addNic, clone, config, create, example, findingsOf, seedCluster, update, vmSpec } from './support.js';

const IFACES = 'spec.template.spec.domain.devices.interfaces';

/** vm-fedora running with `count` interfaces: the masquerade one plus bridges boot1.. on new-fancy-net. */
function runningWith(count: number): KubeObject {
  const vm = example('old/vm-fedora.yaml');
  for (let i = 1; i < count; i++)
    addNic(vm, { name: `boot${i}`, bridge: {} }, { name: `boot${i}`, multus: { networkName: 'new-fancy-net' } });
  return vm;
}

/** The same VM with `count` bridges hotplugged on the Kube-OVN network attachnet. */
function plusHotplugs(vm: KubeObject, count: number, prefix = 'dyn'): KubeObject {
  const next = clone(vm);
  for (let i = 1; i <= count; i++)
    addNic(
      next,
      { name: `${prefix}${i}`, bridge: {} },
      { name: `${prefix}${i}`, multus: { networkName: 'attachnet' } },
    );
  return next;
}

function withTemplateAnnotations(vm: KubeObject, annotations: Record<string, string>): KubeObject {
  const copy = clone(vm);
  copy.spec.template.metadata = { ...(copy.spec.template.metadata ?? {}), annotations };
  return copy;
}

/** The v1 arithmetic (KubeVirt v1.4-v1.5) unless a test says otherwise; version-aware cases set slotModel auto. */
const V1 = config({ slotModel: 'v1' });

function slots(request: Parameters<typeof findingsOf>[1], cfg: PolicyConfig = V1, cluster = seedCluster()) {
  return findingsOf('hotplug-slots', request, cluster, cfg);
}

function pci(request: Parameters<typeof findingsOf>[1], cfg: PolicyConfig = V1) {
  return findingsOf('pci-bus', request, seedCluster(), cfg);
}

describe("hotplug-slots: the seeds' four slots, existing interfaces included (v1)", () => {
  it('with 2 interfaces at boot, 2 more fit', () => {
    const vm = runningWith(2);
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 2))), []);
  });

  it('with 2 interfaces at boot, a 3rd hotplug is refused with the numbers and what to do', () => {
    const vm = runningWith(2);
    const findings = slots(update(vm, plusHotplugs(vm, 3)));
    assert.equal(findings.length, 1);
    const [f] = findings;
    assert.equal(f.action, 'deny');
    assert.equal(f.object, 'VirtualMachine default/vm-fedora');
    // The first interface that does not fit: dyn3, the 5th interface.
    assert.equal(f.field, `${IFACES}[4]`);
    assert.match(f.message, /3 interfaces \("dyn1", "dyn2", "dyn3"\)/);
    assert.match(f.message, /only 2 hotplug ports are free/);
    assert.match(f.message, /defined with 2 interfaces \(base\)/);
    assert.match(f.message, /reserved 2 spare PCIe root ports \(slot model v1: max\(0, 4 - base\)\)/);
    assert.match(f.message, /0 in use/);
    assert.match(f.message, /asked for 3/);
    assert.match(f.message, /Restart the VM/);
    assert.match(f.message, /hotplug only 2 of them now/);
    // KubeVirt v1.4-v1.5 have no slot-count annotation, so v1 does not suggest it; v3 does.
    assert.doesNotMatch(f.message, /pci-interface-slot-count/);
    const [v3] = slots(update(vm, plusHotplugs(vm, 4)), config({ slotModel: 'v3' }));
    assert.match(v3.message, /spec\.template\.metadata\.annotations\["kubevirt\.io\/pci-interface-slot-count"\]/);
  });

  it('with 4 interfaces at boot, none fits', () => {
    const vm = runningWith(4);
    const [f] = slots(update(vm, plusHotplugs(vm, 1)));
    assert.equal(f.action, 'deny');
    assert.match(f.message, /only 0 hotplug ports are free/);
    assert.doesNotMatch(f.message, /hotplug only/);
  });

  it('the seed hotplug (vm-fedora, one NIC at boot, dyniface1 on attachnet) fits', () => {
    assert.deepEqual(slots(update(example('old/vm-fedora.yaml'), example('new/vm-fedora.yaml'))), []);
  });

  it('a VMI is judged the same way', () => {
    const toVmi = (vm: KubeObject): KubeObject => ({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'vm-fedora', namespace: 'default' },
      spec: clone(vm.spec.template.spec),
    });
    const vm = runningWith(3);
    assert.deepEqual(slots(update(toVmi(vm), toVmi(plusHotplugs(vm, 1)))), []);
    const [f] = slots(update(toVmi(vm), toVmi(plusHotplugs(vm, 2))));
    assert.equal(f.object, 'VirtualMachineInstance default/vm-fedora');
    assert.equal(f.field, 'spec.domain.devices.interfaces[4]');
  });

  it('an unplug requested in the same change frees no port yet', () => {
    // The port is freed once KubeVirt has completed the unplug: no released KubeVirt sets
    // hotplug="off" on NIC ports (notes/FACTS.md A.5; pci/hotplug.go exists only after v1.9.0).
    const vm = runningWith(2);
    const unplugged = clone(vm);
    vmSpec(unplugged).domain.devices.interfaces[1].state = 'absent';
    const [f] = slots(update(vm, plusHotplugs(unplugged, 3)));
    assert.match(f.message, /only 2 hotplug ports are free/);
    assert.match(f.message, /An unplug frees its port only once KubeVirt has completed it/);
    assert.deepEqual(slots(update(vm, plusHotplugs(unplugged, 2))), []);
  });

  it('a completed unplug (the entry gone from the running VM) frees its port', () => {
    const booted = runningWith(4);
    const afterUnplug = clone(booted);
    vmSpec(afterUnplug).domain.devices.interfaces.splice(3, 1);
    vmSpec(afterUnplug).networks.splice(3, 1);
    // Booted with 4 (no spare port under v1); boot3 unplugged and removed by KubeVirt: one port free.
    assert.deepEqual(slots(update(afterUnplug, plusHotplugs(afterUnplug, 1))), []);
    assert.equal(slots(update(afterUnplug, plusHotplugs(afterUnplug, 2))).length, 1);
  });

  it('an absent interface in the old spec still counts in the base', () => {
    const vm = runningWith(3);
    vmSpec(vm).domain.devices.interfaces[2].state = 'absent';
    const [f] = slots(update(vm, plusHotplugs(vm, 2)));
    assert.match(f.message, /defined with 3 interfaces/);
  });

  it('counts masquerade additions nowhere (hotplug-binding refuses them), SR-IOV ones like bridges', () => {
    const vm = runningWith(3);
    const masq = clone(vm);
    addNic(masq, { name: 'm1', masquerade: {} }, { name: 'm1', multus: { networkName: 'new-fancy-net' } });
    addNic(masq, { name: 'm2', masquerade: {} }, { name: 'm2', multus: { networkName: 'new-fancy-net' } });
    assert.deepEqual(slots(update(vm, masq)), []);
    const sriov = clone(vm);
    addNic(sriov, { name: 's1', sriov: {} }, { name: 's1', multus: { networkName: 'sriov-net' } });
    addNic(sriov, { name: 's2', sriov: {} }, { name: 's2', multus: { networkName: 'sriov-net' } });
    assert.equal(slots(update(vm, sriov)).length, 1);
  });

  it('an interface the VMI still has, though the VM spec dropped it, keeps its port', () => {
    const vm = runningWith(2);
    const vmi: KubeObject = {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'vm-fedora', namespace: 'default' },
      spec: clone(vmSpec(runningWith(3))),
    };
    const cluster = seedCluster(vmi);
    // VM spec: 2 interfaces; the VMI: 3 (boot2 removed from the VM without absent, still attached).
    const [f] = slots(update(vm, plusHotplugs(vm, 2)), config(), cluster);
    assert.match(f.message, /defined with 3 interfaces/);
  });

  it('stays quiet for a stopped VM: everything is laid out at the next start', () => {
    const vm = runningWith(4);
    vm.spec.runStrategy = 'Halted';
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 6))), []);
  });

  it("stays quiet for KubeVirt's own controllers", () => {
    const vm = runningWith(4);
    const request = update(vm, plusHotplugs(vm, 2), {
      userInfo: { username: 'system:serviceaccount:kubevirt:kubevirt-controller' },
    });
    assert.deepEqual(slots(request), []);
  });
});

describe('hotplug-slots: the annotations', () => {
  it('kubevirt.io/pci-interface-slot-count on the template raises T (v3, KubeVirt v1.6.4 and later)', () => {
    const vm = withTemplateAnnotations(runningWith(2), { [SLOT_COUNT_ANNOTATION]: '8' });
    const v3 = config({ slotModel: 'v3' });
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 6)), v3), []);
    const [f] = slots(update(vm, plusHotplugs(vm, 7)), v3);
    assert.match(f.message, /max\(0, 8 - base\) from annotation kubevirt\.io\/pci-interface-slot-count/);
    assert.match(f.message, /reserved 6 spare/);
  });

  it('v1 releases (KubeVirt v1.4-v1.5) do not read the annotation: T stays 4', () => {
    const vm = withTemplateAnnotations(runningWith(2), { [SLOT_COUNT_ANNOTATION]: '8' });
    assert.equal(slots(update(vm, plusHotplugs(vm, 3))).length, 1);
  });

  it("the running VMI's annotation wins over the VM template (it is what the domain was defined with)", () => {
    const vm = withTemplateAnnotations(runningWith(2), { [SLOT_COUNT_ANNOTATION]: '8' });
    const vmi: KubeObject = {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'vm-fedora', namespace: 'default', annotations: { [SLOT_COUNT_ANNOTATION]: '3' } },
      spec: clone(vmSpec(vm)),
    };
    // v3 with T = 3: 1 placeholder, topped up to max(8 - 7 devices, 3) = 3 ports.
    const v3 = config({ slotModel: 'v3' });
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 3)), v3, seedCluster(vmi)), []);
    const [f] = slots(update(vm, plusHotplugs(vm, 4)), v3, seedCluster(vmi));
    assert.match(f.message, /max\(0, 3 - base\) from annotation/);
  });

  it("on the VM's own metadata it has no effect, and a new one there is warned about", () => {
    const vm = runningWith(2);
    vm.metadata!.annotations = { [SLOT_COUNT_ANNOTATION]: '8' };
    assert.equal(slots(update(vm, plusHotplugs(vm, 3))).length, 1);
    const [w, ...rest] = slots(create(vm));
    assert.equal(rest.length, 0);
    assert.equal(w.action, 'warn');
    assert.equal(w.field, 'metadata.annotations["kubevirt.io/pci-interface-slot-count"]');
    assert.match(w.message, /spec\.template\.metadata\.annotations/);
  });

  it('a value that is not an integer is refused: KubeVirt would not define the domain', () => {
    const vm = withTemplateAnnotations(runningWith(2), { [SLOT_COUNT_ANNOTATION]: 'eight' });
    const [f] = slots(create(vm));
    assert.equal(f.action, 'deny');
    assert.equal(f.field, 'spec.template.metadata.annotations["kubevirt.io/pci-interface-slot-count"]');
    assert.match(f.message, /not an integer/);
    assert.deepEqual(slots(create(withTemplateAnnotations(runningWith(2), { [SLOT_COUNT_ANNOTATION]: '6' }))), []);
  });

  it('placement on the root complex leaves no hotplug port at all', () => {
    const vm = withTemplateAnnotations(runningWith(1), { [ROOT_COMPLEX_ANNOTATION]: 'true' });
    const [f] = slots(update(vm, plusHotplugs(vm, 1)));
    assert.match(
      f.message,
      /reserved 0 spare PCIe root ports \(none, as annotation kubevirt\.io\/placePCIDevicesOnRootComplex/,
    );
    assert.doesNotMatch(f.message, /pci-interface-slot-count"\] to a larger total/);
  });
});

describe('hotplug-slots: slot models and settings', () => {
  it('v2: 1024M of memory (2Gi or less) reserves max(8 - 7 PCI devices, 3) = 3 ports', () => {
    const cfg = config({ slotModel: 'v2' });
    const vm = runningWith(1);
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 3)), cfg), []);
    const [f] = slots(update(vm, plusHotplugs(vm, 4)), cfg);
    assert.match(f.message, /reserved 3 spare/);
    assert.match(f.message, /slot model v2: max\(8 - PCI devices in use, 3\) for 977Mi of guest memory/);
  });

  it('v2: more than 2Gi reserves max(16 - 7, 6) = 9 ports, memory.guest first', () => {
    const cfg = config({ slotModel: 'v2' });
    const vm = runningWith(1);
    vmSpec(vm).domain.memory = { guest: '4Gi' };
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 9)), cfg), []);
    const [f] = slots(update(vm, plusHotplugs(vm, 10)), cfg);
    assert.match(f.message, /reserved 9 spare.*max\(16 - PCI devices in use, 6\) for 4Gi/);
  });

  it('v2: exactly 2Gi is not "more than 2Gi"', () => {
    const vm = runningWith(1);
    vmSpec(vm).domain.resources.requests.memory = '2Gi';
    const budget = slotBudget(viewVm(vm, 'VirtualMachine')!, undefined, reservationRuleOf('v2'), V1);
    assert.equal(budget.reserved, 3);
  });

  it('legacy-q35: one hotplugged device', () => {
    const cfg = config({ slotModel: 'legacy-q35' });
    const vm = runningWith(1);
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 1)), cfg), []);
    const [f] = slots(update(vm, plusHotplugs(vm, 2)), cfg);
    assert.match(f.message, /legacy-q35/);
    assert.doesNotMatch(f.message, /to a larger total/);
  });

  it('hotplugSlotTotal sets T', () => {
    const vm = runningWith(4);
    assert.deepEqual(slots(update(vm, plusHotplugs(vm, 2)), config({ hotplugSlotTotal: 6 })), []);
  });

  it('rules: {hotplug-slots: warn} warns, off says nothing', () => {
    const vm = runningWith(4);
    const request = update(vm, plusHotplugs(vm, 1));
    const [w] = slots(request, config({ rules: { 'hotplug-slots': 'warn' } as PolicyConfig['rules'] }));
    assert.equal(w.action, 'warn');
    assert.equal(
      evaluate(request, seedCluster(), config({ rules: { 'hotplug-slots': 'warn' } as PolicyConfig['rules'] })).allowed,
      true,
    );
    assert.deepEqual(slots(request, config({ rules: { 'hotplug-slots': 'off' } as PolicyConfig['rules'] })), []);
  });
});

describe('slotBudget (nicguard explain)', () => {
  it('gives base, reserved, free and the PCI bus use of a manifest', () => {
    const b = slotBudget(viewVm(runningWith(2), 'VirtualMachine')!, undefined, reservationRuleOf('v1'), V1);
    assert.equal(b.base, 2);
    assert.equal(b.reserved, 2);
    assert.equal(b.inUse, 0);
    assert.equal(b.free, 2);
    assert.equal(b.asked, 0);
    // 2 interfaces, 1 virtio disk, rng, balloon, scsi and virtio-serial controllers, + 2 ports.
    assert.deepEqual(b.pciDevices, {
      interfaces: 2,
      hostDevices: 0,
      gpus: 0,
      virtioDisks: 1,
      virtioInputs: 0,
      watchdog: 0,
      rng: 1,
      memBalloon: 1,
      controllers: 2,
    });
    assert.equal(b.pciUsed, 9);
    assert.equal(b.pciLimit, 28);
  });

  it('with the boot interfaces known, later ones count as in use', () => {
    const running = plusHotplugs(runningWith(2), 1, 'earlier');
    const b = slotBudget(
      viewVm(plusHotplugs(running, 1), 'VirtualMachine')!,
      viewVm(running, 'VirtualMachine')!,
      reservationRuleOf('v1'),
      V1,
      {
        bootInterfaces: ['defaultnetwork', 'boot1'],
      },
    );
    assert.deepEqual([b.base, b.reserved, b.inUse, b.free, b.asked], [2, 2, 1, 1, 1]);
    assert.equal(b.askedInterfaces[0].name, 'dyn1');
  });

  it('no ports for a VM without interfaces (KubeVirt returns early), unless the annotation sets T', () => {
    const vm = runningWith(1);
    vmSpec(vm).domain.devices.interfaces = [];
    assert.equal(slotBudget(viewVm(vm, 'VirtualMachine')!, undefined, reservationRuleOf('v1'), V1).reserved, 0);
    const view = viewVm(vm, 'VirtualMachine')!;
    // v3: the annotation path has no zero-interface return (2 placeholders), and the extra ports
    // top that up to max(8 - 5 devices, 3) = 3 (manager.go calculatePlaceholderCount, calculateExtraControllerCount).
    assert.equal(
      slotBudget(view, undefined, reservationRuleOf('v3'), V1, { annotations: { [SLOT_COUNT_ANNOTATION]: '2' } })
        .reserved,
      3,
    );
    assert.equal(slotBudget(view, undefined, reservationRuleOf('v2'), V1).reserved, 3);
  });
});

describe('pci-bus', () => {
  function withDisks(vm: KubeObject, count: number, bus = 'virtio'): KubeObject {
    const copy = clone(vm);
    for (let i = 0; i < count; i++) vmSpec(copy).domain.devices.disks.push({ name: `data${i}`, disk: { bus } });
    return copy;
  }

  it('accepts the seed VM', () => {
    assert.deepEqual(pci(create(example('new/vm-fedora.yaml'))), []);
  });

  it('refuses a VM whose devices and hotplug ports exceed the root bus, with the count', () => {
    // 1 interface, 1+20 virtio disks, rng, balloon, 2 controllers, 3 hotplug ports = 29 > 28.
    const [f] = pci(create(withDisks(example('old/vm-fedora.yaml'), 20)));
    assert.equal(f.action, 'deny');
    assert.equal(f.field, 'spec.template.spec.domain.devices');
    assert.match(
      f.message,
      new RegExp(
        /needs 29 root PCI bus slots /.source +
          /\(interfaces 1, virtio disks 21, rng 1, memory balloon 1, controllers 2, hotplug ports 3\)/.source,
      ),
    );
    assert.match(f.message, /the bus has 28 \(pciSlotLimit 32 less the 4 reserved slots/);
    assert.match(f.message, /No more available PCI slots/);
    assert.deepEqual(pci(create(withDisks(example('old/vm-fedora.yaml'), 19))), []);
  });

  it('counts only what takes a slot: sata disks, usb inputs and a balloon turned off do not', () => {
    const vm = withDisks(example('old/vm-fedora.yaml'), 20, 'sata');
    vmSpec(vm).domain.devices.autoattachMemBalloon = false;
    assert.deepEqual(pci(create(vm)), []);
    const d = rootBusDevices(vmSpec(vm), 1);
    assert.equal(d.virtioDisks, 1);
    assert.equal(d.memBalloon, 0);
    // KubeVirt's own count (for the v2 formula) includes the balloon and usb controller of model none.
    assert.equal(sumDevices(rootBusDevices(vmSpec(vm), 1, true)), sumDevices(d) + 2);
  });

  it('on UPDATE speaks only when the change makes it worse', () => {
    const big = withDisks(example('old/vm-fedora.yaml'), 21);
    const relabelled = clone(big);
    relabelled.metadata!.labels = { team: 'a' };
    assert.deepEqual(pci(update(big, relabelled)), []);
    assert.equal(pci(update(big, withDisks(big, 1))).length, 1);
  });

  it('under a KubeVirt release nicguard has not read, warns instead of refusing, and says why', () => {
    const vm = create(withDisks(example('old/vm-fedora.yaml'), 22));
    const [denied] = pci(vm, config({ kubevirtVersion: 'v1.9.0' }));
    assert.equal(denied.action, 'deny');
    for (const version of ['v1.10.0', 'v1.9.0-rc.1']) {
      const [warned] = pci(vm, config({ kubevirtVersion: version }));
      assert.equal(warned.action, 'warn', version);
      assert.match(warned.message, /No more available PCI slots/);
      assert.ok(warned.message.includes(`runs KubeVirt ${version} (from the configuration), a release nicguard has`));
    }
    // A slot model set in the configuration does not depend on the release: still refused.
    assert.equal(pci(vm, config({ kubevirtVersion: 'v1.10.0', slotModel: 'v3' }))[0].action, 'deny');
  });

  it('pciSlotLimit and off are honoured', () => {
    const vm = withDisks(example('old/vm-fedora.yaml'), 20);
    assert.deepEqual(pci(create(vm), config({ pciSlotLimit: 40 })), []);
    assert.deepEqual(pci(create(vm), config({ rules: { 'pci-bus': 'off' } as PolicyConfig['rules'] })), []);
  });
});

describe('parseQuantity', () => {
  it('reads decimal and binary suffixes and exponents', () => {
    assert.equal(parseQuantity('1024M'), 1.024e9);
    assert.equal(parseQuantity('2Gi'), 2 * 1024 ** 3);
    assert.equal(parseQuantity('1G'), 1e9);
    assert.equal(parseQuantity('512Mi'), 512 * 1024 ** 2);
    assert.equal(parseQuantity('1.5Gi'), 1.5 * 1024 ** 3);
    assert.equal(parseQuantity('1e9'), 1e9);
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('64'), 64);
    assert.equal(parseQuantity(1024), 1024);
  });

  it('rejects what is not a quantity', () => {
    for (const bad of ['', 'Gi', '1 Gi', '1gi', '1.2.3', 'lots', '1Gb', undefined, null, {}])
      assert.equal(parseQuantity(bad), undefined, String(bad));
  });
});

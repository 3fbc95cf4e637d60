// Rule pci-bus: the layout the VM starts with next must fit the root PCI bus, or libvirt
// refuses to start it ("No more available PCI slots"; kubevirt/kubevirt
// pkg/virt-launcher/virtwrap/converter/pci-placement.go). On an UPDATE it speaks only when
// the change makes things worse, so an edit of a VM that already exceeds an estimate is not
// held hostage to it.
import {
  bootPciUsages,
  reservationFromUnreadRelease,
  RESERVED_ROOT_SLOTS,
  SLOT_COUNT_ANNOTATION,
  type PciDevices,
} from '../pci-topology.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS } from '../rule.js';
import { bounded } from '../values.js';
import { describeVersions, whyOnlyWarns } from '../kubevirt-version.js';

function describeDevices(d: PciDevices, reserved: number): string {
  const parts: [string, number][] = [
    ['interfaces', d.interfaces],
    ['host devices', d.hostDevices],
    ['GPUs', d.gpus],
    ['virtio disks', d.virtioDisks],
    ['virtio inputs', d.virtioInputs],
    ['watchdog', d.watchdog],
    ['rng', d.rng],
    ['memory balloon', d.memBalloon],
    ['controllers', d.controllers],
    ['hotplug ports', reserved],
  ];
  return parts
    .filter(([, n]) => n > 0)
    .map(([what, n]) => `${what} ${n}`)
    .join(', ');
}

export const pciBus: RuleDescriptor<'pci-bus'> = defineRule({
  id: 'pci-bus',
  title: 'Devices fit on the root PCI bus',
  summary: 'more devices than the root PCI bus holds',
  description:
    'Interfaces, host devices, virtio disks and inputs, watchdog, rng, balloon, controllers and hotplug placeholders ' +
    'stay within the root bus slots; otherwise libvirt fails with "No more available PCI slots".',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: ({ vm, old, config, exempt, facts }) => {
      if (exempt) return [];
      const limit = config.pciSlotLimit - RESERVED_ROOT_SLOTS;
      // Per reservation rule that may apply: too many now, and more than before this change.
      const usageNow = bootPciUsages(vm, vm.vmiAnnotations, config);
      let usageBefore: ReturnType<typeof bootPciUsages> | undefined;
      const over = facts.reservationRules.flatMap((choice) => {
        const next = usageNow(choice.rule);
        if (next.used <= limit) return [];
        usageBefore ??= old && bootPciUsages(old.vm, old.vm.vmiAnnotations, config);
        if (usageBefore && next.used <= usageBefore(choice.rule).used) return [];
        return [{ choice, next }];
      });
      if (over.length === 0) return [];
      const all = over.length === facts.reservationRules.length;
      const unread = reservationFromUnreadRelease(config, facts.kubevirt);
      const least = over.reduce((a, b) => (b.next.used < a.next.used ? b : a)).next;
      const versions = over.flatMap((o) => o.choice.versions ?? []);
      return [
        {
          message:
            `${bounded(vm.name)} needs ${least.used} root PCI bus slots ` +
            `(${describeDevices(least.devices, least.reserved)}), ` +
            `but the bus has ${limit} (pciSlotLimit ${config.pciSlotLimit} less the ${RESERVED_ROOT_SLOTS} reserved ` +
            'slots 0, 1, 0x1b and 0x1f). libvirt would refuse to start it with "No more available PCI slots". Remove ' +
            `devices, put disks on the scsi or sata bus, or lower the hotplug reservation (${SLOT_COUNT_ANNOTATION}).` +
            (all
              ? unread
                ? ` ${whyOnlyWarns(facts.kubevirt)}`
                : ''
              : ` That is under KubeVirt ${describeVersions(versions)}, whose hotplug reservation is larger. ` +
                whyOnlyWarns(facts.kubevirt)),
          field: vm.specPath.field('domain', 'devices'),
          ...(all && !unread ? {} : { action: 'warn' as const }),
        },
      ];
    },
  },
});

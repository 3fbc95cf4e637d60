// Rules hotplug-slots and pci-bus: whether a NIC fits in the guest's PCI layout, as
// modelled in ../pci-topology.ts.
import type { Report, RuleContext, ValidationRule } from '../rule.js';
import {
  LARGE_MEMORY_BYTES,
  RESERVED_ROOT_SLOTS,
  ROOT_COMPLEX_ANNOTATION,
  SLOT_COUNT_ANNOTATION,
  V2_PORTS,
  bootPciUsage,
  slotBudget,
  vmiAnnotations,
  type PciDevices,
  type SlotBudget,
} from '../pci-topology.js';
import { isAbsent } from '../vm.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${+(bytes / 1024 ** 3).toFixed(2)}Gi` : `${+(bytes / 1024 ** 2).toFixed(0)}Mi`;
}

/** Where the slot-count annotation goes for this kind. */
function annotationField(kind: string): string {
  return kind === 'VirtualMachine' ? 'spec.template.metadata.annotations' : 'metadata.annotations';
}

/** How the reserved count came about, in the words of the model. */
function reservationReason(b: SlotBudget): string {
  if (b.rootComplex) {
    return `none, as annotation ${ROOT_COMPLEX_ANNOTATION}: "true" puts every device on the root complex, which takes no hotplug`;
  }
  const total = b.slotTotalSource === 'annotation' ? `T = ${b.slotTotal} from annotation ${SLOT_COUNT_ANNOTATION}` : `T = ${b.slotTotal}, setting hotplugSlotTotal`;
  switch (b.model) {
    case 'v1':
      return `slot model v1: max(0, T - base) with ${total}`;
    case 'v2': {
      const large = b.memoryBytes !== undefined && b.memoryBytes > LARGE_MEMORY_BYTES;
      const memory = b.memoryBytes === undefined ? 'guest memory unknown, taken as 2Gi or less' : `${formatBytes(b.memoryBytes)} of guest memory`;
      const p = large ? V2_PORTS.large : V2_PORTS.small;
      return `slot model v2: max(${p.total} - PCI devices in use, ${p.min}) for ${memory}`;
    }
    case 'legacy-q35':
      return 'slot model legacy-q35: the q35 machine type leaves one spare root port';
  }
}

function checkHotplugSlots(ctx: RuleContext, report: Report): void {
  const vm = ctx.vm!;
  // The VMI knows the annotations the domain was defined with; else the old spec stands in.
  const vmi = ctx.kind === 'VirtualMachine' ? ctx.cluster.getVirtualMachineInstance(vm.namespace, vm.name) : undefined;
  const annotations = vmi ? vmiAnnotations(vmi, 'VirtualMachineInstance') : vmiAnnotations(ctx.oldObject, ctx.kind);
  const b = slotBudget(vm, ctx.oldVm, ctx.config, { annotations, vmi });
  if (b.asked <= b.free) return;
  const names = b.askedInterfaces.map((i) => `"${i.name}"`).join(', ');
  const unplugs = vm.interfaces.some(isAbsent) || vm.interfaces.length < ctx.oldVm!.interfaces.length;
  const advice = [
    `Restart the VM with the new interfaces instead (stop it, change the spec, start it): interfaces present at start are laid out then and need no hotplug port.`,
  ];
  if (b.free > 0) advice.push(`Or hotplug only ${b.free} of them now.`);
  if (!b.rootComplex && b.model !== 'legacy-q35') {
    advice.push(
      `To keep more ports for later hotplugs, set ${annotationField(ctx.kind)}["${SLOT_COUNT_ANNOTATION}"] to a larger total (boot interfaces included) before the next start.`,
    );
  }
  report(
    'hotplug-slots',
    `${plural(b.asked, 'interface')} (${names}) would be hotplugged into running ${vm.name}, but only ${plural(b.free, 'hotplug port')} ${b.free === 1 ? 'is' : 'are'} free: ` +
      `the domain was defined with ${plural(b.base, 'interface')} (base), KubeVirt reserved ${plural(b.reserved, 'spare PCIe root port')} (${reservationReason(b)}), ` +
      `${b.inUse} in use by interfaces hotplugged since; asked for ${b.asked}.${unplugs ? ' Unplugging a boot interface frees no port: its port stays hotplug="off".' : ''} ${advice.join(' ')}`,
    b.askedInterfaces[b.free]?.path,
  );
}

/** Annotation problems KubeVirt would only show when the VM starts. */
function checkSlotAnnotations(ctx: RuleContext, report: Report): void {
  const now = vmiAnnotations(ctx.object, ctx.kind);
  const before = vmiAnnotations(ctx.oldObject, ctx.kind);
  const raw = now[SLOT_COUNT_ANNOTATION];
  if (raw !== undefined && raw !== before[SLOT_COUNT_ANNOTATION] && !/^[+-]?\d{1,18}$/.test(String(raw).trim())) {
    report(
      'hotplug-slots',
      `annotation ${SLOT_COUNT_ANNOTATION} is "${raw}", not an integer: KubeVirt fails to define the domain ("invalid ${SLOT_COUNT_ANNOTATION} annotation value") and the VM does not start. Set it to a whole number, the interfaces the domain is laid out for, boot interfaces included.`,
      `${annotationField(ctx.kind)}["${SLOT_COUNT_ANNOTATION}"]`,
    );
  }
  if (ctx.kind !== 'VirtualMachine') return;
  // KubeVirt reads these from the VMI, which gets the template's annotations, not the VM's own.
  const own = ctx.object?.metadata?.annotations ?? {};
  const ownBefore = ctx.oldObject?.metadata?.annotations ?? {};
  for (const key of [SLOT_COUNT_ANNOTATION, ROOT_COMPLEX_ANNOTATION]) {
    if (own[key] === undefined || now[key] !== undefined || own[key] === ownBefore[key]) continue;
    report(
      'hotplug-slots',
      `annotation ${key} is on the VirtualMachine's metadata, where KubeVirt does not read it; the VMI gets spec.template.metadata.annotations. Move it there.`,
      `metadata.annotations["${key}"]`,
      'warn',
    );
  }
}

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
  return parts.filter(([, n]) => n > 0).map(([what, n]) => `${what} ${n}`).join(', ');
}

/**
 * Rule pci-bus: the layout the VM starts with next must fit the root bus. On an UPDATE it
 * speaks only when the change makes things worse, so an edit of a VM that already exceeds
 * an estimate is not held hostage to it.
 */
function checkPciBus(ctx: RuleContext, report: Report): void {
  const limit = ctx.config.pciSlotLimit - RESERVED_ROOT_SLOTS;
  const next = bootPciUsage(ctx.vm!, vmiAnnotations(ctx.object, ctx.kind), ctx.config);
  if (next.used <= limit) return;
  if (ctx.oldVm && next.used <= bootPciUsage(ctx.oldVm, vmiAnnotations(ctx.oldObject, ctx.kind), ctx.config).used) return;
  report(
    'pci-bus',
    `${ctx.vm!.name} needs ${next.used} root PCI bus slots (${describeDevices(next.devices, next.reserved)}), but the bus has ${limit} ` +
      `(pciSlotLimit ${ctx.config.pciSlotLimit} less the ${RESERVED_ROOT_SLOTS} reserved slots 0, 1, 0x1b and 0x1f). libvirt would refuse to start it with "No more available PCI slots". ` +
      `Remove devices, put disks on the scsi or sata bus, or lower the hotplug reservation (${SLOT_COUNT_ANNOTATION}).`,
    `${ctx.vm!.specPath}.domain.devices`,
  );
}

export const slotRules: ValidationRule = {
  ids: ['hotplug-slots', 'pci-bus'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate(ctx, report) {
    // KubeVirt's controllers only carry out a spec that was judged when a user wrote it.
    if (!ctx.vm || ctx.exempt) return;
    if (ctx.hotplug && ctx.oldVm) checkHotplugSlots(ctx, report);
    checkSlotAnnotations(ctx, report);
    checkPciBus(ctx, report);
  },
};

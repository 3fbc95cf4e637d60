// Rule hotplug-slots: a hotplugged NIC needs one of the spare PCIe root ports KubeVirt
// reserved when it defined the domain (the model is in ../pci-topology.ts), and the slot
// annotations must be ones KubeVirt can read.
import type { FieldPath } from '../field-path.js';
import {
  LARGE_MEMORY_BYTES,
  ROOT_COMPLEX_ANNOTATION,
  SLOT_COUNT_ANNOTATION,
  V2_PORTS,
  parseSlotCount,
  slotBudget,
  type SlotBudget,
} from '../pci-topology.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type VmContext } from '../rule.js';
import type { HotplugChange } from '../analysis.js';
import { bounded, dig, plural, quote, stringMap } from '../values.js';
import { isAbsent, vmiAnnotationsOf } from '../vm.js';
import type { VmKind } from '../kinds.js';
import { FieldPath as Path } from '../field-path.js';

function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${+(bytes / 1024 ** 3).toFixed(2)}Gi` : `${+(bytes / 1024 ** 2).toFixed(0)}Mi`;
}

/** Where the slot annotations go for this kind: KubeVirt reads them from the VMI. */
function annotationsPath(kind: VmKind): FieldPath {
  return kind === 'VirtualMachine' ? Path.of('spec', 'template', 'metadata', 'annotations') : Path.of('metadata', 'annotations');
}

/** How the reserved count came about, in the words of the model. */
function reservationReason(b: SlotBudget): string {
  if (b.rootComplex) {
    return `none, as annotation ${ROOT_COMPLEX_ANNOTATION}: "true" puts every device on the root complex, which takes no hotplug`;
  }
  const total =
    b.slotTotalSource === 'annotation'
      ? `T = ${b.slotTotal} from annotation ${SLOT_COUNT_ANNOTATION}`
      : `T = ${b.slotTotal}, setting hotplugSlotTotal`;
  switch (b.model) {
    case 'v1':
      return `slot model v1: max(0, T - base) with ${total}`;
    case 'v2': {
      const large = b.memoryBytes !== undefined && b.memoryBytes > LARGE_MEMORY_BYTES;
      const memory =
        b.memoryBytes === undefined ? 'guest memory unknown, taken as 2Gi or less' : `${formatBytes(b.memoryBytes)} of guest memory`;
      const p = large ? V2_PORTS.large : V2_PORTS.small;
      return `slot model v2: max(${p.total} - PCI devices in use, ${p.min}) for ${memory}`;
    }
    case 'legacy-q35':
      return 'slot model legacy-q35: the q35 machine type leaves one spare root port';
  }
}

function budgetCauses(ctx: VmContext, change: HotplugChange): Cause[] {
  const vm = ctx.vm;
  // The VMI knows the annotations the domain was defined with; else the old spec stands in.
  const vmi = ctx.kind === 'VirtualMachine' ? ctx.facts.runningVmi : undefined;
  const annotations = vmi ? vmiAnnotationsOf(vmi, 'VirtualMachineInstance') : vmiAnnotationsOf(change.old.object, ctx.kind);
  const b = slotBudget(vm, change.old.vm, ctx.config, { annotations, ...(vmi ? { vmi } : {}) });
  if (b.asked <= b.free) return [];
  const names = b.askedInterfaces.slice(0, 8).map((i) => quote(i.name)).join(', ') + (b.asked > 8 ? ', ...' : '');
  const unplugs = vm.interfaces.some(isAbsent) || vm.interfaces.length < change.old.vm.interfaces.length;
  const advice = [
    'Restart the VM with the new interfaces instead (stop it, change the spec, start it): interfaces present at start ' +
      'are laid out then and need no hotplug port.',
  ];
  if (b.free > 0) advice.push(`Or hotplug only ${b.free} of them now.`);
  if (!b.rootComplex && b.model !== 'legacy-q35') {
    advice.push(
      `To keep more ports for later hotplugs, set ${annotationsPath(ctx.kind).key(SLOT_COUNT_ANNOTATION)} to a larger ` +
        'total (boot interfaces included) before the next start.',
    );
  }
  const unplugNote = unplugs ? ' Unplugging a boot interface frees no port: its port stays hotplug="off".' : '';
  return [
    {
      message:
        `${plural(b.asked, 'interface')} (${names}) would be hotplugged into running ${bounded(vm.name)}, but only ` +
        `${plural(b.free, 'hotplug port')} ${b.free === 1 ? 'is' : 'are'} free: the domain was defined with ` +
        `${plural(b.base, 'interface')} (base), KubeVirt reserved ${plural(b.reserved, 'spare PCIe root port')} ` +
        `(${reservationReason(b)}), ${b.inUse} in use by interfaces hotplugged since; asked for ${b.asked}.` +
        `${unplugNote} ${advice.join(' ')}`,
      field: b.askedInterfaces[b.free]?.path,
    },
  ];
}

/** Annotation problems KubeVirt would only show when the VM starts. */
function annotationCauses(ctx: VmContext): Cause[] {
  const causes: Cause[] = [];
  const now = ctx.vm.vmiAnnotations;
  const before = ctx.old?.vm.vmiAnnotations ?? {};
  const raw = now[SLOT_COUNT_ANNOTATION];
  if (raw !== undefined && raw !== before[SLOT_COUNT_ANNOTATION] && parseSlotCount(raw) === undefined) {
    causes.push({
      message:
        `annotation ${SLOT_COUNT_ANNOTATION} is ${quote(raw)}, not an integer: KubeVirt fails to define the domain ` +
        `("invalid ${SLOT_COUNT_ANNOTATION} annotation value") and the VM does not start. Set it to a whole number, ` +
        'the interfaces the domain is laid out for, boot interfaces included.',
      field: annotationsPath(ctx.kind).key(SLOT_COUNT_ANNOTATION),
    });
  }
  if (ctx.kind !== 'VirtualMachine') return causes;
  // KubeVirt reads these from the VMI, which gets the template's annotations, not the VM's own.
  const own = stringMap(dig(ctx.object, 'metadata', 'annotations'));
  const ownBefore = stringMap(dig(ctx.old?.object, 'metadata', 'annotations'));
  for (const key of [SLOT_COUNT_ANNOTATION, ROOT_COMPLEX_ANNOTATION]) {
    if (own[key] === undefined || now[key] !== undefined || own[key] === ownBefore[key]) continue;
    causes.push({
      message:
        `annotation ${key} is on the VirtualMachine's metadata, where KubeVirt does not read it; the VMI gets ` +
        'spec.template.metadata.annotations. Move it there.',
      field: Path.of('metadata', 'annotations').key(key),
      action: 'warn',
    });
  }
  return causes;
}

export const hotplugSlots: RuleDescriptor<'hotplug-slots'> = defineRule({
  id: 'hotplug-slots',
  title: 'Hotplugged interfaces fit in the reserved PCIe root ports',
  summary: 'more hotplugged NICs than spare PCIe root ports',
  description:
    'KubeVirt reserves spare PCIe root ports when it defines the domain (max(0, T - base) with T = 4 by default, more ' +
    'on newer versions); interfaces hotplugged since boot must fit in them, and unplugging a boot interface frees none.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  hotplugOnly: 'the hotplug port budget',
  check: {
    vm: (ctx) => {
      // KubeVirt's controllers only carry out a spec that was judged when a user wrote it.
      if (ctx.exempt) return [];
      const change = ctx.facts.hotplug;
      return [...(change ? budgetCauses(ctx, change) : []), ...annotationCauses(ctx)];
    },
  },
});


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
  reservationFromUnreadRelease,
  slotBudgetsIfAsked,
  type SlotBudget,
} from '../pci-topology.js';
import { describeVersions, formatVersion, whyOnlyWarns } from '../kubevirt-version.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type VmContext } from '../rule.js';
import type { HotplugChange } from '../analysis.js';
import { asObject, bounded, dig, plural, quote } from '../values.js';
import { isAbsent, vmiAnnotationsOf } from '../vm.js';
import type { VmKind } from '../kinds.js';
import { FieldPath as Path } from '../field-path.js';

function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${+(bytes / 1024 ** 3).toFixed(2)}Gi` : `${+(bytes / 1024 ** 2).toFixed(0)}Mi`;
}

/** Where the slot annotations go for this kind: KubeVirt reads them from the VMI. */
function annotationsPath(kind: VmKind): FieldPath {
  return kind === 'VirtualMachine'
    ? Path.of('spec', 'template', 'metadata', 'annotations')
    : Path.of('metadata', 'annotations');
}

/** How the reserved count came about, in the words of the model. */
function reservationReason(b: SlotBudget): string {
  if (b.rootComplex && b.slotTotalSource !== 'annotation') {
    return (
      `none, as annotation ${ROOT_COMPLEX_ANNOTATION}: "true" puts every device on the root complex, which ` +
      `takes no hotplug`
    );
  }
  if (b.notPcie)
    return 'none, as the VM is not PCIe (its architecture or machine type): KubeVirt reserves no ports for it';
  const placeholders =
    b.slotTotalSource === 'annotation'
      ? `max(0, ${b.slotTotal} - base) from annotation ${SLOT_COUNT_ANNOTATION}`
      : `max(0, ${b.slotTotal} - base)`;
  const large = b.memoryBytes !== undefined && b.memoryBytes > LARGE_MEMORY_BYTES;
  const memory =
    b.memoryBytes === undefined
      ? 'guest memory unknown, taken as 2Gi or less'
      : `${formatBytes(b.memoryBytes)} of guest memory`;
  const p = large ? V2_PORTS.large : V2_PORTS.small;
  const scaled = `max(${p.total} - PCI devices in use, ${p.min}) for ${memory}`;
  switch (b.model) {
    case 'v1':
      return `slot model v1: ${placeholders}`;
    case 'v2':
      return `slot model v2: ${scaled}`;
    case 'v3':
      return `slot model v3: ${placeholders}, topped up to ${scaled}`;
    case 'legacy-q35':
      return 'slot model legacy-q35: the q35 machine type leaves one spare root port';
  }
}

/** Under which KubeVirt the budget was judged, for the message. */
function releaseNote(ctx: VmContext): string {
  if (ctx.config.slotModel !== 'auto') return ', with slotModel set in the configuration';
  const known = ctx.facts.kubevirt;
  return known?.followed ? `, under KubeVirt ${formatVersion(known.version)} (from the ${known.source})` : '';
}

function budgetMessage(ctx: VmContext, change: HotplugChange, b: SlotBudget, note: string): string {
  const names =
    b.askedInterfaces
      .slice(0, 8)
      .map((i) => quote(i.name))
      .join(', ') + (b.asked > 8 ? ', ...' : '');
  return (
    `${plural(b.asked, 'interface')} (${names}) would be hotplugged into running ${bounded(ctx.vm.name)}, but only ` +
    `${plural(b.free, 'hotplug port')} ${b.free === 1 ? 'is' : 'are'} free: the domain was defined with ` +
    `${plural(b.base, 'interface')} (base), KubeVirt reserved ${plural(b.reserved, 'spare PCIe root port')} ` +
    `(${reservationReason(b)}), ${b.inUse} in use by interfaces hotplugged since; asked for ${b.asked}${note}.` +
    (ctx.vm.interfaces.some(isAbsent) || change.old.vm.interfaces.length > ctx.vm.interfaces.length
      ? ' An unplug frees its port only once KubeVirt has completed it.'
      : '')
  );
}

function advice(ctx: VmContext, b: SlotBudget): string {
  const steps = [
    'Restart the VM with the new interfaces instead (stop it, change the spec, start it): interfaces present at ' +
      'start ' +
      'are laid out then and need no hotplug port.',
  ];
  if (b.free > 0) steps.push(`Or hotplug only ${b.free} of them now.`);
  if (!b.rootComplex && b.model === 'v3') {
    steps.push(
      `To keep more ports for later hotplugs, set ${annotationsPath(ctx.kind).key(SLOT_COUNT_ANNOTATION)} to a ` +
        `larger ` +
        'total (boot interfaces included) before the next start.',
    );
  }
  return steps.join(' ');
}

/**
 * Judged under each reservation rule that may apply: refused only when the hotplug fits
 * under none (the one known release, or every supported one); where it fits under some,
 * a warning names the releases where it would not. Never a denial on a guessed version.
 */
function budgetCauses(ctx: VmContext, change: HotplugChange): Cause[] {
  const vm = ctx.vm;
  // Nearly every update plugs nothing: no new interface, none brought back from absent.
  const wasActive = new Set(change.old.vm.interfaces.filter((i) => !isAbsent(i)).map((i) => i.name));
  if (vm.interfaces.every((i) => isAbsent(i) || wasActive.has(i.name))) return [];
  // The VMI knows the annotations the domain was defined with; else the old spec stands in.
  const vmi = ctx.kind === 'VirtualMachine' ? ctx.facts.runningVmi : undefined;
  const annotations = vmi
    ? vmiAnnotationsOf(vmi, 'VirtualMachineInstance')
    : vmiAnnotationsOf(change.old.object, ctx.kind);
  const choices = ctx.facts.reservationRules;
  const budgets = slotBudgetsIfAsked(
    vm,
    change.old.vm,
    choices.map((c) => c.rule),
    ctx.config,
    { annotations, ...(vmi ? { vmi } : {}) },
  );
  // Nothing asked (only other bindings added): every rule has room.
  if (budgets.length === 0) return [];
  const judged = choices.map((choice, i) => ({ choice, budget: budgets[i] }));
  const failing = judged.filter((j) => j.budget.asked > j.budget.free);
  if (failing.length === 0) return [];
  const field = (b: SlotBudget) => b.askedInterfaces[b.free]?.path;
  if (failing.length === judged.length) {
    // Said with the most generous rule: even that one has no room.
    const worst = failing.reduce((a, b) => (b.budget.free > a.budget.free ? b : a));
    const note = judged.length > 1 ? ', under every supported KubeVirt release' : releaseNote(ctx);
    const message = `${budgetMessage(ctx, change, worst.budget, note)} ${advice(ctx, worst.budget)}`;
    return reservationFromUnreadRelease(ctx.config, ctx.facts.kubevirt)
      ? [{ message: `${message} ${whyOnlyWarns(ctx.facts.kubevirt)}`, field: field(worst.budget), action: 'warn' }]
      : [{ message, field: field(worst.budget) }];
  }
  const fits = judged.filter((j) => !failing.includes(j));
  const failingVersions = failing.flatMap((f) => f.choice.versions ?? []);
  const fitVersions = fits.flatMap((f) => f.choice.versions ?? []);
  const tight = failing[0].budget;
  return [
    {
      message:
        `${budgetMessage(ctx, change, tight, `, under KubeVirt ${describeVersions(failingVersions)}`)} Under ` +
        `${describeVersions(fitVersions)} ${plural(fits[0].budget.free, 'port')} would be free and it fits. ` +
        whyOnlyWarns(ctx.facts.kubevirt),
      field: field(tight),
      action: 'warn',
    },
  ];
}

const SLOT_ANNOTATIONS = [SLOT_COUNT_ANNOTATION, ROOT_COMPLEX_ANNOTATION] as const;

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
  // Read in place (string values only, as stringMap would keep): nearly every VM has neither.
  const own = asObject(dig(ctx.object, 'metadata', 'annotations'));
  const ownBefore = asObject(dig(ctx.old?.object, 'metadata', 'annotations'));
  for (const key of SLOT_ANNOTATIONS) {
    const value = Object.hasOwn(own, key) ? own[key] : undefined;
    if (
      typeof value !== 'string' ||
      now[key] !== undefined ||
      (Object.hasOwn(ownBefore, key) && value === ownBefore[key])
    )
      continue;
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
    'KubeVirt reserves spare PCIe root ports when it defines the domain (max(0, T - base) with T = 4 by default, ' +
    'more ' +
    'on newer versions); interfaces hotplugged since boot must fit in them, and unplugging a boot interface frees ' +
    'none.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  hotplugPart: 'the hotplug port budget',
  check: {
    // KubeVirt's controllers only carry out a spec that was judged when a user wrote it.
    vm: (ctx) => (ctx.exempt ? [] : annotationCauses(ctx)),
    hotplug: (ctx) => budgetCauses(ctx, ctx.change),
  },
});

// Rules sriov-unplug and unplug-by-removal: taking an interface away from a running VM.
// Only a secondary bridge interface set to `state: absent` is hot-unplugged; KubeVirt's VM
// controller copies that state into the VMI and, once the unplug is done, removes the
// entry itself (kubevirt/kubevirt pkg/network/controllers/vm.go, ClearDetachedInterfaces).
// Deleting the entry instead only sets RestartRequired (kubevirt/kubevirt #9383, #10116).
import type { MutationRule, RuleContext, ValidationRule } from '../rule.js';
import type { KubeObject } from '../types.js';
import { isAbsent, isSecondary, unpluggedInterfaces, vmiSpecOf, type InterfaceView, type VmView } from '../vm.js';
import { isObject } from '../values.js';

/** `VM default/vm-fedora` → `running VM vm-fedora`, for messages. */
function runningRef(vm: VmView): string {
  return `${vm.kind === 'VirtualMachine' ? 'VM' : 'VMI'} ${vm.name}`;
}

/**
 * SR-IOV interfaces this request unplugs (set absent or removed) on a running VM. Exported
 * so that absent-scope leaves these to sriov-unplug: one root cause, one finding.
 */
export function sriovUnplugs(ctx: RuleContext): { old: InterfaceView; now?: InterfaceView }[] {
  if (!ctx.hotplug || ctx.exempt || !ctx.vm || !ctx.oldVm) return [];
  return unpluggedInterfaces(ctx.oldVm, ctx.vm).filter(({ old }) => old.binding === 'sriov');
}

export const sriovUnplugRule: ValidationRule = {
  ids: ['sriov-unplug'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate(ctx, report) {
    const vm = ctx.vm!;
    const stopFirst = `stop the ${vm.kind === 'VirtualMachine' ? 'VM' : 'VMI'}, remove the interface and its network, then start it again`;
    for (const { old, now } of sriovUnplugs(ctx)) {
      if (now) {
        report(
          'sriov-unplug',
          `SR-IOV interface "${old.name}" cannot be hot-unplugged: KubeVirt supports state: absent only for bridge binding and rejects this change. Remove state: absent; to take the interface away, ${stopFirst}.`,
          `${now.path}.state`,
        );
      } else {
        report(
          'sriov-unplug',
          `SR-IOV interface "${old.name}" was removed from the spec of running ${runningRef(vm)}, but SR-IOV interfaces cannot be hot-unplugged: KubeVirt only marks the VM RestartRequired and the VF stays attached. Put the interface back; to take it away, ${stopFirst}.`,
          `${vm.specPath}.domain.devices.interfaces`,
        );
      }
    }
  },
};

/**
 * Secondary bridge interfaces that were attached (present, not absent) and are now gone
 * from the spec: the user meant an unplug. Returns the old views, in old order.
 */
export function removedBridgeInterfaces(oldVm: VmView, vm: VmView): InterfaceView[] {
  const now = new Set(vm.interfaces.map((i) => i.name));
  return oldVm.interfaces.filter((i) => i.binding === 'bridge' && isSecondary(i) && !isAbsent(i) && !now.has(i.name));
}

/** Absent interfaces whose secondary network the user deleted: it must stay until the unplug completes. */
function absentWithoutNetwork(oldVm: VmView, vm: VmView): InterfaceView[] {
  const oldNetworks = new Map(oldVm.networks.map((n) => [n.name, n]));
  return vm.interfaces.filter((i) => {
    const oldNet = oldNetworks.get(i.name);
    return isAbsent(i) && !i.network && oldNet?.source === 'multus' && !oldNet.isMultusDefault;
  });
}

function named(list: unknown[], name: string): number {
  return list.findIndex((x) => isObject(x) && x.name === name);
}

/**
 * Puts `item` back where it was: right after the nearest entry that preceded it in the old
 * list and is still present, or first when none is.
 */
function insertAtOldPosition(list: unknown[], item: Record<string, unknown>, oldList: unknown[], oldIndex: number): void {
  for (let i = oldIndex - 1; i >= 0; i--) {
    const neighbour = oldList[i];
    const before = isObject(neighbour) ? named(list, neighbour.name) : -1;
    if (before >= 0) {
      list.splice(before + 1, 0, item);
      return;
    }
  }
  list.unshift(item);
}

/** The draft's interface and network lists, created where the user deleted them outright. */
function draftLists(draft: KubeObject, kind: string): { interfaces: unknown[]; networks: unknown[] } | undefined {
  const located = vmiSpecOf(draft, kind);
  if (!located || !isObject(located.spec)) return undefined;
  const spec = located.spec;
  if (spec.domain === undefined) spec.domain = {};
  if (!isObject(spec.domain)) return undefined;
  if (spec.domain.devices === undefined) spec.domain.devices = {};
  if (!isObject(spec.domain.devices)) return undefined;
  const devices = spec.domain.devices;
  if (devices.interfaces === undefined || devices.interfaces === null) devices.interfaces = [];
  if (spec.networks === undefined || spec.networks === null) spec.networks = [];
  if (!Array.isArray(devices.interfaces) || !Array.isArray(spec.networks)) return undefined;
  return { interfaces: devices.interfaces, networks: spec.networks };
}

/** What the mutation would restore; both empty for nearly every request. */
function restorable(ctx: RuleContext): { removed: InterfaceView[]; orphaned: InterfaceView[] } {
  const { vm, oldVm } = ctx;
  if (!ctx.hotplug || ctx.exempt || !vm || !oldVm) return { removed: [], orphaned: [] };
  return { removed: removedBridgeInterfaces(oldVm, vm), orphaned: absentWithoutNetwork(oldVm, vm) };
}

export const unplugByRemovalMutation: MutationRule & { applies(ctx: RuleContext): boolean } = {
  id: 'unplug-by-removal',
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  /** Cheap test, so that the evaluator can skip cloning and diffing the object when nothing changes. */
  applies(ctx) {
    const { removed, orphaned } = restorable(ctx);
    return removed.length > 0 || orphaned.length > 0;
  },
  mutate(ctx, draft, report) {
    const { vm, oldVm } = ctx;
    const { removed, orphaned } = restorable(ctx);
    if (!vm || !oldVm || (removed.length === 0 && orphaned.length === 0)) return;
    const lists = draftLists(draft, ctx.kind);
    if (!lists) return;
    const oldInterfaces = oldVm.interfaces.map((i) => i.raw);
    const oldNetworks = oldVm.networks.map((n) => n.raw);
    const restoredNetworks = new Set<string>();
    const restoreNetwork = (name: string): void => {
      const oldNet = oldVm.networks.find((n) => n.name === name);
      if (!oldNet || named(lists.networks, name) >= 0) return;
      insertAtOldPosition(lists.networks, structuredClone(oldNet.raw), oldNetworks, oldNet.index);
      restoredNetworks.add(name);
    };

    for (const old of removed) {
      insertAtOldPosition(lists.interfaces, { ...structuredClone(old.raw), state: 'absent' }, oldInterfaces, old.index);
      restoreNetwork(old.name);
    }
    for (const iface of orphaned) restoreNetwork(iface.name);

    // Report with the final positions, after every insertion.
    const base = vm.specPath;
    for (const old of removed) {
      const at = named(lists.interfaces, old.name);
      const withNetwork = restoredNetworks.has(old.name) ? ` and its network "${old.name}"` : '';
      report(
        'unplug-by-removal',
        `interface "${old.name}" was removed from the spec of running ${runningRef(vm)}, but removing an interface does not unplug it (KubeVirt only marks the VM RestartRequired). nicguard put it back with state: absent${withNetwork}, so KubeVirt hot-unplugs it and then deletes the entries itself. Next time set state: absent instead of deleting the interface.`,
        `${base}.domain.devices.interfaces[${at}].state`,
        'warn',
      );
    }
    for (const iface of orphaned) {
      if (!restoredNetworks.has(iface.name)) continue;
      report(
        'unplug-by-removal',
        `interface "${iface.name}" is being unplugged (state: absent) but its network was deleted; KubeVirt needs the network until the unplug completes, so nicguard put network "${iface.name}" back. KubeVirt deletes it together with the interface once the unplug is done.`,
        `${base}.networks[${named(lists.networks, iface.name)}]`,
        'warn',
      );
    }
  },
};

export const unplugByRemovalRule: ValidationRule = {
  ids: ['unplug-by-removal'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate(ctx, report) {
    const { vm, oldVm } = ctx;
    if (!ctx.hotplug || ctx.exempt || !vm || !oldVm) return;
    // With `mutate`, the mutation has already put these back when both phases run; a removal
    // seen here means the mutating webhook did not run, which deserves a warning, not a denial.
    const action = ctx.config.rules['unplug-by-removal'] === 'mutate' ? 'warn' : 'deny';
    // An absent interface whose network was deleted is left to network-pairing, which KubeVirt
    // enforces too and whose message says the network must stay until the unplug completes.
    for (const old of removedBridgeInterfaces(oldVm, vm)) {
      report(
        'unplug-by-removal',
        `interface "${old.name}" was removed from the spec of running ${runningRef(vm)}, but removing an interface does not unplug it (KubeVirt only marks the VM RestartRequired and the NIC stays attached). Put it back with state: absent, and keep its network "${old.name}", to hot-unplug it; KubeVirt deletes both entries once the unplug is done.`,
        `${vm.specPath}.domain.devices.interfaces`,
        action,
      );
    }
  },
};

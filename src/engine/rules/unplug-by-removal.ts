// Rule unplug-by-removal: only a secondary bridge interface set to `state: absent` is
// hot-unplugged; KubeVirt's VM controller copies that state into the VMI and, once the
// unplug is done, removes the entry itself (kubevirt/kubevirt pkg/network/controllers/vm.go,
// ClearDetachedInterfaces). Deleting the entry instead only sets RestartRequired
// (kubevirt/kubevirt #9383, #10116). So the mutation puts a deleted interface back with
// state: absent, and validation refuses (or warns about) a removal it did not repair.
import { defineRule, type RuleDescriptor, MUTATION_SETTINGS, type Cause, type HotplugContext } from '../rule.js';
import type { KubeObject } from '../types.js';
import { copyJson } from '../draft.js';
import { asObject, isObject, quote } from '../values.js';
import { shortRef, vmiSpecOf } from '../vm.js';

function indexByName(list: unknown[], name: string): number {
  return list.findIndex((x) => isObject(x) && x.name === name);
}

/**
 * Puts `item` back where it was: right after the nearest entry that preceded it in the old
 * list and is still present, or first when none is.
 */
function insertAtOldPosition(list: unknown[], item: unknown, oldList: unknown[], oldIndex: number): void {
  for (let i = oldIndex - 1; i >= 0; i--) {
    const neighbour = oldList[i];
    const before = isObject(neighbour) && typeof neighbour.name === 'string' ? indexByName(list, neighbour.name) : -1;
    if (before >= 0) {
      list.splice(before + 1, 0, item);
      return;
    }
  }
  list.unshift(item);
}

/** The draft's interface and network lists, created where the user deleted them outright. */
function draftLists(
  draft: KubeObject,
  ctx: HotplugContext,
): { interfaces: unknown[]; networks: unknown[] } | undefined {
  const spec = vmiSpecOf(draft, ctx.kind);
  if (!isObject(spec)) return undefined;
  spec.domain ??= {};
  if (!isObject(spec.domain)) return undefined;
  spec.domain.devices ??= {};
  if (!isObject(spec.domain.devices)) return undefined;
  const devices = spec.domain.devices;
  devices.interfaces ??= [];
  spec.networks ??= [];
  if (!Array.isArray(devices.interfaces) || !Array.isArray(spec.networks)) return undefined;
  return { interfaces: devices.interfaces, networks: spec.networks };
}

/** Whether a field is absent or holds what draftLists needs there: it creates what is absent. */
const absentOr = (value: unknown, fits: (v: unknown) => boolean) => value === undefined || fits(value);

/** A list of objects: one with any other entry is malformed (network-pairing denies it), not repaired. */
const isObjectList = (v: unknown): boolean => Array.isArray(v) && v.every(isObject);

/**
 * Whether draftLists will find (or can create) both lists in a copy of this object. Asked
 * before the object is copied: a review whose `domain` is, say, a list of 90,000 items, or
 * whose first interface is one, cannot be repaired, and copying and diffing its megabytes for
 * nothing took 30-75 ms.
 */
function listsEditable(ctx: HotplugContext): boolean {
  const spec = vmiSpecOf(ctx.object, ctx.kind);
  if (!isObject(spec) || !absentOr(spec.networks, isObjectList) || !absentOr(spec.domain, isObject)) return false;
  const devices = isObject(spec.domain) ? spec.domain.devices : undefined;
  return absentOr(devices, isObject) && absentOr(isObject(devices) ? devices.interfaces : undefined, isObjectList);
}

/** The two lists the repair edits (draftLists): the draft is copied and diffed along these only. */
function editedLists({ kind }: HotplugContext): string[][] {
  const spec = kind === 'VirtualMachine' ? ['spec', 'template', 'spec'] : ['spec'];
  return [
    [...spec, 'domain', 'devices', 'interfaces'],
    [...spec, 'networks'],
  ];
}

/** Whether the mutation would repair anything; false for nearly every request. */
function repairable(ctx: HotplugContext): boolean {
  const change = ctx.change;
  return (change.removedBridge.length > 0 || change.absentWithoutNetwork.length > 0) && listsEditable(ctx);
}

function mutate(ctx: HotplugContext, draft: KubeObject): Cause[] {
  const change = ctx.change;
  const lists = repairable(ctx) && draftLists(draft, ctx);
  if (!lists) return [];
  const oldVm = change.old.vm;
  const oldInterfaces = oldVm.interfaces.map((i) => i.raw);
  const oldNetworks = oldVm.networks.map((n) => n.raw);
  const restoredNetworks = new Set<string>();
  const restoreNetwork = (name: string): void => {
    const oldNet = oldVm.networks.find((n) => n.name === name);
    if (!oldNet || indexByName(lists.networks, name) >= 0) return;
    insertAtOldPosition(lists.networks, copyJson(oldNet.raw), oldNetworks, oldNet.index);
    restoredNetworks.add(name);
  };
  for (const old of change.removedBridge) {
    insertAtOldPosition(
      lists.interfaces,
      { ...asObject(copyJson(old.raw)), state: 'absent' },
      oldInterfaces,
      old.index,
    );
    restoreNetwork(old.name);
  }
  for (const iface of change.absentWithoutNetwork) restoreNetwork(iface.name);

  // Reported with the final positions, after every insertion.
  const spec = ctx.vm.specPath;
  const causes: Cause[] = [];
  for (const old of change.removedBridge) {
    const withNetwork = restoredNetworks.has(old.name) ? ` and its network ${quote(old.name)}` : '';
    causes.push({
      message:
        `interface ${quote(old.name)} was removed from the spec of running ${shortRef(ctx.vm)}, but removing an ` +
        'interface does not unplug it (KubeVirt only marks the VM RestartRequired). nicguard put it back with ' +
        `state: absent${withNetwork}, so KubeVirt hot-unplugs it and then deletes the entries itself. Next time set ` +
        'state: absent instead of deleting the interface.',
      field: spec
        .field('domain', 'devices', 'interfaces')
        .index(indexByName(lists.interfaces, old.name))
        .field('state'),
      action: 'warn',
    });
  }
  for (const iface of change.absentWithoutNetwork) {
    if (!restoredNetworks.has(iface.name)) continue;
    causes.push({
      message:
        `interface ${quote(iface.name)} is being unplugged (state: absent) but its network was deleted; KubeVirt ` +
        `needs ` +
        `the network until the unplug completes, so nicguard put network ${quote(iface.name)} back. KubeVirt deletes ` +
        'it together with the interface once the unplug is done.',
      field: spec.field('networks').index(indexByName(lists.networks, iface.name)),
      action: 'warn',
    });
  }
  return causes;
}

export const unplugByRemoval: RuleDescriptor<'unplug-by-removal'> = defineRule({
  id: 'unplug-by-removal',
  title: 'Removing a secondary bridge interface unplugs it',
  summary: "a NIC deleted from a running VM's spec: put back with `state: absent`, so it is really unplugged",
  description:
    "Deleting an interface from a running VM's spec does not unplug it; the mutating webhook puts it back with " +
    'state: absent (and its network), so the removal does what was meant.',
  defaultSetting: 'mutate',
  settings: MUTATION_SETTINGS,
  mutation: { applies: repairable, edits: editedLists, mutate },
  check: {
    hotplug: (ctx) => {
      // With `mutate`, the mutation has already put these back when both phases run; a removal
      // seen here means the mutating webhook did not run, which deserves a warning, not a denial.
      const action = ctx.config.rules['unplug-by-removal'] === 'mutate' ? 'warn' : 'deny';
      // An absent interface whose network was deleted is left to network-pairing, which KubeVirt
      // enforces too and whose message says the network must stay until the unplug completes.
      return ctx.change.removedBridge.map((old) => ({
        message:
          `interface ${quote(old.name)} was removed from the spec of running ${shortRef(ctx.vm)}, but removing an ` +
          'interface does not unplug it (KubeVirt only marks the VM RestartRequired and the NIC stays attached). Put ' +
          `it back with state: absent, and keep its network ${quote(old.name)}, to hot-unplug it; KubeVirt deletes ` +
          `both ` +
          'entries once the unplug is done.',
        field: ctx.vm.specPath.field('domain', 'devices', 'interfaces'),
        action,
      }));
    },
  },
});

// Rule hotplug-path (warn): what happens after an accepted hotplug, so that nobody waits
// for a NIC that only a migration will bring. Multus' dynamic networks controller adds
// bridge interfaces to the running pod, but never SR-IOV ones (a VF is a pod resource), so
// those attach only when the VM moves to a new pod; KubeVirt (v1.6+) starts that migration
// itself where its CR allows. Findings carry no action of their own: the rule's setting
// (warn by default) decides, so a cluster that wants these steps enforced can set deny.
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type VmContext } from '../rule.js';
import type { KubeObject } from '../types.js';
import { asArray, bounded, dig, isObject, quote } from '../values.js';
import { atLeast, type KnownVersion } from '../kubevirt-version.js';
import { interfacesOf, isAbsent, type InterfaceView, type VmView } from '../vm.js';

/**
 * What keeps KubeVirt (v1.6+) from migrating by itself after a NIC hotplug: it marks the
 * VMI MigrationRequired under the LiveUpdate rollout strategy, and the workload updater
 * acts on that only with LiveMigrate among its methods (user guide, hotplug_interfaces.md;
 * VEP 29). An unset rollout strategy is Stage up to v1.5 and LiveUpdate from v1.6.0
 * (kubevirt/kubevirt pkg/virt-config/virt-config.go DefaultVMRolloutStrategy, v1.5.3 and
 * v1.6.0). Undefined where no KubeVirt CR is known (e.g. CI without --objects).
 */
function migrationBlockers(kubevirt: KubeObject | undefined, known: KnownVersion | undefined): string[] | undefined {
  if (!kubevirt) return undefined;
  const missing: string[] = [];
  const strategy = dig(kubevirt, 'spec', 'configuration', 'vmRolloutStrategy');
  if (strategy === undefined || strategy === null || strategy === '') {
    if (!known)
      missing.push('spec.configuration.vmRolloutStrategy is unset (LiveUpdate from KubeVirt v1.6.0, Stage before)');
    else if (!atLeast(known.version, 1, 6))
      missing.push('spec.configuration.vmRolloutStrategy is unset (Stage before v1.6.0)');
  } else if (strategy !== 'LiveUpdate') {
    missing.push('spec.configuration.vmRolloutStrategy is not LiveUpdate');
  }
  const methods = dig(kubevirt, 'spec', 'workloadUpdateStrategy', 'workloadUpdateMethods');
  if (!Array.isArray(methods) || !methods.includes('LiveMigrate')) {
    missing.push('spec.workloadUpdateStrategy.workloadUpdateMethods does not include LiveMigrate');
  }
  return missing;
}

/** The sentence that says who triggers the migration. */
function migrationStep(ctx: VmContext, vm: VmView): string {
  const known = ctx.facts.kubevirt;
  const blockers = migrationBlockers(ctx.cluster.getKubeVirt(), known?.followed ? known : undefined);
  const migrate = `\`virtctl migrate ${bounded(vm.name)} -n ${bounded(vm.namespace)}\``;
  const migratable = 'the VM must be live-migratable';
  if (!blockers) {
    return (
      'unless the KubeVirt CR sets vmRolloutStrategy: LiveUpdate and workloadUpdateMethods include LiveMigrate ' +
      `(KubeVirt v1.6 or newer), run ${migrate}; ${migratable}`
    );
  }
  if (blockers.length === 0) {
    return (
      "KubeVirt live-migrates the VM by itself, as its rollout strategy is LiveUpdate and the KubeVirt CR's " +
      `workloadUpdateMethods include LiveMigrate (KubeVirt v1.6 or newer; before that run ${migrate}); ${migratable}`
    );
  }
  return `KubeVirt will not start it, as the KubeVirt CR's ${blockers.join(' and ')}, so run ${migrate}; ${migratable}`;
}

function attachPath(ctx: VmContext, added: InterfaceView[]): Cause[] {
  const causes: Cause[] = [];
  for (const iface of added) {
    // A DRA interface (resourceClaim) gets no device from a migration either: dra-networks says so.
    if (iface.network?.sources.includes('resourceClaim')) continue;
    if (iface.binding === 'sriov') {
      causes.push({
        message:
          `SR-IOV interface ${quote(iface.name)} attaches only after a live migration (the dynamic networks ` +
          `controller ` +
          `cannot add a VF to a running pod): ${migrationStep(ctx, ctx.vm)}.`,
        field: iface.path,
      });
    } else if (iface.binding === 'bridge' && !ctx.config.dynamicNetworksController) {
      causes.push({
        message:
          `interface ${quote(iface.name)} attaches only after a live migration, as this cluster runs no Multus ` +
          `dynamic ` +
          `networks controller (setting dynamicNetworksController: false): ${migrationStep(ctx, ctx.vm)}.`,
        field: iface.path,
      });
    }
  }
  return causes;
}

/**
 * Interfaces whose unplug the VMI has not finished: absent in the VMI spec and still listed
 * in `status.interfaces` (the entry goes once it is done). Undefined for a VMI without
 * reported interfaces (a manifest in CI, a VMI still starting), which tells nothing.
 */
function pendingUnplugs(vmi: KubeObject): Set<string> | undefined {
  const reported = dig(vmi, 'status', 'interfaces');
  if (!Array.isArray(reported)) return undefined;
  const absent = new Set<unknown>();
  for (const i of asArray(interfacesOf(vmi.spec))) {
    if (isObject(i) && i.state === 'absent') absent.add(i.name);
  }
  const pending = new Set<string>();
  for (const s of reported) if (isObject(s) && typeof s.name === 'string' && absent.has(s.name)) pending.add(s.name);
  return pending;
}

/**
 * Re-adding an interface whose unplug is still under way: KubeVirt does not cancel an unplug
 * it has started (vm.go leaves an absent VMI interface alone), so the NIC goes away first
 * and is plugged again as a new device only after KubeVirt has cleared the old entry.
 */
function readdCauses(ctx: VmContext, oldVm: VmView): Cause[] {
  const vm = ctx.vm;
  const vmi = ctx.facts.runningVmi;
  const pending = vmi && pendingUnplugs(vmi);
  const causes: Cause[] = [];
  for (const iface of vm.interfaces) {
    if (isAbsent(iface)) continue;
    const old = oldVm.interfaceByName.get(iface.name);
    const wasAbsent = old !== undefined && isAbsent(old);
    // With a VMI at hand its status decides; without one, an absent old entry may still be pending.
    const flagged = pending ? pending.has(iface.name) : wasAbsent;
    if (!flagged || (old && !wasAbsent)) continue;
    const evidence = pending
      ? 'the VMI still lists it in status.interfaces while its spec has it absent'
      : 'it was state: absent before this change and its unplug may not have completed';
    causes.push({
      message:
        `interface ${quote(iface.name)} is being re-added while its unplug is still pending (${evidence}). KubeVirt ` +
        'finishes the unplug first and plugs it again only afterwards, as a new device. Wait until ' +
        `${quote(iface.name)} has gone from \`kubectl get vmi ${bounded(vm.name)} -n ${bounded(vm.namespace)} -o ` +
        "jsonpath='{.status.interfaces}'`, then re-add it.",
      field: iface.path,
    });
  }
  return causes;
}

export const hotplugPath: RuleDescriptor<'hotplug-path'> = defineRule({
  id: 'hotplug-path',
  title: 'What happens next after a hotplug',
  summary: 'what must happen next (a live migration for SR-IOV, or without the dynamic networks controller)',
  description:
    'Explains the attach path: SR-IOV hotplug needs a live migration, bridge hotplug without the dynamic networks ' +
    'controller needs virtctl migrate, and re-adding an interface whose unplug is pending is flagged.',
  defaultSetting: 'warn',
  settings: VALIDATION_SETTINGS,
  check: {
    hotplug: (ctx) => [...attachPath(ctx, ctx.change.added), ...readdCauses(ctx, ctx.change.old.vm)],
  },
});

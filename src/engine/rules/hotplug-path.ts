// Rule hotplug-path (warn): what happens after an accepted hotplug, so that nobody waits
// for a NIC that only a migration will bring. Multus' dynamic networks controller adds
// bridge interfaces to the running pod, but never SR-IOV ones (a VF is a pod resource), so
// those attach only when the VM moves to a new pod; KubeVirt (v1.6+) starts that migration
// itself where its CR allows (see migrationPolicy).
import type { Report, RuleContext, ValidationRule } from '../rule.js';
import type { KubeObject } from '../types.js';
import { hotpluggedInterfaces, isAbsent, type InterfaceView, type VmView } from '../vm.js';
import { isObject } from '../values.js';

const RULE = 'hotplug-path';
// Findings carry no action of their own: the rule's setting (warn by default) decides, so a
// cluster that wants these steps enforced can set it to deny.

interface MigrationPolicy {
  /** KubeVirt starts the migration itself. */
  automatic: boolean;
  /** What keeps it from doing so, for the message. */
  missing: string[];
}

/**
 * Whether KubeVirt (v1.6+) migrates by itself after a NIC hotplug: it marks the VMI
 * MigrationRequired under the LiveUpdate rollout strategy, and the workload updater acts
 * on that only with LiveMigrate among its methods (user guide, hotplug_interfaces.md;
 * VEP 29). The rollout strategy defaults to Stage (pkg/virt-config/virt-config.go).
 * Undefined where no KubeVirt CR is known (e.g. CI without --objects).
 */
function migrationPolicy(ctx: RuleContext): MigrationPolicy | undefined {
  const kubevirt = ctx.cluster.getKubeVirt();
  if (!kubevirt) return undefined;
  const methods = kubevirt.spec?.workloadUpdateStrategy?.workloadUpdateMethods;
  const missing: string[] = [];
  if (kubevirt.spec?.configuration?.vmRolloutStrategy !== 'LiveUpdate') {
    missing.push('spec.configuration.vmRolloutStrategy is not LiveUpdate');
  }
  if (!Array.isArray(methods) || !methods.includes('LiveMigrate')) {
    missing.push('spec.workloadUpdateStrategy.workloadUpdateMethods does not include LiveMigrate');
  }
  return { automatic: missing.length === 0, missing };
}

function migrateCommand(vm: VmView): string {
  return `virtctl migrate ${vm.name} -n ${vm.namespace}`;
}

/** The sentence that says who triggers the migration. */
function migrationStep(ctx: RuleContext, vm: VmView): string {
  const policy = migrationPolicy(ctx);
  const migratable = 'the VM must be live-migratable';
  if (!policy) {
    return `unless the KubeVirt CR sets vmRolloutStrategy: LiveUpdate and workloadUpdateMethods include LiveMigrate (KubeVirt v1.6 or newer), run \`${migrateCommand(vm)}\`; ${migratable}`;
  }
  if (policy.automatic) {
    return `KubeVirt live-migrates the VM by itself, as the KubeVirt CR sets vmRolloutStrategy: LiveUpdate and workloadUpdateMethods include LiveMigrate (KubeVirt v1.6 or newer; before that run \`${migrateCommand(vm)}\`); ${migratable}`;
  }
  return `KubeVirt will not start it, as the KubeVirt CR's ${policy.missing.join(' and ')}, so run \`${migrateCommand(vm)}\`; ${migratable}`;
}

function checkAttachPath(ctx: RuleContext, added: InterfaceView[], report: Report): void {
  const vm = ctx.vm!;
  for (const iface of added) {
    if (iface.binding === 'sriov') {
      report(
        RULE,
        `SR-IOV interface "${iface.name}" attaches only after a live migration (the dynamic networks controller cannot add a VF to a running pod): ${migrationStep(ctx, vm)}.`,
        iface.path,
      );
    } else if (iface.binding === 'bridge' && !ctx.config.dynamicNetworksController) {
      report(
        RULE,
        `interface "${iface.name}" attaches only after a live migration, as this cluster runs no Multus dynamic networks controller (setting dynamicNetworksController: false): ${migrationStep(ctx, vm)}.`,
        iface.path,
      );
    }
  }
}

/** The running VMI: the old object itself for a VMI, the cluster's copy for a VM. */
function runningVmi(ctx: RuleContext, vm: VmView): KubeObject | undefined {
  if (ctx.kind === 'VirtualMachineInstance') return ctx.oldObject;
  return ctx.cluster.getVirtualMachineInstance(vm.namespace, vm.name);
}

/**
 * Interfaces whose unplug the VMI has not finished: absent in the VMI spec and still listed
 * in `status.interfaces` (RULES.md, "KubeVirt versions": the entry goes once it is done).
 */
function pendingUnplugs(vmi: KubeObject): Set<string> | undefined {
  // A VMI without reported interfaces (a manifest in CI, a VMI still starting) tells nothing.
  if (!Array.isArray(vmi.status?.interfaces)) return undefined;
  const spec = vmi.spec;
  const specInterfaces: unknown[] = Array.isArray(spec?.domain?.devices?.interfaces) ? spec.domain.devices.interfaces : [];
  const absent = new Set(specInterfaces.filter((i) => isObject(i) && i.state === 'absent').map((i) => (i as any).name as string));
  const statusInterfaces: unknown[] = vmi.status.interfaces;
  return new Set(statusInterfaces.filter((s) => isObject(s) && absent.has(s.name)).map((s) => (s as any).name as string));
}

/**
 * Re-adding an interface whose unplug is still under way: KubeVirt does not cancel an unplug
 * it has started (vm.go leaves an absent VMI interface alone), so the NIC goes away first
 * and is plugged again as a new device only after KubeVirt has cleared the old entry.
 */
function checkReadd(ctx: RuleContext, report: Report): void {
  const vm = ctx.vm!;
  const oldByName = new Map(ctx.oldVm!.interfaces.map((i) => [i.name, i]));
  const vmi = runningVmi(ctx, vm);
  const pending = vmi && pendingUnplugs(vmi);
  for (const iface of vm.interfaces) {
    if (isAbsent(iface)) continue;
    const old = oldByName.get(iface.name);
    const wasAbsent = old !== undefined && isAbsent(old);
    // With a VMI at hand its status decides; without one, an absent old entry may still be pending.
    const flagged = pending ? pending.has(iface.name) : wasAbsent;
    if (!flagged || (old && !wasAbsent)) continue;
    const evidence = pending
      ? `the VMI still lists it in status.interfaces while its spec has it absent`
      : `it was state: absent before this change and its unplug may not have completed`;
    report(
      RULE,
      `interface "${iface.name}" is being re-added while its unplug is still pending (${evidence}). KubeVirt finishes the unplug first and plugs it again only afterwards, as a new device. Wait until "${iface.name}" has gone from \`kubectl get vmi ${vm.name} -n ${vm.namespace} -o jsonpath='{.status.interfaces}'\`, then re-add it.`,
      iface.path,
    );
  }
}

export const hotplugPathRule: ValidationRule = {
  ids: [RULE],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate(ctx, report) {
    if (!ctx.hotplug || ctx.exempt || !ctx.vm || !ctx.oldVm) return;
    checkAttachPath(ctx, hotpluggedInterfaces(ctx.oldVm, ctx.vm), report);
    checkReadd(ctx, report);
  },
};

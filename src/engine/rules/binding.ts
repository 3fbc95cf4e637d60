// Rules hotplug-binding, hotplug-model and absent-scope: which interfaces can be plugged
// into, or unplugged from, a running VM at all.
import type { Report, RuleContext, ValidationRule } from '../rule.js';
import { hotpluggedInterfaces, isAbsent, type InterfaceView } from '../vm.js';
import { sriovUnplugs } from './unplug.js';

/** Bindings KubeVirt's VM controller copies into a running VMI (pkg/network/controllers/vm.go). */
const HOTPLUGGABLE = new Set(['bridge', 'sriov']);

function bindingLabel(iface: InterfaceView): string {
  switch (iface.binding) {
    case 'binding':
      return `binding plugin "${iface.pluginName ?? ''}"`;
    case 'passtBinding':
      return 'passt binding';
    default:
      return `${iface.binding} binding`;
  }
}

function isDefaultNetwork(iface: InterfaceView): boolean {
  return iface.network?.source === 'pod' || iface.network?.isMultusDefault === true;
}

function networkLabel(iface: InterfaceView): string {
  return iface.network?.source === 'pod' ? 'the pod network' : `the multus default network "${iface.network?.networkName ?? ''}"`;
}

/**
 * Rule hotplug-binding: a masquerade, passt or plugin interface added to a running VM is
 * silently left for the next restart, and the primary network cannot be added live
 * (pkg/network/vmliveupdate/restart.go). One finding per interface, naming every reason.
 */
function checkHotplugBinding(ctx: RuleContext, added: InterfaceView[], report: Report): void {
  for (const iface of added) {
    // No network or no single binding: network-pairing reports that.
    if (!iface.network || iface.binding === 'none' || iface.binding === 'multiple') continue;
    const reasons: string[] = [];
    if (!HOTPLUGGABLE.has(iface.binding)) {
      reasons.push(`it uses ${bindingLabel(iface)}, and KubeVirt hotplugs only bridge and SR-IOV interfaces (others are left detached until the VM restarts)`);
    }
    if (isDefaultNetwork(iface)) {
      reasons.push(`it is on ${networkLabel(iface)}, and the primary network can only be added by restarting the VM`);
    }
    if (reasons.length === 0) continue;
    report(
      'hotplug-binding',
      `interface "${iface.name}" cannot be hotplugged into running ${ctx.vm!.name}: ${reasons.join('; ')}. Use bridge: {} (or sriov: {}) on a secondary multus network, or stop the VM, make the change and start it again.`,
      HOTPLUGGABLE.has(iface.binding) ? `${iface.network.path}` : `${iface.path}.${iface.binding}`,
    );
  }
}

/** Rule hotplug-model: hotplugged NICs are virtio (user guide, network/hotplug_interfaces); KubeVirt does not check it. */
function checkHotplugModel(ctx: RuleContext, added: InterfaceView[], report: Report): void {
  for (const iface of added) {
    if (iface.binding !== 'bridge' || iface.model === undefined || iface.model === 'virtio') continue;
    report(
      'hotplug-model',
      `interface "${iface.name}" is hotplugged into running ${ctx.vm!.name} with model ${iface.model}, but only virtio NICs can be hotplugged. Set model: virtio or leave model out.`,
      `${iface.path}.model`,
    );
  }
}

/**
 * Rule absent-scope: `state: absent` only on secondary bridge interfaces, as KubeVirt's
 * admitter demands (pkg/network/admitter/admit.go). An SR-IOV interface that this request
 * unplugs is left to sriov-unplug, whose message says how to remove it (stop the VM);
 * reporting it here too would be the same mistake twice.
 */
function checkAbsentScope(ctx: RuleContext, report: Report): void {
  const absent = ctx.vm!.interfaces.filter((i) => isAbsent(i) && i.network);
  if (absent.length === 0) return;
  const covered = ctx.config.rules['sriov-unplug'] === 'off'
    ? new Set<string>()
    : new Set(sriovUnplugs(ctx).filter((u) => u.now).map((u) => u.old.name));
  for (const iface of absent) {
    if (covered.has(iface.name)) continue;
    const reasons: string[] = [];
    if (iface.binding !== 'bridge') reasons.push(`it uses ${bindingLabel(iface)}, and only bridge interfaces can be unplugged`);
    if (isDefaultNetwork(iface)) reasons.push(`it is on ${networkLabel(iface)}, and the primary network cannot be unplugged`);
    if (reasons.length === 0) continue;
    report(
      'absent-scope',
      `interface "${iface.name}" has state: absent, but ${reasons.join('; ')}. Remove state: absent; to take the interface away, stop the VM, delete the interface and its network, then start it again.`,
      `${iface.path}.state`,
    );
  }
}

export const bindingRules: ValidationRule = {
  ids: ['hotplug-binding', 'hotplug-model', 'absent-scope'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate(ctx, report) {
    if (!ctx.vm || ctx.exempt) return;
    if (ctx.hotplug && ctx.oldVm) {
      const added = hotpluggedInterfaces(ctx.oldVm, ctx.vm);
      checkHotplugBinding(ctx, added, report);
      checkHotplugModel(ctx, added, report);
    }
    checkAbsentScope(ctx, report);
  },
};

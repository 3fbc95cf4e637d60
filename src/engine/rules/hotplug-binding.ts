// Rule hotplug-binding: a masquerade, passt or plugin interface added to a running VM is
// silently left for the next restart, and the primary network cannot be added live
// (kubevirt/kubevirt pkg/network/vmliveupdate/restart.go; pkg/network/controllers/vm.go
// copies only bridge and SR-IOV interfaces into a running VMI). One cause per interface,
// naming every reason.
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause } from '../rule.js';
import { bounded, quote } from '../values.js';
import { bindingLabel, isOnDefaultNetwork, primaryNetworkLabel } from '../vm.js';

const HOTPLUGGABLE = new Set(['bridge', 'sriov']);

export const hotplugBinding: RuleDescriptor<'hotplug-binding'> = defineRule({
  id: 'hotplug-binding',
  title: 'Hotplugged interfaces use bridge or SR-IOV on a secondary network',
  summary: 'a masquerade, passt or plugin NIC hotplugged into a running VM (never attaches)',
  description:
    'KubeVirt syncs only bridge and SR-IOV interfaces into a running VMI; a masquerade, passt or plugin interface, ' +
    'or a pod network, added to a running VM waits silently for the next restart.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    hotplug: ({ vm, change }) => {
      const causes: Cause[] = [];
      for (const iface of change.added) {
        // No network: network-pairing reports that; no single binding: binding-support.
        if (!iface.network || iface.binding === 'none' || iface.binding === 'multiple') continue;
        const hotpluggable = HOTPLUGGABLE.has(iface.binding);
        const reasons: string[] = [];
        if (!hotpluggable) {
          reasons.push(
            `it uses ${bindingLabel(iface)}, and KubeVirt hotplugs only bridge and SR-IOV interfaces ` +
              '(others are left detached until the VM restarts)',
          );
        }
        if (isOnDefaultNetwork(iface)) {
          reasons.push(
            `it is on ${primaryNetworkLabel(iface)}, and the primary network can only be added by restarting the VM`,
          );
        }
        if (reasons.length === 0) continue;
        causes.push({
          message:
            `interface ${quote(iface.name)} cannot be hotplugged into running ${bounded(vm.name)}: ` +
            `${reasons.join('; ')}. ` +
            'Use bridge: {} (or sriov: {}) on a secondary multus network, or stop the VM, make the change and start ' +
            'it again.',
          field: hotpluggable ? iface.network.path : iface.path.field(iface.binding),
        });
      }
      return causes;
    },
  },
});

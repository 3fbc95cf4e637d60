// Rule absent-scope: `state: absent` only on secondary bridge interfaces, as KubeVirt's
// admitter demands (kubevirt/kubevirt pkg/network/admitter/admit.go). An SR-IOV interface
// that this request unplugs is sriov-unplug's to report, whose message says how to remove
// it (stop the VM): one mistake, one finding.
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause } from '../rule.js';
import { quote } from '../values.js';
import { bindingLabel, isAbsent, isOnDefaultNetwork, primaryNetworkLabel } from '../vm.js';

export const absentScope: RuleDescriptor<'absent-scope'> = defineRule({
  id: 'absent-scope',
  title: 'state: absent only on secondary bridge interfaces',
  summary: '`state: absent` on the default network or a non-bridge binding',
  description:
    'Unplugging (state: absent) works only for bridge interfaces on secondary networks, never on the default network ' +
    'or other bindings.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: ({ vm, facts, exempt }) => {
      if (exempt) return [];
      const sriovUnplugged = new Set(facts.hotplug?.sriovUnplugs.filter((u) => u.now).map((u) => u.old.name));
      const causes: Cause[] = [];
      for (const iface of vm.interfaces) {
        if (!isAbsent(iface) || !iface.network) continue;
        const reasons: string[] = [];
        if (iface.binding !== 'bridge') {
          reasons.push(`it uses ${bindingLabel(iface)}, and only bridge interfaces can be unplugged`);
        }
        if (isOnDefaultNetwork(iface)) {
          reasons.push(`it is on ${primaryNetworkLabel(iface)}, and the primary network cannot be unplugged`);
        }
        if (reasons.length === 0) continue;
        causes.push({
          message:
            `interface ${quote(iface.name)} has state: absent, but ${reasons.join('; ')}. Remove state: absent; to ` +
            `take ` +
            'the interface away, stop the VM, delete the interface and its network, then start it again.',
          field: iface.path.field('state'),
          ...(sriovUnplugged.has(iface.name) ? { reportedBy: 'sriov-unplug' } : {}),
        });
      }
      return causes;
    },
  },
});

// Rule sriov-unplug: SR-IOV interfaces cannot be hot-unplugged. KubeVirt's admitter
// rejects state: absent on them (pkg/network/admitter), and deleting the entry only marks
// the VM RestartRequired while the VF stays attached (kubevirt/kubevirt #9383, #10116).
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS } from '../rule.js';
import { quote } from '../values.js';
import { shortRef } from '../vm.js';

export const sriovUnplug: RuleDescriptor<'sriov-unplug'> = defineRule({
  id: 'sriov-unplug',
  title: 'SR-IOV interfaces are not unplugged from a running VM',
  summary: 'an SR-IOV NIC set to absent or removed from a running VM (stays until restart)',
  description:
    'Hot-unplug of SR-IOV is unsupported: setting it absent is rejected, and removing it from the spec only marks ' +
    'the VM RestartRequired. Stop the VM to remove it.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    hotplug: ({ vm, change }) => {
      const what = vm.kind === 'VirtualMachine' ? 'VM' : 'VMI';
      const stopFirst = `stop the ${what}, remove the interface and its network, then start it again`;
      return change.sriovUnplugs.map(({ old, now }) =>
        now
          ? {
              message:
                `SR-IOV interface ${quote(old.name)} cannot be hot-unplugged: KubeVirt supports state: absent only ` +
                `for ` +
                `bridge binding and rejects this change. Remove state: absent; to take the interface away, ` +
                `${stopFirst}.`,
              field: now.path.field('state'),
            }
          : {
              message:
                `SR-IOV interface ${quote(old.name)} was removed from the spec of running ${shortRef(vm)}, but ` +
                `SR-IOV ` +
                'interfaces cannot be hot-unplugged: KubeVirt only marks the VM RestartRequired and the VF stays ' +
                `attached. Put the interface back; to take it away, ${stopFirst}.`,
              field: vm.specPath.field('domain', 'devices', 'interfaces'),
            },
      );
    },
  },
});

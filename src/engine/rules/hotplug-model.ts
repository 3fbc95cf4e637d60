// Rule hotplug-model: hotplugged NICs are virtio (KubeVirt user guide,
// network/hotplug_interfaces.md); KubeVirt does not check it, and another model fails in
// the guest.
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS } from '../rule.js';
import { bounded, quote } from '../values.js';

export const hotplugModel: RuleDescriptor<'hotplug-model'> = defineRule({
  id: 'hotplug-model',
  title: 'Hotplugged bridge interfaces are virtio',
  summary: 'a hotplugged NIC with a model other than virtio',
  description:
    'A hotplugged bridge interface has model virtio or no model; hotplugged NICs are virtio and KubeVirt does not ' +
    'check this.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    hotplug: ({ vm, change }) =>
      change.added
        .filter((iface) => iface.binding === 'bridge' && iface.model !== undefined && iface.model !== 'virtio')
        .map((iface) => ({
          message:
            `interface ${quote(iface.name)} is hotplugged into running ${bounded(vm.name)} with model ` +
            `${bounded(iface.model ?? '')}, ` +
            'but only virtio NICs can be hotplugged. Set model: virtio or leave model out.',
          field: iface.path.field('model'),
        })),
  },
});

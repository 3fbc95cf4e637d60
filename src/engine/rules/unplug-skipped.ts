// Rule unplug-skipped (warn): an unplug KubeVirt accepts and then silently never carries
// out. Its VM controller does not propagate `state: absent` into a VMI whose pod uses the
// legacy ordinal interface names (net1, net2, ...): kubevirt/kubevirt
// pkg/network/controllers/vm.go `applyDynamicIfaceRequestOnVMI` with
// pkg/network/namescheme/networknamescheme.go `HasOrdinalSecondaryIfaces` (v1.6.0-v1.9.0,
// from vmi.status.interfaces[].podInterfaceName); v1.4-v1.5 read the same names from the
// pod's Multus network-status annotation (notes/FACTS.md B.8). No error, no condition: the
// VM keeps `absent` and the NIC stays attached.
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause } from '../rule.js';
import type { KubeObject } from '../types.js';
import { asArray, asObject, bounded, dig, quote } from '../values.js';
import { shortRef } from '../vm.js';

/** namescheme.go `OrdinalSecondaryInterfaceName`. */
const ORDINAL = /^net\d+$/;

/**
 * The ordinal pod interface name the VMI reports for its first secondary (multus, not
 * default) network that has one, as HasOrdinalSecondaryIfaces decides. Undefined when the
 * names are hashed, or not known yet: KubeVirt then waits and unplugs once status shows
 * hashed names, so nicguard stays quiet.
 */
function ordinalName(vmi: KubeObject): { network: string; podInterfaceName: string } | undefined {
  const statuses = asArray(dig(vmi, 'status', 'interfaces')).map(asObject);
  for (const raw of asArray(dig(vmi, 'spec', 'networks'))) {
    const net = asObject(raw);
    const multus = asObject(net.multus);
    if (net.multus === undefined || net.multus === null || multus.default === true) continue;
    const status = statuses.find(
      (s) => s.name === net.name && typeof s.podInterfaceName === 'string' && s.podInterfaceName,
    );
    if (!status) continue;
    const podInterfaceName = String(status.podInterfaceName);
    return ORDINAL.test(podInterfaceName) ? { network: String(net.name), podInterfaceName } : undefined;
  }
  return undefined;
}

export const unplugSkipped: RuleDescriptor<'unplug-skipped'> = defineRule({
  id: 'unplug-skipped',
  title: 'Unplugs KubeVirt skips on VMIs with ordinal interface names',
  summary: 'an unplug KubeVirt silently skips: the VMI uses legacy interface names (net1, ...)',
  description:
    'KubeVirt does not hot-unplug interfaces of a VMI whose pod uses the legacy ordinal interface names (net1, net2, ' +
    '...), as its status.interfaces show; the unplug request stays in the VM spec and nothing happens until a restart.',
  defaultSetting: 'warn',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: (ctx) => {
      const change = ctx.facts.hotplug;
      const vmi = ctx.facts.runningVmi;
      if (!change || !vmi || ctx.exempt) return [];
      const names = [...change.unplugged.map((u) => u.old), ...change.removedBridge].map((i) => i.name);
      if (names.length === 0) return [];
      const ordinal = ordinalName(vmi);
      if (!ordinal) return [];
      const list = [...new Set(names)]
        .slice(0, 8)
        .map((n) => quote(n))
        .join(', ');
      const cause: Cause = {
        message:
          `KubeVirt will not unplug ${list} from running ${shortRef(ctx.vm)}: the VMI uses the legacy ordinal pod ` +
          `interface names (status.interfaces shows network ${quote(ordinal.network)} as ` +
          `${quote(ordinal.podInterfaceName)}), and KubeVirt's VM controller skips every unplug for such a VMI ` +
          'without an error; state: absent stays in the spec and the NIC stays attached. Restart the VM ' +
          `(\`virtctl restart ${bounded(ctx.vm.name)} -n ${bounded(ctx.vm.namespace)}\`): it starts without the ` +
          'absent interfaces and with the current naming scheme, after which unplugs work.',
        field: ctx.vm.specPath.field('domain', 'devices', 'interfaces'),
      };
      return [cause];
    },
  },
});

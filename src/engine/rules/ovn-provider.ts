// Rule ovn-provider: a Kube-OVN NAD declares provider <nad-name>.<nad-namespace>.ovn
// (without .ovn for IPAM-only use) and a server_socket, and its name holds no dot.
// Judged on the NAD itself and on the NAD a VM refers to; the analysis is in ../nad.ts.
import { contentSeverity, nadRef, networkField } from '../analysis.js';
import { ovnProviderProblems } from '../nad.js';
import { FieldPath } from '../field-path.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause } from '../rule.js';
import { quote } from '../values.js';

export const ovnProvider: RuleDescriptor<'ovn-provider'> = defineRule({
  id: 'ovn-provider',
  title: 'Kube-OVN NAD provider is <name>.<namespace>.ovn',
  summary: 'a Kube-OVN provider that is not `<name>.<namespace>.ovn`',
  description:
    'A kube-ovn NAD declares provider <nad-name>.<nad-namespace>.ovn (without .ovn for IPAM-only use) and a ' +
    'server_socket, and its name holds no dot; otherwise Kube-OVN cannot match it to its Subnet.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    nad: ({ nad, namespace }) =>
      ovnProviderProblems(nad, namespace).map((p) => ({
        message: p.message,
        field: FieldPath.of(...p.field.split('.')),
      })),
    vm: ({ facts, exempt }) => {
      if (exempt) return [];
      const causes: Cause[] = [];
      for (const use of facts.networkUses) {
        if (!use.nad || use.analysis?.parsed.error) continue;
        for (const p of use.providerProblems) {
          causes.push({
            message:
              `network ${quote(use.network.name)} uses Kube-OVN NetworkAttachmentDefinition ${nadRef(use)}, which is ` +
              `set up wrongly: ${p.message} Fix the NAD; the VM needs no change.`,
            field: networkField(use),
            action: contentSeverity(use),
          });
        }
      }
      return causes;
    },
  },
});

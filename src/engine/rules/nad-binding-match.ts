// Rule nad-binding-match: KubeVirt tells SR-IOV by the interface's binding alone and takes
// the VF resource from the NAD's k8s.v1.cni.cncf.io/resourceName annotation
// (kubevirt/kubevirt pkg/network/deviceinfo, pkg/virt-controller/services/template.go), so
// binding and NAD type must agree.
import { contentSeverity, nadRef, networkField } from '../analysis.js';
import { SRIOV_RESOURCE_ANNOTATION } from '../nad.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause } from '../rule.js';
import { quote, stringMap } from '../values.js';

export const nadBindingMatch: RuleDescriptor<'nad-binding-match'> = defineRule({
  id: 'nad-binding-match',
  title: 'Interface binding matches the NetworkAttachmentDefinition type',
  summary: 'an SR-IOV binding on a non-SR-IOV NAD, and the reverse',
  description:
    'An sriov interface points at an sriov NAD carrying the k8s.v1.cni.cncf.io/resourceName annotation; a bridge ' +
    'interface does not point at an sriov NAD.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: ({ facts, exempt }) => {
      if (exempt) return [];
      const causes: Cause[] = [];
      for (const use of facts.networkUses) {
        const { nad, analysis, iface } = use;
        if (!nad || !analysis || analysis.parsed.error) continue;
        const action = contentSeverity(use);
        const name = quote(iface.name);
        if (iface.binding === 'sriov') {
          // A NAD without config leaves the type to a file on the node: only the annotation can be judged.
          if (analysis.parsed.plugins.length > 0 && !analysis.isSriov) {
            causes.push({
              message:
                `interface ${name} uses sriov binding, but NetworkAttachmentDefinition ${nadRef(use)} is of type ` +
                `${quote(analysis.type ?? 'unknown')}, not sriov: KubeVirt would hand the pod a VF that this CNI ` +
                `cannot ` +
                'configure. Point the network at an SR-IOV NAD, or use bridge: {} for this NAD.',
              field: iface.path.field('sriov'),
              action,
            });
          }
          const resource = stringMap(nad.metadata?.annotations)[SRIOV_RESOURCE_ANNOTATION];
          if (resource === undefined || resource.trim() === '') {
            causes.push({
              message:
                `interface ${name} uses sriov binding, but NetworkAttachmentDefinition ${nadRef(use)} has no ` +
                `${SRIOV_RESOURCE_ANNOTATION} annotation, so KubeVirt cannot request a VF for the pod. Add the ` +
                'annotation naming the SR-IOV device plugin resource (e.g. intel.com/sriov_netdevice) to the NAD.',
              field: networkField(use),
              action,
            });
          }
        } else if (iface.binding === 'bridge' && analysis.isSriov) {
          causes.push({
            message:
              `interface ${name} uses bridge binding on NetworkAttachmentDefinition ${nadRef(use)}, which is an ` +
              `SR-IOV ` +
              'network: the pod gets no VF, so the SR-IOV CNI fails. Use sriov: {} for this interface.',
            field: iface.path.field('bridge'),
            action,
          });
        }
      }
      return causes;
    },
  },
});

// Rule nad-exists: each multus networkName resolves (without a namespace: the VM's own
// namespace, kubevirt/kubevirt pkg/network/multus/nad.go) to a NetworkAttachmentDefinition
// that exists and that Multus can read. A missing one surfaces only when a pod starts or a
// hotplug runs, far from the edit that caused it.
import { hotplugSeverity, nadRef, networkField, type NetworkUse } from '../analysis.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type VmContext } from '../rule.js';
import { bounded, quote, stringOf } from '../values.js';

/** Namespaces the hint names at most. */
const HINTED = 5;

/**
 * The first HINTED namespaces, in sorted order, other than `namespace`, that hold a NAD named
 * `name`: one pass over them, not a sort, since a name may be in every namespace of a cluster.
 */
function namespacesElsewhere(ctx: VmContext, namespace: string, name: string): string[] {
  const first: string[] = [];
  for (const nad of ctx.cluster.findNetworkAttachmentDefinitionsByName(name)) {
    const ns = stringOf(nad.metadata?.namespace);
    if (!ns || ns === namespace || (first.length === HINTED && ns >= first[HINTED - 1])) continue;
    let at = first.length;
    while (at > 0 && first[at - 1] > ns) at--;
    first.splice(at, 0, ns);
    if (first.length > HINTED) first.pop();
  }
  return first;
}

/** `elsewhereOf` keeps namespacesElsewhere by namespace/name: looked up once a request, however many NICs name it. */
function missingNad(ctx: VmContext, use: NetworkUse, elsewhereOf: Map<string, string[]>): Cause {
  const { nadNamespace: namespace, nadName: name } = use;
  const key = `${namespace}/${name}`;
  let elsewhere = elsewhereOf.get(key);
  if (!elsewhere) elsewhereOf.set(key, (elsewhere = namespacesElsewhere(ctx, namespace, name)));
  const ref = nadRef(use);
  let hint = '';
  if (elsewhere.length) {
    const other = `${elsewhere[0]}/${bounded(name)}`;
    hint =
      ` A NetworkAttachmentDefinition ${quote(name)} exists in ${elsewhere
        .map((ns) => `namespace ${ns}`)
        .join(', ')}: ` +
      `did you mean ${other}?` +
      (use.network.networkName?.includes('/')
        ? ''
        : ` A networkName without a namespace means the VM's own namespace (${bounded(namespace)}); write ` +
          `networkName: ${other}.`);
  }
  const severity = hotplugSeverity(ctx.facts.hotplug !== undefined, use);
  const consequence =
    severity === 'deny'
      ? `Hotplugging interface ${quote(use.iface.name)} would fail when Multus cannot find it ("cannot find a ` +
        'network-attachment-definition"); create the NAD first, or correct networkName.'
      : 'The VM\'s pod cannot start until it exists ("cannot find a network-attachment-definition"); create it ' +
        'before ' +
        'the VM starts, or correct networkName.';
  return {
    message:
      `network ${quote(use.network.name)} refers to NetworkAttachmentDefinition ${ref}, which does not exist. ` +
      `${consequence}${hint}`,
    field: networkField(use),
    action: severity,
  };
}

export const nadExists: RuleDescriptor<'nad-exists'> = defineRule({
  id: 'nad-exists',
  title: 'Multus networks refer to an existing NetworkAttachmentDefinition',
  summary: 'a NAD that does not exist; names one of that name in another namespace',
  description:
    "Each multus networkName resolves (without a namespace: the VM's own namespace) to a NetworkAttachmentDefinition " +
    'that exists; a missing one surfaces only at pod start.',
  defaultSetting: 'deny',
  defaultNote: ' on hotplug, warn on create',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: (ctx) => {
      // KubeVirt's controllers only carry out a spec that was judged when a user wrote it.
      if (ctx.exempt) return [];
      const causes: Cause[] = [];
      const elsewhereOf = new Map<string, string[]>();
      for (const use of ctx.facts.networkUses) {
        if (!use.nad) {
          causes.push(missingNad(ctx, use, elsewhereOf));
        } else if (use.analysis?.parsed.error) {
          // Not a Kube-OVN matter: no CNI can use the NAD, so it is as good as missing.
          causes.push({
            message:
              `network ${quote(use.network.name)} refers to NetworkAttachmentDefinition ${nadRef(use)}, whose ` +
              `${use.analysis.parsed.error}; Multus cannot attach anything with it. ` +
              "Fix the NAD's spec.config.",
            field: networkField(use),
            action: hotplugSeverity(ctx.facts.hotplug !== undefined, use),
          });
        }
      }
      return causes;
    },
  },
});

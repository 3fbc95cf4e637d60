// Rule binding-support: the bindings KubeVirt's admitter accepts, release by release
// (kubevirt/kubevirt pkg/network/admitter binding.go, passt.go, slirp.go, macvtap.go at
// v1.4.1-v1.7.4, discontinued.go from v1.8.0; notes/FACTS.md B.4, docs/compatibility.md).
// How many bindings an interface may have, which need a pod or multus network, which need a
// feature gate or a KubeVirt CR permission, and which are discontinued. Where the verdict
// depends on the release and nicguard does not know it, it warns (acrossReleases).
import {
  gateEnabled,
  judgedByKubeVirtAdmission,
  versionedCauses,
  type KubeVirtSettings,
  type VmFacts,
} from '../analysis.js';
import { atLeast, type KubeVirtVersion } from '../kubevirt-version.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type VmContext } from '../rule.js';
import { quote } from '../values.js';
import type { InterfaceView } from '../vm.js';

/** The bindings v1.9.0's countInterfaceBindings counts (binding.go); the discontinued ones are not among them. */
const COUNTED = new Set(['bridge', 'masquerade', 'sriov', 'passtBinding', 'binding']);
/** Discontinued since KubeVirt v1.3, still in the API (DeprecatedSlirp, DeprecatedPasst, DeprecatedMacvtap). */
const DISCONTINUED = ['slirp', 'passt', 'macvtap'] as const;
type Discontinued = (typeof DISCONTINUED)[number];

const ONE_OF = 'bridge: {}, masquerade: {}, sriov: {}, passtBinding: {} (v1.8+) or binding: {name: <plugin>}';

const from = (version: KubeVirtVersion, minor: number) => atLeast(version, 1, minor, 0);
const before = (version: KubeVirtVersion, minor: number) => !from(version, minor);

/** Core bindings the plugin conflict counts: v1.4-v1.7 include the discontinued ones; passtBinding exists from v1.8. */
function coreBindings(iface: InterfaceView, version: KubeVirtVersion): string[] {
  return iface.bindings.filter((b) => {
    if (b === 'binding') return false;
    if (b === 'passtBinding') return from(version, 8);
    if ((DISCONTINUED as readonly string[]).includes(b)) return before(version, 8);
    return true;
  });
}

/** Exactly one binding (v1.9.0), or before that only "not a plugin together with a core binding". */
function countCauses(iface: InterfaceView, facts: VmFacts): Cause[] {
  // The common case, one core binding: no release refuses it, so nothing to weigh.
  if (iface.bindings.length === 1 && COUNTED.has(iface.bindings[0]) && iface.bindings[0] !== 'binding') return [];
  const counted = iface.bindings.filter((b) => COUNTED.has(b));
  const plugin = iface.bindings.includes('binding');
  const name = quote(iface.name);
  if (counted.length === 0) {
    const old = iface.bindings.filter((b): b is Discontinued => (DISCONTINUED as readonly string[]).includes(b));
    const why = old.length
      ? `it uses only ${old.join(', ')}, discontinued since KubeVirt v1.3, which KubeVirt v1.9.0 no longer counts as ` +
        'a binding, so from v1.9.0 every update of this VM is refused until the interface gets a supported binding'
      : 'KubeVirt v1.9.0 refuses an interface without one (older releases accept it, but virt-handler cannot set it ' +
        'up)';
    return versionedCauses(facts, (ver) => from(ver, 9), {
      message: `interface ${name} has no binding: ${why}. Set exactly one of ${ONE_OF}.`,
      field: iface.path,
    });
  }
  return versionedCauses(
    facts,
    (ver) => (from(ver, 9) ? counted.length > 1 : plugin && coreBindings(iface, ver).length > 0),
    {
      message:
        `interface ${name} has more than one binding (${iface.bindings.join(', ')}): KubeVirt refuses a binding ` +
        'plugin together with a core binding, and from v1.9.0 any interface without exactly one binding. Keep one.',
      field: plugin ? iface.path.field('binding') : iface.path,
    },
  );
}

/** Which network the binding needs, whatever the release (binding.go, passt.go). */
function networkCauses(iface: InterfaceView, settings: KubeVirtSettings, facts: VmFacts): Cause[] {
  const net = iface.network;
  if (!net) return []; // network-pairing reports the missing network
  const onPod = net.sources.includes('pod');
  const causes: Cause[] = [];
  if (iface.bindings.includes('masquerade') && !onPod) {
    // A masquerade interface hotplugged onto multus is one mistake: hotplug-binding names it with the fix.
    const hotplugged = facts.hotplug?.added.some((added) => added.name === iface.name) === true;
    causes.push({
      message:
        `interface ${quote(iface.name)} ` +
        `uses masquerade: {}, which KubeVirt implements only on the pod network, but network ` +
        `${quote(iface.name)} ` +
        'is not pod: {} (KubeVirt refuses this on every create and update, so moving a masquerade interface from the ' +
        'pod network to multus is refused too). Use bridge: {} on a multus network, or keep it on pod: {}.',
      field: iface.path.field('name'),
      ...(hotplugged ? { reportedBy: 'hotplug-binding' } : {}),
    });
  }
  if (iface.bindings.includes('bridge') && onPod && settings.known && !settings.permitBridgeInterfaceOnPodNetwork) {
    causes.push({
      message:
        `interface ${quote(iface.name)} uses bridge: {} on the pod network, but the KubeVirt CR sets ` +
        'spec.configuration.network.permitBridgeInterfaceOnPodNetwork: false, so KubeVirt refuses it. Use ' +
        'masquerade: {} ' +
        'on the pod network.',
      field: iface.path.field('name'),
    });
  }
  if (iface.bindings.includes('passtBinding')) {
    causes.push(
      ...versionedCauses(facts, (ver) => from(ver, 8) && gateEnabled(settings, 'PasstBinding', ver) === false, {
        message:
          `interface ${quote(iface.name)} ` +
          `uses passtBinding: {}, but feature gate PasstBinding is not enabled in the KubeVirt CR ` +
          '(spec.configuration.developerConfiguration.featureGates; Beta and on by default only from v1.9.0). Enable ' +
          'the gate or use masquerade: {}.',
        field: iface.path.field('name'),
      }),
      ...versionedCauses(facts, (ver) => from(ver, 8) && !onPod, {
        message:
          `interface ${quote(iface.name)} ` +
          `uses passtBinding: {}, which KubeVirt implements only on the pod network. Put it ` +
          `on pod: {}.`,
        field: iface.path.field('name'),
      }),
    );
  }
  if (iface.bindings.includes('binding')) {
    causes.push(
      ...versionedCauses(
        facts,
        (ver) => before(ver, 5) && gateEnabled(settings, 'NetworkBindingPlugins', ver) === false,
        {
          message:
            `interface ${quote(iface.name)} ` +
            `uses binding plugin ${quote(iface.pluginName ?? '')}, but KubeVirt v1.4 needs feature ` +
            `gate ` +
            'NetworkBindingPlugins in the KubeVirt CR (spec.configuration.developerConfiguration.featureGates) for ' +
            'binding plugins. Enable it.',
          field: iface.path.field('name'),
        },
      ),
    );
  }
  return causes;
}

const DISCONTINUED_ADVICE: Record<Discontinued, string> = {
  slirp: 'use masquerade: {} on the pod network',
  passt: 'use passtBinding: {} (KubeVirt v1.8+) or masquerade: {} on the pod network',
  macvtap: 'use bridge: {} or a binding plugin on a multus network',
};

/**
 * The discontinued bindings: refused on every CREATE (v1.4-v1.7 through their gate or the
 * gate's discontinued message, featuregate.ValidateFeatureGates; v1.8+ discontinued.go). On
 * UPDATE, v1.4-v1.7 still check their gate and network (v1.4-v1.5 for slirp), v1.6/v1.8
 * accept, and v1.9.0 refuses them through the binding count (countCauses).
 */
function discontinuedCauses(ctx: VmContext, iface: InterfaceView, settings: KubeVirtSettings): Cause[] {
  const causes: Cause[] = [];
  if (!DISCONTINUED.some((b) => iface.bindings.includes(b))) return causes;
  const name = quote(iface.name);
  const net = iface.network;
  for (const b of DISCONTINUED) {
    if (!iface.bindings.includes(b)) continue;
    const field = iface.path.field(b);
    if (ctx.request.operation === 'CREATE') {
      causes.push({
        message:
          `interface ${name} uses ${b}: {}, which KubeVirt discontinued in v1.3 and refuses on create; ` +
          `${DISCONTINUED_ADVICE[b]}.`,
        field,
      });
      continue;
    }
    if (!net) continue;
    const onPod = net.sources.includes('pod');
    const gate = b === 'passt' ? 'Passt' : 'Macvtap';
    const refusedOnUpdate = (ver: KubeVirtVersion): boolean => {
      if (b === 'slirp') return before(ver, 6) && (!onPod || (settings.known && !settings.permitSlirpInterface));
      if (before(ver, 8)) {
        const wrongNetwork = b === 'passt' ? !onPod : !net.sources.includes('multus');
        return wrongNetwork || gateEnabled(settings, gate, ver) === false;
      }
      return false;
    };
    const needs =
      b === 'slirp'
        ? 'the pod network and spec.configuration.network.permitSlirpInterface: true in the KubeVirt CR'
        : `feature gate ${gate} and ${b === 'passt' ? 'the pod network' : 'a multus network'}`;
    causes.push(
      ...versionedCauses(ctx.facts, refusedOnUpdate, {
        message:
          `interface ${name} still uses ${b}: {}, discontinued since KubeVirt v1.3; releases before ` +
          `${b === 'slirp' ? 'v1.6' : 'v1.8'} accept an update only with ${needs}. ${DISCONTINUED_ADVICE[b]}.`,
        field: iface.path.field('name'),
      }),
    );
  }
  return causes;
}

export const bindingSupport: RuleDescriptor<'binding-support'> = defineRule({
  id: 'binding-support',
  title: 'Bindings KubeVirt supports on this release',
  summary: 'bindings KubeVirt refuses: count, network, feature gates, discontinued slirp/passt/macvtap',
  description:
    'One binding per interface (exactly one from KubeVirt v1.9.0; before, no plugin together with a core binding); ' +
    'masquerade and passtBinding only on the pod network; bridge on the pod network only where the KubeVirt CR ' +
    'permits it; feature gates PasstBinding (v1.8) and NetworkBindingPlugins (v1.4); slirp, passt and macvtap ' +
    'refused on create and, depending on the release, on update. Judged under the KubeVirt release in use.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: (ctx) => {
      if (!judgedByKubeVirtAdmission(ctx.kind, ctx.request.operation)) return [];
      const settings = ctx.facts.kubevirtSettings;
      const causes: Cause[] = [];
      for (const iface of ctx.vm.interfaces) {
        if (iface.fields !== iface.raw) continue; // network-pairing reports a non-object entry
        causes.push(
          ...countCauses(iface, ctx.facts),
          ...networkCauses(iface, settings, ctx.facts),
          ...discontinuedCauses(ctx, iface, settings),
        );
      }
      return causes;
    },
  },
});

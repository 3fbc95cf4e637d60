// Rule dra-networks: networks whose device comes from a Kubernetes DRA resource claim
// (`networks[].resourceClaim`, KubeVirt v1.9.0 only), as KubeVirt's admitter checks them
// (kubevirt/kubevirt pkg/network/admitter/dra.go `validateNetworkDevicesWithDRA`, v1.9.0;
// notes/FACTS.md B.6). Releases before v1.9.0 drop the field; network-pairing reports the
// network that is left without a source. Beyond upstream: a DRA interface added to a running
// VM is flagged, as the pod's resource claims are fixed when the pod is created.
import { gateEnabled, judgedByKubeVirtAdmission, versionedCauses } from '../analysis.js';
import { atLeast, type KubeVirtVersion } from '../kubevirt-version.js';
import { defineRule, type RuleDescriptor, VALIDATION_SETTINGS, type Cause, type VmContext } from '../rule.js';
import { asArray, asObject, bounded, quote } from '../values.js';
import type { NetworkView } from '../vm.js';

const GATE = 'NetworkDevicesWithDRA';
const isDra = (net: NetworkView) => net.sources.includes('resourceClaim');
const v19 = (v: KubeVirtVersion) => atLeast(v, 1, 9, 0);

/** Names declared in spec.resourceClaims. */
function declaredClaims(ctx: VmContext): Set<string> {
  return new Set(
    asArray(ctx.vm.spec.resourceClaims)
      .map((c) => asObject(c).name)
      .filter((n): n is string => typeof n === 'string'),
  );
}

type Problem = Omit<Cause, 'action'>;

/** dra.go's per-network checks, in its order: interface binding, names, declared claim, unique pair. */
function networkProblems(ctx: VmContext, dra: NetworkView[]): Problem[] {
  const { vm } = ctx;
  const problems: Problem[] = [];
  const claims = declaredClaims(ctx);
  const firstByPair = new Map<string, NetworkView>();
  for (const net of dra) {
    const name = quote(net.name);
    const iface = vm.interfaces.find((i) => i.name === net.name);
    if (iface && !iface.bindings.includes('sriov') && !iface.bindings.includes('binding')) {
      problems.push({
        message:
          `DRA network ${name} needs an SR-IOV (sriov: {}) or binding plugin interface; interface ${name} is ` +
          `neither.`,
        field: vm.specPath.field('domain', 'devices', 'interfaces'),
      });
    }
    const { claimName = '', requestName = '' } = net.resourceClaim ?? {};
    const claimPath = net.path.field('resourceClaim');
    if (claimName === '')
      problems.push({
        message: `DRA network ${name} has no resourceClaim.claimName; set it.`,
        field: claimPath.field('claimName'),
      });
    if (requestName === '') {
      problems.push({
        message: `DRA network ${name} has no resourceClaim.requestName; set it.`,
        field: claimPath.field('requestName'),
      });
    }
    if (claimName === '' || requestName === '') continue;
    if (!claims.has(claimName)) {
      problems.push({
        message:
          `DRA network ${name} references resource claim ${quote(claimName)}, which ${vm.specPath}.resourceClaims ` +
          'does not declare; add it there.',
        field: claimPath.field('claimName'),
      });
    }
    const pair = `${claimName}/${requestName}`;
    const first = firstByPair.get(pair);
    if (first) {
      problems.push({
        message:
          `DRA network ${name} uses claim/request ${quote(pair)} as network ${quote(first.name)} does; each DRA ` +
          'network needs its own request.',
        field: net.path,
      });
    } else {
      firstByPair.set(pair, net);
    }
  }
  return problems;
}

/** As dra.go: the gate first, then no multus, then each network; every check exists from v1.9.0 only. */
function admissionCauses(ctx: VmContext, dra: NetworkView[]): Cause[] {
  const { facts, vm } = ctx;
  const networksPath = vm.specPath.field('networks');
  const multus = vm.networks.find((n) => n.sources.includes('multus'));
  let problems: Problem[];
  if (gateEnabled(facts.kubevirtSettings, GATE, { major: 1, minor: 9, patch: 0 }) === false) {
    problems = [
      {
        message:
          `network ${quote(dra[0].name)} is a DRA network (resourceClaim), but feature gate ${GATE} (Alpha) is not ` +
          'enabled in the KubeVirt CR (spec.configuration.developerConfiguration.featureGates). Enable it.',
        field: networksPath,
      },
    ];
  } else if (multus) {
    problems = [
      {
        message:
          `network ${quote(multus.name)} is a multus network and ${quote(dra[0].name)} a DRA network ` +
          `(resourceClaim); ` +
          'KubeVirt does not support both in one VM. Use DRA or multus for the secondary networks, not both.',
        field: networksPath,
      },
    ];
  } else {
    problems = networkProblems(ctx, dra);
  }
  // Release unknown (or not read) and a network with only resourceClaim: releases before v1.9.0 refuse the VM too
  // (no source, network-pairing), so a v1.9.0 problem means every release refuses: deny.
  const refusedBefore = !facts.kubevirt?.followed && dra.some((n) => n.sources.length === 1);
  const before = refusedBefore
    ? ' Releases before v1.9.0 refuse this VM too: they drop resourceClaim, which leaves the network without a source.'
    : '';
  return problems.flatMap((problem) =>
    versionedCauses(facts, (v) => refusedBefore || v19(v), { ...problem, message: `${problem.message}${before}` }),
  );
}

/**
 * nicguard's own check: KubeVirt v1.9.0 has none, and its VM controller copies a new SR-IOV
 * interface into the running VMI, but the virt-launcher pod's resource claims were fixed
 * when the pod was created, so no device is there for it (FACTS B.6). A warning, as the
 * upstream outcome was read from the sources, not run.
 */
function hotplugCauses(ctx: VmContext): Cause[] {
  const added = ctx.facts.hotplug?.added ?? [];
  if (ctx.exempt) return [];
  return added
    .filter((iface) => iface.network && isDra(iface.network))
    .map((iface) => ({
      message:
        `interface ${quote(iface.name)} on DRA network ${quote(iface.name)} is added to running ` +
        `${bounded(ctx.vm.name)}, but the devices of resource claims are allocated when the VM's pod is created, so ` +
        'it cannot be hotplugged; stop the VM, make the change and start it again. (KubeVirt v1.9.0 has no check ' +
        'for this; nicguard goes beyond it here.)',
      field: iface.path,
      action: 'warn' as const,
    }));
}

export const draNetworks: RuleDescriptor<'dra-networks'> = defineRule({
  id: 'dra-networks',
  title: 'DRA networks (resourceClaim) as KubeVirt v1.9 accepts them',
  summary: 'DRA (resourceClaim) networks KubeVirt refuses, or hotplugged',
  description:
    'A network with resourceClaim (KubeVirt v1.9.0) needs feature gate NetworkDevicesWithDRA, no multus network in ' +
    'the same VM, an SR-IOV or binding plugin interface, a claimName declared in spec.resourceClaims and a ' +
    'requestName, each pair once; and it cannot be hotplugged into a running VM.',
  defaultSetting: 'deny',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: (ctx) => {
      const dra = ctx.vm.networks.filter(isDra);
      if (dra.length === 0) return [];
      const admitted = judgedByKubeVirtAdmission(ctx.kind, ctx.request.operation);
      return [...(admitted ? admissionCauses(ctx, dra) : []), ...hotplugCauses(ctx)];
    },
  },
});

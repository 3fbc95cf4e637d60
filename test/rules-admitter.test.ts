// KubeVirt's own admission checks per release (interface-fields, binding-support,
// dra-networks, network-pairing's source count) and unplug-skipped, through evaluate():
// a known release is judged as itself; an unknown one under every representative release,
// denying only what all refuse. Upstream facts: notes/FACTS.md B; vectors in
// test/conformance-admitter.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectIndex } from '../src/cluster/object-index.js';
import {
  acrossReleases,
  isFollowedKubeVirt,
  parseKubeVirtVersion,
  type KnownVersion,
} from '../src/engine/kubevirt-version.js';
import type { RuleId } from '../src/engine/rules/index.js';
import type { KubeObject, PolicyRequest } from '../src/engine/types.js';
import {
  addMultusNic,
  asVmi,
  fedora,
  fedoraWithBridge,
  ifaceNamed,
  interfacesOf,
  networksOf,
  stopped,
} from './hotplug-fixtures.js';
import { clone, config, create, findingsOf, seedCluster, update, type Manifest } from './support.js';

const IFACES = 'spec.template.spec.domain.devices.interfaces';
const known = (v: string): KnownVersion => {
  const version = parseKubeVirtVersion(v)!;
  return { version, source: 'configuration', followed: isFollowedKubeVirt(version) };
};
const at = (version?: string) => config(version ? { kubevirtVersion: version } : {});

/** The seed cluster with its KubeVirt CR's spec.configuration replaced. */
function clusterWith(configuration: Record<string, unknown>, ...extra: KubeObject[]): ObjectIndex {
  const cr = clone(seedCluster().list('KubeVirt')[0]) as Manifest;
  cr.spec.configuration = configuration;
  return seedCluster(cr, ...extra);
}
const gates = (...featureGates: string[]) => clusterWith({ developerConfiguration: { featureGates } });

function of(rule: RuleId, request: PolicyRequest, cluster = seedCluster(), version?: string) {
  return findingsOf(rule, request, cluster, at(version));
}

describe('acrossReleases', () => {
  it('denies under a known release that refuses, and says which', () => {
    assert.deepEqual(
      acrossReleases(known('v1.9.0'), () => true),
      { action: 'deny', note: ' (KubeVirt v1.9.0, from the configuration)' },
    );
    assert.equal(
      acrossReleases(known('v1.8.4'), (v) => v.minor >= 9),
      undefined,
    );
  });

  it('with the release unknown: deny when all refuse, warn naming both sides when some do', () => {
    assert.deepEqual(
      acrossReleases(undefined, () => true),
      { action: 'deny', note: '' },
    );
    assert.equal(
      acrossReleases(undefined, () => false),
      undefined,
    );
    const some = acrossReleases(undefined, (v) => v.minor >= 9);
    assert.equal(some?.action, 'warn');
    assert.match(some?.note ?? '', /KubeVirt v1\.9\.0 to later refuses this; v1\.4\.1 to before v1\.9\.0 accepts it/);
    assert.match(some?.note ?? '', /kubevirtVersion/);
  });

  it('a release nicguard has not read is judged under every followed one and never refused', () => {
    for (const v of ['v1.10.0', 'v1.9.1', 'v1.8.5', 'v1.3.1', 'v2.0.0', 'v1.8.4-rc.0']) {
      const all = acrossReleases(known(v), () => true);
      assert.equal(all?.action, 'warn', v);
      assert.match(all?.note ?? '', /Every KubeVirt release nicguard follows refuses this/);
      assert.match(
        all?.note ?? '',
        new RegExp(
          `runs KubeVirt ${v.replace(/\./g, '\\.')} \\(from the configuration\\), a release nicguard has not read`,
        ),
      );
      const some = acrossReleases(known(v), (r) => r.minor >= 9);
      assert.equal(some?.action, 'warn', v);
      assert.match(some?.note ?? '', /v1\.9\.0 to later refuses this; v1\.4\.1 to before v1\.9\.0 accepts it/);
      assert.equal(
        acrossReleases(known(v), () => false),
        undefined,
      );
    }
  });

  it('follows exactly the tags read: v1.4.0 to v1.9.0, each line up to its newest patch read', () => {
    const followed = (v: string) => isFollowedKubeVirt(parseKubeVirtVersion(v)!);
    for (const v of ['v1.4.0', 'v1.4.1', 'v1.5.3', 'v1.6.6', 'v1.7.4', 'v1.8.4', 'v1.9.0']) {
      assert.ok(followed(v), v);
    }
    for (const v of [
      'v1.9.0-rc.1',
      'v1.3.1',
      'v1.4.2',
      'v1.5.4',
      'v1.6.7',
      'v1.7.5',
      'v1.8.5',
      'v1.9.1',
      'v1.10.0',
      'v2.4.0',
    ]) {
      assert.ok(!followed(v), v);
    }
  });
});

describe('binding-support', () => {
  const noBinding = () => create(addMultusNic(fedora(), 'nobind', {}, 'new-fancy-net'));

  it('an interface without binding: refused by v1.9.0, accepted before, a warning when unknown', () => {
    const [deny] = of('binding-support', noBinding(), seedCluster(), 'v1.9.0');
    assert.equal(deny.action, 'deny');
    assert.equal(deny.field, `${IFACES}[1]`);
    assert.match(deny.message, /"nobind" has no binding.*\(KubeVirt v1\.9\.0, from the configuration\)/);
    assert.deepEqual(of('binding-support', noBinding(), seedCluster(), 'v1.8.4'), []);
    const [warn] = of('binding-support', noBinding());
    assert.equal(warn.action, 'warn');
    assert.match(warn.message, /v1\.9\.0 to later refuses this/);
  });

  it('a plugin with a core binding is refused by every release; two core bindings only by v1.9.0', () => {
    const both = create(addMultusNic(fedora(), 'x', { bridge: {}, binding: { name: 'l2' } }, 'new-fancy-net'));
    const [f] = of('binding-support', both);
    assert.equal(f.action, 'deny');
    assert.equal(f.field, `${IFACES}[1].binding`);
    const twoCore = create(addMultusNic(fedora(), 'x', { bridge: {}, sriov: {} }, 'new-fancy-net'));
    assert.deepEqual(
      of('binding-support', twoCore).map((x) => x.action),
      ['warn'],
    );
  });

  it('masquerade on multus is refused, also when an existing interface moves from pod to multus', () => {
    const [f] = of('binding-support', create(addMultusNic(fedora(), 'dyniface1', { masquerade: {} }, 'attachnet')));
    assert.equal(f.field, `${IFACES}[1].name`);
    assert.match(f.message, /masquerade: \{\}, which KubeVirt implements only on the pod network/);
    const moved = fedora();
    networksOf(moved)[0] = { name: 'defaultnetwork', multus: { networkName: 'attachnet' } };
    assert.equal(of('binding-support', update(fedora(), moved))[0].action, 'deny');
  });

  it('a hotplugged masquerade interface is reported once, by hotplug-binding', () => {
    const request = update(fedora(), addMultusNic(fedora(), 'm1', { masquerade: {} }, 'attachnet'));
    assert.deepEqual(of('binding-support', request), []);
    assert.equal(of('hotplug-binding', request).length, 1);
  });

  it('bridge on the pod network only where the KubeVirt CR permits it (default: permitted)', () => {
    const vm = fedora();
    interfacesOf(vm)[0] = { name: 'defaultnetwork', bridge: {} };
    assert.deepEqual(of('binding-support', create(vm)), []);
    const forbidden = clusterWith({ network: { permitBridgeInterfaceOnPodNetwork: false } });
    assert.match(of('binding-support', create(vm), forbidden)[0].message, /permitBridgeInterfaceOnPodNetwork: false/);
  });

  it('passtBinding: gate listed in v1.8, on by default (Beta) in v1.9.0 unless disabled', () => {
    const vm = fedora();
    interfacesOf(vm)[0] = { name: 'defaultnetwork', passtBinding: {} };
    assert.equal(of('binding-support', create(vm), gates(), 'v1.8.4')[0].action, 'deny');
    assert.deepEqual(of('binding-support', create(vm), gates('PasstBinding'), 'v1.8.4'), []);
    assert.deepEqual(of('binding-support', create(vm), gates(), 'v1.9.0'), []);
    const disabled = clusterWith({ developerConfiguration: { disabledFeatureGates: ['PasstBinding'] } });
    assert.match(
      of('binding-support', create(vm), disabled, 'v1.9.0')[0].message,
      /feature gate PasstBinding is not enabled/,
    );
  });

  it('without a KubeVirt CR, gate checks stay quiet', () => {
    const vm = fedora();
    interfacesOf(vm)[0] = { name: 'defaultnetwork', passtBinding: {} };
    assert.deepEqual(findingsOf('binding-support', create(vm), new ObjectIndex(), at('v1.8.4')), []);
  });

  it('discontinued slirp: refused on create; on update by v1.4-v1.5 and v1.9.0, accepted by v1.6-v1.8', () => {
    const vm = stopped(fedora());
    interfacesOf(vm)[0] = { name: 'defaultnetwork', slirp: {} };
    const [onCreate] = of('binding-support', create(vm), seedCluster(), 'v1.7.4');
    assert.equal(onCreate.field, `${IFACES}[0].slirp`);
    assert.match(onCreate.message, /discontinued in v1\.3/);
    const keep = update(clone(vm), vm);
    assert.deepEqual(of('binding-support', keep, seedCluster(), 'v1.7.4'), []);
    assert.equal(of('binding-support', keep, seedCluster(), 'v1.5.3')[0].action, 'deny');
    assert.equal(of('binding-support', keep, seedCluster(), 'v1.9.0')[0].action, 'deny');
    assert.deepEqual(
      of('binding-support', keep).map((f) => f.action),
      ['warn', 'warn'],
    );
  });
});

describe('network-pairing: the source count follows the release', () => {
  const draVm = () => {
    const vm = fedora();
    interfacesOf(vm).push({ name: 'vf', sriov: {} });
    networksOf(vm).push({ name: 'vf', resourceClaim: { claimName: 'nic', requestName: 'vf' } });
    vm.spec.template.spec.resourceClaims = [{ name: 'nic', resourceClaimTemplateName: 'sriov-vf' }];
    return vm;
  };

  it('resourceClaim is a source from v1.9.0; before, the network has none', () => {
    assert.deepEqual(of('network-pairing', create(draVm()), seedCluster(), 'v1.9.0'), []);
    const [old] = of('network-pairing', create(draVm()), seedCluster(), 'v1.8.4');
    assert.equal(old.action, 'deny');
    assert.match(old.message, /has no source.*resourceClaim \(a DRA network\) exists only from KubeVirt v1\.9\.0/);
    assert.equal(of('network-pairing', create(draVm()))[0].action, 'warn');
  });

  it('pod and resourceClaim on one network: refused by v1.9.0 only', () => {
    const vm = draVm();
    networksOf(vm)[0].resourceClaim = { claimName: 'nic', requestName: 'pod' };
    const [f] = of('network-pairing', create(vm), seedCluster(), 'v1.9.0');
    assert.match(f.message, /has pod and resourceClaim; a network has exactly one source/);
    // v1.8.4 sees pod only on networks[0]; networks[1] (resourceClaim only) has no source there.
    const old = of('network-pairing', create(vm), seedCluster(), 'v1.8.4');
    assert.deepEqual(
      old.map((x) => x.field),
      ['spec.template.spec.networks[1]'],
    );
  });
});

describe('interface-fields', () => {
  const withMac = (macAddress: string) => {
    const vm = fedoraWithBridge();
    ifaceNamed(vm, 'dyniface1').macAddress = macAddress;
    return create(vm);
  };

  it('MAC addresses as Go net.ParseMAC reads them', () => {
    const [short] = of('interface-fields', withMac('de:ad:00:00:be'));
    assert.equal(short.field, `${IFACES}[1].macAddress`);
    assert.match(short.message, /"dyniface1" has a malformed MAC address "de:ad:00:00:be"/);
    assert.match(of('interface-fields', withMac('02:00:00:00:00:00:00:01'))[0].message, /too long MAC/);
    assert.match(of('interface-fields', withMac('02:00:00-00:00:01'))[0].message, /malformed/);
    for (const ok of ['DE-AD-00-00-BE-AF', '0200.00ab.cdef', '02:00:00:ab:cd:ef']) {
      assert.deepEqual(of('interface-fields', withMac(ok)), [], ok);
    }
  });

  it('the reserved MAC only on masquerade', () => {
    const vm = fedora();
    interfacesOf(vm)[0].macAddress = '02:00:00:00:00:00';
    assert.match(of('interface-fields', create(vm))[0].message, /reserves for the in-pod bridge/);
    assert.deepEqual(of('interface-fields', withMac('02:00:00:00:00:00')), []);
  });

  it('port 65536 on the pod network: accepted before v1.9.0, refused from it', () => {
    const vm = fedora();
    interfacesOf(vm)[0].ports = [{ port: 65536 }];
    assert.deepEqual(of('interface-fields', create(vm), seedCluster(), 'v1.8.4'), []);
    assert.equal(of('interface-fields', create(vm), seedCluster(), 'v1.9.0')[0].field, `${IFACES}[0].ports[0].port`);
    assert.equal(of('interface-fields', create(vm))[0].action, 'warn');
    interfacesOf(vm)[0].ports = [{ name: 'Web', port: 80, protocol: 'tcp' }];
    assert.deepEqual(
      of('interface-fields', create(vm)).map((f) => f.field),
      [`${IFACES}[0].ports[0].name`, `${IFACES}[0].ports[0].protocol`],
    );
  });

  it('DHCP private options and NTP servers', () => {
    const vm = fedora();
    interfacesOf(vm)[0].dhcpOptions = {
      privateOptions: [{ option: 240 }, { option: 240 }, { option: 100 }],
      ntpServers: ['::1', '10.0.0.1'],
    };
    assert.deepEqual(
      of('interface-fields', create(vm)).map((f) => f.field),
      [
        `${IFACES}[0].dhcpOptions.privateOptions`,
        `${IFACES}[0].dhcpOptions.privateOptions`,
        `${IFACES}[0].dhcpOptions.ntpServers[0]`,
      ],
    );
  });

  it('state up/down: from v1.5.0, and never on SR-IOV', () => {
    const vm = fedoraWithBridge();
    ifaceNamed(vm, 'dyniface1').state = 'down';
    assert.deepEqual(of('interface-fields', create(vm), seedCluster(), 'v1.5.0'), []);
    assert.equal(of('interface-fields', create(vm), seedCluster(), 'v1.4.1')[0].action, 'deny');
    const sriov = addMultusNic(fedora(), 'vf1', { sriov: {}, state: 'up' }, 'sriov-net');
    assert.match(
      of('interface-fields', create(sriov), seedCluster(), 'v1.9.0')[0].message,
      /not support link state "up" on SR-IOV/,
    );
  });
});

describe('dra-networks', () => {
  function draVm(binding: Record<string, unknown>): Manifest {
    const vm = fedora();
    interfacesOf(vm).push({ name: 'vf', ...binding });
    networksOf(vm).push({ name: 'vf', resourceClaim: { claimName: 'nic-claim', requestName: 'vf' } });
    vm.spec.template.spec.resourceClaims = [{ name: 'nic-claim', resourceClaimTemplateName: 'sriov-vf' }];
    return vm;
  }
  const draOn = gates('NetworkDevicesWithDRA');

  it('the docs example: bridge refused, sriov accepted under v1.9.0 with the gate', () => {
    const [f] = of('dra-networks', create(draVm({ bridge: {} })), draOn, 'v1.9.0');
    assert.equal(f.field, `${IFACES}`);
    assert.match(f.message, /DRA network "vf" needs an SR-IOV/);
    const ok = create(draVm({ sriov: {} }));
    assert.deepEqual(evaluateDenials(ok, draOn, 'v1.9.0'), []);
  });

  it('the gate, multus in the same VM, names and references', () => {
    assert.match(
      of('dra-networks', create(draVm({ sriov: {} })), gates(), 'v1.9.0')[0].message,
      /NetworkDevicesWithDRA/,
    );
    const mixed = addMultusNic(draVm({ sriov: {} }), 'm', { bridge: {} }, 'attachnet');
    assert.match(of('dra-networks', create(mixed), draOn, 'v1.9.0')[0].message, /does not support both in one VM/);
    const vm = draVm({ sriov: {} });
    networksOf(vm).push({ name: 'vf2', resourceClaim: { claimName: 'nic-claim', requestName: 'vf' } });
    interfacesOf(vm).push({ name: 'vf2', sriov: {} });
    networksOf(vm)[1].resourceClaim.claimName = 'other';
    assert.deepEqual(
      of('dra-networks', create(vm), draOn, 'v1.9.0').map((f) => f.field),
      ['spec.template.spec.networks[1].resourceClaim.claimName'],
    );
  });

  it('release unknown: a v1.9.0 problem is denied when older releases refuse the VM anyway', () => {
    const [f] = of('dra-networks', create(draVm({ bridge: {} })), draOn);
    assert.equal(f.action, 'deny');
    assert.match(f.message, /Releases before v1\.9\.0 refuse this VM too/);
    // A sound DRA VM: v1.9.0 accepts, older releases refuse (network-pairing warns), nothing here.
    assert.deepEqual(of('dra-networks', create(draVm({ sriov: {} })), draOn), []);
  });

  it('judged under v1.9.0 only: older releases leave it to network-pairing', () => {
    assert.deepEqual(of('dra-networks', create(draVm({ bridge: {} })), draOn, 'v1.8.4'), []);
  });

  it('a DRA interface hotplugged into a running VM: a warning that says nicguard goes beyond KubeVirt', () => {
    const [f] = of('dra-networks', update(fedora(), draVm({ sriov: {} })), draOn, 'v1.9.0');
    assert.equal(f.action, 'warn');
    assert.match(f.message, /cannot be hotplugged.*nicguard goes beyond it here/);
    assert.deepEqual(of('hotplug-path', update(fedora(), draVm({ sriov: {} })), draOn, 'v1.9.0'), []);
  });
});

describe('unplug-skipped', () => {
  /** vm-fedora with dyniface1, running, its VMI reporting that pod interface name. */
  function running(podInterfaceName: string): { cluster: ObjectIndex; request: PolicyRequest } {
    const vmi: Manifest = {
      ...asVmi(fedoraWithBridge()),
      status: {
        interfaces: [
          { name: 'defaultnetwork', podInterfaceName: 'eth0' },
          { name: 'dyniface1', podInterfaceName },
        ],
      },
    };
    const next = fedoraWithBridge();
    ifaceNamed(next, 'dyniface1').state = 'absent';
    return { cluster: seedCluster(vmi), request: update(fedoraWithBridge(), next) };
  }

  it('warns where the VMI uses ordinal names, and not where they are hashed or not known yet', () => {
    const ordinal = running('net1');
    const [f] = of('unplug-skipped', ordinal.request, ordinal.cluster);
    assert.equal(f.action, 'warn');
    assert.match(f.message, /KubeVirt will not unplug "dyniface1" .*shows network "dyniface1" as "net1"/);
    for (const name of ['pod4d5e6f1a2b3', '']) {
      const other = running(name);
      assert.deepEqual(of('unplug-skipped', other.request, other.cluster), [], name);
    }
  });

  it('also for a removal, and not without a VMI to read', () => {
    const { cluster } = running('net2');
    const removed = fedoraWithBridge();
    interfacesOf(removed).splice(1, 1);
    networksOf(removed).splice(1, 1);
    assert.equal(of('unplug-skipped', update(fedoraWithBridge(), removed), cluster).length, 1);
    const next = fedoraWithBridge();
    ifaceNamed(next, 'dyniface1').state = 'absent';
    assert.deepEqual(of('unplug-skipped', update(fedoraWithBridge(), next)), []);
  });
});

function evaluateDenials(request: PolicyRequest, cluster: ObjectIndex, version: string) {
  const rules: RuleId[] = [
    'network-pairing',
    'interface-fields',
    'binding-support',
    'dra-networks',
    'nad-exists',
    'nad-binding-match',
  ];
  return rules.flatMap((rule) => of(rule, request, cluster, version)).filter((f) => f.action === 'deny');
}

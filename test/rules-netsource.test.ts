import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyConfig, RuleId } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { addNic, clone, config, create, example, findingsOf, seedCluster, update, vmSpec } from './support.js';

const SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';
const NETS = 'spec.template.spec.networks';
const IFACES = 'spec.template.spec.domain.devices.interfaces';

function fedora(): KubeObject {
  return example('old/vm-fedora.yaml');
}

/** vm-fedora plus one NIC `dyniface1` on `networkName` (index 1). */
function withNic(networkName: string, binding: Record<string, unknown> = { bridge: {} }, vm = fedora()): KubeObject {
  return addNic(clone(vm), { name: 'dyniface1', ...binding }, { name: 'dyniface1', multus: { networkName } });
}

function stoppedVm(vm: KubeObject): KubeObject {
  const copy = clone(vm);
  copy.spec.runStrategy = 'Halted';
  copy.status = { printableStatus: 'Stopped', ready: false };
  return copy;
}

function nad(
  name: string,
  cniConfig: unknown,
  namespace = 'default',
  annotations?: Record<string, string>,
): KubeObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: { config: JSON.stringify(cniConfig) },
  };
}

function subnet(name: string, provider: string, cidrBlock = '10.30.0.0/16'): KubeObject {
  return { apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name }, spec: { provider, cidrBlock } };
}

function of(
  rule: RuleId,
  request: Parameters<typeof findingsOf>[1],
  cluster = seedCluster(),
  cfg: PolicyConfig = config(),
) {
  return findingsOf(rule, request, cluster, cfg);
}

describe('nad-exists', () => {
  it('accepts the seed hotplug onto attachnet', () => {
    assert.deepEqual(of('nad-exists', update(example('old/vm-fedora.yaml'), example('new/vm-fedora.yaml'))), []);
  });

  it('denies a hotplug onto a NAD that does not exist, saying what would happen', () => {
    const [f, ...rest] = of('nad-exists', update(fedora(), withNic('atachnet')));
    assert.equal(rest.length, 0);
    assert.equal(f.action, 'deny');
    assert.equal(f.field, `${NETS}[1].multus.networkName`);
    assert.match(
      f.message,
      /network "dyniface1" refers to NetworkAttachmentDefinition default\/atachnet, which does not exist/,
    );
    assert.match(f.message, /cannot find a network-attachment-definition/);
    assert.doesNotMatch(f.message, /did you mean/);
  });

  it('only warns on CREATE and on an edit of a stopped VM (the NAD may come later)', () => {
    const [c] = of('nad-exists', create(withNic('atachnet')));
    assert.equal(c.action, 'warn');
    assert.match(c.message, /cannot start until it exists/);
    const [s] = of('nad-exists', update(stoppedVm(fedora()), stoppedVm(withNic('atachnet'))));
    assert.equal(s.action, 'warn');
  });

  it('names the NAD of that name in another namespace: did you mean shared-networks/storage-net?', () => {
    const [f] = of('nad-exists', update(fedora(), withNic('storage-net')));
    assert.match(f.message, /default\/storage-net, which does not exist/);
    assert.match(f.message, /exists in namespace shared-networks: did you mean shared-networks\/storage-net\?/);
    assert.match(f.message, /write networkName: shared-networks\/storage-net/);
    assert.deepEqual(of('nad-exists', update(fedora(), withNic('shared-networks/storage-net'))), []);
  });

  it('names the first five namespaces in sorted order, the same for every NIC on the missing NAD', () => {
    // Forty namespaces given in no order; every NIC names the same missing NAD.
    const spaces = Array.from({ length: 40 }, (_, i) => `t${String((i * 17) % 40).padStart(2, '0')}`);
    const cluster = seedCluster(...spaces.map((ns) => nad('vlan', { cniVersion: '0.3.1', type: 'bridge' }, ns)));
    const gone = fedora();
    gone.metadata!.namespace = 'elsewhere';
    const many = Array.from({ length: 3 }, (_, i) => i).reduce(
      (v, i) => addNic(v, { name: `v${i}`, bridge: {} }, { name: `v${i}`, multus: { networkName: 'vlan' } }),
      gone,
    );
    const hints = of('nad-exists', create(many), cluster).map((f) => f.message.split('exists in ')[1]);
    assert.equal(hints.length, 3);
    assert.equal(new Set(hints).size, 1, 'the same hint for each');
    assert.match(hints[0], /^namespace t00, namespace t01, namespace t02, namespace t03, namespace t04: /);
  });

  it('with an explicit wrong namespace, still names the right one', () => {
    const [f] = of('nad-exists', update(fedora(), withNic('other/storage-net')));
    assert.match(f.message, /did you mean shared-networks\/storage-net\?/);
    assert.doesNotMatch(f.message, /without a namespace/);
  });

  it('leaves absent interfaces alone: their NAD may already be gone', () => {
    const running = withNic('gone-net');
    const unplugging = clone(running);
    vmSpec(unplugging).domain.devices.interfaces[1].state = 'absent';
    assert.deepEqual(of('nad-exists', update(running, unplugging)), []);
  });

  it('does not re-judge a reference a running VM already had', () => {
    const running = withNic('gone-net');
    const relabelled = clone(running);
    relabelled.metadata!.labels = { team: 'a' };
    assert.deepEqual(of('nad-exists', update(running, relabelled)), []);
  });

  it('a NAD whose config cannot be read is as good as missing', () => {
    const broken = { ...nad('broken', {}), spec: { config: '{"type": "bridge",' } };
    const [f] = of('nad-exists', update(fedora(), withNic('broken')), seedCluster(broken));
    assert.equal(f.action, 'deny');
    assert.match(f.message, /spec\.config is not valid JSON/);
  });

  it("stays quiet for KubeVirt's controllers and follows the setting", () => {
    const request = update(fedora(), withNic('atachnet'), {
      userInfo: { username: 'system:serviceaccount:kubevirt:kubevirt-handler' },
    });
    assert.deepEqual(of('nad-exists', request), []);
    const plain = update(fedora(), withNic('atachnet'));
    assert.equal(
      of('nad-exists', plain, seedCluster(), config({ rules: { 'nad-exists': 'warn' } as PolicyConfig['rules'] }))[0]
        .action,
      'warn',
    );
    assert.deepEqual(
      of('nad-exists', plain, seedCluster(), config({ rules: { 'nad-exists': 'off' } as PolicyConfig['rules'] })),
      [],
    );
  });
});

describe('nad-binding-match', () => {
  it('accepts sriov on sriov-net and bridge on new-fancy-net', () => {
    assert.deepEqual(of('nad-binding-match', update(fedora(), withNic('sriov-net', { sriov: {} }))), []);
    assert.deepEqual(of('nad-binding-match', update(fedora(), withNic('new-fancy-net'))), []);
  });

  it('denies sriov binding on a bridge NAD', () => {
    const [f] = of('nad-binding-match', update(fedora(), withNic('new-fancy-net', { sriov: {} })));
    assert.equal(f.action, 'deny');
    assert.equal(f.field, `${IFACES}[1].sriov`);
    assert.match(
      f.message,
      /uses sriov binding, but NetworkAttachmentDefinition default\/new-fancy-net is of type "bridge"/,
    );
  });

  it('denies bridge binding on an SR-IOV NAD', () => {
    const [f] = of('nad-binding-match', create(withNic('sriov-net')));
    assert.equal(f.field, `${IFACES}[1].bridge`);
    assert.match(f.message, /Use sriov: \{\}/);
  });

  it('denies an SR-IOV NAD without the resourceName annotation', () => {
    const bare = nad('sriov-bare', { cniVersion: '0.3.1', type: 'sriov', vlan: 200 });
    const [f] = of('nad-binding-match', update(fedora(), withNic('sriov-bare', { sriov: {} })), seedCluster(bare));
    assert.match(f.message, /no k8s\.v1\.cni\.cncf\.io\/resourceName annotation/);
  });

  it('on a stopped VM only warns about a mismatch this edit did not make', () => {
    const vm = stoppedVm(withNic('new-fancy-net', { sriov: {} }));
    const edited = clone(vm);
    edited.metadata!.labels = { team: 'a' };
    const [f] = of('nad-binding-match', update(vm, edited));
    assert.equal(f.action, 'warn');
  });
});

describe('ovn-provider, from the VM', () => {
  const attachnet2 = () => example('bad/wrong-ovn-provider.yaml');

  it('denies a hotplug onto a Kube-OVN NAD with a wrong provider, pointing at the NAD', () => {
    const [f] = of('ovn-provider', update(fedora(), withNic('attachnet2')), seedCluster(attachnet2()));
    assert.equal(f.action, 'deny');
    assert.equal(f.object, 'VirtualMachine default/vm-fedora');
    assert.equal(f.field, `${NETS}[1].multus.networkName`);
    assert.match(
      f.message,
      new RegExp(
        /Kube-OVN NetworkAttachmentDefinition default\/attachnet2, which is set up wrongly: /.source +
          /"provider" in spec\.config is "attachnet2\.default"/.source,
      ),
    );
    assert.match(f.message, /derives "attachnet2\.default\.ovn"/);
    assert.match(f.message, /Fix the NAD; the VM needs no change/);
  });

  it('accepts the seed attachnet', () => {
    assert.deepEqual(of('ovn-provider', update(example('old/vm-fedora.yaml'), example('new/vm-fedora.yaml'))), []);
  });
});

describe('ovn-subnet, from the VM', () => {
  const blue = () =>
    nad('blue', { cniVersion: '0.3.1', type: 'kube-ovn', server_socket: SOCKET, provider: 'blue.default.ovn' });

  it('accepts attachnet: exactly one Subnet has its provider', () => {
    assert.deepEqual(of('ovn-subnet', update(example('old/vm-fedora.yaml'), example('new/vm-fedora.yaml'))), []);
  });

  it('denies a hotplug onto a Kube-OVN NAD no Subnet is bound to, explaining both failure modes', () => {
    const [f] = of('ovn-subnet', update(fedora(), withNic('blue')), seedCluster(blue()));
    assert.equal(f.action, 'deny');
    assert.match(f.message, /no Subnet has spec\.provider "blue\.default\.ovn"/);
    assert.match(f.message, /provider blue\.default\.ovn is not bound to any subnet/);
    assert.match(f.message, /address from the default subnet/);
  });

  it('warns on CREATE', () => {
    const [f] = of('ovn-subnet', create(withNic('blue')), seedCluster(blue()));
    assert.equal(f.action, 'warn');
  });

  it('denies a hotplug where two Subnets share the provider (ambiguous)', () => {
    const cluster = seedCluster(subnet('attachnet-b', 'attachnet.default.ovn'));
    const [f] = of('ovn-subnet', update(example('old/vm-fedora.yaml'), example('new/vm-fedora.yaml')), cluster);
    assert.equal(f.action, 'deny');
    assert.match(f.message, /Subnets attachnet, attachnet-b all have spec\.provider "attachnet\.default\.ovn"/);
    assert.match(f.message, /attachnet\.default\.ovn\.kubernetes\.io\/logical_switch/);
  });

  it('a logical_switch annotation on the template names the Subnet: no binding needed', () => {
    const vm = withNic('blue');
    vm.spec.template.metadata = { annotations: { 'blue.default.ovn.kubernetes.io/logical_switch': 'attachnet' } };
    assert.deepEqual(of('ovn-subnet', update(fedora(), vm), seedCluster(blue())), []);
  });

  it('IPAM-only NADs bind by <name>.<namespace>', () => {
    const macnet = nad('macnet', {
      type: 'macvlan',
      master: 'eth1',
      ipam: { type: 'kube-ovn', server_socket: SOCKET, provider: 'macnet.default' },
    });
    const vmUpdate = update(fedora(), withNic('macnet'));
    assert.deepEqual(of('ovn-subnet', vmUpdate, seedCluster(macnet, subnet('macnet', 'macnet.default'))), []);
    const [f] = of('ovn-subnet', vmUpdate, seedCluster(macnet));
    assert.match(f.message, /no Subnet has spec\.provider "macnet\.default"/);
    assert.doesNotMatch(f.message, /default subnet/);
  });

  it('is not reported for a NAD whose provider is wrong (ovn-provider says it) nor for non-Kube-OVN NADs', () => {
    assert.deepEqual(
      of('ovn-subnet', update(fedora(), withNic('attachnet2')), seedCluster(example('bad/wrong-ovn-provider.yaml'))),
      [],
    );
    assert.deepEqual(of('ovn-subnet', update(fedora(), withNic('new-fancy-net'))), []);
  });

  it('stays quiet for an exempt namespace', () => {
    const cfg = config({ exemptNamespaces: ['default'] });
    assert.deepEqual(of('ovn-subnet', update(fedora(), withNic('blue')), seedCluster(blue()), cfg), []);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyConfig } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { evaluate } from '../src/engine/evaluate.js';
import { clone, config, create, findingsOf, seedCluster, update } from './support.js';

/** The seed Subnet attachnet (examples/cluster/subnets.yaml). */
function attachnet(): KubeObject {
  return clone(seedCluster().list('Subnet').find((s) => s.metadata?.name === 'attachnet')!);
}

function subnet(spec: Record<string, unknown>, name = 'blue'): KubeObject {
  return { apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name }, spec };
}

function shape(obj: KubeObject, cluster = seedCluster(), cfg: PolicyConfig = config()) {
  return findingsOf('subnet-shape', create(obj), cluster, cfg);
}

function fieldsOf(obj: KubeObject): string[] {
  return shape(obj).map((f) => f.field!);
}

describe('subnet-shape: cidrBlock', () => {
  it('accepts the seed Subnet, v6 and dual stack', () => {
    assert.deepEqual(shape(attachnet()), []);
    assert.deepEqual(shape(subnet({ cidrBlock: 'fd00:10:16::/64', gateway: 'fd00:10:16::1', protocol: 'IPv6' })), []);
    assert.deepEqual(shape(subnet({ cidrBlock: '10.16.0.0/16,fd00:10:16::/64', gateway: '10.16.0.1,fd00:10:16::1', protocol: 'Dual' })), []);
  });

  it('refuses what is not a CIDR, naming the field', () => {
    const [f] = shape(subnet({ cidrBlock: '10.16.0.0' }));
    assert.equal(f.action, 'deny');
    assert.equal(f.object, 'Subnet blue');
    assert.equal(f.field, 'spec.cidrBlock');
    assert.match(f.message, /"10\.16\.0\.0" is not a CIDR/);
    assert.deepEqual(fieldsOf(subnet({ cidrBlock: '10.16.0.0/33' })), ['spec.cidrBlock']);
    assert.deepEqual(fieldsOf(subnet({ cidrBlock: 42 })), ['spec.cidrBlock']);
  });

  it('refuses single addresses, special blocks, upper case, and bad dual stack', () => {
    assert.match(shape(subnet({ cidrBlock: '10.16.0.1/32' }))[0].message, /single address/);
    assert.match(shape(subnet({ cidrBlock: '224.1.0.0/16' }))[0].message, /IPv4 multicast/);
    assert.match(shape(subnet({ cidrBlock: '127.0.0.0/16' }))[0].message, /loopback/);
    assert.match(shape(subnet({ cidrBlock: 'fe80::/64' }))[0].message, /IPv6 link-local/);
    assert.match(shape(subnet({ cidrBlock: 'FD00:10:16::/64' }))[0].message, /upper-case.*"fd00:10:16::\/64"/);
    assert.match(shape(subnet({ cidrBlock: '10.16.0.0/16,10.17.0.0/16' }))[0].message, /two IPv4 blocks/);
    assert.match(shape(subnet({ cidrBlock: '10.16.0.0/16,fd00::/64,fd01::/64' }))[0].message, /3 blocks/);
  });

  it('requires a CIDR, except on an underlay (vlan) Subnet addressed by external DHCP', () => {
    assert.match(shape(subnet({ provider: 'ovn' }))[0].message, /spec\.cidrBlock is required/);
    assert.deepEqual(shape(subnet({ vlan: 'vlan100', protocol: 'Mac' })), []);
    assert.deepEqual(fieldsOf(subnet({ vlan: 'vlan100', gateway: '10.0.0.1', excludeIps: ['10.0.0.2'] })), ['spec.gateway', 'spec.excludeIps']);
  });
});

describe('subnet-shape: gateway', () => {
  it('refuses a gateway outside the CIDR', () => {
    const [f] = shape(subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.18.0.1' }));
    assert.equal(f.field, 'spec.gateway');
    assert.match(f.message, /172\.18\.0\.1 is outside 172\.17\.0\.0\/16.*172\.17\.0\.1/);
  });

  it('refuses the network and the IPv4 broadcast address, accepts the IPv6 all-ones host', () => {
    assert.match(shape(subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.17.0.0' }))[0].message, /network address/);
    assert.match(shape(subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.17.255.255' }))[0].message, /broadcast address/);
    assert.match(shape(subnet({ cidrBlock: 'fd00::/64', gateway: 'fd00::' }))[0].message, /network address/);
    assert.deepEqual(shape(subnet({ cidrBlock: 'fd00::/64', gateway: 'fd00::ffff:ffff:ffff:ffff' })), []);
  });

  it('dual stack takes one gateway per family, in either order', () => {
    const dual = '10.16.0.0/16,fd00:10:16::/64';
    assert.deepEqual(shape(subnet({ cidrBlock: dual, gateway: 'fd00:10:16::1,10.16.0.1' })), []);
    assert.match(shape(subnet({ cidrBlock: dual, gateway: '10.16.0.1,10.16.0.2' }))[0].message, /one gateway per block, IPv4 and IPv6/);
    assert.match(shape(subnet({ cidrBlock: '10.16.0.0/16', gateway: '10.16.0.1,fd00::1' }))[0].message, /does not match spec\.cidrBlock/);
    assert.match(shape(subnet({ cidrBlock: dual, gateway: '10.16.0.1;fd00:10:16::1' }))[0].message, /not an IP address \(dual stack/);
  });
});

describe('subnet-shape: excludeIps', () => {
  it('accepts addresses and ranges inside the CIDR, v6 in dual stack too', () => {
    const spec = { cidrBlock: '10.16.0.0/16,fd00:10:16::/64', excludeIps: ['10.16.0.1', '10.16.0.10..10.16.0.20', 'fd00:10:16::1..fd00:10:16::ff'] };
    assert.deepEqual(shape(subnet(spec)), []);
  });

  it('refuses a backwards range, showing the fix', () => {
    const [f] = shape(subnet({ cidrBlock: '172.17.0.0/16', excludeIps: ['172.17.0.1', '172.17.0.10..172.17.0.2'] }));
    assert.equal(f.field, 'spec.excludeIps[1]');
    assert.match(f.message, /runs backwards.*"172\.17\.0\.2\.\.172\.17\.0\.10"/);
  });

  it('refuses upper case, bad addresses, three-part ranges, mixed families, and items outside the CIDR', () => {
    const items = ['FD00::1', '172.17.0.300', '172.17.0.1..172.17.0.2..172.17.0.3', '172.17.0.1..fd00::1', '172.18.0.1', '172.17.255.0..172.18.0.5', 'fd00::1', 7];
    const findings = shape(subnet({ cidrBlock: '172.17.0.0/16', excludeIps: items }));
    assert.deepEqual(findings.map((f) => f.field), items.map((_, i) => `spec.excludeIps[${i}]`));
    assert.match(findings[0].message, /upper-case/);
    assert.match(findings[1].message, /"172\.17\.0\.300" is not an IP address/);
    assert.match(findings[2].message, /not an address nor a range/);
    assert.match(findings[3].message, /mixes IPv4 and IPv6/);
    assert.match(findings[4].message, /outside 172\.17\.0\.0\/16; Kube-OVN does not check this itself/);
    assert.match(findings[5].message, /outside/);
    assert.match(findings[6].message, /spec\.cidrBlock has no IPv6 block/);
    assert.match(findings[7].message, /must be a string/);
  });
});

describe('subnet-shape: protocol and provider', () => {
  it('refuses a protocol that disagrees with the CIDR or is unknown', () => {
    const [f] = shape(subnet({ cidrBlock: '172.17.0.0/16', protocol: 'IPv6' }));
    assert.equal(f.field, 'spec.protocol');
    assert.match(f.message, /protocol is IPv6, but spec\.cidrBlock is IPv4/);
    assert.match(shape(subnet({ cidrBlock: '10.16.0.0/16,fd00::/64', protocol: 'IPv4' }))[0].message, /dual stack; set protocol: Dual/);
    assert.match(shape(subnet({ cidrBlock: '172.17.0.0/16', protocol: 'ipv4' }))[0].message, /not one of IPv4, IPv6, Dual, Mac/);
    assert.match(shape(subnet({ cidrBlock: '172.17.0.0/16', protocol: 'Mac' }))[0].message, /Mac is for an underlay Subnet/);
  });

  it('refuses an .ovn provider that is not <nad>.<namespace>.ovn', () => {
    const [f] = shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'blue.net.default.ovn' }));
    assert.equal(f.action, 'deny');
    assert.equal(f.field, 'spec.provider');
    assert.match(f.message, /not <nad-name>\.<nad-namespace>\.ovn/);
    assert.equal(shape(subnet({ cidrBlock: '10.30.0.0/16', provider: '.default.ovn' }))[0].action, 'deny');
  });

  it('warns where the provider\'s NAD does not exist or is not a Kube-OVN network', () => {
    const [f] = shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'blue.default.ovn' }));
    assert.equal(f.action, 'warn');
    assert.match(f.message, /NetworkAttachmentDefinition default\/blue, which does not exist/);
    assert.match(shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'new-fancy-net.default.ovn' }))[0].message, /not a Kube-OVN network \(type "bridge"\)/);
  });

  it('warns where the NAD uses Kube-OVN for IPAM only: its provider has no .ovn', () => {
    const macnet: KubeObject = {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'macnet', namespace: 'default' },
      spec: { config: JSON.stringify({ type: 'macvlan', ipam: { type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider: 'macnet.default' } }) },
    };
    const [f] = shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'macnet.default.ovn' }), seedCluster(macnet));
    assert.equal(f.action, 'warn');
    assert.match(f.message, /IPAM only.*Set provider: macnet\.default/);
    assert.deepEqual(shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'macnet.default' }), seedCluster(macnet)), []);
  });

  it('ovn-subnet: a second Subnet on a provider is warned about, once', () => {
    const second = subnet({ cidrBlock: '10.30.0.0/16', provider: 'attachnet.default.ovn' }, 'attachnet-b');
    const [f] = findingsOf('ovn-subnet', create(second));
    assert.equal(f.action, 'warn');
    assert.match(f.message, /Subnet attachnet already has spec\.provider "attachnet\.default\.ovn"/);
    assert.deepEqual(findingsOf('ovn-subnet', update(second, clone(second))), []);
    assert.deepEqual(findingsOf('ovn-subnet', create(subnet({ cidrBlock: '10.30.0.0/16', provider: 'ovn' }))), []);
  });
});

describe('subnet-shape: scope and settings', () => {
  it('reports every problem of one Subnet, and UPDATEs too', () => {
    const bad = subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.18.0.1', excludeIps: ['172.17.0.9..172.17.0.1'], protocol: 'IPv6' });
    assert.deepEqual(fieldsOf(bad), ['spec.gateway', 'spec.excludeIps[0]', 'spec.protocol']);
    assert.equal(findingsOf('subnet-shape', update(attachnet(), { ...attachnet(), spec: { ...attachnet().spec, gateway: '172.17.0.0' } })).length, 1);
  });

  it('judges only kubeovn.io Subnets', () => {
    const other = { ...subnet({ cidrBlock: 'nonsense' }), apiVersion: 'example.com/v1' };
    assert.deepEqual(evaluate(create(other), seedCluster(), config()).findings, []);
  });

  it('warn and off', () => {
    const bad = subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.18.0.1' });
    assert.equal(shape(bad, seedCluster(), config({ rules: { 'subnet-shape': 'warn' } as PolicyConfig['rules'] }))[0].action, 'warn');
    assert.deepEqual(shape(bad, seedCluster(), config({ rules: { 'subnet-shape': 'off' } as PolicyConfig['rules'] })), []);
  });
});

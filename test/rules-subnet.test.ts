import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyConfig } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { evaluate } from '../src/engine/evaluate.js';
import { resolveConfig, ConfigError } from '../src/engine/config.js';
import { describeKubeOvnReleases, KUBE_OVN_FOLLOWED, knownKubeOvnVersion } from '../src/engine/kubeovn-version.js';
import { parseVersion } from '../src/engine/semver.js';
import { clone, config, create, findingsOf, seedCluster, update } from './support.js';

/** The seed Subnet attachnet (examples/cluster/subnets.yaml). */
function attachnet(): KubeObject {
  return clone(
    seedCluster()
      .list('Subnet')
      .find((s) => s.metadata?.name === 'attachnet')!,
  );
}

function subnet(spec: Record<string, unknown>, name = 'blue'): KubeObject {
  return { apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name }, spec };
}

function shape(obj: KubeObject, cluster = seedCluster(), cfg: PolicyConfig = config()) {
  return findingsOf('subnet-shape', create(obj), cluster, cfg);
}

/** The findings under a configured Kube-OVN release. */
function shapeAt(kubeovnVersion: string, obj: KubeObject) {
  return shape(obj, seedCluster(), config({ kubeovnVersion }));
}

/** action and field of each finding, for compact assertions. */
function verdicts(findings: { action: string; field?: string }[]): string[] {
  return findings.map((f) => `${f.action} ${f.field}`);
}

function fieldsOf(obj: KubeObject): string[] {
  return shape(obj).map((f) => f.field!);
}

describe('subnet-shape: cidrBlock', () => {
  it('accepts the seed Subnet, v6 and dual stack', () => {
    assert.deepEqual(shape(attachnet()), []);
    assert.deepEqual(shape(subnet({ cidrBlock: 'fd00:10:16::/64', gateway: 'fd00:10:16::1', protocol: 'IPv6' })), []);
    assert.deepEqual(
      shape(
        subnet({ cidrBlock: '10.16.0.0/16,fd00:10:16::/64', gateway: '10.16.0.1,fd00:10:16::1', protocol: 'Dual' }),
      ),
      [],
    );
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

  it('requires a CIDR, underlay (vlan) Subnets too: Kube-OVN refuses an empty one', () => {
    assert.match(shape(subnet({ provider: 'ovn' }))[0].message, /spec\.cidrBlock is required.*format error/);
    assert.deepEqual(verdicts(shape(subnet({ vlan: 'vlan100' }))), ['deny spec.cidrBlock']);
  });

  it('refuses blocks starting with 0.0.0.0 or holding 255.255.255.255 (InvalidSpecialCIDR)', () => {
    assert.match(shape(subnet({ cidrBlock: '0.0.0.0' }))[0].message, /starting with 0\.0\.0\.0/);
    assert.match(shape(subnet({ cidrBlock: '0.0.0.0/8' }))[0].message, /starting with 0\.0\.0\.0/);
    assert.match(shape(subnet({ cidrBlock: '::255.255.255.255/120' }))[0].message, /255\.255\.255\.255/);
  });
});

describe('subnet-shape: gateway', () => {
  it('refuses a gateway outside the CIDR', () => {
    const [f] = shape(subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.18.0.1' }));
    assert.equal(f.field, 'spec.gateway');
    assert.match(f.message, /172\.18\.0\.1 is outside 172\.17\.0\.0\/16.*172\.17\.0\.1/);
  });

  it('refuses the network and the IPv4 broadcast address', () => {
    assert.match(shape(subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.17.0.0' }))[0].message, /network address/);
    assert.match(
      shape(subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.17.255.255' }))[0].message,
      /broadcast address/,
    );
    assert.match(shape(subnet({ cidrBlock: 'fd00::/64', gateway: 'fd00::' }))[0].message, /network address/);
  });

  it('/31 and /127 have neither network nor broadcast address: either address may be the gateway', () => {
    for (const gateway of ['10.16.0.0', '10.16.0.1'])
      assert.deepEqual(shape(subnet({ cidrBlock: '10.16.0.0/31', gateway })), [], gateway);
    for (const gateway of ['fd00::', 'fd00::1'])
      assert.deepEqual(shape(subnet({ cidrBlock: 'fd00::/127', gateway })), [], gateway);
    // Host bits in the CIDR change nothing: the block is 10.16.0.0/31.
    assert.deepEqual(shape(subnet({ cidrBlock: '10.16.0.1/31', gateway: '10.16.0.0' })), []);
    assert.match(
      shape(subnet({ cidrBlock: '10.16.0.0/31', gateway: '10.16.0.2' }))[0].message,
      /outside 10\.16\.0\.0\/31/,
    );
    // /32 and /128 stay refused.
    assert.match(shape(subnet({ cidrBlock: '10.16.0.0/32', gateway: '10.16.0.0' }))[0].message, /single address/);
    assert.match(shape(subnet({ cidrBlock: 'fd00::/128', gateway: 'fd00::' }))[0].message, /single address/);
  });

  it('the IPv6 all-ones gateway: refused except by v1.15.15 and later in the 1.15 line', () => {
    const allOnes = subnet({ cidrBlock: 'fd00::/120', gateway: 'fd00::ff' });
    for (const v of ['v1.13.15', 'v1.14.41', 'v1.15.0', 'v1.15.14', 'v1.16.0', 'v1.16.2']) {
      const [f] = shapeAt(v, allOnes);
      assert.equal(f?.action, 'deny', v);
      assert.match(
        f.message,
        new RegExp(`all-ones address of fd00::/120.*Kube-OVN ${v.replace(/\./g, '\\.')} refuses it`),
        v,
      );
    }
    for (const v of ['v1.15.15', 'v1.15.24']) assert.deepEqual(shapeAt(v, allOnes), [], v);
    // Unknown release: the releases disagree, so a warning that names them.
    const [w] = shape(allOnes);
    assert.equal(w.action, 'warn');
    assert.match(
      w.message,
      new RegExp(
        /Kube-OVN v1\.13, v1\.14, v1\.15\.0-v1\.15\.14, v1\.16 refuse it; /.source +
          /v1\.15\.15-v1\.15\.24 accept it\..*kubeovnVersion/.source,
      ),
    );
  });

  it('dual stack takes one gateway per family, in either order', () => {
    const dual = '10.16.0.0/16,fd00:10:16::/64';
    assert.deepEqual(shape(subnet({ cidrBlock: dual, gateway: 'fd00:10:16::1,10.16.0.1' })), []);
    assert.match(
      shape(subnet({ cidrBlock: dual, gateway: '10.16.0.1,10.16.0.2' }))[0].message,
      /one gateway per block, IPv4 and IPv6/,
    );
    assert.match(
      shape(subnet({ cidrBlock: '10.16.0.0/16', gateway: '10.16.0.1,fd00::1' }))[0].message,
      /does not match spec\.cidrBlock/,
    );
    assert.match(
      shape(subnet({ cidrBlock: dual, gateway: '10.16.0.1;fd00:10:16::1' }))[0].message,
      /not an IP address \(dual stack/,
    );
  });
});

describe('subnet-shape: excludeIps', () => {
  it('accepts addresses and ranges inside the CIDR, v6 in dual stack too', () => {
    const spec = {
      cidrBlock: '10.16.0.0/16,fd00:10:16::/64',
      excludeIps: ['10.16.0.1', '10.16.0.10..10.16.0.20', 'fd00:10:16::1..fd00:10:16::ff'],
    };
    assert.deepEqual(shape(subnet(spec)), []);
  });

  it('refuses a backwards range, showing the fix', () => {
    const [f] = shape(subnet({ cidrBlock: '172.17.0.0/16', excludeIps: ['172.17.0.1', '172.17.0.10..172.17.0.2'] }));
    assert.equal(f.field, 'spec.excludeIps[1]');
    assert.match(f.message, /runs backwards.*"172\.17\.0\.2\.\.172\.17\.0\.10"/);
  });

  it('refuses what Kube-OVN refuses: upper case, bad addresses, three-part ranges, backwards ranges', () => {
    const items = [
      'FD00::1',
      '172.17.0.300',
      '172.17.0.1..172.17.0.2..172.17.0.3',
      'fd00::1..172.17.0.1',
      '172.17.0.1..',
      7,
    ];
    const findings = shape(subnet({ cidrBlock: '172.17.0.0/16', excludeIps: items }));
    assert.deepEqual(
      verdicts(findings),
      items.map((_, i) => `deny spec.excludeIps[${i}]`),
    );
    assert.match(findings[0].message, /upper-case/);
    assert.match(findings[1].message, /"172\.17\.0\.300" is not an IP address/);
    assert.match(findings[2].message, /not an address nor a range/);
    // Kube-OVN compares the ends as numbers across families: IPv6 after IPv4 runs backwards.
    assert.match(findings[3].message, /runs backwards/);
    assert.match(findings[4].message, /"" is not an IP address/);
    assert.match(findings[5].message, /must be a string/);
  });

  it('warns, and does not deny, where Kube-OVN accepts the item but drops it: mixed families, outside the CIDR', () => {
    const items = ['172.17.0.1..fd00::1', '172.18.0.1', '172.17.255.0..172.18.0.5', 'fd00::1'];
    const findings = shape(subnet({ cidrBlock: '172.17.0.0/16', excludeIps: items }));
    assert.deepEqual(
      verdicts(findings),
      items.map((_, i) => `warn spec.excludeIps[${i}]`),
    );
    assert.match(findings[0].message, /mixes IPv4 and IPv6; Kube-OVN accepts it but drops it/);
    assert.match(
      findings[1].message,
      /outside 172\.17\.0\.0\/16; Kube-OVN accepts it but drops it, so it excludes nothing\./,
    );
    assert.match(findings[3].message, /spec\.cidrBlock has no IPv6 block/);
  });
});

describe('subnet-shape: protocol and provider', () => {
  it('refuses a protocol Kube-OVN does not know, Mac and lower case included', () => {
    for (const protocol of ['ipv4', 'Mac', 'IPV6', 7]) {
      const [f] = shape(subnet({ cidrBlock: '172.17.0.0/16', protocol }));
      assert.equal(f.action, 'deny', String(protocol));
      assert.match(f.message, /is not one of IPv4, IPv6, Dual; Kube-OVN refuses it/);
    }
  });

  it('warns where the protocol disagrees with the CIDR: Kube-OVN accepts it and overwrites it', () => {
    const [f] = shape(subnet({ cidrBlock: '172.17.0.0/16', protocol: 'IPv6' }));
    assert.equal(f.field, 'spec.protocol');
    assert.equal(f.action, 'warn');
    assert.match(f.message, /protocol is IPv6, but spec\.cidrBlock is IPv4; Kube-OVN replaces it with IPv4/);
    assert.match(
      shape(subnet({ cidrBlock: '10.16.0.0/16,fd00::/64', protocol: 'IPv4' }))[0].message,
      /dual stack.*Set protocol: Dual/,
    );
  });

  it('warns about an .ovn provider that is not <nad>.<namespace>.ovn (Kube-OVN accepts any provider)', () => {
    const [f] = shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'blue.net.default.ovn' }));
    assert.equal(f.action, 'warn');
    assert.equal(f.field, 'spec.provider');
    assert.match(f.message, /not <nad-name>\.<nad-namespace>\.ovn/);
    assert.equal(shape(subnet({ cidrBlock: '10.30.0.0/16', provider: '.default.ovn' }))[0].action, 'warn');
  });

  it("warns where the provider's NAD does not exist or is not a Kube-OVN network", () => {
    const [f] = shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'blue.default.ovn' }));
    assert.equal(f.action, 'warn');
    assert.match(f.message, /NetworkAttachmentDefinition default\/blue, which does not exist/);
    assert.match(
      shape(subnet({ cidrBlock: '10.30.0.0/16', provider: 'new-fancy-net.default.ovn' }))[0].message,
      /not a Kube-OVN network \(type "bridge"\)/,
    );
  });

  it('warns where the NAD uses Kube-OVN for IPAM only: its provider has no .ovn', () => {
    const macnet: KubeObject = {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'macnet', namespace: 'default' },
      spec: {
        config: JSON.stringify({
          type: 'macvlan',
          ipam: {
            type: 'kube-ovn',
            server_socket: '/run/openvswitch/kube-ovn-daemon.sock',
            provider: 'macnet.default',
          },
        }),
      },
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
    const bad = subnet({
      cidrBlock: '172.17.0.0/16',
      gateway: '172.18.0.1',
      excludeIps: ['172.17.0.9..172.17.0.1'],
      protocol: 'IPv6',
    });
    assert.deepEqual(fieldsOf(bad), ['spec.gateway', 'spec.excludeIps[0]', 'spec.protocol']);
    assert.equal(
      findingsOf(
        'subnet-shape',
        update(attachnet(), { ...attachnet(), spec: { ...attachnet().spec, gateway: '172.17.0.0' } }),
      ).length,
      1,
    );
  });

  it('judges only kubeovn.io Subnets', () => {
    const other = { ...subnet({ cidrBlock: 'nonsense' }), apiVersion: 'example.com/v1' };
    assert.deepEqual(evaluate(create(other), seedCluster(), config()).findings, []);
  });

  it('warn and off', () => {
    const bad = subnet({ cidrBlock: '172.17.0.0/16', gateway: '172.18.0.1' });
    assert.equal(
      shape(bad, seedCluster(), config({ rules: { 'subnet-shape': 'warn' } as PolicyConfig['rules'] }))[0].action,
      'warn',
    );
    assert.deepEqual(
      shape(bad, seedCluster(), config({ rules: { 'subnet-shape': 'off' } as PolicyConfig['rules'] })),
      [],
    );
  });
});

// Kube-OVN's other ValidateSubnet checks (kubeovn/kube-ovn pkg/util/validator.go, v1.13.15-v1.16.2).
describe('subnet-shape: the rest of ValidateSubnet', () => {
  const base = { cidrBlock: '10.16.0.0/16', gateway: '10.16.0.1' };

  it('gatewayType is empty, distributed or centralized (case-sensitive)', () => {
    for (const gatewayType of ['distributed', 'centralized', ''])
      assert.deepEqual(shape(subnet({ ...base, gatewayType })), [], gatewayType);
    const [f] = shape(subnet({ ...base, gatewayType: 'Centralized' }));
    assert.deepEqual(verdicts([f]), ['deny spec.gatewayType']);
    assert.match(f.message, /"Centralized" is not one of distributed, centralized/);
  });

  it('allowSubnets: CIDRs in lower case', () => {
    assert.deepEqual(shape(subnet({ ...base, allowSubnets: ['10.18.0.0/16', 'fd00::/64'] })), []);
    const findings = shape(subnet({ ...base, allowSubnets: ['10.18.0/16', 'FD00::/64', '10.18.0.1'] }));
    assert.deepEqual(verdicts(findings), [
      'deny spec.allowSubnets[0]',
      'deny spec.allowSubnets[1]',
      'deny spec.allowSubnets[2]',
    ]);
    assert.match(findings[0].message, /"10\.18\.0\/16" is not a CIDR/);
    assert.match(findings[1].message, /upper-case/);
  });

  it('vips: lower case and inside the CIDR', () => {
    assert.deepEqual(shape(subnet({ ...base, vips: ['10.16.0.100'] })), []);
    const findings = shape(subnet({ ...base, vips: ['10.17.2.1', 'FD00::1', 'fd00::1', 'x'] }));
    assert.deepEqual(
      findings.map((f) => f.field),
      ['spec.vips[0]', 'spec.vips[1]', 'spec.vips[2]', 'spec.vips[3]'],
    );
    assert.match(findings[0].message, /10\.17\.2\.1 is outside 10\.16\.0\.0\/16/);
    assert.match(findings[2].message, /no IPv6 block/);
  });

  it("externalEgressGateway: not with natOutgoing, at most one address per family, of the CIDR's family", () => {
    assert.deepEqual(shape(subnet({ ...base, externalEgressGateway: '192.178.2.1' })), []);
    assert.deepEqual(
      shape(subnet({ cidrBlock: '10.16.0.0/16,fd00::/64', externalEgressGateway: '192.178.2.1,fd01::1' })),
      [],
    );
    const egw = (extra: Record<string, unknown>) => shape(subnet({ ...base, ...extra }))[0]?.message ?? '';
    assert.match(
      egw({ externalEgressGateway: '192.178.2.1', natOutgoing: true }),
      /natOutgoing: true exclude each other/,
    );
    assert.match(egw({ externalEgressGateway: '1.1.1.1,1.1.1.2,1.1.1.3' }), /has 3 addresses/);
    assert.match(egw({ externalEgressGateway: '192.178.2' }), /not an IP address/);
    assert.match(egw({ externalEgressGateway: 'FD00::1' }), /upper-case/);
    assert.match(egw({ externalEgressGateway: 'fd00::1' }), /does not match the IPv4 spec\.cidrBlock/);
    assert.match(egw({ externalEgressGateway: '1.1.1.1,1.1.1.2' }), /does not match/);
  });

  it('logicalGateway and u2oInterconnection exclude each other', () => {
    assert.deepEqual(shape(subnet({ ...base, u2oInterconnection: true })), []);
    assert.deepEqual(verdicts(shape(subnet({ ...base, u2oInterconnection: true, logicalGateway: true }))), [
      'deny spec.u2oInterconnection',
    ]);
  });

  it('u2oInterconnectionIP: lower case, inside the CIDR; not the gateway from v1.15.18 in the 1.15 line', () => {
    const u2o = (u2oInterconnectionIP: string) => subnet({ ...base, u2oInterconnection: true, u2oInterconnectionIP });
    assert.deepEqual(shape(u2o('10.16.0.2')), []);
    assert.match(shape(u2o('10.17.0.2'))[0].message, /outside 10\.16\.0\.0\/16/);
    assert.match(shape(u2o('10.16.0.A'))[0].message, /upper-case/);
    assert.equal(shapeAt('v1.15.18', u2o('10.16.0.1'))[0].action, 'deny');
    assert.match(shapeAt('v1.15.24', u2o('10.16.0.1'))[0].message, /10\.16\.0\.1 is the Subnet's gateway/);
    for (const v of ['v1.13.15', 'v1.14.41', 'v1.15.17', 'v1.16.2'])
      assert.deepEqual(shapeAt(v, u2o('10.16.0.1')), [], v);
    const [w] = shape(u2o('10.16.0.1'));
    assert.equal(w.action, 'warn');
    assert.match(w.message, /v1\.15\.18-v1\.15\.24 refuse it; v1\.13, v1\.14, v1\.15\.0-v1\.15\.17, v1\.16 accept it/);
    // Compared as addresses: the written forms may differ.
    const v6 = subnet({
      cidrBlock: '2001:db8::/64',
      gateway: '2001:0db8:0000:0000:0000:0000:0000:0001',
      u2oInterconnectionIP: '2001:db8::1',
    });
    assert.equal(shapeAt('v1.15.20', v6)[0].action, 'deny');
    // Three addresses: Kube-OVN's SplitStringIP yields none, so nothing is compared.
    assert.deepEqual(shapeAt('v1.15.24', u2o('10.16.0.1,10.16.0.1,10.16.0.1')), []);
  });

  it('u2oFeatures.overlayOnlyRouting needs u2oInterconnection and vlan, from v1.14.37, v1.15.12 and v1.16.2', () => {
    const without = subnet({ ...base, u2oFeatures: { overlayOnlyRouting: true } });
    const overlay = subnet({ ...base, u2oInterconnection: true, u2oFeatures: { overlayOnlyRouting: true } });
    const fine = subnet({
      ...base,
      vlan: 'vlan100',
      u2oInterconnection: true,
      u2oFeatures: { overlayOnlyRouting: true },
    });
    for (const v of ['v1.14.37', 'v1.15.12', 'v1.16.2']) {
      assert.match(shapeAt(v, without)[0].message, /needs spec\.u2oInterconnection: true/, v);
      assert.match(shapeAt(v, overlay)[0].message, /underlay Subnets only: set spec\.vlan/, v);
      assert.deepEqual(shapeAt(v, fine), [], v);
    }
    for (const v of ['v1.13.15', 'v1.14.36', 'v1.15.11', 'v1.16.1']) assert.deepEqual(shapeAt(v, without), [], v);
    assert.equal(shape(without)[0].action, 'warn');
  });

  it('natOutgoingPolicyRules: IPs or CIDRs of one family, src and dst alike', () => {
    const rules = (...match: Record<string, string>[]) =>
      subnet({ ...base, natOutgoingPolicyRules: match.map((m) => ({ match: m, action: 'nat' })) });
    assert.deepEqual(
      shape(rules({ srcIPs: '10.16.0.0/24,10.16.1.5', dstIPs: '8.8.8.8' }, { dstIPs: 'fd00::/64' })),
      [],
    );
    const findings = shape(
      rules(
        { srcIPs: '10.16.0.0/24,fd00::1' },
        { srcIPs: 'nope' },
        { srcIPs: '10.0.0.1', dstIPs: 'fd00::1' },
        { dstIPs: '  ' },
      ),
    );
    assert.deepEqual(
      findings.map((f) => f.field),
      [
        'spec.natOutgoingPolicyRules[0].match.srcIPs',
        'spec.natOutgoingPolicyRules[1].match.srcIPs',
        'spec.natOutgoingPolicyRules[2].match',
        'spec.natOutgoingPolicyRules[3].match.dstIPs',
      ],
    );
    assert.match(findings[0].message, /mixes IPv4 and IPv6/);
    assert.match(findings[1].message, /"nope" is not an address nor a CIDR/);
    assert.match(findings[2].message, /different families/);
    assert.match(findings[3].message, /is blank/);
  });

  it('a VPC named like the Subnet: refused from v1.14.0', () => {
    const same = subnet({ ...base, vpc: 'blue' });
    for (const v of ['v1.14.0', 'v1.15.24', 'v1.16.2'])
      assert.deepEqual(verdicts(shapeAt(v, same)), ['deny spec.vpc'], v);
    assert.deepEqual(shapeAt('v1.13.15', same), []);
    const [w] = shape(same);
    assert.equal(w.action, 'warn');
    assert.match(w.message, /Kube-OVN v1\.14, v1\.15, v1\.16 refuse it; v1\.13 accept it/);
    assert.deepEqual(shape(subnet({ ...base, vpc: 'other' })), []);
  });

  it('warns about an MTU below 1280 on IPv6 and dual stack only (Kube-OVN does not check it)', () => {
    const [f] = shape(subnet({ cidrBlock: 'fd00::/64', mtu: 1200 }));
    assert.deepEqual(verdicts([f]), ['warn spec.mtu']);
    assert.match(f.message, /below 1280.*Kube-OVN does not check this/);
    assert.equal(shape(subnet({ cidrBlock: '10.16.0.0/16,fd00::/64', mtu: 1279 }))[0].action, 'warn');
    assert.deepEqual(shape(subnet({ cidrBlock: '10.16.0.0/16', mtu: 1200 })), []);
    assert.deepEqual(shape(subnet({ cidrBlock: 'fd00::/64', mtu: 1280 })), []);
  });
});

// Kube-OVN's webhook on UPDATE (pkg/webhook/subnet.go SubnetUpdateHook).
describe('subnet-shape: updates', () => {
  const before = subnet({ cidrBlock: '10.16.0.0/16', gateway: '10.16.0.1' });
  const withStatus = (obj: KubeObject, status: Record<string, unknown>) => ({ ...clone(obj), status });
  const changed = (spec: Record<string, unknown>) => ({
    ...clone(before),
    spec: { ...(before.spec as object), ...spec },
  });

  it('the gateway may not change while addresses are in use', () => {
    const moved = changed({ gateway: '10.16.0.254' });
    assert.deepEqual(
      findingsOf('subnet-shape', update(before, withStatus(moved, { v4usingIPs: 0, v6usingIPs: 0 }))),
      [],
    );
    const [f] = findingsOf('subnet-shape', update(before, withStatus(moved, { v4usingIPs: 3 })));
    assert.deepEqual(verdicts([f]), ['deny spec.gateway']);
    assert.match(f.message, /addresses in use/);
    // v1.16 writes the counts as strings.
    assert.equal(findingsOf('subnet-shape', update(before, withStatus(moved, { v6usingIPs: '2' })))[0].action, 'deny');
    assert.deepEqual(findingsOf('subnet-shape', update(before, withStatus(before, { v4usingIPs: 3 }))), []);
  });

  it('spec.vpc may change only from empty to ovn-cluster, from v1.15.0', () => {
    const upd = (from: KubeObject, to: KubeObject, kubeovnVersion?: string) =>
      findingsOf('subnet-shape', update(from, to), seedCluster(), config(kubeovnVersion ? { kubeovnVersion } : {}));
    assert.deepEqual(upd(before, changed({ vpc: 'ovn-cluster' })), []);
    const moved = changed({ vpc: 'vpc-b' });
    assert.deepEqual(verdicts(upd(before, moved, 'v1.15.0')), ['deny spec.vpc']);
    assert.deepEqual(upd(before, moved, 'v1.14.41'), []);
    assert.equal(upd(before, moved)[0].action, 'warn');
    // v1.16.2 refuses it; v1.16.9 and v1.17.0 have not been read: a warning that says so, not a denial.
    assert.deepEqual(verdicts(upd(before, moved, 'v1.16.2')), ['deny spec.vpc']);
    for (const version of ['v1.16.9', 'v1.17.0', 'v1.16.2-rc.1']) {
      const [w] = upd(before, moved, version);
      assert.equal(w.action, 'warn', version);
      assert.ok(
        w.message.includes(`kubeovnVersion is ${version}, a release nicguard has not read (it follows the tags `) &&
          w.message.includes('v1.13.0 to v1.16.2), so it warns instead of refusing.'),
        w.message,
      );
    }
  });
});

describe('Kube-OVN versions', () => {
  it('reads kubeovnVersion from the configuration; a release nicguard has not read counts as unknown', () => {
    assert.deepEqual(knownKubeOvnVersion(config({ kubeovnVersion: 'v1.15.20' })), parseVersion('v1.15.20'));
    assert.deepEqual(knownKubeOvnVersion(config({ kubeovnVersion: '1.16.2' })), parseVersion('v1.16.2'));
    assert.deepEqual(knownKubeOvnVersion(config({ kubeovnVersion: 'v1.13.0' })), parseVersion('v1.13.0'));
    // Later patches than the last read of a line, and pre-releases, have not been read.
    assert.equal(knownKubeOvnVersion(config({ kubeovnVersion: '1.16.9' })), undefined);
    assert.equal(knownKubeOvnVersion(config({ kubeovnVersion: 'v1.15.25' })), undefined);
    assert.equal(knownKubeOvnVersion(config({ kubeovnVersion: 'v1.15.24-rc.1' })), undefined);
    assert.equal(knownKubeOvnVersion(config({ kubeovnVersion: 'v1.12.9' })), undefined);
    assert.equal(knownKubeOvnVersion(config({ kubeovnVersion: 'v1.17.0' })), undefined);
    assert.equal(knownKubeOvnVersion(config()), undefined);
    assert.throws(() => resolveConfig({ kubeovnVersion: 'latest' }), ConfigError);
    assert.equal(resolveConfig({ kubeovnVersion: 'v1.15.24' }).kubeovnVersion, 'v1.15.24');
  });

  it('names releases by line where a whole line agrees', () => {
    assert.equal(describeKubeOvnReleases(KUBE_OVN_FOLLOWED), 'v1.13, v1.14, v1.15, v1.16');
    const v = (t: string) => parseVersion(t)!;
    assert.equal(
      describeKubeOvnReleases([v('v1.14.0'), v('v1.15.15'), v('v1.15.18')]),
      'v1.14.0-v1.14.36, v1.15.15-v1.15.24',
    );
    assert.equal(describeKubeOvnReleases([v('v1.16.2')]), 'v1.16.2');
  });
});

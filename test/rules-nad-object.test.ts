import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyConfig } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { evaluate } from '../src/engine/evaluate.js';
import { ovnProviderProblems } from '../src/engine/nad.js';
import { clone, config, create, example, findingsOf, seedCluster, update } from './support.js';

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
    spec: { config: typeof cniConfig === 'string' ? cniConfig : JSON.stringify(cniConfig) },
  };
}

const SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';

function provider(request: Parameters<typeof findingsOf>[1], cfg: PolicyConfig = config()) {
  return findingsOf('ovn-provider', request, seedCluster(), cfg);
}

function seedNad(name: string): KubeObject {
  return seedCluster().getNetworkAttachmentDefinition('default', name)!;
}

describe('ovn-provider on NetworkAttachmentDefinitions', () => {
  it('accepts the seed NADs: attachnet on Kube-OVN, the bridge and the SR-IOV networks', () => {
    for (const name of ['attachnet', 'new-fancy-net', 'sriov-net'])
      assert.deepEqual(provider(create(clone(seedNad(name)))), [], name);
  });

  it('refuses examples/bad/wrong-ovn-provider.yaml: the provider lacks .ovn', () => {
    const findings = provider(create(example('bad/wrong-ovn-provider.yaml')));
    assert.equal(findings.length, 1);
    const [f] = findings;
    assert.equal(f.action, 'deny');
    assert.equal(f.object, 'NetworkAttachmentDefinition default/attachnet2');
    assert.equal(f.field, 'spec.config');
    assert.match(
      f.message,
      /"provider" in spec\.config is "attachnet2\.default", but Kube-OVN derives "attachnet2\.default\.ovn"/,
    );
    assert.match(f.message, /Set "provider": "attachnet2\.default\.ovn"/);
  });

  it('refuses a provider for another NAD or namespace', () => {
    const [f] = provider(
      create(
        nad(
          'blue',
          { cniVersion: '0.3.1', type: 'kube-ovn', server_socket: SOCKET, provider: 'attachnet.default.ovn' },
          'tenant-a',
        ),
      ),
    );
    assert.match(f.message, /derives "blue\.tenant-a\.ovn"/);
  });

  it('refuses a missing provider: the plugin would fall back to the primary network "ovn"', () => {
    const [f] = provider(create(nad('blue', { cniVersion: '0.3.1', type: 'kube-ovn', server_socket: SOCKET })));
    assert.match(f.message, /has no "provider".*falls back to the primary network "ovn"/);
    assert.match(f.message, /"provider": "blue\.default\.ovn"/);
  });

  it('refuses a missing server_socket, suggesting the usual one', () => {
    const [f] = provider(create(nad('blue', { cniVersion: '0.3.1', type: 'kube-ovn', provider: 'blue.default.ovn' })));
    assert.match(f.message, /no "server_socket"/);
    assert.match(f.message, /\/run\/openvswitch\/kube-ovn-daemon\.sock/);
  });

  it('refuses a NAD name with a dot, once, on metadata.name', () => {
    const findings = provider(
      create(nad('blue.net', { type: 'kube-ovn', server_socket: SOCKET, provider: 'blue.net.default.ovn' })),
    );
    assert.deepEqual(
      findings.map((f) => f.field),
      ['metadata.name'],
    );
    assert.match(findings[0].message, /contains a dot/);
  });

  it('finds kube-ovn inside a conflist, and reports every problem there', () => {
    const conflist = {
      cniVersion: '0.4.0',
      name: 'blue',
      plugins: [{ type: 'kube-ovn' }, { type: 'tuning', mtu: 1400 }],
    };
    const findings = provider(create(nad('blue', conflist)));
    assert.equal(findings.length, 2);
    assert.match(findings[0].message, /no "provider"/);
    assert.match(findings[1].message, /no "server_socket"/);
    const good = {
      ...conflist,
      plugins: [{ type: 'kube-ovn', provider: 'blue.default.ovn', server_socket: SOCKET }, { type: 'tuning' }],
    };
    assert.deepEqual(provider(create(nad('blue', good))), []);
  });

  it('IPAM only: provider <name>.<namespace> in the ipam section, without .ovn (kube-ovn#2783)', () => {
    const ipam = (p: string) => ({
      cniVersion: '0.3.1',
      type: 'macvlan',
      master: 'eth1',
      ipam: { type: 'kube-ovn', server_socket: SOCKET, provider: p },
    });
    assert.deepEqual(provider(create(nad('macnet', ipam('macnet.default')))), []);
    const [f] = provider(create(nad('macnet', ipam('macnet.default.ovn'))));
    assert.match(
      f.message,
      /"ipam\.provider" in spec\.config is "macnet\.default\.ovn", but Kube-OVN derives "macnet\.default"/,
    );
    assert.match(f.message, /IPAM only has no "\.ovn" suffix \(kubeovn\/kube-ovn#2783\)/);
    // The plugin reads ipam.server_socket, not a top-level one.
    const topLevelSocket = {
      type: 'macvlan',
      server_socket: SOCKET,
      ipam: { type: 'kube-ovn', provider: 'macnet.default' },
    };
    const [g] = provider(create(nad('macnet', topLevelSocket)));
    assert.match(g.message, /ipam section in spec\.config has no "server_socket".*"ipam\.server_socket"/);
  });

  it('refuses an unparsable spec.config, naming it', () => {
    const [f] = provider(create(nad('blue', '{"type": "kube-ovn", ')));
    assert.equal(f.field, 'spec.config');
    assert.match(f.message, /^spec\.config is not valid JSON/);
    const [g] = provider(create(nad('blue', '["kube-ovn"]')));
    assert.match(g.message, /spec\.config is not a JSON object/);
  });

  it('takes the namespace from the request when the manifest has none', () => {
    const obj = nad('blue', { type: 'kube-ovn', server_socket: SOCKET, provider: 'blue.tenant-b.ovn' });
    delete obj.metadata!.namespace;
    assert.deepEqual(provider(create(obj, { namespace: 'tenant-b' })), []);
  });

  it('checks UPDATEs, lets DELETEs through, and follows the setting', () => {
    const bad = example('bad/wrong-ovn-provider.yaml');
    const good = nad('attachnet2', { type: 'kube-ovn', server_socket: SOCKET, provider: 'attachnet2.default.ovn' });
    assert.equal(provider(update(good, bad)).length, 1);
    assert.deepEqual(provider(update(bad, good)), []);
    assert.equal(evaluate({ ...create(bad), operation: 'DELETE' }, seedCluster(), config()).findings.length, 0);
    assert.equal(
      provider(create(bad), config({ rules: { 'ovn-provider': 'warn' } as PolicyConfig['rules'] }))[0].action,
      'warn',
    );
    assert.deepEqual(provider(create(bad), config({ rules: { 'ovn-provider': 'off' } as PolicyConfig['rules'] })), []);
  });

  it('is computed once per NAD object and once more when the object is a new one', () => {
    const a = nad('blue', { type: 'kube-ovn', server_socket: SOCKET, provider: 'x' });
    assert.equal(ovnProviderProblems(a), ovnProviderProblems(a));
    const b = clone(a);
    b.spec.config = JSON.stringify({ type: 'kube-ovn', server_socket: SOCKET, provider: 'blue.default.ovn' });
    assert.equal(ovnProviderProblems(b).length, 0);
  });
});

describe('ovn-subnet on NetworkAttachmentDefinitions', () => {
  function subnetFindings(request: Parameters<typeof findingsOf>[1], cluster = seedCluster()) {
    return findingsOf('ovn-subnet', request, cluster);
  }

  it('says nothing when a Subnet is bound to the provider (the seed attachnet)', () => {
    assert.deepEqual(subnetFindings(create(clone(seedNad('attachnet')))), []);
  });

  it('warns on CREATE when no Subnet is bound to the provider yet', () => {
    const [f] = subnetFindings(
      create(nad('blue', { type: 'kube-ovn', server_socket: SOCKET, provider: 'blue.default.ovn' })),
    );
    assert.equal(f.action, 'warn');
    assert.match(f.message, /no Kube-OVN Subnet has spec\.provider "blue\.default\.ovn"/);
    assert.match(f.message, /Create a Subnet with provider: blue\.default\.ovn/);
  });

  it('looks for the IPAM-only provider without .ovn', () => {
    const macnet = nad('macnet', {
      type: 'macvlan',
      ipam: { type: 'kube-ovn', server_socket: SOCKET, provider: 'macnet.default' },
    });
    const subnet = {
      apiVersion: 'kubeovn.io/v1',
      kind: 'Subnet',
      metadata: { name: 'macnet' },
      spec: { provider: 'macnet.default', cidrBlock: '10.20.0.0/16' },
    };
    assert.deepEqual(subnetFindings(create(macnet), seedCluster(subnet)), []);
    assert.match(subnetFindings(create(macnet))[0].message, /"macnet\.default"/);
  });

  it('does not repeat the warning on an UPDATE that keeps the provider', () => {
    const blue = nad('blue', { type: 'kube-ovn', server_socket: SOCKET, provider: 'blue.default.ovn' });
    const edited = clone(blue);
    edited.metadata!.labels = { team: 'x' };
    assert.deepEqual(subnetFindings(update(blue, edited)), []);
  });

  it('says nothing about a NAD whose provider is wrong: ovn-provider covers it', () => {
    assert.deepEqual(subnetFindings(create(example('bad/wrong-ovn-provider.yaml'))), []);
  });
});

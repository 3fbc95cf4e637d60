// End to end: a real kube-apiserver calls nicguard (informer-backed) through webhook
// configurations rendered from manifests/base, and real kubectl shows what a user sees.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ApiServer, Nicguard, NICGUARD, ROOT, kubectl, requireBinaries, sleep, waitFor } from './harness.js';

const work = mkdtempSync(join(tmpdir(), 'nicguard-e2e-'));
const certDir = join(work, 'certs');
const api = new ApiServer(work);
let nicguard: Nicguard;

type Obj = Record<string, any>;

function k(args: string[], input?: string) {
  return kubectl(api.kubeconfig, args, input);
}

function mustK(args: string[], input?: string): string {
  const r = k(args, input);
  assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

function apply(obj: Obj | Obj[], extra: string[] = []) {
  const docs = (Array.isArray(obj) ? obj : [obj]).map((o) => stringify(o)).join('---\n');
  return k(['apply', '-f', '-', ...extra], docs);
}

function getJson(kind: string, name: string, ns = 'default'): Obj {
  return JSON.parse(mustK(['get', kind, name, '-n', ns, '-o', 'json']));
}

function example(rel: string): Obj {
  return parse(readFileSync(join(ROOT, 'examples', rel), 'utf8'));
}

function spec(vm: Obj): Obj {
  return vm.spec.template.spec;
}

function ifaceNames(vm: Obj): string[] {
  return spec(vm).domain.devices.interfaces.map((i: Obj) => i.name);
}

/** The seed VM (examples/old/vm-fedora.yaml) under another name, created and marked running. */
function runningVm(name: string, edit?: (vm: Obj) => void): Obj {
  const vm = example('old/vm-fedora.yaml');
  vm.metadata.name = name;
  edit?.(vm);
  const r = apply(vm);
  assert.equal(r.status, 0, `creating ${name} failed:\n${r.stderr}`);
  // As virt-controller would: the VM has a VMI from now on.
  mustK(['patch', 'vm', name, '-n', 'default', '--subresource=status', '--type=merge', '-p', '{"status":{"printableStatus":"Running","ready":true}}']);
  return vm;
}

function withBridgeNic(vm: Obj, nic: string, networkName: string): Obj {
  const copy = structuredClone(vm);
  spec(copy).domain.devices.interfaces.push({ name: nic, bridge: {} });
  spec(copy).networks.push({ name: nic, multus: { networkName } });
  return copy;
}

function bridgeNad(name: string, ns = 'default'): Obj {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace: ns },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', type: 'bridge', name, bridge: `br-${name}` }) },
  };
}

/** The webhook configurations of manifests/base, pointed at the local nicguard by URL. */
function renderWebhooks(port: number, caBundle: string): string {
  const text = readFileSync(join(ROOT, 'manifests', 'base', 'webhooks.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .map((cfg) => {
      for (const hook of cfg.webhooks) {
        const path = hook.clientConfig.service.path;
        hook.clientConfig = { url: `https://127.0.0.1:${port}${path}`, caBundle };
      }
      return stringify(cfg);
    })
    .join('---\n');
}

before(async () => {
  requireBinaries();
  await api.start();
  mustK(['apply', '-f', join(ROOT, 'test', 'e2e', 'crds', 'crds.yaml')]);
  mustK(['wait', '--for', 'condition=established', 'crd', '--all', '--timeout=60s']);
  for (const ns of ['shared-networks', 'kubevirt', 'nicguard-system']) mustK(['create', 'namespace', ns]);

  const caBundle = execFileSync(process.execPath, [NICGUARD, 'certs', '--ip', '127.0.0.1', '--out', certDir], { encoding: 'utf8' }).trim();
  nicguard = new Nicguard(work, Buffer.from(caBundle, 'base64').toString('utf8'), certDir);
  await nicguard.start(api.kubeconfig);
  mustK(['apply', '-f', '-'], renderWebhooks(nicguard.port, caBundle));

  // The API server picks webhook configurations up asynchronously: wait until a known-bad
  // NAD is refused before any scenario relies on the webhooks.
  const bad = readFileSync(join(ROOT, 'examples', 'bad', 'wrong-ovn-provider.yaml'), 'utf8');
  await waitFor('webhooks in effect', () => (k(['apply', '--dry-run=server', '-f', '-'], bad).status !== 0 ? true : undefined), 30_000, nicguard.log);
  mustK(['apply', '-f', join(ROOT, 'examples', 'cluster')]);
});

after(async () => {
  await nicguard?.stop();
  await api.stop();
  if (process.env.NICGUARD_E2E_KEEP) console.log(`e2e work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

describe('seed scenario: vm-fedora on the Kube-OVN network attachnet', () => {
  test('hotplugging dyniface1 is accepted and stored', () => {
    runningVm('vm-fedora');
    const r = k(['apply', '-f', join(ROOT, 'examples', 'new', 'vm-fedora.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-fedora')), ['defaultnetwork', 'dyniface1']);
  });

  test('removing dyniface1 from the spec stores it as state: absent, with nicguard warning', () => {
    const r = k(['apply', '-f', join(ROOT, 'examples', 'old', 'vm-fedora.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Warning: .*unplug-by-removal/);
    const stored = getJson('vm', 'vm-fedora');
    const nic = spec(stored).domain.devices.interfaces.find((i: Obj) => i.name === 'dyniface1');
    assert.equal(nic?.state, 'absent');
    assert.ok(spec(stored).networks.some((n: Obj) => n.name === 'dyniface1'), 'its network is kept for the unplug');
  });
});

describe('refused with nicguard message, and nothing stored', () => {
  test('a masquerade hotplug', () => {
    const vm = runningVm('vm-masq');
    const bad = example('bad/masquerade-hotplug.yaml');
    bad.metadata.name = 'vm-masq';
    const r = apply(bad);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /denied the request/);
    assert.match(r.stderr, /hotplug-binding/);
    assert.match(r.stderr, /dyniface1/);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-masq')), ifaceNames(vm));
  });

  test('a hotplug past the four-slot budget', () => {
    // One interface at boot: KubeVirt reserves 4 - 1 = 3 ports; a fourth hotplug has none.
    const vm = runningVm('vm-slots');
    let next = vm;
    for (const nic of ['hp1', 'hp2', 'hp3', 'hp4']) next = withBridgeNic(next, nic, 'new-fancy-net');
    const r = apply(next);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /hotplug-slots/);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-slots')), ['defaultnetwork']);
    // Three fit.
    let three = vm;
    for (const nic of ['hp1', 'hp2', 'hp3']) three = withBridgeNic(three, nic, 'new-fancy-net');
    const ok = apply(three);
    assert.equal(ok.status, 0, ok.stderr);
  });

  test('an SR-IOV unplug', () => {
    const withSriov = (vm: Obj) => {
      spec(vm).domain.devices.interfaces.push({ name: 'fastnet', sriov: {} });
      spec(vm).networks.push({ name: 'fastnet', multus: { networkName: 'sriov-net' } });
    };
    runningVm('vm-sriov', withSriov);
    const removed = example('old/vm-fedora.yaml');
    removed.metadata.name = 'vm-sriov';
    const r = apply(removed);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /sriov-unplug/);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-sriov')), ['defaultnetwork', 'fastnet']);
  });

  test('a NAD with a wrong Kube-OVN provider', () => {
    const r = k(['apply', '-f', join(ROOT, 'examples', 'bad', 'wrong-ovn-provider.yaml')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ovn-provider/);
    assert.match(r.stderr, /attachnet2\.default\.ovn/);
    const get = k(['get', 'network-attachment-definitions', 'attachnet2', '-n', 'default']);
    assert.notEqual(get.status, 0);
    assert.match(get.stderr, /NotFound/);
  });

  test('a cluster-scoped Kube-OVN Subnet with its gateway outside the CIDR', () => {
    const subnet = example('cluster/subnets.yaml');
    subnet.metadata.name = 'badgw';
    subnet.spec.provider = 'badgw.default.ovn';
    subnet.spec.cidrBlock = '172.18.0.0/16';
    subnet.spec.gateway = '172.19.0.1';
    subnet.spec.excludeIps = [];
    const r = apply(subnet);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /subnet-shape/);
    assert.match(r.stderr, /172\.19\.0\.1/);
    assert.notEqual(k(['get', 'subnets.kubeovn.io', 'badgw']).status, 0);
  });

  test('a hotplug onto a NAD that does not exist', () => {
    const vm = runningVm('vm-nonad');
    const r = apply(withBridgeNic(vm, 'ghost', 'no-such-net'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nad-exists/);
    assert.match(r.stderr, /no-such-net/);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-nonad')), ['defaultnetwork']);
  });

  test('kubectl apply --dry-run=server of a bad change is refused and stores nothing', () => {
    const vm = runningVm('vm-dryrun');
    const bad = structuredClone(vm);
    spec(bad).domain.devices.interfaces.push({ name: 'slow', bridge: {}, model: 'e1000' });
    spec(bad).networks.push({ name: 'slow', multus: { networkName: 'new-fancy-net' } });
    const r = apply(bad, ['--dry-run=server']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /hotplug-model/);
    // And a good dry run is accepted but not stored either.
    const good = apply(withBridgeNic(vm, 'dyn', 'new-fancy-net'), ['--dry-run=server']);
    assert.equal(good.status, 0, good.stderr);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-dryrun')), ['defaultnetwork']);
  });
});

describe('the informer cache', () => {
  test('a NAD created and then used by a hotplug within a second is accepted', () => {
    const vm = runningVm('vm-fresh');
    const started = Date.now();
    assert.equal(apply(bridgeNad('fresh-net')).status, 0);
    const r = apply(withBridgeNic(vm, 'fresh', 'fresh-net'));
    const elapsed = Date.now() - started;
    assert.equal(r.status, 0, r.stderr);
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-fresh')), ['defaultnetwork', 'fresh']);
  });

  test('after an API server restart, decisions on new objects work without restarting nicguard', async () => {
    const pid = nicguard.pid;
    const vm = runningVm('vm-restart');
    await api.stop();
    await sleep(1000);
    await api.start();
    assert.equal(apply(bridgeNad('after-restart-net')).status, 0);
    const hotplug = withBridgeNic(vm, 'late', 'after-restart-net');
    // The informer resumes its watch with backoff; the decision must turn within that time.
    await waitFor('nicguard to see after-restart-net', () => (apply(hotplug, ['--dry-run=server']).status === 0 ? true : undefined), 30_000, nicguard.log);
    const r = apply(hotplug);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-restart')), ['defaultnetwork', 'late']);
    assert.equal(nicguard.pid, pid, 'nicguard was not restarted');
    assert.equal(await nicguard.get('/readyz'), 200);
  });
});

describe('nicguard own endpoints', () => {
  test('metrics count the decisions the API server asked for', async () => {
    const res = await fetch(`http://127.0.0.1:${nicguard.metricsPort}/metrics`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /decision="denied"/);
    assert.match(text, /decision="allowed"/);
  });

  test('the decision log names each request', () => {
    const lines = readFileSync(nicguard.log, 'utf8').split('\n').filter((l) => l.startsWith('{'));
    const decisions = lines.map((l) => JSON.parse(l)).filter((l) => l.decision);
    assert.ok(decisions.some((d) => d.decision === 'denied' && JSON.stringify(d).includes('vm-masq')));
  });
});

// Keep a copy of the rendered webhooks next to the logs when asked, for debugging.
if (process.env.NICGUARD_E2E_KEEP) writeFileSync(join(work, 'README'), 'apiserver.log, nicguard.log and certs/ of one e2e run\n');

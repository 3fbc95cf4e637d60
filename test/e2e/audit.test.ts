// End to end: `nicguard audit` and the live `explain`/`validate` against a real
// kube-apiserver. The problems are created before any nicguard webhook is registered, as
// in a cluster nicguard is installed into late: a NAD with a wrong Kube-OVN provider, a
// Subnet on a provider another Subnet has, a VM whose hotplug has waited an hour. The
// audit writes PolicyReports (CRDs from kyverno v1.19.0, test/e2e/crds/policyreports.yaml)
// as the overlay's own ServiceAccount, with the overlay's RBAC.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ApiServer, BIN, NICGUARD, ROOT, kubectl, requireBinaries } from './harness.js';

type Obj = Record<string, any>;

const SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';
/** A line per stored report: its name, summary pass and fail, then each result's outcome. */
const STORED_REPORTS =
  '{range .items[*]}{.metadata.name}{" "}{.summary.pass}{" "}{.summary.fail}{" "}{.results[*].result}{"\\n"}{end}';

const work = mkdtempSync(join(tmpdir(), 'nicguard-e2e-audit-'));
const api = new ApiServer(work);
/** A kubeconfig with the token of the overlay's ServiceAccount nicguard-audit. */
let auditKubeconfig = '';

function k(args: string[], input?: string) {
  return kubectl(api.kubeconfig, args, input);
}

function mustK(args: string[], input?: string): string {
  const r = k(args, input);
  assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

function applyObjects(...objects: Obj[]): void {
  mustK(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
}

function nicguard(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [NICGUARD, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function example(rel: string): Obj {
  return parse(readFileSync(join(ROOT, 'examples', rel), 'utf8')) as Obj;
}

/**
 * Writes status as KubeVirt would. KubeVirt's real VMI CRD has no status subresource, so a
 * VMI's status is written with the object (no virt-api runs here to undo it); a VM's has one.
 */
function patchStatus(resource: string, name: string, status: Obj): void {
  const subresource = resource === 'vmi' ? [] : ['--subresource=status'];
  mustK(['patch', resource, name, '-n', 'default', ...subresource, '--type=merge', '-p', JSON.stringify({ status })]);
}

/** A VM from examples/old/vm-fedora.yaml with these extra bridge NICs on new-fancy-net. */
function vmWith(name: string, extra: string[]): Obj {
  const vm = example('old/vm-fedora.yaml');
  vm.metadata.name = name;
  const spec = vm.spec.template.spec;
  for (const nic of extra) {
    spec.domain.devices.interfaces.push({ name: nic, bridge: {} });
    spec.networks.push({ name: nic, multus: { networkName: 'new-fancy-net' } });
  }
  return vm;
}

/** The VMI virt-controller would make from a VM spec (its template spec as the VMI spec). */
function vmiOf(vm: Obj): Obj {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: vm.metadata.name, namespace: 'default' },
    spec: structuredClone(vm.spec.template.spec),
  };
}

function running(interfaces: { name: string; infoSource: string }[], conditions: Obj[] = []): Obj {
  return { phase: 'Running', interfaces, conditions };
}

/** `result rule Kind name` of each result: what a report says, without timestamps. */
function results(report: Obj | undefined): string[] {
  return (report?.results ?? [])
    .map((r: Obj) => `${r.result} ${r.rule} ${r.resources[0].kind} ${r.resources[0].name}`)
    .sort();
}

function reportFromCluster(kind: 'policyreport' | 'clusterpolicyreport', namespace?: string): Obj | undefined {
  const r = k(['get', `${kind}.wgpolicyk8s.io`, 'nicguard', ...(namespace ? ['-n', namespace] : []), '-o', 'json']);
  if (r.status !== 0) {
    assert.match(r.stderr, /NotFound/);
    return undefined;
  }
  return JSON.parse(r.stdout) as Obj;
}

const pendingHotplugVm = vmWith('vm-pending', ['hp1']);
const pendingHotplugVmi = vmiOf(pendingHotplugVm);

before(async () => {
  requireBinaries();
  await api.start();
  mustK([
    'apply',
    '-f',
    join(ROOT, 'test', 'e2e', 'crds', 'crds.yaml'),
    '-f',
    join(ROOT, 'test', 'e2e', 'crds', 'policyreports.yaml'),
  ]);
  // KubeVirt's real CRDs (VM, VMI, KubeVirt), printed by its own generator as the hotplug
  // suite installs them; no KubeVirt component runs here, the audit only reads objects.
  const kubevirtManifests = join(work, 'kubevirt-manifests');
  execFileSync(join(BIN, 'kubevirt-manifests'), ['--out', kubevirtManifests], { stdio: 'inherit' });
  mustK(['apply', '--server-side', '-f', join(kubevirtManifests, 'crds.yaml')]);
  mustK(['wait', '--for', 'condition=established', 'crd', '--all', '--timeout=60s']);
  for (const ns of ['shared-networks', 'kubevirt', 'nicguard-system', 'tenant-old']) mustK(['create', 'namespace', ns]);
  mustK(['apply', '-f', join(ROOT, 'examples', 'cluster')]);

  // No nicguard webhook is registered: all of these are stored as they are.
  mustK(['apply', '-f', join(ROOT, 'examples', 'bad', 'wrong-ovn-provider.yaml')]);
  const second = example('cluster/subnets.yaml');
  second.metadata.name = 'attachnet-b';
  second.spec.cidrBlock = '172.20.0.0/16';
  second.spec.gateway = '172.20.0.1';
  second.spec.excludeIps = [];
  applyObjects(second);
  applyObjects({
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'old-net', namespace: 'tenant-old' },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', type: 'bridge', name: 'old-net', bridge: 'br-old' }) },
  });

  // vm-pending: hp1's pod interface is there, the domain never got it, and KubeVirt has
  // marked the VMI as waiting for a migration an hour ago.
  applyObjects(pendingHotplugVm, pendingHotplugVmi);
  patchStatus('vm', 'vm-pending', { printableStatus: 'Running', ready: true });
  const anHourAgo = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  patchStatus(
    'vmi',
    'vm-pending',
    running(
      [
        { name: 'defaultnetwork', infoSource: 'domain, guest-agent' },
        { name: 'hp1', infoSource: 'multus-status' },
      ],
      [{ type: 'MigrationRequired', status: 'False', lastTransitionTime: anHourAgo }],
    ),
  );

  // vm-fedora: the seed hotplug of dyniface1, just applied; its VMI still runs the old spec.
  const fedora = example('new/vm-fedora.yaml');
  applyObjects(fedora, vmiOf(example('old/vm-fedora.yaml')));
  patchStatus('vm', 'vm-fedora', { printableStatus: 'Running', ready: true });
  patchStatus('vmi', 'vm-fedora', running([{ name: 'defaultnetwork', infoSource: 'domain, guest-agent' }]));

  // The overlay's RBAC, and a kubeconfig with its ServiceAccount's token.
  mustK(['apply', '-f', join(ROOT, 'manifests', 'overlays', 'audit', 'rbac.yaml')]);
  const token = mustK(['create', 'token', 'nicguard-audit', '-n', 'nicguard-system', '--duration=1h']).trim();
  const config = parse(readFileSync(api.kubeconfig, 'utf8')) as Obj;
  for (const u of config.users) u.user = { token };
  auditKubeconfig = join(work, 'audit-kubeconfig');
  writeFileSync(auditKubeconfig, stringify(config));
});

after(async () => {
  await api.stop();
  if (process.env.NICGUARD_E2E_KEEP) console.log(`e2e work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

const EXPECTED_DEFAULT = [
  'fail ovn-provider NetworkAttachmentDefinition attachnet2',
  'pass nad-unused NetworkAttachmentDefinition attachnet2',
  'pass nad-unused NetworkAttachmentDefinition sriov-net',
  'warn hotplug-pending VirtualMachine vm-pending',
  'warn ovn-subnet NetworkAttachmentDefinition attachnet',
  'warn ovn-subnet VirtualMachine vm-fedora',
].sort();
const EXPECTED_CLUSTER = ['warn ovn-subnet Subnet attachnet', 'warn ovn-subnet Subnet attachnet-b'];

describe('nicguard audit against a live cluster', () => {
  test('-o policyreport: one report per namespace and one for Subnets, holding exactly the planted problems', () => {
    const r = nicguard(['audit', '--kubeconfig', api.kubeconfig, '-o', 'policyreport']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /nicguard audit: cluster https:\/\/127\.0\.0\.1:\d+: 2 VMs, 2 VMIs, 6 NADs, 2 Subnets; 1 fail, 5 warn, 4 info\n$/,
    );
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
    const by = (kind: string, ns?: string) => docs.find((d) => d.kind === kind && d.metadata.namespace === ns);
    assert.deepEqual(docs.map((d) => `${d.kind} ${d.metadata.namespace ?? '-'}`).sort(), [
      'ClusterPolicyReport -',
      'PolicyReport default',
      'PolicyReport shared-networks',
      'PolicyReport tenant-old',
    ]);
    assert.deepEqual(results(by('PolicyReport', 'default')), EXPECTED_DEFAULT);
    assert.deepEqual(results(by('PolicyReport', 'shared-networks')), [
      'pass nad-unused NetworkAttachmentDefinition storage-net',
    ]);
    assert.deepEqual(results(by('PolicyReport', 'tenant-old')), [
      'pass nad-unused NetworkAttachmentDefinition old-net',
    ]);
    assert.deepEqual(results(by('ClusterPolicyReport')), EXPECTED_CLUSTER);
    // vm-fedora's hotplug was applied seconds ago (managedFields): in progress, not stuck.
    assert.ok(
      !results(by('PolicyReport', 'default')).some((x) => x.includes('hotplug-pending VirtualMachine vm-fedora')),
    );
    // The subject carries the object's uid, as the API server assigned it.
    const nad = JSON.parse(
      mustK(['get', 'network-attachment-definitions', 'attachnet2', '-n', 'default', '-o', 'json']),
    );
    const result = by('PolicyReport', 'default')?.results.find((x: Obj) => x.rule === 'ovn-provider');
    assert.equal(result.resources[0].uid, nad.metadata.uid);
  });

  test('--apply as the overlay ServiceAccount writes the reports; the API server stores them as printed', () => {
    const printed = nicguard(['audit', '--kubeconfig', auditKubeconfig, '-o', 'policyreport']);
    const r = nicguard(['audit', '--kubeconfig', auditKubeconfig, '--apply', '--fail-exit-code', '0']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /; wrote 4 reports\n$/);
    const stored = reportFromCluster('policyreport', 'default');
    assert.deepEqual(results(stored), EXPECTED_DEFAULT);
    assert.deepEqual(stored?.summary, { pass: 2, fail: 1, warn: 3, error: 0, skip: 0 });
    assert.deepEqual(results(reportFromCluster('clusterpolicyreport')), EXPECTED_CLUSTER);
    const printedDefault = parseAllDocuments(printed.stdout)
      .map((d) => d.toJS() as Obj)
      .find((d) => d.metadata.namespace === 'default');
    assert.deepEqual(
      stored?.results.map((x: Obj) => x.message),
      printedDefault?.results.map((x: Obj) => x.message),
    );
    // kubectl's own columns for the CRD read the summary.
    assert.match(
      mustK(['get', 'policyreports.wgpolicyk8s.io', '-n', 'default']),
      /^nicguard\s.*\b2\s+1\s+3\s+0\s+0\s+\d+s$/m,
    );
  });

  test('after the fixes a second --apply removes their results, and the report of an emptied namespace', () => {
    mustK(['delete', 'subnets.kubeovn.io', 'attachnet-b']);
    mustK(['delete', 'network-attachment-definitions', 'attachnet2', '-n', 'default']);
    mustK(['delete', 'network-attachment-definitions', 'old-net', '-n', 'tenant-old']);
    patchStatus(
      'vmi',
      'vm-pending',
      running([
        { name: 'defaultnetwork', infoSource: 'domain, guest-agent' },
        { name: 'hp1', infoSource: 'domain, multus-status' },
      ]),
    );
    const r = nicguard(['audit', '--kubeconfig', auditKubeconfig, '--apply']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /0 fail, 0 warn, 2 info; wrote 3 reports, deleted policyreport tenant-old\/nicguard\n$/);
    assert.deepEqual(results(reportFromCluster('policyreport', 'default')), [
      'pass nad-unused NetworkAttachmentDefinition sriov-net',
    ]);
    assert.deepEqual(reportFromCluster('clusterpolicyreport')?.results, []);
    assert.deepEqual(reportFromCluster('clusterpolicyreport')?.summary, {
      pass: 0,
      fail: 0,
      warn: 0,
      error: 0,
      skip: 0,
    });
    assert.equal(reportFromCluster('policyreport', 'tenant-old'), undefined);
  });

  test('a namespace with more results than etcd takes in one object gets several reports, and fewer later', () => {
    // 2,000 NADs whose Kube-OVN provider is wrong: a fail and an info result each, ~2 MB of results,
    // past etcd's 1.5 MiB request limit for one report.
    mustK(['create', 'namespace', 'crowded']);
    const nads = Array.from({ length: 2_000 }, (_, i) => ({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: `net-${i}`, namespace: 'crowded', labels: { crowd: i < 1_990 ? 'yes' : 'no' } },
      spec: {
        config: JSON.stringify({ cniVersion: '0.3.1', type: 'kube-ovn', server_socket: SOCKET, provider: `net-${i}` }),
      },
    }));
    mustK(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nads }));
    const audit = () => nicguard(['audit', '--kubeconfig', auditKubeconfig, '-n', 'crowded', '--apply']);
    // Name, summary and the results' outcomes of each stored report (the reports whole are megabytes).
    const stored = () =>
      mustK(['get', 'policyreports.wgpolicyk8s.io', '-n', 'crowded', '-o', `jsonpath=${STORED_REPORTS}`])
        .trim()
        .split('\n')
        .map((line) => {
          const [name, pass, fail, ...outcomes] = line.split(' ');
          return { name, pass: Number(pass), fail: Number(fail), outcomes };
        })
        .sort((a, b) => (a.name < b.name ? -1 : 1));

    const first = audit();
    assert.equal(first.status, 1, first.stderr);
    assert.match(first.stderr, /2000 fail, 0 warn, 2000 info; wrote 3 reports\n$/);
    const split = stored();
    assert.deepEqual(
      split.map((r) => r.name),
      ['nicguard', 'nicguard-2', 'nicguard-3'],
    );
    const outcomes = split.flatMap((r) => r.outcomes);
    assert.equal(outcomes.filter((o) => o === 'fail').length, 2_000);
    assert.equal(outcomes.filter((o) => o === 'pass').length, 2_000);
    for (const r of split) {
      assert.equal(r.fail, r.outcomes.filter((o) => o === 'fail').length, `${r.name}: its summary counts its results`);
      assert.equal(r.pass, r.outcomes.filter((o) => o === 'pass').length);
    }

    // One deletecollection: kubectl deletes by label one object at a time.
    const crowd = '/apis/k8s.cni.cncf.io/v1/namespaces/crowded/network-attachment-definitions';
    mustK(['delete', '--raw', `${crowd}?labelSelector=crowd%3Dyes`]);
    const second = audit();
    assert.equal(second.status, 1, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        '10 fail, 0 warn, 10 info; wrote 1 report, ' +
          'deleted policyreport crowded/nicguard-2, policyreport crowded/nicguard-3\n$',
      ),
    );
    assert.deepEqual(
      stored().map((r) => [r.name, r.fail, r.pass]),
      [['nicguard', 10, 10]],
    );
    mustK(['delete', 'network-attachment-definitions', '-n', 'crowded', '--all']);
  });

  test('the ServiceAccount reads and reports, and nothing more', () => {
    const can = (verb: string, resource: string) =>
      kubectl(auditKubeconfig, ['auth', 'can-i', verb, resource, '-n', 'default']).stdout.trim();
    assert.equal(can('list', 'virtualmachines.kubevirt.io'), 'yes');
    assert.equal(can('update', 'policyreports.wgpolicyk8s.io'), 'yes');
    assert.equal(can('update', 'virtualmachines.kubevirt.io'), 'no');
    assert.equal(can('delete', 'network-attachment-definitions.k8s.cni.cncf.io'), 'no');
    assert.equal(can('list', 'secrets'), 'no');
  });
});

describe('explain and validate read the cluster live', () => {
  let dump = '';

  before(() => {
    // The same objects as files, as a user would dump them.
    const dir = join(work, 'dump');
    mkdirSync(dir);
    const kinds =
      'virtualmachines.kubevirt.io,virtualmachineinstances.kubevirt.io,' +
      'network-attachment-definitions.k8s.cni.cncf.io,subnets.kubeovn.io,kubevirts.kubevirt.io';
    writeFileSync(join(dir, 'cluster.yaml'), mustK(['get', kinds, '-A', '-o', 'yaml']));
    dump = dir;
  });

  test('explain vm-fedora live prints the same budget, interfaces and checks as explain over the dump', () => {
    const context = (parse(readFileSync(api.kubeconfig, 'utf8')) as Obj)['current-context'] as string;
    const liveRun = nicguard([
      'explain',
      '--kubeconfig',
      api.kubeconfig,
      '--context',
      context,
      'vm-fedora',
      '-o',
      'json',
    ]);
    const filesRun = nicguard(['explain', 'default/vm-fedora', '--objects', dump, '-o', 'json']);
    assert.equal(liveRun.status, 0, liveRun.stderr);
    assert.equal(filesRun.status, 0, filesRun.stderr);
    const live = JSON.parse(liveRun.stdout) as Obj;
    const files = JSON.parse(filesRun.stdout) as Obj;
    assert.deepEqual(live.budget, files.budget);
    assert.deepEqual(live.interfaces, files.interfaces);
    assert.deepEqual(live.findings, files.findings);
    assert.equal(live.baseFrom, 'vmi');
    assert.deepEqual({ free: live.budget.free, asked: live.budget.asked }, { free: 3, asked: 1 });
    assert.deepEqual(
      live.live.interfaces.map((i: Obj) => `${i.name}=${i.state}`),
      ['defaultnetwork=plugged', 'dyniface1=hotplug-pending'],
    );
  });

  test('explain vm/NAME as text: the LIVE column, infoSource and the budget', () => {
    const r = nicguard(['explain', '--kubeconfig', api.kubeconfig, 'vm/vm-pending', '-n', 'default']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^VirtualMachine default\/vm-pending {2}\(live from https:\/\/127\.0\.0\.1:\d+, running\)/);
    assert.match(r.stdout, /INTERFACE .* LIVE +INFO SOURCE/);
    assert.match(r.stdout, /\nhp1 +bridge .* plugged +domain, multus-status\n/);
    assert.match(r.stdout, /ports free +2 +2 more interfaces can be hotplugged/);
    const missing = nicguard(['explain', '--kubeconfig', api.kubeconfig, 'vm/nope']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no VirtualMachine default\/nope in the cluster/);
  });

  test('validate --kubeconfig judges a file against the live cluster view as against the dump', () => {
    const vm = join(ROOT, 'examples', 'new', 'vm-fedora.yaml');
    const liveRun = nicguard(['validate', '-f', vm, '--kubeconfig', api.kubeconfig, '-o', 'json']);
    const filesRun = nicguard(['validate', '-f', vm, '--objects', dump, '-o', 'json']);
    assert.equal(liveRun.status, filesRun.status, liveRun.stderr);
    const findings = (run: { stdout: string }) => (JSON.parse(run.stdout) as Obj).results.map((x: Obj) => x.findings);
    assert.deepEqual(findings(liveRun), findings(filesRun));
    // As kubectl apply: a VM naming no namespace lands in the context's namespace.
    const config = parse(readFileSync(api.kubeconfig, 'utf8')) as Obj;
    for (const c of config.contexts) c.context.namespace = 'shared-networks';
    const nsKubeconfig = join(work, 'ns-kubeconfig');
    writeFileSync(nsKubeconfig, stringify(config));
    const bare = vmWith('vm-bare', []);
    delete bare.metadata.namespace;
    bare.spec.template.spec.domain.devices.interfaces.push({ name: 'storage', bridge: {} });
    bare.spec.template.spec.networks.push({ name: 'storage', multus: { networkName: 'storage-net' } });
    const bareFile = join(work, 'vm-bare.yaml');
    writeFileSync(bareFile, stringify(bare));
    const inContextNs = JSON.parse(
      nicguard(['validate', '-f', bareFile, '--kubeconfig', nsKubeconfig, '-o', 'json']).stdout,
    ) as Obj;
    assert.equal(inContextNs.results[0].namespace, 'shared-networks');
    assert.deepEqual(inContextNs.results[0].findings, [], 'storage-net is found in shared-networks');
    const explicit = JSON.parse(
      nicguard(['validate', '-f', bareFile, '--kubeconfig', nsKubeconfig, '-n', 'default', '-o', 'json']).stdout,
    ) as Obj;
    assert.ok(
      explicit.results[0].findings.some((f: Obj) => f.rule === 'nad-exists'),
      '-n default: no storage-net there',
    );
    // Without the live view the NAD is unknown: the read mattered.
    const blind = JSON.parse(nicguard(['validate', '-f', vm, '-o', 'json']).stdout) as Obj;
    assert.notDeepEqual(blind.results[0].findings, findings(liveRun)[0]);
  });
});

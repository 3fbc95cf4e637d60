// End to end: a real kube-apiserver calls nicguard (informer-backed) through webhook
// configurations rendered from manifests/base, next to KubeVirt's real virt-api (its own
// webhooks) and virt-controller, and real kubectl shows what a user sees. VM and VMI
// status is KubeVirt's: virt-controller writes it, with a fake node (fake-node.ts)
// standing in for the scheduler, kubelet, Multus and virt-handler. The test never writes
// VM or VMI status itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ApiServer, Nicguard, NICGUARD, ROOT, kubectl, requireBinaries, sleep, waitFor } from './harness.js';
import {
  KUBEVIRT_NAMESPACE,
  KUBEVIRT_SERVICE_ACCOUNTS,
  KubeVirtControlPlane,
  webhooksWithUrl,
} from './kubevirt-control-plane.js';
import { FakeNode } from './fake-node.js';
import { KubeApi } from './kube-api.js';

const work = mkdtempSync(join(tmpdir(), 'nicguard-e2e-'));
const certDir = join(work, 'certs');
const auditLog = join(work, 'audit.log');
const auditPolicy = join(work, 'audit-policy.yaml');
// The API server's own record of every write to the kinds KubeVirt and nicguard handle:
// who asked, and whether (and by which webhook) it was refused.
writeFileSync(
  auditPolicy,
  stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived', 'ResponseStarted'],
    rules: [
      {
        level: 'Metadata',
        verbs: ['create', 'update', 'patch'],
        resources: [
          { group: 'kubevirt.io' },
          { group: 'k8s.cni.cncf.io' },
          { group: '', resources: ['pods', 'pods/status', 'pods/binding'] },
        ],
      },
      { level: 'None' },
    ],
  }),
);
const api = new ApiServer(work, [
  `--audit-policy-file=${auditPolicy}`,
  `--audit-log-path=${auditLog}`,
  '--audit-log-mode=blocking',
]);
let kubevirt: KubeVirtControlPlane;
let nicguard: Nicguard;
let fakeNode: FakeNode;
let caBundle = '';
/** Where nicguard is not called (namespaceSelector of manifests/base/webhooks.yaml). */
const UNGUARDED = 'no-nicguard';
/** The KubeVirt version built for this suite (test/e2e/kubevirt/go.mod). */
const KUBEVIRT_VERSION = /^\s*kubevirt\.io\/kubevirt (v\S+)/m.exec(
  readFileSync(join(ROOT, 'test', 'e2e', 'kubevirt', 'go.mod'), 'utf8'),
)![1];

type Obj = Record<string, any>;
/** Go's name for this machine's architecture, as KubeVirt's binaries see it. */
const GOARCH =
  ({ x64: 'amd64', arm64: 'arm64', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;

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

function tryGetJson(kind: string, name: string, ns = 'default'): Obj | undefined {
  const r = k(['get', kind, name, '-n', ns, '-o', 'json']);
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
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

function vmiIfaces(vmi: Obj): Obj[] {
  return vmi.spec.domain.devices.interfaces;
}

function launcherPod(vmi: Obj): Obj | undefined {
  const list = JSON.parse(
    mustK([
      'get',
      'pods',
      '-n',
      vmi.metadata.namespace,
      '-l',
      `kubevirt.io/created-by=${vmi.metadata.uid}`,
      '-o',
      'json',
    ]),
  );
  return (list.items as Obj[]).find((p) => !p.metadata.deletionTimestamp);
}

/** The NADs virt-controller asked Multus for on the launcher pod. */
function podNetworks(vmi: Obj): string[] {
  const raw = launcherPod(vmi)?.metadata.annotations?.['k8s.v1.cni.cncf.io/networks'];
  return raw ? (JSON.parse(raw) as Obj[]).map((n) => n.name) : [];
}

function diagnostics(): string {
  const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '');
  const controller = kubevirt ? tail(kubevirt.controllerLog) : '';
  return `fake node: ${fakeNode?.lastErrors.join('; ')}\nvirt-controller:\n${controller}`;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  try {
    return await waitFor(what, probe, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${diagnostics()}`, { cause: err });
  }
}

/** The VMI once KubeVirt reports it Running with `done` true for it. */
function vmiWhen(name: string, done: (vmi: Obj) => boolean, ns = 'default'): Obj | undefined {
  const vmi = tryGetJson('vmi', name, ns);
  return vmi && vmi.status?.phase === 'Running' && done(vmi) ? vmi : undefined;
}

/**
 * The seed VM (examples/old/vm-fedora.yaml) under another name, created and running:
 * virt-controller made its VMI and launcher pod, the fake node ran them, and
 * virt-controller reports the VM Ready.
 */
async function runningVm(name: string, edit?: (vm: Obj) => void, ns = 'default'): Promise<Obj> {
  const vm = example('old/vm-fedora.yaml');
  vm.metadata.name = name;
  vm.metadata.namespace = ns;
  edit?.(vm);
  const r = apply(vm);
  assert.equal(r.status, 0, `creating ${name} failed:\n${r.stderr}`);
  await until(`VM ${ns}/${name} Ready`, () => {
    const got = tryGetJson('vm', name, ns);
    return got?.status?.ready === true && got.status.printableStatus === 'Running' ? true : undefined;
  });
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

/** nicguard's webhook configurations (manifests/base), pointed at the local nicguard. */
/**
 * The webhook configurations of manifests/base pointed at this nicguard, with UNGUARDED
 * added to the namespaces they leave out by name, as docs/deploy.md says to exempt one.
 */
function nicguardWebhooks(edit?: (cfg: Obj) => void): string {
  return webhooksWithUrl(
    readFileSync(join(ROOT, 'manifests', 'base', 'webhooks.yaml'), 'utf8'),
    nicguard.port,
    caBundle,
    (cfg) => {
      for (const hook of cfg.webhooks) {
        for (const expr of hook.namespaceSelector?.matchExpressions ?? []) {
          if (expr.key === 'kubernetes.io/metadata.name' && expr.operator === 'NotIn') expr.values.push(UNGUARDED);
        }
      }
      edit?.(cfg);
    },
  );
}

interface AuditEvent {
  auditID: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number; message?: string };
  annotations?: Record<string, string>;
  stage: string;
}

function auditEvents(): AuditEvent[] {
  return readFileSync(auditLog, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete');
}

const isKubeVirt = (e: AuditEvent) => KUBEVIRT_SERVICE_ACCOUNTS.includes(e.user.username);
const refusedByNicguard = (e: AuditEvent) =>
  (e.responseStatus?.code ?? 0) >= 400 && /nicguard\.io/.test(e.responseStatus?.message ?? '');

/** Every write KubeVirt's own accounts made to a VM or VMI, and those nicguard refused. */
function kubevirtWrites(): { accepted: AuditEvent[]; refusedByNicguard: AuditEvent[] } {
  const writes = auditEvents().filter(
    (e) => isKubeVirt(e) && ['virtualmachines', 'virtualmachineinstances'].includes(e.objectRef?.resource ?? ''),
  );
  return {
    accepted: writes.filter((e) => (e.responseStatus?.code ?? 0) < 300),
    refusedByNicguard: writes.filter(refusedByNicguard),
  };
}

interface Decision {
  kind: string;
  object: string;
  operation: string;
  user: string;
  decision: string;
  rules: string[];
  dryRun: boolean;
}

function nicguardDecisions(): Decision[] {
  return readFileSync(nicguard.log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Decision & { msg?: string })
    .filter((l) => l.decision);
}

before(async () => {
  requireBinaries();
  await api.start();
  kubevirt = new KubeVirtControlPlane(work, api.kubeconfig);
  mustK(['apply', '-f', join(ROOT, 'test', 'e2e', 'crds', 'crds.yaml')]);
  mustK(['wait', '--for', 'condition=established', 'crd', '--all', '--timeout=60s']);
  for (const ns of ['shared-networks', 'nicguard-system', UNGUARDED]) mustK(['create', 'namespace', ns]);

  kubevirt.install();
  await kubevirt.startVirtApi();
  await kubevirt.startVirtController();
  const admin = KubeApi.fromKubeconfig(api.kubeconfig);
  fakeNode = new FakeNode(admin, admin.as(kubevirt.token('kubevirt-handler')));
  await fakeNode.start();

  caBundle = execFileSync(process.execPath, [NICGUARD, 'certs', '--ip', '127.0.0.1', '--out', certDir], {
    encoding: 'utf8',
  }).trim();
  nicguard = new Nicguard(work, Buffer.from(caBundle, 'base64').toString('utf8'), certDir);
  await nicguard.start(api.kubeconfig);
  mustK(['apply', '-f', '-'], nicguardWebhooks());

  // The API server picks webhook configurations up asynchronously: wait until a known-bad
  // NAD is refused before any scenario relies on the webhooks.
  const bad = readFileSync(join(ROOT, 'examples', 'bad', 'wrong-ovn-provider.yaml'), 'utf8');
  await waitFor(
    'webhooks in effect',
    () => (k(['apply', '--dry-run=server', '-f', '-'], bad).status !== 0 ? true : undefined),
    30_000,
    nicguard.log,
  );
  mustK(['apply', '-f', join(ROOT, 'examples', 'cluster')]);
  // Stand-in for virt-operator, which this suite does not run: it reports the deployed
  // version in the KubeVirt CR status. Once status.phase is set, virt-api and
  // virt-controller take their configuration from this CR (pkg/virt-config/configuration.go),
  // the default architecture included, which virt-operator fills in from its own
  // (pkg/virt-operator/util/config.go: runtime.GOARCH).
  const status = {
    phase: 'Deployed',
    observedKubeVirtVersion: KUBEVIRT_VERSION,
    targetKubeVirtVersion: KUBEVIRT_VERSION,
    defaultArchitecture: GOARCH,
  };
  mustK([
    'patch',
    'kubevirt',
    'kubevirt',
    '-n',
    KUBEVIRT_NAMESPACE,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
});

after(async () => {
  await fakeNode?.stop();
  await nicguard?.stop();
  await kubevirt?.stop();
  await api.stop();
  if (process.env.NICGUARD_E2E_KEEP) console.log(`e2e work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

describe('seed scenario: vm-fedora on the Kube-OVN network attachnet, carried out by KubeVirt', () => {
  test('hotplugging dyniface1 is accepted, reaches the VMI spec and the launcher pod', async () => {
    await runningVm('vm-fedora');
    const r = k(['apply', '-f', join(ROOT, 'examples', 'new', 'vm-fedora.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-fedora')), ['defaultnetwork', 'dyniface1']);
    // virt-controller patches the running VMI and asks Multus for the network on its pod;
    // the fake virt-handler then reports the interface attached.
    const vmi = await until('dyniface1 in the VMI spec and status', () =>
      vmiWhen(
        'vm-fedora',
        (v) =>
          vmiIfaces(v).some((i) => i.name === 'dyniface1') &&
          (v.status.interfaces ?? []).some((i: Obj) => i.name === 'dyniface1'),
      ),
    );
    assert.deepEqual(podNetworks(vmi), ['attachnet']);
  });

  test('removing dyniface1 becomes state: absent, and KubeVirt unplugs it to the end', async () => {
    const r = k(['apply', '-f', join(ROOT, 'examples', 'old', 'vm-fedora.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Warning: .*unplug-by-removal/);
    const stored = getJson('vm', 'vm-fedora');
    const nic = spec(stored).domain.devices.interfaces.find((i: Obj) => i.name === 'dyniface1');
    assert.equal(nic?.state, 'absent');
    assert.ok(
      spec(stored).networks.some((n: Obj) => n.name === 'dyniface1'),
      'its network is kept for the unplug',
    );
    // virt-controller carries state: absent to the VMI; once virt-handler (the fake node)
    // no longer reports it, virt-controller drops it from the VMI and then from the VM.
    await until('dyniface1 gone from the VMI spec', () =>
      vmiWhen('vm-fedora', (v) => !vmiIfaces(v).some((i) => i.name === 'dyniface1')),
    );
    await until('dyniface1 gone from the VM spec', () =>
      ifaceNames(getJson('vm', 'vm-fedora')).join() === 'defaultnetwork' ? true : undefined,
    );
    assert.ok(!spec(getJson('vm', 'vm-fedora')).networks.some((n: Obj) => n.name === 'dyniface1'));
  });

  test("nicguard refused none of KubeVirt's own writes", () => {
    const writes = kubevirtWrites();
    assert.ok(writes.accepted.length > 0, 'the audit log records KubeVirt writing VMs and VMIs');
    assert.ok(
      writes.accepted.some(
        (e) =>
          e.user.username.endsWith(':kubevirt-controller') &&
          e.objectRef?.resource === 'virtualmachines' &&
          e.objectRef.name === 'vm-fedora' &&
          !e.objectRef.subresource,
      ),
      "virt-controller wrote vm-fedora's spec (dropping the unplugged interface)",
    );
    assert.deepEqual(
      writes.refusedByNicguard.map((e) => `${e.user.username} ${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`),
      [],
    );
  });
});

describe('without the matchConditions exemption, nicguard exempts KubeVirt itself', () => {
  test('the seed hotplug and unplug run to the end, every KubeVirt write judged and allowed', async () => {
    const before = nicguardDecisions().length;
    mustK(
      ['apply', '-f', '-'],
      nicguardWebhooks((cfg) => cfg.webhooks.forEach((h: Obj) => delete h.matchConditions)),
    );
    try {
      const vm = await runningVm('vm-judged');
      const hotplug = withBridgeNic(vm, 'dyniface1', 'attachnet');
      assert.equal(apply(hotplug).status, 0);
      await until('dyniface1 attached', () =>
        vmiWhen('vm-judged', (v) => (v.status.interfaces ?? []).some((i: Obj) => i.name === 'dyniface1')),
      );
      const r = apply(vm);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /unplug-by-removal/);
      await until('dyniface1 gone from VMI and VM', () =>
        vmiWhen('vm-judged', (v) => !vmiIfaces(v).some((i) => i.name === 'dyniface1')) &&
        ifaceNames(getJson('vm', 'vm-judged')).join() === 'defaultnetwork'
          ? true
          : undefined,
      );
      const decisions = nicguardDecisions().slice(before);
      const onVmi = decisions.filter((d) => d.kind === 'VirtualMachineInstance' && d.object === 'default/vm-judged');
      assert.ok(
        onVmi.length >= 3,
        `nicguard judged KubeVirt's VMI writes (create, hotplug, unplug, status): ${onVmi.length}`,
      );
      assert.deepEqual(
        onVmi.filter((d) => d.decision === 'denied'),
        [],
      );
      // nicguard's own decision log: KubeVirt's accounts wrote, nicguard judged, and refused nothing.
      const byKubeVirt = decisions.filter((d) => d.user.startsWith('system:serviceaccount:kubevirt:'));
      assert.ok(byKubeVirt.length > 0, "nicguard's log names KubeVirt's accounts among the writers it judged");
      assert.deepEqual(
        byKubeVirt.filter((d) => d.decision === 'denied'),
        [],
      );
      // The VM writes of this scenario that nicguard judged and KubeVirt made: none refused.
      assert.deepEqual(kubevirtWrites().refusedByNicguard, []);
    } finally {
      mustK(['apply', '-f', '-'], nicguardWebhooks());
    }
  });
});

describe('KubeVirt owns VMI status', () => {
  test("an admin's VMI status write is accepted and undone by virt-api's mutator", async () => {
    await runningVm('vm-status');
    // Why the fake node writes VMI status with kubevirt-handler's token: virt-api's VMI
    // mutator puts back the old status for anyone who is not one of KubeVirt's accounts.
    const r = k(['patch', 'vmi', 'vm-status', '-n', 'default', '--type=merge', '-p', '{"status":{"phase":"Failed"}}']);
    assert.equal(r.status, 0, r.stderr);
    await sleep(500);
    assert.equal(getJson('vmi', 'vm-status').status.phase, 'Running');
  });
});

describe('a hotplug onto a NAD that does not exist', () => {
  test('without nicguard, virt-api accepts it and the VM cannot start again once its pod goes', async () => {
    const vm = await runningVm('vm-ghost', undefined, UNGUARDED);
    const r = apply(withBridgeNic(vm, 'ghost', 'no-such-net'));
    assert.equal(r.status, 0, `virt-api alone accepts the hotplug: ${r.stderr}`);
    const vmi = await until('ghost in the VMI spec and pod request', () =>
      vmiWhen(
        'vm-ghost',
        (v) => vmiIfaces(v).some((i) => i.name === 'ghost') && podNetworks(v).includes('no-such-net'),
        UNGUARDED,
      ),
    );
    // The pod goes (node drain, eviction, crash): runStrategy Always makes a new VMI,
    // whose launcher pod virt-controller cannot even render.
    const pod = launcherPod(vmi)!;
    mustK(['delete', 'pod', pod.metadata.name, '-n', UNGUARDED, '--grace-period=0', '--force', '--wait=false']);
    const failed = await until('the new VMI failing to get a pod', () => {
      const now = tryGetJson('vmi', 'vm-ghost', UNGUARDED);
      if (!now || now.metadata.uid === vmi.metadata.uid || launcherPod(now)) return undefined;
      const messages = ((now.status?.conditions ?? []) as Obj[]).map((c) => `${c.reason}: ${c.message}`);
      return messages.some((m) => /failed to locate network attachment definition/.test(m)) ? now : undefined;
    });
    assert.notEqual(failed.status?.phase, 'Running');
    const synchronized = (failed.status.conditions as Obj[]).find((c) => c.type === 'Synchronized');
    assert.equal(synchronized?.status, 'False');
    const missing = /failed to locate network attachment definition no-nicguard\/no-such-net/;
    assert.match(synchronized?.message ?? '', missing);
  });

  test('with nicguard, it is refused up front and the running VM is untouched', async () => {
    const vm = await runningVm('vm-nonad');
    const before = getJson('vmi', 'vm-nonad');
    const r = apply(withBridgeNic(vm, 'ghost', 'no-such-net'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /denied the request/);
    assert.match(r.stderr, /nad-exists/);
    assert.match(r.stderr, /no-such-net/);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-nonad')), ['defaultnetwork']);
    await sleep(1000);
    const after = getJson('vmi', 'vm-nonad');
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.deepEqual(
      vmiIfaces(after).map((i) => i.name),
      ['defaultnetwork'],
    );
  });
});

describe('refused with nicguard message, nothing stored, KubeVirt sees nothing', () => {
  test(`the KubeVirt CR reports ${KUBEVIRT_VERSION} (written as virt-operator would)`, () => {
    const cr = getJson('kubevirt', 'kubevirt', KUBEVIRT_NAMESPACE);
    assert.equal(cr.status.observedKubeVirtVersion, KUBEVIRT_VERSION);
    assert.equal(cr.status.phase, 'Deployed');
  });

  test('a masquerade hotplug', async () => {
    const vm = await runningVm('vm-masq');
    const bad = example('bad/masquerade-hotplug.yaml');
    bad.metadata.name = 'vm-masq';
    const before = nicguardDecisions().length;
    const r = apply(bad);
    assert.notEqual(r.status, 0);
    // virt-api refuses this one itself (masquerade on a Multus network), and so does
    // nicguard: validating webhooks are called in parallel and the API server shows the
    // refusal that comes first, so either message may reach the user.
    assert.match(r.stderr, /Masquerade interface only implemented with pod network|hotplug-binding/);
    await until('nicguard logging its hotplug-binding refusal', () =>
      nicguardDecisions()
        .slice(before)
        .some((d) => d.object === 'default/vm-masq' && d.decision === 'denied' && d.rules.includes('hotplug-binding'))
        ? true
        : undefined,
    );
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-masq')), ifaceNames(vm));
    assert.deepEqual(
      vmiIfaces(getJson('vmi', 'vm-masq')).map((i) => i.name),
      ['defaultnetwork'],
    );
  });

  test('a hotplug past the four-slot budget', async () => {
    // One interface at boot and 1024M: KubeVirt v1.8.4 (v3) reserves 4 - 1 = 3 placeholders,
    // already at its memory-scaled max(8 - devices, 3) = 3, so a fourth hotplug has no port.
    const vm = await runningVm('vm-slots');
    let next = vm;
    for (const nic of ['hp1', 'hp2', 'hp3', 'hp4']) next = withBridgeNic(next, nic, 'new-fancy-net');
    const r = apply(next);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /hotplug-slots/);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-slots')), ['defaultnetwork']);
    // Three fit, and KubeVirt hotplugs all three.
    let three = vm;
    for (const nic of ['hp1', 'hp2', 'hp3']) three = withBridgeNic(three, nic, 'new-fancy-net');
    const ok = apply(three);
    assert.equal(ok.status, 0, ok.stderr);
    await until('three hotplugs in the VMI', () =>
      vmiWhen('vm-slots', (v) => vmiIfaces(v).length === 4 && (v.status.interfaces ?? []).length === 4),
    );
  });

  test('an SR-IOV unplug', async () => {
    const withSriov = (vm: Obj) => {
      spec(vm).domain.devices.interfaces.push({ name: 'fastnet', sriov: {} });
      spec(vm).networks.push({ name: 'fastnet', multus: { networkName: 'sriov-net' } });
    };
    await runningVm('vm-sriov', withSriov);
    const removed = example('old/vm-fedora.yaml');
    removed.metadata.name = 'vm-sriov';
    const r = apply(removed);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /sriov-unplug/);
    assert.deepEqual(ifaceNames(getJson('vm', 'vm-sriov')), ['defaultnetwork', 'fastnet']);
    assert.deepEqual(
      vmiIfaces(getJson('vmi', 'vm-sriov')).map((i) => i.name),
      ['defaultnetwork', 'fastnet'],
    );
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

  test('kubectl apply --dry-run=server of a bad change is refused and stores nothing', async () => {
    const vm = await runningVm('vm-dryrun');
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

describe("nicguard's mutation and virt-api's mutating webhook on one request", () => {
  /** A running VM with dyniface1 hotplugged and attached. */
  async function withDyniface(name: string): Promise<Obj> {
    const vm = await runningVm(name);
    assert.equal(apply(withBridgeNic(vm, 'dyniface1', 'attachnet')).status, 0);
    await until(`dyniface1 attached to ${name}`, () =>
      vmiWhen(name, (v) => (v.status.interfaces ?? []).some((i: Obj) => i.name === 'dyniface1')),
    );
    return vm;
  }

  /** The VM as a user keeps it in a file: no defaults, dyniface1 removed. */
  function plainWithout(name: string): Obj {
    const vm = example('old/vm-fedora.yaml');
    vm.metadata.name = name;
    return vm;
  }

  test('kubectl replace: the stored VM carries both patches, and the API server called both', async () => {
    await withDyniface('vm-both');
    const r = k(['replace', '-f', '-', '-o', 'json'], stringify(plainWithout('vm-both')));
    assert.equal(r.status, 0, r.stderr);
    const stored = getJson('vm', 'vm-both');
    // nicguard: the removed interface comes back as state: absent.
    assert.equal(spec(stored).domain.devices.interfaces.find((i: Obj) => i.name === 'dyniface1')?.state, 'absent');
    // virt-api's VM mutator: defaults the request did not carry (pkg/virt-api/webhooks/
    // mutating-webhook/mutators/vm-mutator.go, SetVirtualMachineDefaults).
    assert.equal(spec(stored).domain.machine?.type, 'q35');
    assert.equal(spec(stored).architecture, 'amd64');
    const update = auditEvents().find(
      (e) =>
        e.verb === 'update' &&
        e.objectRef?.name === 'vm-both' &&
        e.objectRef.resource === 'virtualmachines' &&
        !e.objectRef.subresource &&
        e.user.username === 'admin',
    );
    // The API server's audit annotations, one per mutating webhook call, in call order.
    const calls = Object.entries(update?.annotations ?? {})
      .filter(([key]) => key.startsWith('mutation.webhook.admission.k8s.io/'))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, value]) => ({
        round: key.split('/')[1],
        ...(JSON.parse(value) as { configuration: string; mutated: boolean }),
      }));
    assert.deepEqual(
      calls.map((c) => `${c.round} ${c.configuration} ${c.mutated}`),
      // nicguard first (configurations run in name order), then virt-api's mutator, which
      // replaces the whole /spec with defaults applied to the object nicguard patched: the
      // absent interface survives it, so neither webhook needs a second round
      // (reinvocationPolicy: Never on both).
      ['round_0_index_0 nicguard true', 'round_0_index_1 virt-api-mutator true'],
    );
    await until('KubeVirt unplugs dyniface1', () =>
      ifaceNames(getJson('vm', 'vm-both')).join() === 'defaultnetwork' ? true : undefined,
    );
  });

  test('--dry-run=server through both webhooks shows both patches and stores nothing', async () => {
    await withDyniface('vm-both-dry');
    const storedBefore = getJson('vm', 'vm-both-dry');
    const r = k(['replace', '--dry-run=server', '-f', '-', '-o', 'json'], stringify(plainWithout('vm-both-dry')));
    assert.equal(r.status, 0, r.stderr);
    const answer = JSON.parse(r.stdout) as Obj;
    assert.equal(spec(answer).domain.devices.interfaces.find((i: Obj) => i.name === 'dyniface1')?.state, 'absent');
    assert.equal(spec(answer).domain.machine?.type, 'q35');
    await sleep(1000);
    const storedAfter = getJson('vm', 'vm-both-dry');
    assert.equal(storedAfter.metadata.resourceVersion, storedBefore.metadata.resourceVersion);
    assert.equal(
      spec(storedAfter).domain.devices.interfaces.find((i: Obj) => i.name === 'dyniface1')?.state,
      undefined,
    );
    assert.deepEqual(
      vmiIfaces(getJson('vmi', 'vm-both-dry')).map((i) => i.name),
      ['defaultnetwork', 'dyniface1'],
    );
  });
});

describe('the informer cache', () => {
  test('a NAD created and then used by a hotplug within a second is accepted', async () => {
    const vm = await runningVm('vm-fresh');
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
    const vm = await runningVm('vm-restart');
    await api.stop();
    await sleep(1000);
    await api.start();
    assert.equal(apply(bridgeNad('after-restart-net')).status, 0);
    const hotplug = withBridgeNic(vm, 'late', 'after-restart-net');
    // The informer resumes its watch with backoff; the decision must turn within that time.
    await waitFor(
      'nicguard to see after-restart-net',
      () => (apply(hotplug, ['--dry-run=server']).status === 0 ? true : undefined),
      30_000,
      nicguard.log,
    );
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
    const decisions = nicguardDecisions();
    assert.ok(decisions.some((d) => d.decision === 'denied' && JSON.stringify(d).includes('vm-masq')));
  });

  test("at the end, still no write of KubeVirt's refused by nicguard", () => {
    assert.deepEqual(kubevirtWrites().refusedByNicguard, []);
  });
});

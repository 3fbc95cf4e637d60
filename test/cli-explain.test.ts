// `nicguard explain`, run as users run it: the built CLI in a child process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { EXAMPLES, example, vmSpec } from './support.js';
import { exampleText, hasStackTrace, nicguard, gitRepo, tempDir, writeTree, type CliRun } from './cli-run.js';

const NEW_VM = 'examples/new/vm-fedora.yaml';
const SEED = ['--objects', 'examples/cluster'];

function json(run: CliRun): any {
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`not JSON (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
}

/** The table row of an interface, split into its columns. */
function row(stdout: string, iface: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${iface} `));
  assert.ok(line, `no row for ${iface} in:\n${stdout}`);
  return line.split(/ {2,}/);
}

/** A VM with one NIC of each kind the table distinguishes. */
function variedVm(): string {
  const vm = example('new/vm-fedora.yaml');
  vm.metadata!.name = 'varied';
  const spec = vmSpec(vm);
  spec.domain.devices.interfaces.push(
    { name: 'fast', sriov: {} },
    { name: 'legacy', bridge: {}, model: 'e1000e', state: 'absent' },
    { name: 'lost', bridge: {} },
    { name: 'storage', bridge: {} },
    { name: 'orphan', bridge: {} },
  );
  spec.networks.push(
    { name: 'fast', multus: { networkName: 'sriov-net' } },
    { name: 'legacy', multus: { networkName: 'new-fancy-net' } },
    { name: 'lost', multus: { networkName: 'no-such-net' } },
    { name: 'storage', multus: { networkName: 'shared-networks/storage-net' } },
    { name: 'orphan', multus: { networkName: 'orphan-net' } },
  );
  return stringify(vm);
}

const ORPHAN_NAD =
  `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: orphan-net, namespace: default}
spec:
  config: '{"cniVersion": "0.3.0", "type": "kube-ovn", "server_socket": "/run/openvswitch/kube-ovn-daemon.sock", ` +
  `"provider": "orphan-net.default.ovn"}'
`;

describe('nicguard explain', { concurrency: 2 }, () => {
  test('the table shows each interface with its NAD, NAD type, Kube-OVN provider and Subnet', async () => {
    const run = await nicguard(['explain', '-f', NEW_VM, ...SEED]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^VirtualMachine default\/vm-fedora {2}\(examples\/new\/vm-fedora\.yaml:2, running\)$/m);
    const header = run.stdout.split('\n').find((l) => l.startsWith('INTERFACE'))!;
    assert.deepEqual(header.split(/ {2,}/), [
      'INTERFACE',
      'BINDING',
      'MODEL',
      'STATE',
      'NETWORK',
      'NAD',
      'NAD TYPE',
      'OVN PROVIDER',
      'SUBNET',
    ]);
    assert.deepEqual(row(run.stdout, 'defaultnetwork'), [
      'defaultnetwork',
      'masquerade',
      '-',
      '-',
      'pod',
      '-',
      '-',
      '-',
      '-',
    ]);
    assert.deepEqual(row(run.stdout, 'dyniface1'), [
      'dyniface1',
      'bridge',
      '-',
      '-',
      'multus',
      'default/attachnet',
      'kube-ovn',
      'attachnet.default.ovn',
      'attachnet',
    ]);
    assert.match(run.stdout, /^Checks: no findings$/m);
  });

  test(
    'the budget follows KubeVirt: base 2 of T=4 leaves 2 ports; ' + 'with --old the base is the running spec',
    async () => {
      const [alone, against] = await Promise.all([
        nicguard(['explain', '-f', NEW_VM, ...SEED, '-o', 'json']),
        nicguard(['explain', '-f', NEW_VM, '--old', 'examples/old/vm-fedora.yaml', ...SEED]),
      ]);
      const b = json(alone).budget;
      assert.equal(b.model, 'v1');
      assert.equal(b.base, 2);
      assert.equal(b.reserved, 2);
      assert.equal(b.inUse, 0);
      assert.equal(b.free, 2);
      // interfaces, the virtio disk, rng, balloon and controllers, plus the 2 reserved ports.
      assert.ok(b.pciUsed > 2 + 2 && b.pciUsed <= b.pciLimit, JSON.stringify(b));

      assert.equal(against.status, 0, against.stderr);
      assert.match(against.stdout, /^ {2}base interfaces +1 /m);
      assert.match(against.stdout, /^ {2}reserved ports +3 /m);
      assert.match(against.stdout, /^ {2}asked for +1 +hotplugged by this change \(dyniface1\): fits, 2 ports left$/m);
      assert.equal(row(against.stdout, 'dyniface1').at(-1), 'added');
      assert.match(against.stdout, /^ {2}PCI bus slots +\d+ of \d+ /m);
    },
  );

  test(
    'missing NADs, SR-IOV and other-namespace NADs, absent NICs and unbound Kube-OVN providers ' + 'are shown as such',
    async () => {
      const dir = writeTree(tempDir(), { 'vm.yaml': `${variedVm()}---\n${ORPHAN_NAD}` });
      const [run, machine] = await Promise.all([
        nicguard(['explain', '-f', join(dir, 'vm.yaml'), ...SEED]),
        nicguard(['explain', '-f', join(dir, 'vm.yaml'), ...SEED, '-o', 'json']),
      ]);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(row(run.stdout, 'fast').slice(1, 7), [
        'sriov',
        '-',
        '-',
        'multus',
        'default/sriov-net',
        'sriov',
      ]);
      assert.deepEqual(row(run.stdout, 'legacy').slice(1, 4), ['bridge', 'e1000e', 'absent']);
      assert.equal(row(run.stdout, 'lost')[5], 'default/no-such-net (not found)');
      assert.deepEqual(row(run.stdout, 'storage').slice(5, 7), ['shared-networks/storage-net', 'bridge']);
      assert.deepEqual(row(run.stdout, 'orphan').slice(7), ['orphan-net.default.ovn', '(none)']);
      const report = json(machine);
      assert.equal(report.kind, 'Explanation');
      const lost = report.interfaces.find((i: any) => i.name === 'lost');
      assert.equal(lost.nadFound, false);
      assert.deepEqual(report.interfaces.find((i: any) => i.name === 'orphan').subnets, []);
      assert.ok(
        report.findings.some((f: any) => f.rule === 'nad-exists'),
        'the checks validate would make are included',
      );
    },
  );

  test(
    'a VM is found by name in the objects folder; ' + 'the VM wins over its VMI, which is the base of the budget',
    async () => {
      const vm = exampleText('new/vm-fedora.yaml');
      const vmi = stringify({
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name: 'vm-fedora', namespace: 'default' },
        spec: (example('old/vm-fedora.yaml').spec as any).template.spec,
      });
      const dir = writeTree(tempDir(), {
        'cluster/networks.yaml': exampleText('cluster/networks.yaml'),
        'cluster/subnets.yaml': exampleText('cluster/subnets.yaml'),
        'vms/vm.yaml': vm,
        'vms/vmi.yaml': vmi,
        'vms/other.yaml': vm.replace('name: vm-fedora', 'name: other'),
      });
      const [byName, ambiguous, missing] = await Promise.all([
        nicguard(['explain', 'default/vm-fedora', '--objects', dir, '-o', 'json']),
        nicguard(['explain', '--objects', dir]),
        nicguard(['explain', 'nope', '--objects', dir]),
      ]);
      assert.equal(byName.status, 0, byName.stderr);
      const report = json(byName);
      assert.equal(report.object.kind, 'VirtualMachine');
      assert.equal(report.object.file, join(dir, 'vms/vm.yaml'));
      assert.equal(report.running, true, 'a VMI exists for it');
      assert.deepEqual(
        report.interfaces.map((i: any) => [i.name, i.subnets?.[0]]),
        [
          ['defaultnetwork', undefined],
          ['dyniface1', 'attachnet'],
        ],
      );
      // The VMI runs the old spec: dyniface1 is a hotplug KubeVirt has yet to make.
      assert.equal(report.baseFrom, 'vmi');
      assert.equal(report.budget.base, 1);
      assert.equal(report.budget.reserved, 3);
      assert.deepEqual(report.budget.askedInterfaces, ['dyniface1']);
      assert.equal(report.interfaces[1].change, 'added');

      assert.equal(ambiguous.status, 2);
      assert.match(
        ambiguous.stderr,
        /several match.*default\/other.*default\/vm-fedora|several match.*default\/vm-fedora.*default\/other/,
      );
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /no VirtualMachine or VirtualMachineInstance nope found; found .*default\/other/);
      for (const r of [ambiguous, missing]) assert.ok(!hasStackTrace(r.stderr));
    },
  );

  test('usage and input errors exit 2 with a message, never a stack trace', async () => {
    const dir = writeTree(tempDir(), { 'broken.yaml': 'kind: [\n', 'cfg.yaml': 'hotplugSlotTotal: many\n' });
    const [none, broken, badConfig, notInOld] = await Promise.all([
      nicguard(['explain']),
      nicguard(['explain', '-f', join(dir, 'broken.yaml')]),
      nicguard(['explain', '-f', NEW_VM, '--config', join(dir, 'cfg.yaml')]),
      nicguard(['explain', '-f', NEW_VM, '--old', join(EXAMPLES, 'bad/wrong-ovn-provider.yaml')]),
    ]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /give the VM with -f FILE/);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /broken\.yaml:\d+:\d+: not valid YAML/);
    assert.equal(badConfig.status, 2);
    assert.match(badConfig.stderr, /hotplugSlotTotal/);
    assert.equal(notInOld.status, 2);
    assert.match(notInOld.stderr, /VirtualMachine default\/vm-fedora is not in .*wrong-ovn-provider\.yaml/);
    for (const r of [none, broken, badConfig, notInOld]) assert.ok(!hasStackTrace(r.stderr), r.stderr);
  });

  test('two -f is a one-line usage error, not the last one silently', async () => {
    const run = await nicguard(['explain', '-f', NEW_VM, '-f', 'examples/old/vm-fedora.yaml', ...SEED]);
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    const [first, pointer, ...rest] = run.stderr.trimEnd().split('\n');
    assert.equal(
      first,
      `nicguard explain: explain shows one VM: give one -f (got 2: ${NEW_VM}, examples/old/vm-fedora.yaml), ` +
        'or check several with nicguard validate',
    );
    assert.match(pointer, /--help/);
    assert.deepEqual(rest, []);
  });

  test(
    '--base takes the previous version from git, as --old does; ' + 'a VM new at the revision is said to be new',
    async () => {
      const { repo, git } = gitRepo();
      writeTree(repo, { 'vm.yaml': exampleText('old/vm-fedora.yaml') });
      git('add', '.');
      git('commit', '-q', '-m', 'running version');
      writeTree(repo, {
        'vm.yaml': exampleText('new/vm-fedora.yaml'),
        'vm3.yaml': exampleText('new/vm-fedora.yaml').replace('name: vm-fedora', 'name: vm3'),
      });
      const objects = ['--objects', join(EXAMPLES, 'cluster')];
      const [base, old, fresh, both, stdin] = await Promise.all([
        nicguard(['explain', '-f', 'vm.yaml', '--base', 'HEAD', ...objects], { cwd: repo }),
        nicguard(['explain', '-f', 'vm.yaml', '--old', join(EXAMPLES, 'old/vm-fedora.yaml'), ...objects], {
          cwd: repo,
        }),
        nicguard(['explain', '-f', 'vm3.yaml', '--base', 'HEAD', ...objects, '-o', 'json'], { cwd: repo }),
        nicguard(['explain', '-f', 'vm.yaml', '--base', 'HEAD', '--old', 'vm.yaml'], { cwd: repo }),
        nicguard(['explain', '-f', '-', '--base', 'HEAD'], { cwd: repo, input: exampleText('new/vm-fedora.yaml') }),
      ]);
      assert.equal(base.status, 0, base.stderr);
      assert.match(
        base.stdout,
        /^ {2}base interfaces +1 +in the domain when it was last defined \(boot or last migration\), from HEAD$/m,
      );
      // The same budget and table as with the same version given as --old.
      const budget = (text: string) =>
        text.split('\n').filter((l) => /^ {2}(reserved|ports|asked|PCI)/.test(l) || l.startsWith('dyniface1'));
      assert.deepEqual(budget(base.stdout), budget(old.stdout));
      assert.equal(row(base.stdout, 'dyniface1').at(-1), 'added');

      assert.equal(fresh.status, 0, fresh.stderr);
      assert.equal(json(fresh).baseFrom, 'self');
      assert.match(fresh.stderr, /VirtualMachine default\/vm3 is not at HEAD: explained as a new VM/);
      assert.equal(both.status, 2);
      assert.match(both.stderr, /--old or --base, not both/);
      assert.equal(stdin.status, 2);
      assert.match(stdin.stderr, /--base takes the previous version of the -f file from git/);
    },
  );
});

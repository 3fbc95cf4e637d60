// `nicguard validate`, run as users run it: the built CLI in a child process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { judgesKind } from '../src/engine/evaluate.js';
import { RULES, RULE_IDS } from '../src/engine/rules/index.js';
import { ROOT, update } from './support.js';
import { admissionReview } from './server-support.js';
import {
  childrenNamed,
  exampleText,
  hasStackTrace,
  nicguard,
  parseXml,
  gitRepo,
  tempDir,
  writeTree,
  type CliRun,
} from './cli-run.js';

const MASQUERADE = 'examples/bad/masquerade-hotplug.yaml';
const WRONG_PROVIDER = 'examples/bad/wrong-ovn-provider.yaml';
const SEED = ['--objects', 'examples/cluster'];

/** A running VM with a secondary bridge NIC, and the same VM with that NIC deleted from the spec. */
const VM_WITH_BRIDGE = `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm2, namespace: default}
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        devices:
          interfaces:
          - {name: default, masquerade: {}}
          - {name: br1, bridge: {}}
      networks:
      - {name: default, pod: {}}
      - {name: br1, multus: {networkName: new-fancy-net}}
`;
const VM_BRIDGE_REMOVED = VM_WITH_BRIDGE.replace('          - {name: br1, bridge: {}}\n', '').replace(
  '      - {name: br1, multus: {networkName: new-fancy-net}}\n',
  '',
);

function json(run: CliRun): any {
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`not JSON (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Each test starts the CLI a few times; two at a time keeps a small machine busy without thrashing.
describe('nicguard validate', { concurrency: 2 }, () => {
  test("the seeds' bridge hotplug on the Kube-OVN network passes: exit 0 and a summary line", async () => {
    const args = ['validate', '-f', 'examples/new', '--old', 'examples/old', ...SEED];
    const [text, machine] = await Promise.all([nicguard(args), nicguard([...args, '-o', 'json'])]);
    assert.equal(text.status, 0, text.stdout + text.stderr);
    assert.equal(text.stdout, '1 object checked, 0 denied, 0 warnings, 0 mutated\n');
    const report = json(machine);
    assert.equal(report.results[0].operation, 'UPDATE');
    assert.equal(report.results[0].oldSource, 'examples/old/vm-fedora.yaml');
    assert.deepEqual(report.results[0].findings, []);
  });

  test(
    'a masquerade NIC hotplugged into a running VM is denied by hotplug-binding: ' + 'exit 1, grouped text output',
    async () => {
      const [run, asCreate] = await Promise.all([
        nicguard(['validate', '-f', MASQUERADE, '--old', 'examples/old', ...SEED]),
        nicguard(['validate', '-f', MASQUERADE, ...SEED, '-o', 'json']),
      ]);
      assert.equal(run.status, 1, run.stdout + run.stderr);
      const text = exampleText('bad/masquerade-hotplug.yaml');
      const objectLine = text.split('\n').findIndex((l) => l.startsWith('apiVersion')) + 1;
      assert.match(
        run.stdout,
        new RegExp(
          `^${escapeRe(MASQUERADE)}:${objectLine}: VirtualMachine default/vm-fedora ` +
            `\\(UPDATE, old: examples/old/vm-fedora.yaml\\)$`,
          'm',
        ),
      );
      const finding = /^ {2}DENY {2}hotplug-binding {2}(\S+) \(line (\d+)\)\n {8}(.+)$/m.exec(run.stdout);
      assert.ok(finding, run.stdout);
      assert.match(finding[1], /^spec\.template\.spec\.domain\.devices\.interfaces\[1\]/);
      assert.match(
        text.split('\n')[Number(finding[2]) - 1],
        /masquerade|dyniface1/,
        'the line points into the offending interface',
      );
      assert.match(finding[3], /dyniface1/);
      assert.match(run.stdout, /^1 object checked, 1 denied, \d+ warnings?, 0 mutated$/m);

      // Without --old the same file is a CREATE, and a new VM may use any binding.
      const report = json(asCreate);
      assert.equal(report.results[0].operation, 'CREATE');
      assert.ok(!report.results[0].findings.some((f: any) => f.rule === 'hotplug-binding'));
    },
  );

  test('a Kube-OVN NAD whose provider lacks .ovn is denied by ovn-provider', async () => {
    const run = await nicguard(['validate', '-f', WRONG_PROVIDER, ...SEED, '-o', 'json']);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    const finding = json(run).results[0].findings.find((f: any) => f.rule === 'ovn-provider');
    assert.ok(finding, run.stdout);
    assert.equal(finding.action, 'deny');
    assert.match(finding.message, /attachnet2\.default\.ovn/);
  });

  test('folders are read recursively and several inputs make one report', async () => {
    const run = await nicguard([
      'validate',
      '-f',
      'examples/new',
      '-f',
      'examples/bad',
      '--old',
      'examples/old',
      ...SEED,
      '-o',
      'json',
    ]);
    const report = json(run);
    assert.deepEqual(
      report.results.map((r: any) => r.file),
      ['examples/new/vm-fedora.yaml', MASQUERADE, WRONG_PROVIDER],
    );
    assert.equal(report.summary.objects, 3);
    assert.equal(report.summary.denied, 2);
    assert.equal(run.status, 1);
  });

  test('a multi-document file is checked document by document, each finding at its own line', async () => {
    const nads = exampleText('cluster/networks.yaml');
    const text = `${nads}\n---\n${exampleText('bad/masquerade-hotplug.yaml')}`;
    const dir = writeTree(tempDir(), { 'all.yaml': text });
    const report = json(
      await nicguard(['validate', '-f', join(dir, 'all.yaml'), '--old', 'examples/old', '-o', 'json']),
    );
    assert.equal(report.summary.objects, 5);
    const vm = report.results.find((r: any) => r.kind === 'VirtualMachine');
    assert.equal(vm.document, 4);
    const lines = text.split('\n');
    const vmStart = lines.findIndex((l, i) => i >= nads.split('\n').length && l.startsWith('apiVersion')) + 1;
    assert.equal(vm.line, vmStart);
    const finding = vm.findings.find((f: any) => f.rule === 'hotplug-binding');
    assert.ok(finding.line > vmStart);
    assert.match(lines[finding.line - 1], /masquerade|dyniface1/);
  });

  test('an AdmissionReview is evaluated as its request says: UPDATE with its old object and its user', async () => {
    const review = (username: string) =>
      admissionReview(
        update(parse(exampleText('old/vm-fedora.yaml')), parse(exampleText('bad/masquerade-hotplug.yaml')), {
          uid: 'abc',
          userInfo: { username },
        }),
      );
    const dir = writeTree(tempDir(), {
      'alice.json': JSON.stringify(review('alice')),
      'controller.json': JSON.stringify(review('system:serviceaccount:kubevirt:kubevirt-controller')),
    });
    const run = await nicguard(['validate', '-f', dir, ...SEED, '-o', 'json']);
    const [alice, controller] = json(run).results;
    assert.equal(alice.admissionReview, true);
    assert.equal(alice.operation, 'UPDATE');
    assert.ok(alice.findings.some((f: any) => f.rule === 'hotplug-binding' && f.action === 'deny'));
    assert.equal(controller.allowed, true, "KubeVirt's own controller is exempt from the hotplug rules");
    assert.equal(run.status, 1);
  });

  test('stdin (-f -) is read like a file and reported as <stdin>', async () => {
    const [run, machine] = await Promise.all([
      nicguard(['validate', '-f', '-', '--old', 'examples/old'], { input: exampleText('bad/masquerade-hotplug.yaml') }),
      nicguard(['validate', '-f', '-', '-o', 'json'], { input: exampleText('new/vm-fedora.yaml') }),
    ]);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^<stdin>:\d+: VirtualMachine default\/vm-fedora \(UPDATE/m);
    assert.equal(json(machine).results[0].file, '-');
  });

  test('JSON output carries the findings and the patch the mutating webhook would apply', async () => {
    const dir = writeTree(tempDir(), { 'old/vm2.yaml': VM_WITH_BRIDGE, 'new/vm2.yaml': VM_BRIDGE_REMOVED });
    const args = ['validate', '-f', join(dir, 'new'), '--old', join(dir, 'old'), ...SEED];
    const [run, text] = await Promise.all([nicguard([...args, '-o', 'json']), nicguard(args)]);
    assert.equal(run.status, 0, run.stderr);
    const report = json(run);
    assert.equal(report.apiVersion, 'nicguard.io/v1alpha1');
    assert.equal(report.kind, 'ValidationReport');
    assert.deepEqual(Object.keys(report.summary).sort(), [
      'denied',
      'errors',
      'mutated',
      'objects',
      'skipped',
      'warnings',
    ]);
    assert.equal(report.summary.mutated, 1);
    const [vm] = report.results;
    assert.deepEqual(Object.keys(vm).sort(), [
      'admissionReview',
      'allowed',
      'apiVersion',
      'document',
      'file',
      'findings',
      'kind',
      'line',
      'name',
      'namespace',
      'oldSource',
      'operation',
      'patch',
    ]);
    assert.deepEqual(Object.keys(report).sort(), [
      'apiVersion',
      'errors',
      'excludedFiles',
      'kind',
      'old',
      'results',
      'skippedFiles',
      'summary',
    ]);
    const warning = vm.findings.find((f: any) => f.rule === 'unplug-by-removal');
    assert.equal(warning.action, 'warn');
    assert.equal(warning.object, 'VirtualMachine default/vm2');
    const added = vm.patch.find((p: any) => p.op === 'add' && p.value?.name === 'br1' && p.value?.state === 'absent');
    assert.ok(added, JSON.stringify(vm.patch));
    assert.match(added.path, /^\/spec\/template\/spec\/domain\/devices\/interfaces\/\d+$/);
    assert.ok(vm.patch.some((p: any) => p.path.startsWith('/spec/template/spec/networks/') && p.value?.name === 'br1'));

    // The text output says what the patch does, in words: the raw operations are in the JSON.
    assert.match(text.stdout, /MUTATE {2}the mutating webhook would change the object/);
    assert.match(
      text.stdout,
      new RegExp(
        /^ {8}interface "br1" kept with state: absent at spec\.template\.spec\.domain\.devices\.interfaces\[1\] /
          .source + /\(KubeVirt unplugs it, then removes it\)$/.source,
        'm',
      ),
    );
    assert.match(text.stdout, /^ {8}network "br1" kept at spec\.template\.spec\.networks\[1\]/m);
    assert.doesNotMatch(text.stdout, /"op"|\/spec\/template/);
    assert.match(text.stdout, /1 object checked, 0 denied, 1 warning, 1 mutated/);
  });

  test(
    'JUnit output is well-formed XML: a testcase per object and rule, ' +
      'failures count failed cases, an error per broken file',
    async () => {
      const dir = writeTree(tempDir(), {
        'a&b <odd> "name".yaml': exampleText('bad/masquerade-hotplug.yaml'),
        'ok.yaml': exampleText('cluster/networks.yaml'),
        'broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nkind: Secret\n',
      });
      const run = await nicguard(['validate', '-f', dir, '--old', 'examples/old', ...SEED, '-o', 'junit']);
      assert.equal(run.status, 2, run.stderr);
      assert.ok(run.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
      const root = parseXml(run.stdout);
      assert.equal(root.name, 'testsuites');
      const [suite] = childrenNamed(root, 'testsuite');
      const cases = childrenNamed(suite, 'testcase');
      const vmRules = RULES.filter((r) => judgesKind(r, 'VirtualMachine')).map((r) => r.id);
      const nadRules = RULES.filter((r) => judgesKind(r, 'NetworkAttachmentDefinition')).map((r) => r.id);
      assert.equal(
        cases.length,
        vmRules.length + 4 * nadRules.length + 1,
        'a case per rule for 1 VM and 4 NADs, and 1 broken file',
      );
      assert.equal(suite.attrs.tests, String(cases.length));
      const vmCases = cases.filter((c) => c.attrs.name.startsWith('VirtualMachine default/vm-fedora (UPDATE): '));
      assert.deepEqual(
        vmCases.map((c) => c.attrs.name.split(': ')[1]),
        vmRules,
      );
      const bindingCase = vmCases.find((c) => c.attrs.name.endsWith(': hotplug-binding'))!;
      assert.equal(bindingCase.attrs.classname, join(dir, 'a&b <odd> "name".yaml'), 'attribute escaping round-trips');
      const [failure] = childrenNamed(bindingCase, 'failure');
      assert.equal(failure.attrs.type, 'hotplug-binding');
      assert.match(failure.attrs.message, /"dyniface1"/);
      const failed = cases.filter((c) => childrenNamed(c, 'failure').length > 0);
      assert.ok(failed.length >= 1);
      assert.equal(suite.attrs.failures, String(failed.length), 'failures counts failed test cases');
      assert.ok(
        failed.every((c) => childrenNamed(c, 'failure').length === 1),
        'one failure element per failed case',
      );
      for (const c of cases) assert.match(c.attrs.time, /^\d+\.\d{6}$/, 'every case has a measured time');
      assert.ok(Number(suite.attrs.time) > 0, 'the suite time is the measured run');
      const errorCase = cases.find((c) => childrenNamed(c, 'error').length)!;
      assert.match(errorCase.attrs.classname, /broken\.yaml$/);
      assert.match(
        childrenNamed(errorCase, 'error')[0].text,
        /broken\.yaml:3:1: not valid YAML: Map keys must be unique/,
      );
      assert.equal(suite.attrs.errors, '1');
      assert.match(run.stderr, /broken\.yaml:3:1/);
    },
  );

  test('SARIF output is 2.1.0 with every rule described and results located at file and line', async () => {
    const run = await nicguard([
      'validate',
      '-f',
      MASQUERADE,
      '-f',
      WRONG_PROVIDER,
      '--old',
      'examples/old',
      ...SEED,
      '-o',
      'sarif',
    ]);
    assert.equal(run.status, 1, run.stderr);
    const sarif = json(run);
    assert.equal(sarif.version, '2.1.0');
    assert.match(sarif.$schema, /sarif-2\.1\.0/);
    const [runObj] = sarif.runs;
    assert.equal(runObj.tool.driver.name, 'nicguard');
    assert.deepEqual(
      runObj.tool.driver.rules.map((r: any) => r.id),
      [...RULE_IDS],
    );
    for (const rule of runObj.tool.driver.rules) {
      assert.ok(rule.shortDescription.text.length > 5 && rule.fullDescription.text.length > 20, rule.id);
    }
    const results = runObj.results;
    assert.ok(results.length >= 2);
    for (const r of results) {
      assert.ok(RULE_IDS.includes(r.ruleId));
      assert.equal(runObj.tool.driver.rules[r.ruleIndex].id, r.ruleId);
      assert.ok(['error', 'warning'].includes(r.level));
      assert.ok(r.message.text);
      const loc = r.locations[0].physicalLocation;
      assert.ok(
        !loc.artifactLocation.uri.startsWith('/') && !loc.artifactLocation.uri.includes('://'),
        'relative to the working directory',
      );
      const lines = readFileSync(join(ROOT, loc.artifactLocation.uri), 'utf8').split('\n');
      assert.ok(
        Number.isInteger(loc.region.startLine) && loc.region.startLine >= 1 && loc.region.startLine <= lines.length,
      );
    }
    const binding = results.find((r: any) => r.ruleId === 'hotplug-binding');
    assert.equal(binding.level, 'error');
    assert.equal(binding.locations[0].physicalLocation.artifactLocation.uri, MASQUERADE);
    const line =
      exampleText('bad/masquerade-hotplug.yaml').split('\n')[
        binding.locations[0].physicalLocation.region.startLine - 1
      ];
    assert.match(line, /masquerade|dyniface1/);
    assert.ok(
      results.some(
        (r: any) =>
          r.ruleId === 'ovn-provider' && r.locations[0].physicalLocation.artifactLocation.uri === WRONG_PROVIDER,
      ),
    );
    assert.equal(runObj.invocations[0].executionSuccessful, true);
  });

  test('a broken YAML file among good ones: path and line reported, the others still checked, exit 2', async () => {
    const dir = writeTree(tempDir(), {
      '1-good.yaml': exampleText('new/vm-fedora.yaml'),
      '2-broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n',
      '3-bad.yaml': exampleText('bad/masquerade-hotplug.yaml').replace('name: vm-fedora', 'name: other'),
    });
    const old = writeTree(tempDir(), {
      'other.yaml': exampleText('old/vm-fedora.yaml').replace('name: vm-fedora', 'name: other'),
    });
    const args = ['validate', '-f', dir, '--old', old, ...SEED];
    const [run, machine, missing] = await Promise.all([
      nicguard(args),
      nicguard([...args, '-o', 'json']),
      nicguard(['validate', '-f', 'examples/does-not-exist.yaml', '-f', 'examples/new']),
    ]);
    assert.equal(run.status, 2, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`error: ${escapeRe(join(dir, '2-broken.yaml'))}:5:3: not valid YAML: Map keys must be unique`),
    );
    assert.match(run.stdout, /DENY {2}hotplug-binding/, 'the good files are still checked');
    assert.match(run.stdout, /2 objects checked, 1 denied, \d+ warnings?, 0 mutated, 1 input error/);
    assert.ok(!hasStackTrace(run.stdout + run.stderr));

    assert.equal(machine.status, 2);
    assert.match(machine.stderr, /2-broken\.yaml:5:3: not valid YAML/, 'machine formats still log input errors');
    assert.equal(json(machine).errors[0].line, 5);

    assert.equal(missing.status, 2);
    assert.match(missing.stdout, /examples\/does-not-exist\.yaml: cannot read \(ENOENT\)/);
    assert.match(missing.stdout, /1 object checked/);
  });

  test('--warn-exit-code sets the exit code for warnings when nothing is denied', async () => {
    const dir = writeTree(tempDir(), { 'warn.yaml': 'rules:\n  hotplug-binding: warn\n' });
    const args = ['validate', '-f', MASQUERADE, '--old', 'examples/old', ...SEED];
    const warnConfig = [...args, '--config', join(dir, 'warn.yaml')];
    const [plain, flagged, denied, bad] = await Promise.all([
      nicguard(warnConfig),
      nicguard([...warnConfig, '--warn-exit-code', '3']),
      nicguard([...args, '--warn-exit-code', '3']),
      nicguard([...warnConfig, '--warn-exit-code', 'lots']),
    ]);
    assert.match(plain.stdout, /WARN {2}hotplug-binding/);
    assert.match(plain.stdout, /0 denied/);
    assert.equal(plain.status, 0);
    assert.equal(flagged.status, 3);
    assert.equal(denied.status, 1, 'a denial wins over warnings');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--warn-exit-code/);
  });

  test('a bad config file is exit 2 with the field named, before anything is checked', async () => {
    const dir = writeTree(tempDir(), {
      'typo.yaml': 'rules:\n  hotplug-bindin: deny\n',
      'model.yaml': 'slotModel: v4\n',
      'broken.yaml': 'rules: [\n',
    });
    const [typo, model, broken] = await Promise.all(
      ['typo', 'model', 'broken'].map((name) =>
        nicguard(['validate', '-f', 'examples/new', '--config', join(dir, `${name}.yaml`)]),
      ),
    );
    assert.equal(typo.status, 2);
    assert.match(
      typo.stderr,
      /typo\.yaml:2: rules: unknown field "hotplug-bindin" \(did you mean "hotplug-binding"\?\)/,
    );
    assert.equal(typo.stdout, '');
    assert.equal(model.status, 2);
    assert.match(model.stderr, /model\.yaml:1: slotModel: must be one of auto, v1, v2, v3, legacy-q35, got "v4"/);
    assert.equal(broken.status, 2);
    assert.match(
      broken.stderr,
      /broken\.yaml:2:1: not valid YAML: .+ must be sufficiently indented and end with a \] at line 2, column 1:\n/,
    );
    for (const r of [typo, model, broken]) assert.ok(!hasStackTrace(r.stderr), r.stderr);
  });

  test('usage errors exit 2: no input, an unknown output format', async () => {
    const [none, format] = await Promise.all([
      nicguard(['validate']),
      nicguard(['validate', '-f', 'examples/new', '-o', 'xml']),
    ]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /nothing to check/);
    assert.equal(format.status, 2);
    assert.match(format.stderr, /Allowed choices are text, json, junit, sarif/);
  });

  test('--namespace is the namespace of objects that name none, for matching old versions too', async () => {
    const dir = writeTree(tempDir(), {
      'new.yaml': exampleText('bad/masquerade-hotplug.yaml').replace('  namespace: default\n', ''),
      'old.yaml': exampleText('old/vm-fedora.yaml').replace('namespace: default', 'namespace: team-a'),
    });
    const args = ['validate', '-f', join(dir, 'new.yaml'), '--old', join(dir, 'old.yaml'), '-o', 'json'];
    const [inTeam, inDefault] = (await Promise.all([nicguard([...args, '-n', 'team-a']), nicguard(args)])).map(json);
    assert.equal(inTeam.results[0].namespace, 'team-a');
    assert.equal(inTeam.results[0].operation, 'UPDATE');
    assert.equal(inDefault.results[0].namespace, 'default');
    assert.equal(inDefault.results[0].operation, 'CREATE');
  });

  test("--base takes each file's previous version from git: changed files are UPDATEs, new files CREATEs", async () => {
    const { repo, git } = gitRepo();
    writeTree(repo, { 'vms/vm-fedora.yaml': exampleText('old/vm-fedora.yaml'), 'vms/unchanged.yaml': VM_WITH_BRIDGE });
    git('add', '.');
    git('commit', '-q', '-m', 'running versions');
    // The pull request: a masquerade hotplug, and a new VM in a new file.
    writeFileSync(join(repo, 'vms/vm-fedora.yaml'), exampleText('bad/masquerade-hotplug.yaml'));
    writeTree(repo, {
      'vms/new/vm3.yaml': exampleText('bad/masquerade-hotplug.yaml').replace('name: vm-fedora', 'name: vm3'),
    });
    const notRepo = writeTree(tempDir(), { 'vm.yaml': exampleText('old/vm-fedora.yaml') });
    const [run, badRef, outside] = await Promise.all([
      nicguard(['validate', '-f', 'vms', '--base', 'HEAD', '--objects', join(ROOT, 'examples/cluster'), '-o', 'json'], {
        cwd: repo,
      }),
      nicguard(['validate', '-f', 'vms', '--base', 'no-such-branch'], { cwd: repo }),
      nicguard(['validate', '-f', 'vm.yaml', '--base', 'HEAD'], { cwd: notRepo }),
    ]);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    const byName = Object.fromEntries(json(run).results.map((r: any) => [r.name, r]));
    assert.equal(byName['vm-fedora'].operation, 'UPDATE');
    assert.equal(byName['vm-fedora'].oldSource, 'git:HEAD:vms/vm-fedora.yaml');
    assert.ok(byName['vm-fedora'].findings.some((f: any) => f.rule === 'hotplug-binding' && f.action === 'deny'));
    assert.equal(byName.vm2.operation, 'UPDATE');
    assert.equal(byName.vm2.allowed, true);
    assert.equal(byName.vm3.operation, 'CREATE');
    assert.ok(!byName.vm3.findings.some((f: any) => f.rule === 'hotplug-binding'));

    assert.equal(badRef.status, 2);
    assert.match(badRef.stdout, /unknown git revision "no-such-branch"/);
    assert.equal(outside.status, 2);
    assert.match(outside.stdout, /not inside a git repository/);
  });

  test('validate and explain have help with examples', async () => {
    for (const run of await Promise.all(['validate', 'explain'].map((cmd) => nicguard([cmd, '--help'])))) {
      assert.equal(run.status, 0);
      assert.match(run.stdout, /Examples:\n {2}# .+\n {2}\$ nicguard /);
    }
  });
});

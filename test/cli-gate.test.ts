// `nicguard validate` as a CI gate over a real repository layout: what it skips, what it
// refuses, and what it says when something was not checked. Run as users run it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES } from '../src/engine/rules/index.js';
import { ROOT } from './support.js';
import {
  childrenNamed,
  exampleText,
  hasStackTrace,
  nicguard,
  parseXml,
  tempDir,
  writeTree,
  type CliRun,
} from './cli-run.js';

const SEED = ['--objects', join(ROOT, 'examples/cluster')];
const MASQUERADE = exampleText('bad/masquerade-hotplug.yaml');
const OLD_VM = exampleText('old/vm-fedora.yaml');

const HELM_TEMPLATE = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  replicas: "{{ .Values.replicas }}"
`;

/** A PrometheusRule: Go templates in quoted strings are data, not Helm. */
const ALERT_RULE = `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: vm-alerts, namespace: default}
spec:
  groups:
  - name: vms
    rules:
    - alert: VmDown
      expr: kubevirt_vmi_phase_count{phase="running"} == 0
      annotations:
        summary: "VM {{ $labels.name }} is down ({{ $value }})"
`;

function json(run: CliRun): any {
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`not JSON (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
}

/** The hotplug-only rules, from the registry, as the CLI must list them. */
const HOTPLUG_ONLY = RULES.filter((r) => r.check.hotplug).map((r) => r.id);

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=CI', ...args], {
    cwd: repo,
    encoding: 'utf8',
  });
}

describe('nicguard validate as a CI gate', { concurrency: 2 }, () => {
  test('a GitOps folder: kustomize and Helm files are skipped with a notice, not errors', async () => {
    const dir = writeTree(tempDir(), {
      'apps/vm.yaml': MASQUERADE,
      'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nresources: [vm.yaml]\n',
      'apps/alerts.yaml': ALERT_RULE,
      'charts/web/Chart.yaml': 'apiVersion: v2\nname: web\nversion: 1.0.0\n',
      'charts/web/values.yaml': 'replicas: 2\nimage: {repository: nginx}\n',
      'charts/web/values-prod.yaml': 'replicas: 5\n',
      'renovate.json': '{"extends": ["config:base"]}',
    });
    const [text, machine] = await Promise.all([
      nicguard(['validate', '-f', dir, '--old', join(ROOT, 'examples/old'), ...SEED]),
      nicguard(['validate', '-f', dir, '--old', join(ROOT, 'examples/old'), ...SEED, '-o', 'json']),
    ]);
    assert.equal(
      text.status,
      1,
      'the masquerade hotplug is still denied; nothing else is an error\n' + text.stdout + text.stderr,
    );
    assert.match(
      text.stdout,
      new RegExp(
        `^skipped ${join(dir, 'apps/kustomization.yaml')}: a kustomize file, not a manifest ` +
          `\\(to check what it builds: kubectl kustomize ${join(dir, 'apps')} \\| nicguard validate -f -\\)$`,
        'm',
      ),
    );
    assert.match(text.stdout, /skipped .*charts\/web\/Chart\.yaml: a Helm chart file/);
    assert.match(
      text.stdout,
      /skipped .*renovate\.json: not a Kubernetes manifest: no document has apiVersion, kind or metadata/,
    );
    assert.match(
      text.stdout,
      /\(1 object of other kinds skipped, 5 files not manifests\)$/m,
      'the PrometheusRule is read as an object',
    );
    assert.equal(text.stderr, '', 'nothing on stderr: no library warnings');
    const report = json(machine);
    assert.deepEqual(report.skippedFiles.map((s: any) => s.file.slice(dir.length + 1)).sort(), [
      'apps/kustomization.yaml',
      'charts/web/Chart.yaml',
      'charts/web/values-prod.yaml',
      'charts/web/values.yaml',
      'renovate.json',
    ]);
    assert.deepEqual(report.errors, []);
    assert.match(
      machine.stderr,
      /^nicguard: skipped .*kustomization\.yaml: /m,
      'machine formats log the notes on stderr',
    );
  });

  test('a Helm template is one clear error at its first action; --exclude leaves it out', async () => {
    const dir = writeTree(tempDir(), {
      'vm.yaml': exampleText('new/vm-fedora.yaml'),
      'charts/web/templates/cm.yaml': HELM_TEMPLATE,
      'charts/web/templates/list.yaml': '{{- range .Values.items }}\n- name: {{ . }}\n{{- end }}\n',
    });
    const [run, excluded, excludedFile] = await Promise.all([
      nicguard(['validate', '-f', dir]),
      nicguard(['validate', '-f', dir, '--exclude', 'charts/**', '-o', 'json']),
      nicguard([
        'validate',
        '-f',
        dir,
        '--exclude',
        '**/templates/cm.yaml',
        '--exclude',
        'charts/*/templates/list.yaml',
      ]),
    ]);
    assert.equal(run.status, 2, run.stdout);
    const cm = join(dir, 'charts/web/templates/cm.yaml');
    assert.ok(
      run.stdout.includes(
        `error: ${cm}:4: looks like a Helm template ({{ ... }}), not a manifest: ` +
          'render it first with helm template RELEASE CHART | nicguard validate -f -, or leave it out with --exclude',
      ),
      run.stdout,
    );
    assert.match(run.stdout, /templates\/list\.yaml:1: looks like a Helm template/);
    assert.equal(run.stderr, '', 'no YAML library warning leaks to stderr');
    assert.ok(!hasStackTrace(run.stdout));

    assert.equal(excluded.status, 0, excluded.stdout + excluded.stderr);
    assert.deepEqual(json(excluded).excludedFiles, [join(dir, 'charts/web')], 'an excluded folder is not walked');
    assert.match(excluded.stderr, /excluded by --exclude: .*charts/);
    assert.equal(excludedFile.status, 0, excludedFile.stdout);
    assert.match(excludedFile.stdout, /\(2 excluded\)$/m);

    const bad = await nicguard(['validate', '-f', dir, '--exclude', 'charts/[web']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad glob "charts\/\[web": unclosed \[/);
  });

  test('--base with stdin is a usage error that says to pass the rendered base with --old', async () => {
    const run = await nicguard(['validate', '-f', '-', '--base', 'main'], { input: MASQUERADE });
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trimEnd().split('\n');
    assert.ok(lines.length <= 2, run.stderr);
    assert.match(lines[0], /^nicguard validate: --base cannot take a previous version for standard input \(-f -\)/);
    assert.match(lines[1], /--old base\.yaml/);
  });

  test('previous versions that match nothing are reported: otherwise every object silently becomes new', async () => {
    const dir = writeTree(tempDir(), {
      'new/vm.yaml': MASQUERADE,
      'old/renamed.yaml': OLD_VM.replace('name: vm-fedora', 'name: vm-fedora-old'),
    });
    const args = ['validate', '-f', join(dir, 'new'), '--old', join(dir, 'old'), ...SEED];
    const [text, machine, matching] = await Promise.all([
      nicguard(args),
      nicguard([...args, '-o', 'json']),
      nicguard([
        'validate',
        '-f',
        join(dir, 'new'),
        '--old',
        join(ROOT, 'examples/old'),
        '--old',
        join(dir, 'old'),
        ...SEED,
        '-o',
        'json',
      ]),
    ]);
    assert.match(
      text.stdout,
      new RegExp(
        /^note: no checked object matched a previous version from --old\/--base /.source +
          /by kind, namespace and name: every object was checked as a CREATE$/.source,
        'm',
      ),
    );
    assert.ok(
      text.stdout.includes(`note: 1 previous-version source matched no input object: ${join(dir, 'old/renamed.yaml')}`),
      text.stdout,
    );
    const report = json(machine);
    assert.deepEqual(report.old, {
      objects: 1,
      matched: 0,
      unmatchedSources: [join(dir, 'old/renamed.yaml')],
      newFiles: [],
    });
    assert.equal(report.results[0].operation, 'CREATE');
    const partly = json(matching);
    assert.equal(partly.old.matched, 1);
    assert.deepEqual(partly.old.unmatchedSources, [join(dir, 'old/renamed.yaml')]);
  });

  test('--base where no input file existed at the revision says so', async () => {
    const repo = tempDir('nicguard-git-');
    git(repo, 'init', '-q');
    writeTree(repo, { 'README.md': 'x\n' });
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'start');
    writeTree(repo, { 'vms/vm.yaml': MASQUERADE });
    const run = await nicguard(['validate', '-f', 'vms', '--base', 'HEAD', '-o', 'json'], { cwd: repo });
    const report = json(run);
    assert.deepEqual(report.old, { objects: 0, matched: 0, unmatchedSources: [], newFiles: ['vms/vm.yaml'] });
    assert.match(run.stderr, /no previous version was found: no input file existed at the --base revision/);
  });

  test(
    'a stopped VM: the hotplug rules it was not held to are named, ' + 'with the reason, in text, JSON and JUnit',
    async () => {
      const dir = writeTree(tempDir(), {
        'manual.yaml': OLD_VM.replace('runStrategy: Always', 'runStrategy: Manual'),
        'halted-running.yaml':
          OLD_VM.replace('runStrategy: Always', 'runStrategy: Halted') + 'status:\n  printableStatus: Running\n',
        'off.yaml': 'rules:\n  hotplug-path: off\n',
      });
      const args = (old: string) => [
        'validate',
        '-f',
        join(ROOT, 'examples/bad/masquerade-hotplug.yaml'),
        '--old',
        join(dir, old),
        ...SEED,
      ];
      const [text, machine, junit, running, unchanged, withOff] = await Promise.all([
        nicguard(args('manual.yaml')),
        nicguard([...args('manual.yaml'), '-o', 'json']),
        nicguard([...args('manual.yaml'), '-o', 'junit']),
        nicguard([...args('halted-running.yaml'), '-o', 'json']),
        nicguard(['validate', '-f', join(dir, 'manual.yaml'), '--old', join(dir, 'manual.yaml'), '-o', 'json']),
        nicguard([...args('manual.yaml'), '-o', 'json', '--config', join(dir, 'off.yaml')]),
      ]);
      // No hotplug rule speaks (the NIC waits for the next start); binding-support still refuses
      // masquerade on a Multus network, as KubeVirt's admitter does for any VM.
      assert.equal(text.status, 1, text.stdout);
      assert.match(text.stdout, /DENY {2}binding-support/);
      assert.doesNotMatch(text.stdout, /DENY {2}hotplug-/);
      const skipped = HOTPLUG_ONLY.map((id) =>
        id === 'hotplug-slots' ? 'hotplug-slots (the hotplug port budget)' : id,
      );
      assert.ok(text.stdout.includes(`  SKIP  ${skipped.join(', ')}\n`), text.stdout);
      assert.match(
        text.stdout,
        new RegExp(
          /not running \(runStrategy "Manual", no status, and no VMI default\/vm-fedora in --objects\): /.source +
            /the interface it adds or unplugs \("dyniface1"\) waits for the next start/.source,
        ),
      );

      const [vm] = json(machine).results;
      assert.deepEqual(
        vm.skippedRules.map((s: any) => s.rule),
        HOTPLUG_ONLY,
      );
      assert.equal(vm.skippedRules.find((s: any) => s.rule === 'hotplug-slots').part, 'the hotplug port budget');
      assert.ok(
        !('skippedRules' in json(unchanged).results[0]),
        'an unchanged stopped VM skipped nothing worth saying',
      );
      assert.deepEqual(
        json(withOff).results[0].skippedRules.map((s: any) => s.rule),
        HOTPLUG_ONLY.filter((id) => id !== 'hotplug-path'),
      );

      // The status says Running: the rules apply, and the masquerade hotplug is denied.
      const [live] = json(running).results;
      assert.equal(running.status, 1);
      assert.ok(!('skippedRules' in live));
      assert.ok(live.findings.some((f: any) => f.rule === 'hotplug-binding' && f.action === 'deny'));

      const suite = childrenNamed(parseXml(junit.stdout), 'testsuite')[0];
      const skippedCases = childrenNamed(suite, 'testcase').filter((c) => childrenNamed(c, 'skipped').length);
      assert.deepEqual(
        skippedCases.map((c) => c.attrs.name.split(': ')[1]),
        HOTPLUG_ONLY.filter((id) => id !== 'hotplug-slots'),
        'a rule skipped in part still ran its other checks',
      );
      assert.equal(suite.attrs.skipped, String(skippedCases.length));
      assert.match(childrenNamed(skippedCases[0], 'skipped')[0].attrs.message, /^not running \(runStrategy "Manual"/);
    },
  );

  test('the mutation in words: a bridge NIC kept with state: absent, the SR-IOV NIC after it untouched', async () => {
    const old = `apiVersion: kubevirt.io/v1
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
          - {name: sriov1, sriov: {}}
      networks:
      - {name: default, pod: {}}
      - {name: br1, multus: {networkName: new-fancy-net}}
      - {name: sriov1, multus: {networkName: sriov-net}}
`;
    const dir = writeTree(tempDir(), {
      'old.yaml': old,
      'new.yaml': old
        .split('\n')
        .filter((l) => !l.includes('br1'))
        .join('\n'),
    });
    const args = ['validate', '-f', join(dir, 'new.yaml'), '--old', join(dir, 'old.yaml')];
    const [text, machine] = await Promise.all([nicguard(args), nicguard([...args, '-o', 'json'])]);
    const [result] = json(machine).results;
    // The raw patch shifts the list: it "replaces" the entry where sriov1 was.
    assert.ok(result.patch.some((p: any) => p.op === 'replace' && p.path.startsWith('/spec/template/spec/networks/1')));
    const lines = text.stdout.split('\n');
    const from = lines.findIndex((l) => l.startsWith('  MUTATE  '));
    assert.ok(from > 0, text.stdout);
    const words = lines.slice(from + 1).filter((l) => l.startsWith('        '));
    assert.deepEqual(
      words.map((l) => l.trim()),
      [
        'interface "br1" kept with state: absent at spec.template.spec.domain.devices.interfaces[1] ' +
          '(KubeVirt unplugs it, then removes it)',
        'network "br1" kept at spec.template.spec.networks[1] (KubeVirt needs it until the unplug is done)',
      ],
    );
    assert.ok(!words.some((l) => /sriov1|replace/.test(l)), 'nothing reads as if the SR-IOV NIC were touched');
  });

  test('SARIF: each rule links its docs section by absolute URL; fingerprints survive moved lines', async () => {
    const nad = exampleText('bad/wrong-ovn-provider.yaml');
    const dir = writeTree(tempDir(), { 'vm.yaml': MASQUERADE, 'nad.yaml': nad });
    const args = ['validate', '-f', dir, '--old', join(ROOT, 'examples/old'), ...SEED, '-o', 'sarif'];
    const first = json(await nicguard(args));
    writeTree(dir, {
      'vm.yaml': `# moved down by a comment\n# and another\n${MASQUERADE}`,
      'nad.yaml': `# moved\n# down\n${nad}`,
    });
    const second = json(await nicguard(args));

    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.repository, 'github:nicguard/nicguard');
    const headings = new Set(
      readFileSync(join(ROOT, 'docs/rules.md'), 'utf8')
        .match(/^## [a-z-]+$/gm)!
        .map((h) => h.slice(3)),
    );
    for (const rule of first.runs[0].tool.driver.rules) {
      assert.equal(rule.helpUri, `https://github.com/nicguard/nicguard/blob/main/docs/rules.md#${rule.id}`);
      assert.ok(headings.has(rule.id), `docs/rules.md has a section for ${rule.id}`);
      assert.ok(rule.help.markdown.includes(`](${rule.helpUri})`));
    }
    const prints = (sarif: any) =>
      sarif.runs[0].results.map((r: any) => [r.ruleId, r.partialFingerprints['nicguardFinding/v1']]);
    const lines = (sarif: any) =>
      sarif.runs[0].results.map((r: any) => r.locations[0].physicalLocation.region.startLine);
    assert.ok(prints(first).length >= 2);
    assert.deepEqual(prints(second), prints(first));
    assert.deepEqual(
      lines(second),
      lines(first).map((l: number) => l + 2),
    );
    const fingerprints = prints(first).map(([, f]: string[]) => f);
    assert.equal(new Set(fingerprints).size, fingerprints.length, 'distinct findings, distinct fingerprints');
    assert.ok(fingerprints.every((f: string) => /^[0-9a-f]{32}$/.test(f)));
  });

  test('usage errors are one line and a pointer to --help, exit 2, not the whole help', async () => {
    const runs = await Promise.all([
      nicguard(['validate', '-f', 'examples/new', '--bogus']),
      nicguard(['validate', '-f', 'examples/new', '-o', 'xml']),
      nicguard(['validate']),
      nicguard(['explain', '--nope']),
    ]);
    for (const run of runs) {
      assert.equal(run.status, 2, run.stderr);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 2, run.stderr);
      assert.match(lines[1], /^\(run 'nicguard (validate|explain) --help' for usage\)$/);
      assert.doesNotMatch(run.stderr, /Usage:|Options:/);
    }
    assert.match(runs[0].stderr, /^error: unknown option '--bogus'/);
  });
});

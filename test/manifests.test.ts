// Loading manifests: documents, lists, AdmissionReviews, locations, folders, and the file-backed cluster view.
import { test } from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path, { join } from 'node:path';
import { Glob, GlobSet } from '../src/io/glob.js';
import {
  listManifestFiles,
  loadManifests,
  notManifestByName,
  parseManifests,
  type ManifestError,
} from '../src/io/manifests.js';
import { FieldPath } from '../src/engine/field-path.js';
import { loadFileClusterView, readFileCluster, refreshFileClusterView } from '../src/cluster/files.js';
import { EXAMPLES, create } from './support.js';
import { admissionReview } from './server-support.js';
import { exampleText, nicguard, tempDir, writeTree } from './cli-run.js';

const VM_OLD = exampleText('old/vm-fedora.yaml');
const NADS = exampleText('cluster/networks.yaml');

function lineOf(text: string, needle: string, from = 0): number {
  const at = text.indexOf(needle, from);
  assert.ok(at >= 0, `${needle} not in text`);
  return text.slice(0, at).split('\n').length;
}

test('every document of a multi-document file is loaded, with its own line; empty documents are skipped', () => {
  const text = `---\n${NADS}\n---\n---\n${VM_OLD}`;
  const { objects, errors } = parseManifests(text, 'all.yaml');
  assert.deepEqual(errors, []);
  assert.deepEqual(
    objects.map((o) => o.object.metadata?.name),
    ['attachnet', 'new-fancy-net', 'sriov-net', 'storage-net', 'vm-fedora'],
  );
  const vm = objects[4];
  assert.equal(vm.source.file, 'all.yaml');
  assert.equal(vm.source.line, lineOf(text, 'apiVersion: kubevirt.io/v1'));
  assert.equal(objects[1].source.line, lineOf(text, 'apiVersion', text.indexOf('---', text.indexOf('attachnet'))));
  assert.ok(vm.source.document > objects[3].source.document);
});

test('kind: List items are flattened; items of a typed list get their kind and apiVersion', () => {
  const text = [
    'apiVersion: v1',
    'kind: List',
    'items:',
    ...VM_OLD.split('\n')
      .filter((l) => !l.startsWith('#') && l)
      .map((l, i) => (i === 0 ? `- ${l}` : `  ${l}`)),
    '---',
    'apiVersion: k8s.cni.cncf.io/v1',
    'kind: NetworkAttachmentDefinitionList',
    'items:',
    '- metadata: {name: a, namespace: default}',
    '  spec: {config: "{}"}',
    '- metadata: {name: b, namespace: default}',
  ].join('\n');
  const { objects, errors } = parseManifests(text, 'list.yaml');
  assert.deepEqual(errors, []);
  assert.deepEqual(
    objects.map((o) => `${o.object.kind}/${o.object.metadata?.name}@${o.source.line}`),
    [
      `VirtualMachine/vm-fedora@4`,
      `NetworkAttachmentDefinition/a@${lineOf(text, '- metadata: {name: a')}`,
      `NetworkAttachmentDefinition/b@${lineOf(text, '- metadata: {name: b')}`,
    ],
  );
  assert.equal(objects[1].object.apiVersion, 'k8s.cni.cncf.io/v1');
  // Field locations work inside list items too.
  const ifaceLine = objects[0].locate(
    FieldPath.of('spec', 'template', 'spec', 'domain', 'devices', 'interfaces').index(0).field('masquerade'),
  ).line;
  assert.match(text.split('\n')[ifaceLine - 1], /masquerade/);
});

test('an AdmissionReview is recognised and carries its request; fields are located inside request.object', () => {
  const review = admissionReview({
    uid: 'u1',
    operation: 'UPDATE',
    kind: 'VirtualMachine',
    group: 'kubevirt.io',
    namespace: 'default',
    name: 'vm-fedora',
    userInfo: { username: 'alice' },
    object: {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'vm-fedora' },
      spec: { running: true },
    },
    oldObject: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'vm-fedora' } },
  });
  const text = JSON.stringify(review, null, 2);
  const [loaded] = parseManifests(text, 'review.json').objects;
  assert.equal(loaded.review?.operation, 'UPDATE');
  assert.equal(loaded.review?.kind, 'VirtualMachine');
  assert.equal(loaded.review?.group, 'kubevirt.io');
  assert.equal(loaded.review?.userInfo?.username, 'alice');
  assert.equal(loaded.review?.oldObject?.metadata?.name, 'vm-fedora');
  assert.equal(loaded.locate(FieldPath.of('spec', 'running')).line, lineOf(text, '"running"'));

  const bad = parseManifests(
    JSON.stringify({ ...review, request: { ...review.request, operation: 'PATCH' } }),
    'r.json',
  );
  assert.equal(bad.objects.length, 0);
  assert.match(bad.errors[0].message, /request\.operation must be one of CREATE, UPDATE, DELETE, CONNECT/);
});

test('a broken document is reported with line and column; the other documents of the file are still loaded', () => {
  const text = `${NADS}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [unclosed\n---\n${VM_OLD}`;
  const { objects, errors } = parseManifests(text, 'mixed.yaml');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].file, 'mixed.yaml');
  assert.equal(errors[0].line, lineOf(text, ' data: [unclosed'));
  assert.ok(errors[0].column! >= 1);
  assert.match(errors[0].message, /not valid YAML/);
  assert.ok(objects.some((o) => o.object.kind === 'VirtualMachine'));
  assert.equal(objects.filter((o) => o.object.kind === 'NetworkAttachmentDefinition').length, 4);
});

test('documents that are not Kubernetes objects are errors naming what is missing', () => {
  const { objects, errors } = parseManifests('- a\n- b\n---\nmetadata: {name: x}\n---\nkind: Foo\n', 'odd.yaml');
  assert.equal(objects.length, 0);
  assert.deepEqual(
    errors.map((e) => [e.line, e.message]),
    [
      [1, 'document 1 is not a Kubernetes object (a mapping with apiVersion and kind)'],
      [4, 'document 2 has no apiVersion and kind'],
      [6, 'document 3 has no apiVersion'],
    ],
  );
});

test('locate finds a field, falls back to the nearest written ancestor, and handles dotted annotation keys', () => {
  const text = [
    'apiVersion: kubevirt.io/v1',
    'kind: VirtualMachine',
    'metadata:',
    '  name: vm',
    '  annotations:',
    '    kubevirt.io/pci-interface-slot-count: "6"',
    'spec:',
    '  template:',
    '    spec:',
    '      domain:',
    '        devices:',
    '          interfaces:',
    '          - name: a',
    '            bridge: {}',
    '          - name: b',
    '            masquerade: {}',
  ].join('\n');
  const [vm] = parseManifests(text, 'vm.yaml').objects;
  const spec = FieldPath.of('spec', 'template', 'spec');
  assert.equal(vm.locate(spec.field('domain', 'devices', 'interfaces').index(1).field('masquerade')).line, 16);
  // A field that is not written falls back to its nearest written ancestor.
  assert.equal(vm.locate(spec.field('domain', 'devices', 'interfaces').index(1).field('model')).line, 15);
  assert.equal(vm.locate(spec.field('networks').index(0)).line, 9);
  assert.equal(vm.locate(FieldPath.of('metadata', 'annotations').key('kubevirt.io/pci-interface-slot-count')).line, 6);
  assert.equal(vm.locate(undefined).line, 1);
  assert.equal(FieldPath.of('a', 'b').index(2).key('x.y').field('c').toString(), 'a.b[2]["x.y"].c');
});

test(
  'folders are walked recursively for .yaml, .yml and .json, sorted, skipping hidden folders; ' +
    'a named file is read whatever its extension',
  () => {
    const dir = writeTree(tempDir(), {
      'b/vm.yml': VM_OLD,
      'a.yaml': NADS,
      'c/d/e.json': '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}',
      'notes.txt': 'not a manifest',
      '.git/config.yaml': 'broken: [',
    });
    const errors: ManifestError[] = [];
    assert.deepEqual(
      listManifestFiles(dir, errors).map((f) => f.slice(dir.length + 1)),
      ['a.yaml', 'b/vm.yml', 'c/d/e.json'],
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(listManifestFiles(join(dir, 'notes.txt'), errors), [join(dir, 'notes.txt')]);
    const missing = loadManifests([join(dir, 'nope')]);
    assert.equal(missing.objects.length, 0);
    assert.match(missing.errors[0].message, /cannot read \(ENOENT\)/);
    assert.equal(missing.errors[0].file, join(dir, 'nope'));
  },
);

test(
  'the file-backed cluster view indexes NADs, Subnets, VMIs and the KubeVirt CR, ' +
    'and reports bad files instead of throwing',
  () => {
    const view = loadFileClusterView(join(EXAMPLES, 'cluster'), () => assert.fail('no errors expected'));
    assert.ok(view.getNetworkAttachmentDefinition('default', 'attachnet'));
    assert.equal(view.findNetworkAttachmentDefinitionsByName('storage-net')[0]?.metadata?.namespace, 'shared-networks');
    assert.equal(view.findSubnetsByProvider('attachnet.default.ovn')[0]?.metadata?.name, 'attachnet');
    assert.equal(view.getKubeVirt()?.metadata?.name, 'kubevirt');

    const dir = writeTree(tempDir(), { 'nads.yaml': NADS, 'vm.yaml': VM_OLD, 'broken.yaml': 'kind: [' });
    const load = readFileCluster(dir);
    assert.equal(load.indexed, 4);
    assert.equal(load.ignored, 1, 'the VM is not part of a cluster view');
    assert.equal(load.errors.length, 1);
    assert.match(load.errors[0].file, /broken\.yaml$/);

    const seen: ManifestError[] = [];
    const empty = loadFileClusterView(join(dir, 'missing'), (e) => seen.push(e));
    assert.equal(empty.size, 0);
    assert.equal(seen.length, 1);
  },
);

test('refreshFileClusterView re-reads a folder into the same view', () => {
  const dir = writeTree(tempDir(), { 'nads.yaml': NADS });
  const view = loadFileClusterView(dir, () => {});
  assert.ok(view.getNetworkAttachmentDefinition('default', 'sriov-net'));
  writeFileSync(join(dir, 'nads.yaml'), NADS.replace(/name: sriov-net\n/, 'name: sriov-net2\n'));
  const fresh = refreshFileClusterView(view, dir, () => {});
  assert.equal(fresh.indexed, 4);
  assert.equal(view.getNetworkAttachmentDefinition('default', 'sriov-net'), undefined);
  assert.ok(view.getNetworkAttachmentDefinition('default', 'sriov-net2'));
});

test('the CLI reads every input form: file, folder, multi-document, List, AdmissionReview and stdin', async () => {
  const review = admissionReview(create(parseManifests(NADS, 'n').objects[0].object, { uid: 'r1' }));
  const dir = writeTree(tempDir(), {
    'single.yaml': VM_OLD,
    'folder/nested/nads.yaml': NADS,
    'list.yaml':
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: kubeovn.io/v1\n  kind: Subnet\n  metadata: {name: s1}\n' +
      '  spec: {provider: attachnet.default.ovn, cidrBlock: 10.0.0.0/24, gateway: 10.0.0.1, protocol: IPv4}\n',
    'review.json': JSON.stringify(review),
  });
  const run = await nicguard(
    [
      'validate',
      '-f',
      join(dir, 'single.yaml'),
      '-f',
      join(dir, 'folder'),
      '-f',
      join(dir, 'list.yaml'),
      '-f',
      join(dir, 'review.json'),
      '-f',
      '-',
      '-o',
      'json',
    ],
    { input: VM_OLD.replace('name: vm-fedora', 'name: from-stdin') },
  );
  const report = JSON.parse(run.stdout);
  const seen = report.results.map(
    (r: any) =>
      `${r.kind} ${r.name} ${r.operation}${r.admissionReview ? ' review' : ''} ` +
      `${r.file === '-' ? 'stdin' : r.file.slice(dir.length + 1)}`,
  );
  assert.deepEqual(seen, [
    'VirtualMachine vm-fedora CREATE single.yaml',
    'NetworkAttachmentDefinition attachnet CREATE folder/nested/nads.yaml',
    'NetworkAttachmentDefinition new-fancy-net CREATE folder/nested/nads.yaml',
    'NetworkAttachmentDefinition sriov-net CREATE folder/nested/nads.yaml',
    'NetworkAttachmentDefinition storage-net CREATE folder/nested/nads.yaml',
    'Subnet s1 CREATE list.yaml',
    'NetworkAttachmentDefinition attachnet CREATE review review.json',
    'VirtualMachine from-stdin CREATE stdin',
  ]);
  assert.deepEqual(report.errors, []);
  assert.equal(report.summary.objects, 8);
});

test('globs: *, **, ?, sets and alternatives agree with path.matchesGlob where Node has it', () => {
  const cases: [string, string, boolean][] = [
    ['charts/**', 'charts/web/values.yaml', true],
    ['charts/**', 'charts', false],
    ['charts/*', 'charts/web/values.yaml', false],
    ['**/secrets/*.yaml', 'secrets/a.yaml', true],
    ['**/secrets/*.yaml', 'apps/prod/secrets/a.yaml', true],
    ['**/secrets/*.yaml', 'apps/prod/secrets/x/a.yaml', false],
    ['*.json', 'renovate.json', true],
    ['*.json', 'sub/renovate.json', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['vm-?.yaml', 'vm-1.yaml', true],
    ['vm-?.yaml', 'vm-10.yaml', false],
    ['vm-[0-9].yaml', 'vm-7.yaml', true],
    ['vm-[!0-9].yaml', 'vm-a.yaml', true],
    ['vm-[!0-9].yaml', 'vm-7.yaml', false],
    ['{apps,infra}/**/*.yml', 'infra/x/y.yml', true],
    ['{apps,infra}/**/*.yml', 'other/x/y.yml', false],
    ['a.b', 'axb', false],
    ['(x)+.yaml', '(x)+.yaml', true],
  ];
  const nodeGlob = (path as { matchesGlob?: (p: string, g: string) => boolean }).matchesGlob;
  for (const [glob, file, expected] of cases) {
    assert.equal(new Glob(glob).test(file), expected, `${glob} on ${file}`);
    if (nodeGlob) assert.equal(nodeGlob(file, glob), expected, `node agrees: ${glob} on ${file}`);
  }
  assert.ok(new GlobSet(['./charts/**']).matches('charts/a.yaml'), 'a leading ./ is the folder itself');
  assert.throws(() => new Glob('a[b'), /unclosed \[/);
  assert.throws(() => new Glob('{a,b'), /unclosed \{/);
});

test('globs that make a regular expression backtrack for minutes are matched at once', () => {
  // As regular expressions: 35 s for the first on one 200-character name, 1.2 s for the second.
  const name = 'a'.repeat(200);
  assert.equal(new Glob('*a*a*a*a*b').test(name), false);
  assert.equal(new Glob('*a*a*a*a*a*a*a*a*a*a*a*a').test(name), true);
  const deep = `${Array(40).fill('ab').join('/')}/y`;
  assert.equal(new Glob('**/**/**/**/**/**/**/**/x').test(deep), false);
  assert.equal(new Glob('**/**/**/**/**/**/**/**/y').test(deep), true);
});

test('any glob of *, **, ?, sets and alternatives agrees with path.matchesGlob where Node has it', (t) => {
  const nodeGlob = (path as { matchesGlob?: (p: string, g: string) => boolean }).matchesGlob;
  if (!nodeGlob) return t.skip('this Node has no path.matchesGlob');
  const piece = fc.constantFrom('a', 'b', '*', '?', '[ab]', '[!a]', '{a,b}', '{a*,b}');
  const segment = fc.oneof(
    fc.constant('**'),
    fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join('')),
  );
  const glob = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
  const name = fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 4 }).map((c) => c.join(''));
  const file = fc.array(name, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
  fc.assert(
    fc.property(glob, file, (g, f) => new Glob(g).test(f) === nodeGlob(f, g)),
    { numRuns: 3000 },
  );
});

test(
  'files that are not manifests are skipped with a reason: ' + 'by name, or when no document looks like an object',
  () => {
    for (const name of [
      'kustomization.yaml',
      'kustomization.yml',
      'Kustomization',
      'Chart.yaml',
      'values.yaml',
      'values-prod.yml',
      'values.schema.json',
      '.pre-commit-config.yaml',
      'compose.yaml',
    ]) {
      assert.ok(notManifestByName(join('deploy', name)), name);
    }
    for (const name of ['vm.yaml', 'my-values.yaml', 'chart.yaml', 'kustomization-vm.yaml', '-'])
      assert.equal(notManifestByName(name), undefined, name);
    assert.match(
      notManifestByName('apps/prod/kustomization.yaml')!,
      /kubectl kustomize apps\/prod \| nicguard validate -f -/,
    );

    const values = parseManifests('replicas: 2\nimage:\n  repository: nginx\n---\n# nothing\n', 'settings.yaml');
    assert.deepEqual([values.objects.length, values.errors.length], [0, 0]);
    assert.equal(values.skipped, 'not a Kubernetes manifest: no document has apiVersion, kind or metadata');
    // A document that means to be an object but lacks a field is still an error, not a skip.
    const broken = parseManifests('metadata: {name: vm}\nspec: {}\n', 'vm.yaml');
    assert.equal(broken.skipped, undefined);
    assert.match(broken.errors[0].message, /has no apiVersion and kind/);

    const dir = writeTree(tempDir(), {
      'vm.yaml': VM_OLD,
      'kustomization.yaml': 'resources: [vm.yaml]\n',
      'base/values.yaml': 'x: 1\n',
      'notes.yaml': 'owner: team-a\n',
      'charts/a/templates/t.yaml': 'x: {{ .Values.x }}\n',
    });
    const load = loadManifests([dir], { exclude: ['charts'] });
    assert.deepEqual(load.errors, []);
    assert.deepEqual(
      load.objects.map((o) => o.object.kind),
      ['VirtualMachine'],
    );
    assert.deepEqual(
      load.skipped.map((s) => s.file.slice(dir.length + 1)),
      ['base/values.yaml', 'kustomization.yaml', 'notes.yaml'],
    );
    assert.deepEqual(load.excluded, [join(dir, 'charts')]);
  },
);

test(
  'a Helm template is one error at its first action; ' +
    'Go templates inside strings are data; the yaml library prints nothing',
  () => {
    const emitted: string[] = [];
    // Node's own glob (above) warns that it is experimental: only the yaml library's warnings count here.
    const listener = (w: Error) => w.name !== 'ExperimentalWarning' && emitted.push(w.message);
    process.on('warning', listener);
    try {
      const unquoted = parseManifests(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include "x.name" . }}\n',
        't.yaml',
      );
      assert.deepEqual(unquoted.objects, []);
      assert.deepEqual(
        unquoted.errors.map((e) => [e.line, e.message.split(':')[0]]),
        [[4, 'looks like a Helm template ({{ ... }}), not a manifest']],
      );
      // Only quoted actions, but Helm's own objects: still a template.
      const quoted = parseManifests(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: "{{ .Values.a }}"\n',
        'q.yaml',
      );
      assert.equal(quoted.errors[0]?.line, 5);
      // A flow map as a key, which YAML reads but no manifest has: the library used to warn on stderr.
      const key = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\n', 'k.yaml');
      assert.equal(key.errors[0]?.line, 4);
      const alert = parseManifests(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  msg: "VM {{ $labels.name }} is down"\n',
        'a.yaml',
      );
      assert.deepEqual(alert.errors, []);
      assert.equal((alert.objects[0].object.data as Record<string, unknown>).msg, 'VM {{ $labels.name }} is down');
    } finally {
      process.off('warning', listener);
    }
    assert.deepEqual(emitted, [], 'no process warning from the yaml library');
  },
);

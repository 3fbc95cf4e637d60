// The fast way of reading manifests (JSON.parse, js-yaml, positions from the lines) must give
// exactly what the yaml library's documents give: the same objects, errors, document numbers
// and start lines, and the same line and column for every field a finding may name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { FieldPath } from '../src/engine/field-path.js';
import { parseFullManifests, parseManifests, parsePlainManifests, type ParsedManifests } from '../src/io/manifests.js';
import { blockLocator, readPlainDocuments } from '../src/io/plain-documents.js';
import { ROOT, kubeOvnNad } from './support.js';

function fieldPath(keys: (string | number)[]): FieldPath {
  return keys.reduce<FieldPath>((p, k) => (typeof k === 'number' ? p.index(k) : p.key(k)), FieldPath.root);
}

/** Every path to a node of the value, and one step past each: a missing key, an index past the end, into a scalar. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) {
    value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
    out.push([...prefix, value.length], [...prefix, 'name']);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
    out.push([...prefix, 'no-such-field'], [...prefix, 0]);
  } else {
    out.push([...prefix, 'below-a-scalar']);
  }
  return out;
}

/** The fast and the full way agree on everything a report shows. */
function assertSameReading(text: string, label: string): ParsedManifests {
  const fast = parseManifests(text, 'f.yaml');
  const full = parseFullManifests(text, 'f.yaml');
  assert.deepEqual(fast.errors, full.errors, `${label}: errors`);
  assert.equal(fast.skipped, full.skipped, `${label}: skipped`);
  assert.equal(fast.objects.length, full.objects.length, `${label}: objects`);
  fast.objects.forEach((o, i) => {
    const f = full.objects[i];
    assert.deepEqual(o.object, f.object, `${label}: object ${i}`);
    assert.deepEqual(o.source, f.source, `${label}: source of object ${i}`);
    assert.deepEqual(o.review, f.review, `${label}: review of object ${i}`);
    for (const keys of paths(o.review?.object ?? o.object)) {
      const field = fieldPath(keys);
      assert.deepEqual(o.locate(field), f.locate(field), `${label}: object ${i} at ${field.toString() || '(root)'}`);
    }
  });
  return fast;
}

const VM = {
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: {
    name: 'vm-1',
    namespace: 'default',
    labels: { 'kubevirt.io/domain': 'vm-1', tier: 'web' },
    annotations: { 'example.com/note': 'two words: with a colon', empty: '' },
  },
  spec: {
    runStrategy: 'Always',
    template: {
      spec: {
        domain: {
          devices: {
            interfaces: [
              { name: 'default', masquerade: {} },
              { name: 'hot1', bridge: {}, model: 'virtio', ports: [{ port: 80 }, { port: 443, protocol: 'TCP' }] },
            ],
            disks: [],
          },
          memory: { guest: '1Gi' },
        },
        networks: [
          { name: 'default', pod: {} },
          { name: 'hot1', multus: { networkName: 'attachnet' } },
        ],
        volumes: [
          {
            name: 'cloudinitdisk',
            cloudInitNoCloud: { userData: '#cloud-config\nuser: fedora\n\n  indented: line\n' },
          },
        ],
        terminationGracePeriodSeconds: 0,
        nodeSelector: null,
      },
    },
  },
};

const NAD = kubeOvnNad;

test('a JSON file is read by JSON.parse, with the same objects and positions', () => {
  for (const text of [JSON.stringify(VM, null, 2), JSON.stringify(VM), `\n\n  ${JSON.stringify(VM, null, 4)}\n`]) {
    assert.ok(readPlainDocuments(text), 'the fast way reads it');
    assertSameReading(text, 'json');
  }
});

test('a JSON file with an array of 250,000 items is read, not a stack overflow', () => {
  const text = JSON.stringify({ ...VM, extra: Array.from({ length: 250_000 }, (_, i) => i) });
  const docs = readPlainDocuments(text);
  assert.equal((docs?.[0].value as { extra: number[] }).extra.length, 250_000);
});

test('a JSON file with a duplicate key is read the full way (YAML refuses it)', () => {
  const text = '{"apiVersion": "v1", "kind": "ConfigMap", "kind": "Secret", "metadata": {"name": "x"}}';
  assert.equal(readPlainDocuments(text), undefined);
  const { errors } = assertSameReading(text, 'duplicate');
  assert.match(errors[0].message, /Map keys must be unique/);
});

test('plain YAML in both list styles, and multi-document files, give the same objects and positions', () => {
  const nads = [NAD('a', 'a.default.ovn'), NAD('b', 'b.default'), NAD('c', 'c.default.ovn')];
  const cases = {
    'indented lists (yaml)': stringify(VM),
    'lists at the key (kubectl)': stringify(VM, { indentSeq: false }),
    'multi-document': nads.map((n) => stringify(n)).join('---\n'),
    'leading ---, comments, an empty document, a trailing ---':
      '# tenant networks\n---\n' +
      nads.map((n) => `# ${n.metadata.name}\n${stringify(n)}`).join('---\n---\n') +
      '---\n',
    'kubectl style multi-document': [VM, ...nads].map((o) => stringify(o, { indentSeq: false })).join('---\n'),
  };
  for (const [label, text] of Object.entries(cases)) {
    const docs = readPlainDocuments(text);
    assert.ok(docs, `${label}: the fast way reads it`);
    for (const d of docs) {
      if (d.value !== null) assert.ok(blockLocator(text, d.offset, d.end!), `${label}: positions come from the lines`);
    }
    assertSameReading(text, label);
  }
});

test('Lists are read the fast way, each item located from its own start', () => {
  const nads = [NAD('a', 'a.default.ovn'), NAD('b', 'b.default'), NAD('c', 'c.default.ovn')];
  const list = { apiVersion: 'v1', kind: 'List', items: [VM, ...nads], metadata: { resourceVersion: '' } };
  // As the API returns a typed list: items without kind and apiVersion.
  const typed = {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinitionList',
    items: nads.map(({ metadata, spec }) => ({ metadata, spec })),
  };
  for (const [label, obj] of Object.entries({ list, typed })) {
    const cases = {
      'indented lists (yaml)': stringify(obj),
      'lists at the key (kubectl)': stringify(obj, { indentSeq: false }),
      'JSON, indented': JSON.stringify(obj, null, 2),
      'JSON, one line': JSON.stringify(obj),
      'after another document': `${stringify(VM)}---\n${stringify(obj, { indentSeq: false })}`,
    };
    for (const [style, text] of Object.entries(cases)) {
      assert.ok(parsePlainManifests(text, 'f.yaml'), `${label}, ${style}: the fast way reads it`);
      const read = assertSameReading(text, `${label}, ${style}`);
      assert.equal(read.objects.length, (style.startsWith('after') ? 1 : 0) + obj.items.length);
    }
  }
});

test('an AdmissionReview in a List is located inside its own request.object', () => {
  const review = JSON.parse(readFileSync(join(ROOT, 'examples', 'reviews', 'nad-wrong-provider.json'), 'utf8'));
  const text = stringify({ apiVersion: 'v1', kind: 'List', items: [VM, review] }, { indentSeq: false });
  const read = assertSameReading(text, 'reviews in a List');
  const config = read.objects[1].locate(fieldPath(['spec', 'config']));
  assert.match(text.split('\n')[config.line - 1], /^ {8}config: /, 'the line of request.object.spec.config');
});

test('a List of 20,000 items is read the fast way, and every item located', () => {
  const items = Array.from({ length: 20_000 }, (_, i) => NAD(`n${i}`, `n${i}.default.ovn`));
  for (const text of [stringify({ apiVersion: 'v1', kind: 'List', items }), JSON.stringify({ kind: 'List', items })]) {
    const read = parsePlainManifests(text, 'f.yaml');
    assert.equal(read?.objects.length, 20_000);
    const lines = text.split('\n');
    // Every item asked, as when each has a finding.
    read!.objects.forEach((object, i) => {
      const at = object.locate(fieldPath(['metadata', 'name']));
      assert.match(lines[at.line - 1].slice(at.column - 1), new RegExp(`^"?name"?: ?"?n${i}"?`));
    });
  }
});

test('the seed examples read the same both ways', () => {
  for (const file of [
    'new/vm-fedora.yaml',
    'old/vm-fedora.yaml',
    'cluster/networks.yaml',
    'cluster/subnets.yaml',
    'cluster/kubevirt.yaml',
    'bad/masquerade-hotplug.yaml',
    'bad/wrong-ovn-provider.yaml',
    'reviews/nad-wrong-provider.json',
  ]) {
    assertSameReading(readFileSync(join(ROOT, 'examples', file), 'utf8'), file);
  }
});

test('what the fast way is not sure of is read the full way', () => {
  const unsure = [
    'a: &x 1\nb: *x\napiVersion: v1\nkind: A\n', // anchors and aliases
    'apiVersion: v1\nkind: A\nn: !!str 1\n', // a tag
    '%YAML 1.2\n---\napiVersion: v1\nkind: A\n', // a directive
    'apiVersion: v1\nkind: A\n? complex\n: key\n', // an explicit key
    'apiVersion: v1\nkind: A\n[a, b]: c\n', // a collection key
    'apiVersion: v1\nkind: A\nnull: 1\n', // a null key ('' in one library, 'null' in the other)
    'apiVersion: v1\nkind: A\n\tx: 1\n', // a tab
    'apiVersion: v1\r\nkind: A\r\n', // carriage returns
    'apiVersion: v1\nkind: A\nmetadata:\n  name: {{ .Values.name }}\n', // Helm
    'apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: A}]\n', // a List in flow style
    'apiVersion: v1\nkind: A\nb: 1\nb: 2\n', // a duplicate key
  ];
  for (const text of unsure) assertSameReading(text, JSON.stringify(text));
  for (const text of unsure.slice(0, 9)) assert.equal(readPlainDocuments(text), undefined, JSON.stringify(text));
});

test('lines the locator cannot vouch for leave positions to the yaml library', () => {
  const folded = 'apiVersion: v1\nkind: A\nmetadata:\n  name: a long\n    plain scalar\n  namespace: x\n';
  const docs = readPlainDocuments(folded)!;
  assert.equal(blockLocator(folded, docs[0].offset, docs[0].end!), undefined, 'a multi-line plain scalar');
  assertSameReading(folded, 'folded');
  const flow = 'apiVersion: v1\nkind: A\nspec: {a: [1, 2], b: {c: d}}\n';
  assert.equal(blockLocator(flow, 0, flow.length), undefined, 'a flow collection');
  assertSameReading(flow, 'flow');
});

// Keys and strings that are easy to get wrong: colons, hashes, quotes, dashes, numbers, booleans.
const key = fc.oneof(
  fc.constantFrom('name', 'a b', 'x.io/y', '-lead', 'with:colon', 'hash#in', '1', 'true', 'null', "it's", 'q"uote', ''),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
);
const scalar = fc.oneof(
  fc.constantFrom('', 'a: b', '- x', '#c', 'yes', '0x1F', '0o17', '1e3', '.inf', '~', 'multi\nline\n', ' padded '),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 4 }),
  ),
})).v;

test('any object reads the same both ways, written as YAML (both list styles) or JSON', () => {
  fc.assert(
    fc.property(fc.dictionary(key, value, { maxKeys: 5 }), fc.boolean(), (body, kubectl) => {
      const obj = { apiVersion: 'v1', kind: 'ConfigMap', ...body };
      for (const text of [stringify(obj, { indentSeq: !kubectl }), JSON.stringify(obj, null, kubectl ? 0 : 2)])
        assertSameReading(text, text);
    }),
    { numRuns: 300 },
  );
});

test('any List reads the same both ways, written as YAML (both list styles) or JSON', () => {
  fc.assert(
    fc.property(
      fc.array(fc.dictionary(key, value, { maxKeys: 4 }), { maxLength: 4 }),
      fc.boolean(),
      (bodies, kubectl) => {
        const list = {
          apiVersion: 'v1',
          kind: 'List',
          items: bodies.map((b) => ({ apiVersion: 'v1', kind: 'A', ...b })),
        };
        for (const text of [stringify(list, { indentSeq: !kubectl }), JSON.stringify(list, null, kubectl ? 0 : 2)])
          assertSameReading(text, text);
      },
    ),
    { numRuns: 200 },
  );
});

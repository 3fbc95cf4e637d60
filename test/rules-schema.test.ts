// The schema rule through evaluate(): manifests checked against the CRD schemas in schemas/
// as the API server checks them, with the seed documents' misplaced `template:` as the
// first case (seeds 002 and 003: `template:` at the top level of a VirtualMachine).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { offlineRequest } from '../src/admission/offline.js';
import { FINDINGS_PER_RULE } from '../src/engine/evaluate.js';
import { buildContext } from '../src/engine/evaluate.js';
import { KUBEVIRT_SCHEMA_VERSION, SCHEMA_CAUSE_LIMIT, schemaCauses } from '../src/engine/rules/schema.js';
import type { KubeObject, PolicyRequest } from '../src/engine/types.js';
import { nicguard } from './cli-run.js';
import { fedora, interfacesOf } from './hotplug-fixtures.js';
import { clone, config, create, EXAMPLES, findingsOf, readYaml, ROOT, seedCluster, type Manifest } from './support.js';

const manifest = (object: KubeObject, oldObject?: KubeObject): PolicyRequest =>
  offlineRequest({ object, ...(oldObject ? { oldObject } : {}), namespace: 'default' });
const on = (version: string) => config({ kubevirtVersion: version });

function seedSnippet(): Manifest {
  const vm = fedora();
  return { apiVersion: vm.apiVersion, kind: vm.kind, metadata: vm.metadata, template: vm.spec.template };
}

function domainOf(vm: Manifest): Record<string, any> {
  return vm.spec.template.spec.domain;
}

describe('schema: the seed snippet', () => {
  it('denies a VM with template: at the top level and says to move it under spec', () => {
    const [finding, ...rest] = findingsOf('schema', manifest(seedSnippet()));
    assert.equal(rest.length, 0, 'the missing spec and the stray template are one finding');
    assert.equal(finding.action, 'deny');
    assert.equal(finding.field, 'template', 'the finding points at the stray field');
    assert.match(finding.message, /spec is required; `template:` is at the top level — move it under spec:/);
  });

  it('says the same when spec exists but template is beside it', () => {
    const vm = { ...seedSnippet(), spec: { runStrategy: 'Always' } };
    const findings = findingsOf('schema', manifest(vm));
    assert.deepEqual(
      findings.map((f) => [f.action, f.field]),
      [['deny', 'template']],
    );
    assert.match(
      findings[0].message,
      /spec\.template is required; `template:` is at the top level — move it under spec:/,
    );
  });

  it('passes every example manifest', () => {
    for (const dir of ['old', 'new', 'bad', 'cluster']) {
      for (const file of readdirSync(join(EXAMPLES, dir))) {
        for (const obj of readYaml(join(EXAMPLES, dir, file))) {
          assert.deepEqual(findingsOf('schema', manifest(obj)), [], `${dir}/${file}`);
        }
      }
    }
  });
});

describe('schema: nicguard validate', () => {
  it('fails the seed snippet read from stdin, at the line of the stray template:', async () => {
    const yaml = [
      'apiVersion: kubevirt.io/v1',
      'kind: VirtualMachine',
      'metadata:',
      '  name: vm-fedora',
      'template:',
      '  spec:',
      '    domain:',
      '      devices: {}',
      '',
    ].join('\n');
    const run = await nicguard(['validate', '-'], { input: yaml });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /schema/);
    assert.match(run.stdout, /schema {2}template \(line 5\)\n.*move it under spec:/);
  });
});

describe('schema: the webhook', () => {
  it('checks nothing an API server sent: it validated the object against its own CRD first', () => {
    const request = create(seedSnippet());
    assert.equal(request.fromManifest, undefined);
    assert.deepEqual(findingsOf('schema', request), []);
  });
});

describe('schema: unknown fields', () => {
  it('finds a misspelt field, suggests the right one, and warns while the KubeVirt version is unknown', () => {
    const vm = fedora();
    interfacesOf(vm)[0].brige = {};
    const [finding] = findingsOf('schema', manifest(vm));
    assert.equal(finding.field, 'spec.template.spec.domain.devices.interfaces[0].brige');
    assert.equal(finding.action, 'warn');
    assert.match(finding.message, /did you mean `bridge`\?/);
    assert.match(finding.message, /KubeVirt version is unknown/);
  });

  it('denies on the schema release (v1.8.x, from the configuration or the KubeVirt CR) and warns on another', () => {
    const vm = fedora();
    domainOf(vm).interfaces = [];
    const request = manifest(vm);
    const under = (cfg = config(), cluster = seedCluster()) =>
      findingsOf('schema', request, cluster, cfg).map((f) => f.action);
    assert.deepEqual(under(on('v1.8.0')), ['deny']);
    assert.deepEqual(under(on('v1.9.0')), ['warn']);
    assert.deepEqual(under(on('v1.7.4')), ['warn']);
    const kubevirt = {
      ...readYaml(join(EXAMPLES, 'cluster', 'kubevirt.yaml'))[0],
      status: { observedKubeVirtVersion: 'v1.8.4' },
    };
    assert.deepEqual(under(config(), seedCluster(kubevirt)), ['deny']);
    const [finding] = findingsOf('schema', request, seedCluster(), on('v1.8.4'));
    assert.match(
      finding.message,
      /`interfaces:` is at spec\.template\.spec\.domain — move it under spec\.template\.spec\.domain\.devices:/,
    );
  });

  it('accepts what the CRD preserves, nulls it prunes and the implicit apiVersion, kind and metadata', () => {
    const vm = fedora();
    vm.spec.template.metadata = { labels: { a: 'b' }, anything: { goes: true } };
    vm.metadata = { ...vm.metadata, managedFields: [], resourceVersion: '12' };
    vm.status = { whatever: 1 };
    domainOf(vm).firmware = null;
    domainOf(vm).memory = { guest: 1073741824 };
    assert.deepEqual(findingsOf('schema', manifest(vm), seedCluster(), on('v1.8.4')), []);
  });

  it('refuses a field inside a map the CRD declares empty (a binding takes no fields)', () => {
    const vm = fedora();
    interfacesOf(vm)[0].masquerade = { port: 80 };
    const findings = findingsOf('schema', manifest(vm), seedCluster(), on('v1.8.4'));
    assert.deepEqual(
      findings.map((f) => [f.action, f.field]),
      [['deny', 'spec.template.spec.domain.devices.interfaces[0].masquerade.port']],
    );
    assert.match(findings[0].message, /this map takes no fields/);
  });
});

describe('schema: types, enums, patterns', () => {
  it('denies a wrong type whatever the release, with the fix', () => {
    const vm = fedora();
    vm.spec.running = 'true';
    vm.spec.template.spec.networks = { default: { pod: {} } };
    const findings = findingsOf('schema', manifest(vm));
    assert.deepEqual(
      findings.map((f) => [f.action, f.field]),
      [
        ['deny', 'spec.running'],
        ['deny', 'spec.template.spec.networks'],
      ],
    );
    assert.match(findings[0].message, /must be true or false, not the string "true".*Write true without quotes/);
    assert.match(findings[1].message, /must be a list/);
  });

  it('denies an enum value on the schema release, with the nearest allowed value', () => {
    const vm = fedora();
    domainOf(vm).rebootPolicy = 'reboot';
    const [finding] = findingsOf('schema', manifest(vm), seedCluster(), on('v1.8.4'));
    assert.equal(finding.action, 'deny');
    assert.match(finding.message, /allows Reboot, Terminate: did you mean Reboot\?/);
  });

  it('checks int-or-string quantities against their pattern', () => {
    const vm = fedora();
    domainOf(vm).memory = { guest: 'lots' };
    const [finding] = findingsOf('schema', manifest(vm), seedCluster(), on('v1.8.4'));
    assert.equal(finding.field, 'spec.template.spec.domain.memory.guest');
    assert.match(finding.message, /a quantity such as 2Gi/);
  });

  it('lets an unchanged invalid value stand on update, as the API server ratchets', () => {
    const vm = fedora();
    vm.spec.running = 'true';
    const changed = clone(vm);
    changed.spec.template.spec.domain.devices.interfaces[0].model = 'virtio';
    const [finding] = findingsOf('schema', manifest(changed, vm));
    assert.equal(finding.action, 'warn');
    assert.match(finding.message, /previous version has the same value/);
  });
});

describe('schema: VirtualMachineInstance', () => {
  it("checks a VMI against the VMI schema: a VM's spec in a VMI is refused", () => {
    const vm = fedora();
    const vmi: Manifest = {
      apiVersion: vm.apiVersion,
      kind: 'VirtualMachineInstance',
      metadata: vm.metadata,
      spec: vm.spec,
    };
    const findings = findingsOf('schema', manifest(vmi), seedCluster(), on('v1.8.4'));
    assert.deepEqual(findings.map((f) => [f.action, f.field]).sort(), [
      ['deny', 'spec.domain'],
      ['deny', 'spec.runStrategy'],
      ['deny', 'spec.template'],
    ]);
    assert.ok(findings.every((f) => f.message.includes('VirtualMachineInstance schema') || f.field === 'spec.domain'));
  });
});

describe('schema: NetworkAttachmentDefinition and Subnet', () => {
  const nad = (spec: unknown): Manifest => ({
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'n', namespace: 'default' },
    spec,
  });
  const subnet = (spec: Record<string, unknown>): Manifest => ({
    apiVersion: 'kubeovn.io/v1',
    kind: 'Subnet',
    metadata: { name: 'lonely' },
    spec: { protocol: 'IPv4', cidrBlock: '10.70.0.0/24', ...spec },
  });

  it('denies a NAD whose config is not a string, or that has fields Multus does not declare', () => {
    const findings = findingsOf('schema', manifest(nad({ config: { type: 'bridge' }, cofnig: 'x' })));
    assert.deepEqual(
      findings.map((f) => [f.action, f.field]),
      [
        ['deny', 'spec.config'],
        ['deny', 'spec.cofnig'],
      ],
    );
    assert.match(findings[0].message, /must be a string, not a map/);
  });

  it('denies an unknown Subnet field and only warns on an enum Kube-OVN v1.16 dropped', () => {
    const findings = findingsOf('schema', manifest(subnet({ protocol: 'Mac', natOutgiong: true })));
    assert.deepEqual(
      findings.map((f) => [f.action, f.field]),
      [
        ['warn', 'spec.protocol'],
        ['deny', 'spec.natOutgiong'],
      ],
    );
    assert.match(findings[1].message, /did you mean `natOutgoing`\?/);
  });
});

describe('schema: bounded and total', () => {
  it('describes at most SCHEMA_CAUSE_LIMIT problems and the evaluator lists FINDINGS_PER_RULE', () => {
    const vm = fedora();
    for (let i = 0; i < 500; i++) domainOf(vm)[`extra${i}`] = i;
    const request = manifest(vm);
    const ctx = buildContext(request, request.object as KubeObject, seedCluster(), config());
    assert.ok(ctx);
    assert.equal(schemaCauses(ctx, request.object as KubeObject).length, SCHEMA_CAUSE_LIMIT);
    const findings = findingsOf('schema', request);
    assert.equal(findings.length, FINDINGS_PER_RULE);
    assert.match(findings[findings.length - 1].message, /more schema findings not listed/);
  });

  it('never throws on malformed shapes, and every finding is bounded', () => {
    // A small deterministic generator: replace nodes of the fedora VM with hostile values.
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const hostile: unknown[] = [null, [], {}, '', 'x'.repeat(5000), 0, -1.5, true, [[[]]], { '': 1 }, { __proto__: 1 }];
    hostile.push({ constructor: { prototype: 1 } }, { 'a/b~c': [null] }, Object.fromEntries([['__proto__', { x: 1 }]]));
    const paths = (node: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) => {
      out.push(at);
      if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) paths(v, [...at, Array.isArray(node) ? Number(k) : k], out);
      }
      return out;
    };
    const all = paths(fedora());
    for (let round = 0; round < 300; round++) {
      const vm: any = fedora();
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const path = all[Math.floor(random() * all.length)];
        const value = clone(hostile[Math.floor(random() * hostile.length)]);
        if (path.length === 0) continue;
        let parent = vm;
        for (const key of path.slice(0, -1)) parent = parent?.[key];
        if (parent && typeof parent === 'object') parent[path[path.length - 1]] = value;
      }
      const request = manifest(vm);
      const findings = findingsOf('schema', request);
      for (const f of findings) assert.ok(f.message.length < 2048, f.message);
    }
    for (const root of [{}, { kind: 'VirtualMachine', apiVersion: 'kubevirt.io/v1', spec: 5 }]) {
      assert.doesNotThrow(() => findingsOf('schema', manifest(root as KubeObject)));
    }
  });
});

describe('schema: the data', () => {
  it('knows the KubeVirt release schemas/kubevirt/ was generated from', () => {
    const readme = readFileSync(join(ROOT, 'schemas', 'kubevirt', 'README.md'), 'utf8');
    const { major, minor, patch } = KUBEVIRT_SCHEMA_VERSION;
    assert.match(readme, new RegExp(`KubeVirt version: v${major}\\.${minor}\\.${patch}\\b`));
  });
});

// Findings point at the right line and column when the file is read the fast way (JSON through
// JSON.parse, plain YAML through js-yaml, positions from the lines): a JSON file, a
// multi-document YAML file in either list style, and the old version as `kubectl get -o json`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readPlainDocuments } from '../src/io/plain-documents.js';
import { nicguard, tempDir, writeTree } from './cli-run.js';
import { kubeOvnNad } from './support.js';

const nad = kubeOvnNad;

function vm(hotplug: boolean) {
  const ifaces: object[] = [{ name: 'default', masquerade: {} }];
  const networks: object[] = [{ name: 'default', pod: {} }];
  if (hotplug) {
    ifaces.push({ name: 'hot1', masquerade: {} });
    networks.push({ name: 'hot1', multus: { networkName: 'br' } });
  }
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: 'vm1', namespace: 'default' },
    spec: {
      runStrategy: 'Always',
      template: { spec: { domain: { devices: { interfaces: ifaces } }, networks } },
    },
    ...(hotplug ? {} : { status: { printableStatus: 'Running', ready: true } }),
  };
}

const BRIDGE = {
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  metadata: { name: 'br', namespace: 'default' },
  spec: { config: '{"cniVersion": "0.3.1", "type": "bridge", "name": "br"}' },
};

/** 1-based line and column of the n-th (0-based) occurrence of `needle`. */
function at(text: string, needle: string, nth = 0): { line: number; column: number } {
  let offset = -1;
  for (let i = 0; i <= nth; i++) offset = text.indexOf(needle, offset + 1);
  assert.ok(offset >= 0, `${needle} #${nth} not in text`);
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

test('findings in JSON and multi-document YAML files read the fast way sit at their field', async () => {
  const files = {
    'in/nads.yaml': [nad('a', 'a.default.ovn'), nad('b', 'b.default'), BRIDGE].map((o) => stringify(o)).join('---\n'),
    'in/nad.json': JSON.stringify(nad('c', 'c.default'), null, 2) + '\n',
    'in/vm.yaml': `# the change\n---\n${stringify(vm(true), { indentSeq: false })}`,
    'old/vm.json': JSON.stringify(vm(false), null, 4),
  };
  for (const [file, text] of Object.entries(files)) assert.ok(readPlainDocuments(text), `${file} is read the fast way`);
  const dir = writeTree(tempDir(), files);
  const run = await nicguard(['validate', '-f', join(dir, 'in'), '--old', join(dir, 'old'), '-o', 'json']);
  assert.equal(run.status, 1, run.stderr);
  const report = JSON.parse(run.stdout);
  const denied = (name: string) => report.results.find((r: any) => r.name === name && !r.allowed);

  const yaml = files['in/nads.yaml'];
  const b = denied('b');
  // The JSON report gives each object's line and document (its column only in SARIF).
  assert.deepEqual({ line: b.line, document: b.document }, { line: at(yaml, 'apiVersion', 1).line, document: 1 });
  const bFinding = b.findings.find((f: any) => f.rule === 'ovn-provider');
  assert.deepEqual({ line: bFinding.line, column: bFinding.column }, at(yaml, 'config:', 1));

  const json = files['in/nad.json'];
  const c = denied('c');
  assert.equal(c.line, 1);
  const cFinding = c.findings.find((f: any) => f.rule === 'ovn-provider');
  assert.deepEqual({ line: cFinding.line, column: cFinding.column }, at(json, '"config"'));

  const vmText = files['in/vm.yaml'];
  const v = denied('vm1');
  assert.equal(v.oldSource, join(dir, 'old', 'vm.json'));
  assert.equal(v.line, at(vmText, 'apiVersion').line);
  const vFinding = v.findings.find((f: any) => f.rule === 'hotplug-binding');
  // The masquerade binding of the hotplugged interface (the second one), in a list written at its key's column.
  assert.deepEqual({ line: vFinding.line, column: vFinding.column }, at(vmText, 'masquerade:', 1));
});

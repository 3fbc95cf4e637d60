// Configuration files: every problem names the file, the line, the field, what was expected and what is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../src/engine/config.js';
import { parseConfigText } from '../src/io/config-file.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'policy.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  return assert.fail('the configuration was accepted');
}

test('a schema problem names the line of its field, the expected and the actual value', () => {
  const text = [
    'apiVersion: nicguard.io/v1', // 1
    'kind: PolicyConfig', // 2
    'rules:', // 3
    '  hotplug-model: block', // 4
    '  hotplug-bindin: deny', // 5
    'slotModel: v4', // 6
    'hotplugSlotTotal: "4"', // 7
    'exemptServiceAccounts: [alice]', // 8
  ].join('\n');
  assert.deepEqual(problems(text), [
    'policy.yaml:1: apiVersion: must be "nicguard.io/v1alpha1", got "nicguard.io/v1"',
    'policy.yaml:5: rules: unknown field "hotplug-bindin" (did you mean "hotplug-binding"?)',
    'policy.yaml:4: rules.hotplug-model: must be one of deny, warn, off, got "block"',
    'policy.yaml:6: slotModel: must be one of auto, v1, v2, v3, legacy-q35, got "v4"',
    'policy.yaml:7: hotplugSlotTotal: must be integer, got "4"',
    'policy.yaml:8: exemptServiceAccounts[0]: must match pattern "^system:serviceaccount:[^:]+:[^:]+$", got "alice"',
  ]);
});

test('an unknown field far from any known one lists the fields there are', () => {
  const [line] = problems('kind: PolicyConfig\nlimits: {}\n');
  assert.match(
    line,
    /^policy\.yaml:2: \(top level\): unknown field "limits"; expected one of apiVersion, kind, rules, slotModel/,
  );
});

test('a YAML error is shown whole, with its line, column and excerpt, not cut at a colon', () => {
  const lines = problems('rules:\n  hotplug-binding: deny\n    x: 1\n');
  assert.match(lines[0], /^policy\.yaml:2:\d+: not valid YAML: .+ at line 2, column \d+:$/);
  assert.ok(lines.includes('  hotplug-binding: deny'), 'the excerpt of the offending line follows');
  assert.ok(
    lines.some((l) => /^\s*\^+$/.test(l)),
    'and the caret under it',
  );
});

test('a Helm-style value is reported as a wrong value, and the yaml library prints nothing itself', () => {
  const emitted: string[] = [];
  const listener = (w: Error) => emitted.push(w.message);
  process.on('warning', listener);
  try {
    const [line] = problems('slotModel: {{ .Values.model }}\n');
    assert.match(line, /^policy\.yaml:1: slotModel: must be one of auto, v1, v2, v3, legacy-q35, got /);
  } finally {
    process.off('warning', listener);
  }
  assert.deepEqual(emitted, []);
});

test('a valid file merges over the defaults', () => {
  const config = parseConfigText(
    'apiVersion: nicguard.io/v1alpha1\nkind: PolicyConfig\nrules: {hotplug-binding: warn}\n',
    'p.yaml',
  );
  assert.equal(config.rules['hotplug-binding'], 'warn');
  assert.equal(config.rules['hotplug-model'], 'deny');
});

// The rule registry is the only list of rules: every other place that names rules (the
// published JSON Schemas, the shipped configuration, the README's table, the headings of
// docs/rules.md) must agree with it, and this test says where one does not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defaultConfig } from '../src/engine/config.js';
import { RULES, RULE_IDS } from '../src/engine/rules/index.js';
import { generatedFiles } from '../scripts/generate.js';
import { ROOT } from './support.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('rule registry', () => {
  it('has unique ids, each with a title, summary, description and a check', () => {
    assert.equal(new Set(RULE_IDS).size, RULES.length);
    for (const rule of RULES) {
      assert.match(rule.id, /^[a-z][a-z0-9-]*$/);
      assert.ok(rule.title && rule.summary && rule.description, rule.id);
      assert.ok(Object.keys(rule.check).length > 0, `${rule.id} checks some kind`);
      assert.ok(
        rule.settings.includes(rule.defaultSetting),
        `${rule.id}: default ${rule.defaultSetting} is a setting it takes`,
      );
      assert.equal(
        rule.settings.includes('mutate'),
        rule.mutation !== undefined,
        `${rule.id}: mutate only with a mutation`,
      );
    }
  });

  it('derives every generated file: schemas, rule tables, the shipped config (npm run generate)', () => {
    for (const [path, content] of Object.entries(generatedFiles(read))) {
      assert.equal(read(path), content, `${path} is stale: run npm run generate`);
    }
  });

  it('writes every default into manifests/base/config.yaml', () => {
    assert.deepEqual(parse(read('manifests/base/config.yaml')).rules, defaultConfig().rules);
  });

  it('has one section per rule in docs/rules.md', () => {
    const headings = read('docs/rules.md')
      .split('\n')
      .filter((line) => line.startsWith('## ') && /^## [a-z][a-z0-9-]*$/.test(line))
      .map((line) => line.slice(3));
    assert.deepEqual([...headings].sort(), [...RULE_IDS].sort());
  });
});

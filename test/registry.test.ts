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
import { PUBLISHED_SCHEMAS } from '../scripts/write-schemas.js';
import { ROOT } from './support.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('rule registry', () => {
  it('has unique ids, each with a title, summary, description and a check', () => {
    assert.equal(new Set(RULE_IDS).size, RULES.length);
    for (const rule of RULES) {
      assert.match(rule.id, /^[a-z][a-z0-9-]*$/);
      assert.ok(rule.title && rule.summary && rule.description, rule.id);
      assert.ok(Object.keys(rule.check).length > 0, `${rule.id} checks some kind`);
      assert.ok(rule.settings.includes(rule.defaultSetting), `${rule.id}: default ${rule.defaultSetting} is a setting it takes`);
      assert.equal(rule.settings.includes('mutate'), rule.mutation !== undefined, `${rule.id}: mutate only with a mutation`);
    }
  });

  it('matches the published schemas (npm run schemas rewrites them)', () => {
    for (const [path, schema] of Object.entries(PUBLISHED_SCHEMAS)) {
      assert.deepEqual(JSON.parse(read(path)), schema, `${path} is stale: run npm run schemas`);
    }
  });

  it('matches manifests/base/config.yaml, which writes every default out', () => {
    const shipped = parse(read('manifests/base/config.yaml'));
    assert.deepEqual(shipped.rules, defaultConfig().rules);
  });

  it("matches the README's rule table, row by row", () => {
    const section = read('README.md').split('\n## The rules\n')[1]?.split('\n## ')[0] ?? '';
    const rows = section
      .split('\n')
      .filter((line) => /^\| [a-z][a-z0-9-]* \|/.test(line) && !line.startsWith('| id |'))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    const expected = RULES.map((r) => [r.id, `${r.defaultSetting}${r.defaultNote ?? ''}`, r.summary]);
    assert.deepEqual(rows, expected);
  });

  it("matches docs/rules.md's rule table, row by row", () => {
    const rows = read('docs/rules.md')
      .split('\n')
      .filter((line) => line.startsWith('| ['))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    const expected = RULES.map((r) => [`[${r.id}](#${r.id})`, `${r.defaultSetting}${r.defaultNote ?? ''}`, r.summary]);
    assert.deepEqual(rows, expected);
  });

  it('has one section per rule in docs/rules.md', () => {
    const headings = read('docs/rules.md')
      .split('\n')
      .filter((line) => line.startsWith('## ') && /^## [a-z][a-z0-9-]*$/.test(line))
      .map((line) => line.slice(3));
    assert.deepEqual([...headings].sort(), [...RULE_IDS].sort());
  });
});

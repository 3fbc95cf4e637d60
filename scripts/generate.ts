// Writes every file derived from the rule registry and the codec, so that none of them is
// ever edited by hand or drifts: the published JSON Schemas, the rule tables of README.md
// and docs/rules.md, and the rules blocks of manifests/base/config.yaml and the Helm chart's values (each between
// `rules:begin` / `rules:end` markers). test/registry.test.ts fails when a file is stale.
// Run: npm run generate
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ADMISSION_REVIEW_SCHEMA } from '../src/admission/review-schema.js';
import { configSchema } from '../src/engine/config.js';
import { RULES } from '../src/engine/rules/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function defaultLabel(rule: (typeof RULES)[number]): string {
  return `${rule.defaultSetting}${rule.defaultNote ?? ''}`;
}

function ruleTable(link: boolean): string {
  const rows = RULES.map((r) => `| ${link ? `[${r.id}](#${r.id})` : r.id} | ${defaultLabel(r)} | ${r.summary} |`);
  return ['| id | default | guards against |', '|---|---|---|', ...rows].join('\n');
}

/** A `rules:` block with every default, indented by `indent`, commented where `comments`. */
function configRules(indent: string, comments: boolean): string {
  const width = Math.max(...RULES.map((r) => r.id.length + r.defaultSetting.length)) + 3;
  const line = (r: (typeof RULES)[number]) =>
    comments ? `${`${r.id}: ${r.defaultSetting}`.padEnd(width)}# ${r.title}` : `${r.id}: ${r.defaultSetting}`;
  return [`${indent}rules:`, ...RULES.map((r) => `${indent}  ${line(r)}`)].join('\n');
}

/** Replaces what stands between the markers; the markers stay. */
function between(text: string, begin: string, end: string, content: string, file: string): string {
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`${file}: markers ${begin} ... ${end} not found`);
  return text.slice(0, start + begin.length) + '\n' + content + '\n' + text.slice(stop);
}

/** Every derived file: path -> its content as the registry and the codec say. */
export function generatedFiles(read: (path: string) => string): Record<string, string> {
  const md = (path: string, link: boolean) =>
    between(read(path), '<!-- rules:begin -->', '<!-- rules:end -->', ruleTable(link), path);
  return {
    'schemas/config.schema.json': JSON.stringify(configSchema(), null, 2) + '\n',
    'schemas/admission-review.schema.json': JSON.stringify(ADMISSION_REVIEW_SCHEMA, null, 2) + '\n',
    'README.md': md('README.md', false),
    'docs/rules.md': md('docs/rules.md', true),
    'manifests/base/config.yaml': between(
      read('manifests/base/config.yaml'),
      '# rules:begin',
      '# rules:end',
      configRules('', true),
      'manifests/base/config.yaml',
    ),
    'charts/nicguard/values.yaml': between(
      read('charts/nicguard/values.yaml'),
      '  # rules:begin',
      '  # rules:end',
      configRules('  ', false),
      'charts/nicguard/values.yaml',
    ),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const read = (path: string) => readFileSync(root + path, 'utf8');
  for (const [path, content] of Object.entries(generatedFiles(read))) {
    if (read(path) === content) continue;
    writeFileSync(root + path, content);
    process.stdout.write(`wrote ${path}\n`);
  }
}

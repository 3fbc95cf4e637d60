// JUnit XML for CI test reports (GitLab, Jenkins, Azure): one testcase per checked object,
// one failure per denial; warnings go to the testcase's system-out; unreadable input is an error.
import { displayName, formatManifestError } from '../../io/manifests.js';
import type { ValidationReport } from '../../offline/report.js';

/** Characters XML 1.0 cannot carry at all, even escaped. */
const INVALID_XML_CHARS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML_CHARS, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
}

export function formatJunit(report: ValidationReport): string {
  const cases: string[] = [];
  let failures = 0;
  for (const r of report.results) {
    const denials = r.findings.filter((f) => f.action === 'deny');
    const warnings = r.findings.filter((f) => f.action === 'warn');
    const body: string[] = [];
    for (const f of denials) {
      failures++;
      const detail = `${displayName(r.file)}:${f.line}: ${f.rule}${f.field ? ` at ${f.field}` : ''}\n${f.message}`;
      body.push(`      <failure${attrs({ type: f.rule, message: f.message })}>${escapeXml(detail)}</failure>`);
    }
    const out = [
      ...warnings.map((f) => `warning ${f.rule}${f.field ? ` at ${f.field}` : ''}: ${f.message}`),
      ...(r.patch.length ? [`the mutating webhook would apply: ${JSON.stringify(r.patch)}`] : []),
    ];
    if (out.length) body.push(`      <system-out>${escapeXml(out.join('\n'))}</system-out>`);
    const head = `    <testcase${attrs({ classname: displayName(r.file), name: `${r.ref} (${r.operation})`, file: displayName(r.file), line: r.line })}`;
    cases.push(body.length ? `${head}>\n${body.join('\n')}\n    </testcase>` : `${head}/>`);
  }
  for (const e of report.errors) {
    const head = attrs({ classname: displayName(e.file), name: `read ${displayName(e.file)}`, file: displayName(e.file), ...(e.line ? { line: e.line } : {}) });
    cases.push(`    <testcase${head}>\n      <error${attrs({ type: 'input', message: e.message })}>${escapeXml(formatManifestError(e))}</error>\n    </testcase>`);
  }
  const counts = { tests: cases.length, failures, errors: report.errors.length, skipped: 0 };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'nicguard', ...counts })}>`,
    `  <testsuite${attrs({ name: 'nicguard validate', ...counts })}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

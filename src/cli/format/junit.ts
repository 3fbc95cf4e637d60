// JUnit XML for CI test reports (GitLab, Jenkins, Azure): one testcase per checked object and
// rule, failed when the rule denied; warnings go to the testcase's system-out; a file that is
// not a manifest is a skipped testcase, unreadable input an error.
import { displayName, formatManifestError } from '../../io/manifests.js';
import type { ObjectResult, ValidationReport } from '../../offline/report.js';
import { appendAll } from '../../engine/values.js';

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

function seconds(ms: number): string {
  return (ms / 1000).toFixed(6);
}

/**
 * One testcase per object and rule that judged it: failed when the rule denied, skipped when
 * it did not apply (a stopped VM's interface change), passed otherwise. Its time is the
 * object's measured evaluation time shared among its rules (the engine runs them together).
 */
function objectCases(r: ObjectResult): { xml: string[]; failed: number; skipped: number } {
  const xml: string[] = [];
  let failed = 0;
  let skipped = 0;
  const time = seconds(r.durationMs / Math.max(1, r.rules.length));
  // With every rule off, the object still shows as checked.
  const rules = r.rules.length ? r.rules : [''];
  for (const rule of rules) {
    const findings = r.findings.filter((f) => f.rule === rule);
    const denials = findings.filter((f) => f.action === 'deny');
    const warnings = findings.filter((f) => f.action === 'warn');
    const skip = r.skippedRules.find((s) => s.rule === rule);
    const body: string[] = [];
    if (denials.length) {
      failed++;
      const detail = denials.map(
        (f) => `${displayName(r.file)}:${f.line}: ${rule}${f.field ? ` at ${f.field}` : ''}\n${f.message}`,
      );
      body.push(
        `      <failure${attrs({ type: rule, message: denials[0].message })}>` +
          `${escapeXml(detail.join('\n\n'))}</failure>`,
      );
    } else if (skip && !skip.part) {
      skipped++;
      body.push(`      <skipped${attrs({ message: skip.reason })}/>`);
    }
    const out = [
      ...warnings.map((f) => `warning ${f.rule}${f.field ? ` at ${f.field}` : ''}: ${f.message}`),
      ...(skip?.part ? [`${skip.part} not checked: ${skip.reason}`] : []),
      ...(rule === 'unplug-by-removal' ? r.changes.map((c) => `the mutating webhook would apply: ${c}`) : []),
    ];
    if (out.length) body.push(`      <system-out>${escapeXml(out.join('\n'))}</system-out>`);
    const testcase = {
      classname: displayName(r.file),
      name: `${r.ref} (${r.operation})${rule ? `: ${rule}` : ''}`,
      file: displayName(r.file),
      line: r.line,
      time,
    };
    const head = `    <testcase${attrs(testcase)}`;
    xml.push(body.length ? `${head}>\n${body.join('\n')}\n    </testcase>` : `${head}/>`);
  }
  return { xml, failed, skipped };
}

export function formatJunit(report: ValidationReport): string {
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const r of report.results) {
    const one = objectCases(r);
    appendAll(cases, one.xml);
    failures += one.failed;
    skipped += one.skipped;
  }
  for (const s of report.skippedFiles) {
    const head = attrs({
      classname: displayName(s.file),
      name: `read ${displayName(s.file)}`,
      file: displayName(s.file),
      time: seconds(0),
    });
    cases.push(`    <testcase${head}>\n      <skipped${attrs({ message: s.reason })}/>\n    </testcase>`);
    skipped++;
  }
  for (const e of report.errors) {
    const head = attrs({
      classname: displayName(e.file),
      name: `read ${displayName(e.file)}`,
      file: displayName(e.file),
      ...(e.line ? { line: e.line } : {}),
      time: seconds(0),
    });
    cases.push(
      `    <testcase${head}>\n      ` +
        `<error${attrs({ type: 'input', message: e.message })}>${escapeXml(formatManifestError(e))}</error>\n    ` +
        `</testcase>`,
    );
  }
  const counts = {
    tests: cases.length,
    failures,
    errors: report.errors.length,
    skipped,
    time: seconds(report.durationMs),
  };
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

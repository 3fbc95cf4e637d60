// Human-readable output: findings grouped by object, then one summary line.
import { displayName, formatManifestError } from '../../io/manifests.js';
import { plural } from '../../engine/values.js';
import type { ObjectResult, ValidationReport } from '../../offline/report.js';

const MAX_VALUE = 100;

function compact(value: unknown): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 3)}...` : text;
}

function header(r: ObjectResult): string {
  const how = r.admissionReview ? 'AdmissionReview' : r.oldSource ? `old: ${displayName(r.oldSource)}` : '';
  return `${displayName(r.file)}:${r.line}: ${r.ref} (${r.operation}${how ? `, ${how}` : ''})`;
}

function renderObject(r: ObjectResult): string[] {
  const lines = [header(r)];
  for (const f of r.findings) {
    const where = f.field ? `  ${f.field} (line ${f.line})` : '';
    lines.push(`  ${f.action.toUpperCase().padEnd(4)}  ${f.rule}${where}`);
    lines.push(`        ${f.message}`);
  }
  if (r.patch.length) {
    lines.push(`  PATCH the mutating webhook would apply ${plural(r.patch.length, 'operation')}:`);
    for (const op of r.patch) lines.push(`        ${op.op} ${op.path}${op.value !== undefined ? ` ${compact(op.value)}` : ''}`);
  }
  return lines;
}

function summaryLine(report: ValidationReport): string {
  const s = report.summary;
  const parts = [
    `${plural(s.objects, 'object')} checked`,
    `${s.denied} denied`,
    plural(s.warnings, 'warning'),
    `${s.mutated} mutated`,
  ];
  if (s.errors) parts.push(plural(s.errors, 'input error'));
  const skipped = s.skipped ? ` (${plural(s.skipped, 'object')} of other kinds skipped)` : '';
  return `${parts.join(', ')}${skipped}`;
}

/** Objects with nothing to say are left out; the summary counts them. Input errors go to stderr separately. */
export function formatText(report: ValidationReport): string {
  const blocks = report.results.filter((r) => r.findings.length || r.patch.length).map((r) => renderObject(r).join('\n'));
  const errors = report.errors.map((e) => `error: ${formatManifestError(e)}`);
  return [...blocks, ...(errors.length ? [errors.join('\n')] : []), summaryLine(report)].join('\n\n') + '\n';
}

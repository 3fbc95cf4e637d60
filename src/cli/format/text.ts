// Human-readable output: findings grouped by object, notes on what was not checked, then one
// summary line.
import { displayName, formatManifestError } from '../../io/manifests.js';
import { namesUpTo, plural } from '../../engine/values.js';
import type { ObjectResult, OldVersions, ValidationReport } from '../../offline/report.js';

/** Lists are cut after this many names in notes; the rest are counted. */
const NOTE_LIST_LIMIT = 5;

function header(r: ObjectResult): string {
  const how = r.admissionReview ? 'AdmissionReview' : r.oldSource ? `old: ${displayName(r.oldSource)}` : '';
  return `${displayName(r.file)}:${r.line}: ${r.ref} (${r.operation}${how ? `, ${how}` : ''})`;
}

function listed(names: string[]): string {
  return namesUpTo(names, NOTE_LIST_LIMIT, displayName);
}

function renderObject(r: ObjectResult): string[] {
  const lines = [header(r)];
  for (const f of r.findings) {
    const where = f.field ? `  ${f.field} (line ${f.line})` : '';
    lines.push(`  ${f.action.toUpperCase().padEnd(4)}  ${f.rule}${where}`);
    lines.push(`        ${f.message}`);
  }
  if (r.skippedRules.length) {
    const rules = r.skippedRules.map((s) => (s.part ? `${s.rule} (${s.part})` : s.rule));
    lines.push(`  SKIP  ${rules.join(', ')}`);
    lines.push(`        ${r.skippedRules[0].reason}`);
  }
  if (r.changes.length) {
    lines.push('  MUTATE  the mutating webhook would change the object (its JSON patch is in -o json):');
    for (const change of r.changes) lines.push(`        ${change}`);
  }
  return lines;
}

/** Why previous versions went unused: unmatched, they silently make every object a CREATE. */
function oldNotes(old: OldVersions | undefined): string[] {
  if (!old) return [];
  const notes: string[] = [];
  if (old.matched === 0) {
    const why =
      old.objects === 0
        ? ' (no previous version was found' +
          (old.newFiles.length ? ': no input file existed at the --base revision)' : ')')
        : '';
    notes.push(
      `note: no checked object matched a previous version from --old/--base by kind, namespace and name${why}: every ` +
        `object was checked as a CREATE`,
    );
  }
  if (old.unmatchedSources.length) {
    notes.push(
      `note: ${plural(old.unmatchedSources.length, 'previous-version source')} matched no input object: ` +
        `${listed(old.unmatchedSources)}`,
    );
  }
  return notes;
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
  const left = [
    ...(s.skipped ? [`${plural(s.skipped, 'object')} of other kinds skipped`] : []),
    ...(report.skippedFiles.length ? [`${plural(report.skippedFiles.length, 'file')} not manifests`] : []),
    ...(report.excludedFiles.length ? [`${report.excludedFiles.length} excluded`] : []),
  ];
  return `${parts.join(', ')}${left.length ? ` (${left.join(', ')})` : ''}`;
}

/** Notes on what was left out, one line each; the text output and the machine formats' stderr share them. */
export function reportNotes(report: ValidationReport): string[] {
  return [
    ...report.skippedFiles.map((s) => `skipped ${displayName(s.file)}: ${s.reason}`),
    ...(report.excludedFiles.length ? [`excluded by --exclude: ${listed(report.excludedFiles)}`] : []),
    ...oldNotes(report.old),
  ];
}

/** Objects with nothing to say are left out; the summary counts them. Input errors go to stderr separately. */
export function formatText(report: ValidationReport): string {
  const blocks = report.results
    .filter((r) => r.findings.length || r.changes.length || r.skippedRules.length)
    .map((r) => renderObject(r).join('\n'));
  const errors = report.errors.map((e) => `error: ${formatManifestError(e)}`);
  const notes = reportNotes(report);
  return (
    [
      ...blocks,
      ...(errors.length ? [errors.join('\n')] : []),
      ...(notes.length ? [notes.join('\n')] : []),
      summaryLine(report),
    ].join('\n\n') + '\n'
  );
}

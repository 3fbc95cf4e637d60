// Machine-readable output. The shape is documented in docs/cli.md; add fields, never rename.
import type { ValidationReport } from '../../offline/report.js';

export const REPORT_API_VERSION = 'nicguard.io/v1alpha1';

export function formatJson(report: ValidationReport): string {
  const doc = {
    apiVersion: REPORT_API_VERSION,
    kind: 'ValidationReport',
    summary: report.summary,
    results: report.results.map((r) => ({
      file: r.file,
      line: r.line,
      document: r.document,
      apiVersion: r.apiVersion,
      kind: r.kind,
      ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
      name: r.name,
      operation: r.operation,
      ...(r.oldSource ? { oldSource: r.oldSource } : {}),
      admissionReview: r.admissionReview,
      allowed: r.allowed,
      findings: r.findings.map((f) => ({
        rule: f.rule,
        action: f.action,
        object: f.object,
        ...(f.field ? { field: f.field } : {}),
        message: f.message,
        line: f.line,
        column: f.column,
      })),
      patch: r.patch,
      ...(r.skippedRules.length ? { skippedRules: r.skippedRules } : {}),
    })),
    errors: report.errors,
    skippedFiles: report.skippedFiles,
    excludedFiles: report.excludedFiles,
    ...(report.old ? { old: report.old } : {}),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

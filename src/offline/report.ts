// What `nicguard validate` found, in one shape that every output format renders.
import type { Action, Finding, Operation, PatchOperation } from '../engine/types.js';
import type { ManifestError } from '../io/manifests.js';

export interface LocatedFinding extends Finding {
  /** Where the finding's field (or its nearest written ancestor) is, in the input file. */
  line: number;
  column: number;
}

export interface ObjectResult {
  /** Input file as given, `-` for stdin. */
  file: string;
  line: number;
  column: number;
  /** 0-based YAML document index within the file. */
  document: number;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** `Kind namespace/name`. */
  ref: string;
  operation: Operation;
  /** Where the previous version came from (UPDATE only): a file, or `git:REF:path` for --base. */
  oldSource?: string;
  /** True when the input was an AdmissionReview (evaluated as its request says). */
  admissionReview: boolean;
  allowed: boolean;
  findings: LocatedFinding[];
  /** RFC 6902 patch the mutating webhook would apply; empty when nothing would change. */
  patch: PatchOperation[];
}

export interface ValidationSummary {
  /** Objects nicguard checks (VM, VMI, NAD, Kube-OVN Subnet). */
  objects: number;
  /** Objects of other kinds, read but not checked. */
  skipped: number;
  /** Objects with at least one denying finding. */
  denied: number;
  /** Warning findings. */
  warnings: number;
  /** Objects the mutating webhook would change. */
  mutated: number;
  /** Input errors (unreadable or unparsable files, bad objects). */
  errors: number;
}

export interface ValidationReport {
  results: ObjectResult[];
  errors: ManifestError[];
  summary: ValidationSummary;
}

export function summarize(results: ObjectResult[], skipped: number, errors: ManifestError[]): ValidationSummary {
  const count = (action: Action) => results.reduce((n, r) => n + r.findings.filter((f) => f.action === action).length, 0);
  return {
    objects: results.length,
    skipped,
    denied: results.filter((r) => !r.allowed).length,
    warnings: count('warn'),
    mutated: results.filter((r) => r.patch.length > 0).length,
    errors: errors.length,
  };
}


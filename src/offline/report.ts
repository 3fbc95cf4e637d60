// What `nicguard validate` found, in one shape that every output format renders.
import type { Action, Finding, Operation, PatchOperation } from '../engine/types.js';
import type { ManifestError, SkippedFile } from '../io/manifests.js';

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
  /** Ids of the rules that judged the object (not off, with a check for its kind), in registry order. */
  rules: string[];
  /** The patch in words, for the text output: one sentence per entry put back or changed. */
  changes: string[];
  /** Rules (or parts of them) not applied, and why: a stopped VM's interface change is no hotplug. */
  skippedRules: SkippedRule[];
  /** Measured time to evaluate this object, in milliseconds. */
  durationMs: number;
}

export interface SkippedRule {
  rule: string;
  /** For a rule skipped in part, which part, e.g. "the hotplug port budget". */
  part?: string;
  reason: string;
}

/** What became of the previous versions given with --old or --base. */
export interface OldVersions {
  /** Objects read as previous versions. */
  objects: number;
  /** Input objects checked as an UPDATE from one of them. */
  matched: number;
  /** Sources (files, or git:REF:path) none of whose objects matched an input object. */
  unmatchedSources: string[];
  /** With --base: input files that did not exist at the revision. */
  newFiles: string[];
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
  /** Files left out as not manifests, with the reason. */
  skippedFiles: SkippedFile[];
  /** Files and folders left out by --exclude. */
  excludedFiles: string[];
  /** Present when --old or --base was given. */
  old?: OldVersions;
  /** Measured time of the whole run (reading and evaluating), in milliseconds. */
  durationMs: number;
}

export function summarize(results: ObjectResult[], skipped: number, errors: ManifestError[]): ValidationSummary {
  const count = (action: Action) =>
    results.reduce((n, r) => n + r.findings.filter((f) => f.action === action).length, 0);
  return {
    objects: results.length,
    skipped,
    denied: results.filter((r) => !r.allowed).length,
    warnings: count('warn'),
    mutated: results.filter((r) => r.patch.length > 0).length,
    errors: errors.length,
  };
}

// SARIF 2.1.0 for code scanning (e.g. GitHub's upload-sarif): every rule in
// tool.driver.rules, one result per finding located at the file and line of its field.
import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RULES } from '../../engine/rules/index.js';
import type { Action, RuleSetting } from '../../engine/types.js';
import { STDIN } from '../../io/manifests.js';
import { groupOfApiVersion } from '../../engine/kinds.js';
import { REPOSITORY_URL, VERSION } from '../version.js';
import type { LocatedFinding, ObjectResult, ValidationReport } from '../../offline/report.js';

const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const SRCROOT = '%SRCROOT%';

const LEVEL: Record<Action, 'error' | 'warning'> = { deny: 'error', warn: 'warning' };
const DEFAULT_LEVEL: Record<RuleSetting, string> = { deny: 'error', warn: 'warning', mutate: 'note', off: 'none' };

/** A file's URI: relative to the working directory (the repository root in CI) where possible. */
function artifactLocation(file: string, baseDir: string): { uri: string; uriBaseId?: string } {
  if (file === STDIN) return { uri: 'stdin' };
  const rel = relative(baseDir, resolve(baseDir, file));
  if (rel.startsWith('..') || isAbsolute(rel)) return { uri: pathToFileURL(resolve(baseDir, file)).href };
  return { uri: encodeURI(rel.split(sep).join('/')), uriBaseId: SRCROOT };
}

function helpOf(id: string, description: string): { help: { text: string; markdown: string }; helpUri?: string } {
  const url = ruleDocsUrl(id);
  const link = url ?? `docs/rules.md#${id}`;
  return {
    help: { text: `${description} See ${link}.`, markdown: `${description} See [docs/rules.md#${id}](${link}).` },
    ...(url ? { helpUri: url } : {}),
  };
}

/** The rule's section in docs/rules.md, as an absolute URL (SARIF's helpUri must be one). */
export function ruleDocsUrl(id: string, repository = REPOSITORY_URL): string | undefined {
  return repository ? `${repository}/blob/main/docs/rules.md#${id}` : undefined;
}

/** Key of partialFingerprints; versioned, as SARIF recommends, so a new scheme gets a new key. */
const FINGERPRINT_KEY = 'nicguardFinding/v1';

/**
 * Stable across runs and line moves: the rule, the object's group, kind, namespace and name,
 * the field, and which of identical findings this is. Code scanning matches alerts by it.
 */
function fingerprint(r: ObjectResult, f: LocatedFinding, seen: Map<string, number>): string {
  const identity = [f.rule, groupOfApiVersion(r.apiVersion), f.object, f.field ?? ''].join('\0');
  const n = (seen.get(identity) ?? 0) + 1;
  seen.set(identity, n);
  return createHash('sha256').update(`${identity}\0${n}`).digest('hex').slice(0, 32);
}

export function formatSarif(report: ValidationReport, baseDir = process.cwd()): string {
  const ruleIndex = new Map<string, number>(RULES.map((rule, i) => [rule.id, i]));
  const rules = RULES.map((rule) => ({
    id: rule.id,
    name: rule.id
      .split('-')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join(''),
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.description },
    defaultConfiguration: { level: DEFAULT_LEVEL[rule.defaultSetting] },
    ...helpOf(rule.id, rule.description),
  }));
  const seen = new Map<string, number>();
  const results = report.results.flatMap((r) =>
    r.findings.map((f) => ({
      ruleId: f.rule,
      ruleIndex: ruleIndex.get(f.rule),
      level: LEVEL[f.action],
      message: { text: f.message },
      locations: [
        {
          physicalLocation: {
            artifactLocation: artifactLocation(r.file, baseDir),
            region: { startLine: f.line, startColumn: f.column },
          },
          logicalLocations: [{ fullyQualifiedName: f.field ? `${f.object}: ${f.field}` : f.object, kind: 'object' }],
        },
      ],
      partialFingerprints: { [FINGERPRINT_KEY]: fingerprint(r, f, seen) },
      properties: { object: f.object, operation: r.operation, ...(f.field ? { field: f.field } : {}) },
    })),
  );
  const notifications = report.errors.map((e) => ({
    level: 'error',
    message: { text: e.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: artifactLocation(e.file, baseDir),
          ...(e.line ? { region: { startLine: e.line, ...(e.column ? { startColumn: e.column } : {}) } } : {}),
        },
      },
    ],
  }));
  const sarif = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'nicguard', version: VERSION, semanticVersion: VERSION, rules } },
        originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(baseDir.endsWith(sep) ? baseDir : baseDir + sep).href } },
        invocations: [{ executionSuccessful: report.errors.length === 0, toolExecutionNotifications: notifications }],
        // yaml reports columns in JavaScript string positions.
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
  return JSON.stringify(sarif, null, 2) + '\n';
}

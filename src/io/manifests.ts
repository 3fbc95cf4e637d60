// Loading Kubernetes manifests from files, folders and stdin, remembering where each object
// came from so that a finding can point at a file and line (text output, SARIF, JUnit).
import { constants } from 'node:buffer';
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import type { Document, LineCounter, Node } from 'yaml';
import { yamlLibrary } from './yaml-library.js';
import {
  AdmissionDecodeError,
  ADMISSION_API_VERSIONS,
  ADMISSION_KIND,
  decodeAdmissionReview,
  objectProblem,
} from '../admission/review.js';
import type { FieldPath } from '../engine/field-path.js';
import type { KubeObject, PolicyRequest } from '../engine/types.js';
import { GlobSet } from './glob.js';
import { JsonText, blockListItems, blockLocator, readPlainDocuments } from './plain-documents.js';
import { appendAll } from '../engine/values.js';

/** The file name used for standard input (`-f -`). */
export const STDIN = '-';

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

export interface SourcePosition {
  /** The path as given (joined with the folder walked), or `-` for stdin. */
  file: string;
  /** 1-based line of the object's first key. */
  line: number;
  column: number;
  /** 0-based index of the YAML document in the file. */
  document: number;
}

export interface LoadedObject {
  object: KubeObject;
  source: SourcePosition;
  /** Present when the object is an AdmissionReview: the request, to be evaluated as it says. */
  review?: PolicyRequest;
  /**
   * Where a field of the object is written, e.g. `spec.template.spec.networks[1]`; falls back
   * to the nearest ancestor that exists, then to the object itself.
   */
  locate(field: FieldPath | undefined): { line: number; column: number };
}

export interface ManifestError {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

/** A file that was read or found but is not a Kubernetes manifest, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ManifestLoad {
  objects: LoadedObject[];
  errors: ManifestError[];
  /** Files read (after walking folders), in order. */
  files: string[];
  /** Files left out as not manifests (kustomization.yaml, Chart.yaml, values.yaml, ...). */
  skipped: SkippedFile[];
  /** Files found in folders and left out by --exclude. */
  excluded: string[];
}

export interface LoadOptions {
  /** Globs on the path relative to the folder walked: matching files and folders are left out. */
  exclude?: readonly string[];
}

/**
 * Files that sit next to manifests in GitOps folders but are not manifests, by name. They are
 * skipped whether a folder walk finds them or they are named (pre-commit names every changed file).
 */
const NOT_MANIFEST_NAMES: readonly { name: RegExp; what: (dir: string, file: string) => string }[] = [
  {
    name: /^(kustomization\.ya?ml|Kustomization)$/,
    what: (dir) =>
      `a kustomize file, not a manifest (to check what it builds: kubectl kustomize ${dir} | nicguard validate -f -)`,
  },
  {
    name: /^Chart\.(yaml|lock)$/,
    what: (dir) =>
      `a Helm chart file, not a manifest (to check what the chart renders: helm template RELEASE ${dir} | nicguard ` +
      `validate -f -)`,
  },
  {
    name: /^values([._-][^/]*)?\.(ya?ml|json)$/,
    what: (_, file) =>
      `Helm values, not a manifest (to check what they render: helm template RELEASE CHART -f ${file} | nicguard ` +
      `validate -f -)`,
  },
  { name: /^helmfile\.ya?ml$/, what: () => 'a helmfile, not a manifest' },
  { name: /^(docker-)?compose([._-][^/]*)?\.ya?ml$/, what: () => 'a Compose file, not a manifest' },
  {
    name: /^\.(pre-commit-config|pre-commit-hooks|gitlab-ci|yamllint|markdownlint|golangci)\.ya?ml$/,
    what: () => 'a tool configuration file, not a manifest',
  },
];

/** Why a file is not a manifest, judged by its name; undefined for any other name. */
export function notManifestByName(file: string): string | undefined {
  if (file === STDIN) return undefined;
  const name = basename(file);
  return NOT_MANIFEST_NAMES.find((n) => n.name.test(name))?.what(dirname(file), file);
}

export function formatManifestError(e: ManifestError): string {
  const where = e.line ? `${displayName(e.file)}:${e.line}${e.column ? `:${e.column}` : ''}` : displayName(e.file);
  return `${where}: ${e.message}`;
}

export function displayName(file: string): string {
  return file === STDIN ? '<stdin>' : file;
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Why a file could not be read: the error code, and what to do where there is something. */
function cannotRead(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ERR_STRING_TOO_LONG') {
    return (
      `cannot read: larger than the ${Math.round(constants.MAX_STRING_LENGTH / 2 ** 20)} MiB Node reads as one ` +
      'text; split it into several files (e.g. kubectl get ... -n NAMESPACE, one per namespace), or read the ' +
      'cluster live (validate --cluster, audit without --objects), page by page'
    );
  }
  return `cannot read (${code ?? (err as Error).message})`;
}

/**
 * The manifest files under a path: a file named explicitly is read whatever its extension
 * (as kubectl does); folders are walked recursively for .yaml/.yml/.json, skipping hidden
 * files and folders such as .git, and what `exclude` matches (by the path relative to `path`;
 * left-out paths are added to `excluded`). Sorted, so output order is stable.
 */
export function listManifestFiles(
  path: string,
  errors: ManifestError[],
  exclude?: GlobSet,
  excluded?: string[],
): string[] {
  let stats;
  try {
    stats = statSync(path);
  } catch (err) {
    errors.push({ file: path, message: cannotRead(err) });
    return [];
  }
  if (!stats.isDirectory()) return [path];
  const found: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string) => {
    // A symlink loop would otherwise walk forever.
    const real = realpathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch (err) {
      errors.push({
        file: dir,
        message: `cannot read folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      });
      return;
    }
    for (const entry of entries) {
      if (entry.startsWith('.')) continue;
      const full = join(dir, entry);
      let s;
      try {
        s = statSync(full);
      } catch {
        continue; // a dangling symlink is not a manifest
      }
      const isManifest =
        !s.isDirectory() && (MANIFEST_EXTENSIONS as readonly string[]).includes(extname(entry).toLowerCase());
      if (!s.isDirectory() && !isManifest) continue;
      // An excluded folder is not walked at all.
      if (exclude && !exclude.empty && exclude.matches(relative(path, full).split(sep).join('/'))) {
        excluded?.push(full);
        continue;
      }
      if (s.isDirectory()) walk(full);
      else found.push(full);
    }
  };
  walk(path);
  return found;
}

/** The child node and where it is written: a map entry at its key, a list item at itself. */
function childOf(node: unknown, key: string | number): { node: unknown; offset?: number } | undefined {
  const { isMap, isSeq } = yamlLibrary();
  if (isSeq(node) && typeof key === 'number') {
    const item = node.items[key] as Node | undefined;
    return item ? { node: item, offset: item.range?.[0] } : undefined;
  }
  if (isMap(node)) {
    const pair = node.items.find((p) => {
      const k = p.key as any;
      return String(k?.value ?? k) === String(key);
    });
    if (!pair) return undefined;
    return {
      node: pair.value,
      offset: (pair.key as Node | undefined)?.range?.[0] ?? (pair.value as Node | undefined)?.range?.[0],
    };
  }
  return undefined;
}

/** The offset of the deepest node along `segments` that is written (a map entry at its key). */
export function deepestOffset(root: Node, segments: (string | number)[]): number | undefined {
  let node: unknown = root;
  let offset = root.range?.[0];
  for (const segment of segments) {
    const next = childOf(node, segment);
    if (next === undefined) break;
    node = next.node;
    offset = next.offset ?? offset;
  }
  return offset;
}

function makeLocator(
  root: Node | undefined,
  prefix: (string | number)[],
  counter: LineCounter,
  fallback: { line: number; column: number },
) {
  return (field: FieldPath | undefined) => {
    if (!root) return fallback;
    const offset = deepestOffset(root, [...prefix, ...(field ? field.keys() : [])]);
    if (offset === undefined) return fallback;
    const pos = counter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
}

/** The request an AdmissionReview in a file holds, through the webhook's own decoder; a string says what is wrong. */
function admissionRequest(review: Record<string, unknown>): PolicyRequest | string {
  try {
    return decodeAdmissionReview(review, { apiVersions: ADMISSION_API_VERSIONS }).request;
  } catch (err) {
    if (err instanceof AdmissionDecodeError) return `AdmissionReview: ${err.message}`;
    throw err;
  }
}

function isAdmissionReview(obj: KubeObject): boolean {
  return obj.kind === ADMISSION_KIND && ADMISSION_API_VERSIONS.includes(String(obj.apiVersion));
}

/** `kind: List` and typed lists such as `VirtualMachineList`, as `kubectl get -o yaml` writes them. */
function isList(obj: KubeObject): boolean {
  return typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray((obj as any).items);
}

/** Helm's own objects and functions: `{{ .Values.x }}` is Helm, `{{ $labels.x }}` in an alert rule is not. */
const HELM_ACTION = /\{\{-?[^}]*?(\.(Values|Release|Chart|Capabilities|Files|Template)\b|\binclude\s+")/;

/** A `{{` that YAML cannot read (a syntax error, or a flow map used as a key), as Helm templates have. */
function unreadableTemplate(docs: readonly Document.Parsed[]): boolean {
  return docs.some((doc) => {
    if (doc.errors.length || doc.warnings.length) return true;
    let collectionKey = false;
    const { isCollection, visit } = yamlLibrary();
    visit(doc, {
      Pair(_, pair) {
        if (!isCollection(pair.key)) return undefined;
        collectionKey = true;
        return visit.BREAK;
      },
    });
    return collectionKey;
  });
}

/** The line of the first Helm action, when the text looks like a Helm template rather than a manifest. */
function helmTemplateLine(text: string, docs: readonly Document.Parsed[], counter: LineCounter): number | undefined {
  const first = text.indexOf('{{');
  if (first < 0 || !text.includes('}}', first)) return undefined;
  const helm = HELM_ACTION.exec(text);
  if (helm) return counter.linePos(helm.index).line;
  return unreadableTemplate(docs) ? counter.linePos(first).line : undefined;
}

/** True for a document that means to be a Kubernetes object: a mapping with apiVersion, kind or metadata. */
function looksLikeObject(doc: Document.Parsed): boolean {
  const root = doc.contents;
  return (
    doc.errors.length > 0 ||
    (yamlLibrary().isMap(root) && ['apiVersion', 'kind', 'metadata'].some((key) => root.has(key)))
  );
}

export interface ParsedManifests {
  objects: LoadedObject[];
  errors: ManifestError[];
  /** Set when the file as a whole is not a manifest (no document looks like an object): why. */
  skipped?: string;
}

type Position = { line: number; column: number };
type Locate = LoadedObject['locate'];
/** Makes the locator of the fields of an object written at `prefix` below its own root (or `fallback`). */
type LocatorAt = (prefix: (string | number)[], fallback: Position) => Locate;

/**
 * Checks one object of a document and adds it (or the reason it cannot be checked) to `out`.
 * `locatorAt` locates paths from the object's own root.
 */
function addObject(
  out: ParsedManifests,
  file: string,
  document: number,
  obj: unknown,
  pos: Position,
  label: string,
  locatorAt: LocatorAt,
): void {
  const { errors } = out;
  if (!isRecord(obj)) {
    errors.push({ file, ...pos, message: `${label} is not a Kubernetes object (a mapping with apiVersion and kind)` });
    return;
  }
  const missing = ['apiVersion', 'kind'].filter((k) => typeof obj[k] !== 'string' || obj[k] === '');
  if (missing.length) {
    errors.push({ file, ...pos, message: `${label} has no ${missing.join(' and ')}` });
    return;
  }
  const unfit = isAdmissionReview(obj as KubeObject) ? undefined : objectProblem(obj);
  if (unfit) {
    errors.push({ file, ...pos, message: `${label} cannot be checked: ${unfit}` });
    return;
  }
  const loaded: LoadedObject = {
    object: obj as KubeObject,
    source: { file, line: pos.line, column: pos.column, document },
    locate: locatorAt([], pos),
  };
  if (isAdmissionReview(obj as KubeObject)) {
    const request = admissionRequest(obj);
    if (typeof request === 'string') {
      errors.push({ file, ...pos, message: request });
      return;
    }
    loaded.review = request;
    // Fields of the reviewed object live under request.object.
    loaded.locate = locatorAt(['request', 'object'], pos);
  }
  out.objects.push(loaded);
}

/** Item `i` of a List: items of a typed list (as the API returns them) carry neither kind nor apiVersion. */
function addListItem(
  out: ParsedManifests,
  file: string,
  document: number,
  list: KubeObject & { items: unknown[] },
  i: number,
  pos: Position,
  locatorAt: LocatorAt,
): void {
  const item = list.items[i];
  const itemKind = list.kind === 'List' ? undefined : String(list.kind).slice(0, -'List'.length);
  if (isRecord(item) && itemKind) {
    item.kind ??= itemKind;
    item.apiVersion ??= list.apiVersion;
  }
  addObject(out, file, document, item, pos, `${list.kind} item ${i}`, locatorAt);
}

/** The documents of a file as the `yaml` library reads them, with every node's position. */
function parseYaml(text: string): { docs: Document.Parsed[] | { errors?: unknown }; counter: LineCounter } {
  const { LineCounter, parseAllDocuments } = yamlLibrary();
  const counter = new LineCounter();
  // logLevel 'error': the library would print its warnings to stderr; problems are reported here instead.
  const docs = parseAllDocuments(text, { lineCounter: counter, logLevel: 'error' }) as
    Document.Parsed[] | { errors?: unknown };
  return { docs, counter };
}

/**
 * 1-based line and column of offsets in one text, as the `yaml` library's LineCounter counts
 * them. The line starts are found once, on the first call, and searched: scanning from the
 * top for each offset made a file of N documents cost N^2 (40,000 documents took 32 s).
 */
function positionsIn(text: string): (offset: number) => Position {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
    }
    // The last line that starts at or before the offset.
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid] <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - starts[low] + 1 };
  };
}

/**
 * The fast way (./plain-documents.ts): JSON and plain YAML without the position of every node.
 * A finding asks for positions: JSON and simple block YAML are located from the text; when the
 * lines cannot say, the `yaml` library reads the file, once per file. A List's items are found
 * in one pass, and each is located from its own start, so a large List costs no more than the
 * same objects in separate files.
 */
export function parsePlainManifests(text: string, file: string): ParsedManifests | undefined {
  const docs = readPlainDocuments(text);
  if (!docs) return undefined;
  const out: ParsedManifests = { objects: [], errors: [] };
  const looksLikeObject = (v: unknown) =>
    isRecord(v) && ['apiVersion', 'kind', 'metadata'].some((k) => Object.hasOwn(v, k));
  if (docs.length > 0 && !docs.some((d) => looksLikeObject(d.value))) {
    return { ...out, skipped: 'not a Kubernetes manifest: no document has apiVersion, kind or metadata' };
  }
  let full: ReturnType<typeof parseYaml> | undefined;
  const positionOf = positionsIn(text);
  const json = new JsonText(text);
  /** Locators of the object written from `start` to `end` (`end` undefined: JSON) at `path` in document `index`. */
  const locatorsOf = (index: number, path: (string | number)[], start: number, end: number | undefined) => {
    // The object's lines, read on its first finding; the yaml library reads the file when they cannot say.
    let fromText: ((segments: (string | number)[]) => number | undefined) | null | undefined;
    const locatorAt: LocatorAt = (prefix, fallback) => {
      let slow: Locate | undefined;
      return (field) => {
        const keys = [...prefix, ...(field ? field.keys() : [])];
        fromText ??= (end === undefined ? json.locator(start) : blockLocator(text, start, end)) ?? null;
        const offset = fromText?.(keys);
        if (offset !== undefined) return positionOf(offset);
        if (!slow) {
          full ??= parseYaml(text);
          const parsed = Array.isArray(full.docs) ? full.docs[index] : undefined;
          slow = makeLocator(
            (parsed?.contents as Node | null) ?? undefined,
            [...path, ...prefix],
            full.counter,
            fallback,
          );
        }
        return slow(field);
      };
    };
    return locatorAt;
  };
  for (const [index, doc] of docs.entries()) {
    if (doc.value === null || doc.value === undefined) continue;
    const label = docs.length > 1 ? `document ${index + 1}` : 'the document';
    if (isRecord(doc.value) && isList(doc.value as KubeObject)) {
      const list = doc.value as KubeObject & { items: unknown[] };
      const starts =
        doc.end === undefined
          ? json.listItems(doc.offset, 'items')
          : blockListItems(text, doc.offset, doc.end, 'items');
      // Items the text does not show one by one (a flow list, lines that are not simple): the full way.
      if (!starts || starts.length !== list.items.length) return undefined;
      list.items.forEach((item, i) => {
        const end = doc.end === undefined ? undefined : (starts[i + 1] ?? doc.end);
        const locatorAt = locatorsOf(index, ['items', i], starts[i], end);
        addListItem(out, file, index, list, i, positionOf(starts[i]), locatorAt);
      });
      continue;
    }
    addObject(out, file, index, doc.value, positionOf(doc.offset), label, locatorsOf(index, [], doc.offset, doc.end));
  }
  return out;
}

/**
 * Parses one file's text: every YAML document, lists flattened, AdmissionReviews recognised.
 * A Helm template is one error; a file none of whose documents looks like a Kubernetes object
 * (a values file, a CI config) is skipped, not an error.
 */
export function parseManifests(text: string, file: string): ParsedManifests {
  return parsePlainManifests(text, file) ?? parseFullManifests(text, file);
}

/** parseManifests the full way: the `yaml` library, every node's position kept. */
export function parseFullManifests(text: string, file: string): ParsedManifests {
  const out: ParsedManifests = { objects: [], errors: [] };
  const { errors } = out;
  const { docs, counter } = parseYaml(text);
  if (!Array.isArray(docs)) return out;
  const helmLine = helmTemplateLine(text, docs, counter);
  if (helmLine !== undefined) {
    const message =
      'looks like a Helm template ({{ ... }}), not a manifest: render it first with ' +
      'helm template RELEASE CHART | nicguard validate -f -, or leave it out with --exclude';
    return { ...out, errors: [{ file, line: helmLine, message }] };
  }
  if (docs.length > 0 && !docs.some(looksLikeObject)) {
    return { ...out, skipped: 'not a Kubernetes manifest: no document has apiVersion, kind or metadata' };
  }
  docs.forEach((doc, index) => {
    if (doc.errors.length) {
      const first = doc.errors[0];
      const pos = first.linePos?.[0] ?? counter.linePos(first.pos[0]);
      const message = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      const more =
        doc.errors.length > 1
          ? ` (and ${doc.errors.length - 1} more problem${doc.errors.length > 2 ? 's' : ''} in this document)`
          : '';
      errors.push({ file, line: pos.line, column: pos.col, message: `not valid YAML: ${message}${more}` });
      return;
    }
    const root = doc.contents as Node | null;
    if (root === null || root === undefined) return; // an empty document, e.g. a trailing `---`
    const start = counter.linePos(root.range?.[0] ?? 0);
    const where = { line: start.line, column: start.col };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      errors.push({ file, ...where, message: `cannot read document ${index + 1}: ${(err as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return;
    const locatorAt: LocatorAt = (prefix, fallback) => makeLocator(root, prefix, counter, fallback);
    const label = docs.length > 1 ? `document ${index + 1}` : 'the document';
    if (isRecord(value) && isList(value as KubeObject)) {
      const list = value as KubeObject & { items: unknown[] };
      list.items.forEach((item: unknown, i: number) => {
        const offset = deepestOffset(root, ['items', i]);
        const p = offset !== undefined ? counter.linePos(offset) : start;
        const itemLocatorAt: LocatorAt = (prefix, fallback) =>
          makeLocator(root, ['items', i, ...prefix], counter, fallback);
        addListItem(out, file, index, list, i, { line: p.line, column: p.col }, itemLocatorAt);
      });
      return;
    }
    addObject(out, file, index, value, where, label, locatorAt);
  });
  return out;
}

/** Reads standard input once, however often `-` is named. */
let stdinText: string | undefined;
function readStdin(): string {
  stdinText ??= readFileSync(0, 'utf8');
  return stdinText;
}

/**
 * Loads every manifest under the given paths (`-` for stdin). Problems are collected, never
 * thrown. Files that are not manifests are skipped with their reason; `exclude` globs apply
 * to the files and folders a folder walk finds.
 */
export function loadManifests(paths: readonly string[], options: LoadOptions = {}): ManifestLoad {
  const result: ManifestLoad = { objects: [], errors: [], files: [], skipped: [], excluded: [] };
  const exclude = new GlobSet(options.exclude ?? []);
  for (const path of paths) {
    const files = path === STDIN ? [STDIN] : listManifestFiles(path, result.errors, exclude, result.excluded);
    for (const file of files) {
      const byName = notManifestByName(file);
      if (byName) {
        result.skipped.push({ file, reason: byName });
        continue;
      }
      let text: string;
      try {
        text = file === STDIN ? readStdin() : readFileSync(file, 'utf8');
      } catch (err) {
        result.errors.push({ file, message: cannotRead(err) });
        continue;
      }
      result.files.push(file);
      const parsed = parseManifests(text, file);
      if (parsed.skipped) result.skipped.push({ file, reason: parsed.skipped });
      appendAll(result.objects, parsed.objects);
      appendAll(result.errors, parsed.errors);
    }
  }
  return result;
}

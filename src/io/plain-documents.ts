// The fast way to read a manifest file: JSON through JSON.parse, and plain YAML (block and flow
// collections, plain, quoted and block scalars, comments, `---` between documents) through
// js-yaml with the YAML 1.2 core schema exactly as the `yaml` library resolves it. Neither keeps
// the position of every node, which is what makes the `yaml` library's documents costly: the
// caller asks for positions only when a finding needs one, and reads the file again then.
//
// Anything this reader is not sure to read as the `yaml` library does (anchors, aliases, tags,
// directives, explicit or collection keys, null keys, merge keys, tabs, carriage returns, `{{`,
// a List whose items need positions, a document the other parser rejects) gives undefined, and
// the caller reads the file the full way, errors and all.
import { FAILSAFE_SCHEMA, Type, load } from 'js-yaml';
import { appendAll } from '../engine/values.js';
import * as json from '../json-text.js';

export interface PlainDocument {
  value: unknown;
  /** 0-based offset in the text where the document's content starts (the yaml library's range[0]). */
  offset: number;
  /** Where the document ends; set for YAML documents (blockLocator reads them), not for JSON. */
  end?: number;
}

/** The YAML 1.2 core schema as the `yaml` library resolves plain scalars (its schema/core/*.js). */
const CORE_TYPES = [
  new Type('tag:yaml.org,2002:null', {
    kind: 'scalar',
    resolve: (s: string) => /^(?:~|[Nn]ull|NULL)?$/.test(s),
    construct: () => null,
  }),
  new Type('tag:yaml.org,2002:bool', {
    kind: 'scalar',
    resolve: (s: string) => /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s),
    construct: (s: string) => s[0] === 't' || s[0] === 'T',
  }),
  new Type('tag:yaml.org,2002:int', {
    kind: 'scalar',
    resolve: (s: string) => /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/.test(s),
    construct: (s: string) =>
      s.startsWith('0o') ? parseInt(s.slice(2), 8) : s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10),
  }),
  new Type('tag:yaml.org,2002:float', {
    kind: 'scalar',
    resolve: (s: string) =>
      /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s) ||
      /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s) ||
      /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s),
    construct: (s: string) =>
      /^[-+]?\.(?:inf|Inf|INF)$/.test(s)
        ? s[0] === '-'
          ? Number.NEGATIVE_INFINITY
          : Number.POSITIVE_INFINITY
        : /^\.(?:nan|NaN|NAN)$/.test(s)
          ? NaN
          : parseFloat(s),
  }),
];
const CORE_SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: CORE_TYPES });

/**
 * What the fast reader leaves to the full one, by a look at the text (false alarms only cost
 * time): tabs and carriage returns; Helm's `{{`; directives, document end markers and content
 * on a `---` line; anchors, aliases and tags; explicit keys (`? `); collection keys (`]:`,
 * `}:`); empty and null keys; merge keys.
 */
const NOT_PLAIN = new RegExp(
  [
    /[\t\r]|\{\{/.source,
    /^%|^\.\.\.|^---[^\s#]|^--- +[^\s#]/.source,
    /(?:^|[\s,[{])[&*!]\S/.source,
    /^[ -]*\? /.source,
    /[\]}]\s*:(?:\s|$)/.source,
    /^[ -]*(?::|(?:~|null|Null|NULL|""|'')[ ]*:)(?:\s|$)/.source,
    /<<\s*:/.source,
  ].join('|'),
  'm',
);

const MARKER = /^---(?:[ ]+#.*)?[ ]*$/;

/** Offset of the first line that is neither blank nor a comment, at its first character; -1 if none. */
function contentOffset(text: string, from: number, to: number): number {
  let at = from;
  while (at < to) {
    const end = text.indexOf('\n', at);
    const lineEnd = end < 0 || end > to ? to : end;
    let i = at;
    while (i < lineEnd && text.charCodeAt(i) === 32) i++;
    if (i < lineEnd && text[i] !== '#') return i;
    at = lineEnd + 1;
  }
  return -1;
}

/** Same count of keys in the text as in the value: JSON.parse keeps the last of duplicate keys, YAML refuses them. */
function sameKeyCount(text: string, value: unknown): boolean {
  let written = 0;
  for (const m of text.matchAll(/"(?:[^"\\]|\\.)*"(\s*:)?/g)) if (m[1]) written++;
  let parsed = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) appendAll(stack, v);
    else {
      const keys = Object.keys(v);
      parsed += keys.length;
      for (const k of keys) stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return written === parsed;
}

function readJson(text: string): PlainDocument[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !sameKeyCount(text, value)) return undefined;
  return [{ value, offset: text.search(/\S/) }];
}

function readYaml(text: string): PlainDocument[] | undefined {
  if (NOT_PLAIN.test(text)) return undefined;
  // Documents: what precedes the first `---` unless it is only blank lines and comments, then one per `---`.
  const bounds: { from: number; to: number; marker: boolean }[] = [];
  let from = 0;
  let marker = false;
  for (let at = 0; at <= text.length;) {
    const end = text.indexOf('\n', at);
    const lineEnd = end < 0 ? text.length : end;
    if (text.startsWith('---', at) && MARKER.test(text.slice(at, lineEnd))) {
      bounds.push({ from, to: at, marker });
      from = lineEnd + 1;
      marker = true;
    }
    at = lineEnd + 1;
  }
  bounds.push({ from, to: text.length, marker });
  const docs: PlainDocument[] = [];
  for (const b of bounds) {
    const offset = contentOffset(text, b.from, b.to);
    if (offset < 0) {
      // An empty document counts when a `---` opened it; before the first `---` it is a prelude.
      if (b.marker) docs.push({ value: null, offset: b.from });
      continue;
    }
    let value: unknown;
    try {
      value = load(text.slice(b.from, b.to), { schema: CORE_SCHEMA });
    } catch {
      return undefined;
    }
    docs.push({ value: value ?? null, offset, end: b.to });
  }
  return docs;
}

/**
 * The documents of a manifest file read the fast way, or undefined when the file must be read
 * by the `yaml` library (see NOT_PLAIN); values are as that library's toJS() gives them.
 */
export function readPlainDocuments(text: string): PlainDocument[] | undefined {
  if (/[\t\r]/.test(text) || text.includes('{{')) return undefined;
  return /^\s*[{[]/.test(text) ? readJson(text) : readYaml(text);
}

// ---- positions in plain block YAML, without the yaml library ----
//
// A finding names a field path; its line is where the deepest written node along the path
// starts, as deepestOffset (./manifests.ts) finds it in the yaml library's document: a map
// entry at its key, a list item at its content. For a document whose every line is simple
// (block maps and lists, one-line scalars, block scalars, `{}` and `[]`) the lines alone say
// that; any other document gives undefined and is read by the yaml library.

interface Line {
  /** Offset of the line's first character. */
  start: number;
  indent: number;
  text: string;
}

/** Thrown when the lines say less than the yaml library's document would: the caller reads it that way. */
const UNSURE = Symbol('unsure');

/** A key written plainly or quoted without escapes: its text, and the column after its `:`; undefined if none. */
function keyAt(text: string, col: number): { key: string; after: number } | undefined {
  const c = text[col];
  if (c === '"' || c === "'") {
    const close = text.indexOf(c, col + 1);
    if (close < 0 || text[close + 1] !== ':') return undefined;
    const key = text.slice(col + 1, close);
    if (key.includes('\\')) return undefined;
    return { key, after: close + 2 };
  }
  // A plain key: no indicator first, up to the first `:` before a space or the line's end; ` #` starts a comment.
  const m = /^(?:[^\s\-?:,[\]{}#&*!|>'"%@`]|-(?=\S))(.*?):(?=\s|$)/.exec(text.slice(col));
  if (!m || m[0].includes(' #')) return undefined;
  return { key: m[0].slice(0, -1).trimEnd(), after: col + m[0].length };
}

/** True when a plain key resolves to a string under the core schema (so `String(value)` is its text). */
function plainKeyIsString(key: string): boolean {
  return !CORE_TYPES.some((t) => t.resolve(key));
}

type Node = { line: number; col: number } | undefined;

/** The lines of a document, or undefined when one is not simple. */
function simpleLines(text: string, from: number, to: number): Line[] | undefined {
  const lines: Line[] = [];
  let blockIndent = -1; // inside a block scalar: lines indented more than this belong to it
  let scalarIndent = -1; // after a one-line scalar value: the next line must not be indented more
  for (let at = from; at < to;) {
    const nl = text.indexOf('\n', at);
    const end = nl < 0 || nl > to ? to : nl;
    const line = text.slice(at, end);
    const indent = line.length - line.trimStart().length;
    const blank = indent === line.length || line[indent] === '#';
    at = end + 1;
    if (blockIndent >= 0) {
      if (blank || indent > blockIndent) continue;
      blockIndent = -1;
    }
    if (blank) continue;
    if (scalarIndent >= 0 && indent > scalarIndent) return undefined;
    scalarIndent = -1;
    // Items opened on this line, then a key or a scalar.
    let col = indent;
    let dash = -1;
    while (line[col] === '-' && (col + 1 === line.length || line[col + 1] === ' ')) {
      dash = col++;
      while (line[col] === ' ') col++;
      if (col === line.length) break;
    }
    if (col === line.length) {
      lines.push({ start: at - line.length - 1, indent, text: line });
      continue;
    }
    let valueCol = col;
    let owner = col; // the column a following line must not pass, if the value is a one-line scalar
    const key = keyAt(line, col);
    if (key) {
      if (line[col] !== '"' && line[col] !== "'" && !plainKeyIsString(key.key)) return undefined;
      valueCol = key.after;
      while (line[valueCol] === ' ') valueCol++;
      if (line[valueCol] === '-' && (valueCol + 1 === line.length || line[valueCol + 1] === ' ')) return undefined;
      if (valueCol === line.length || line[valueCol] === '#') {
        lines.push({ start: at - line.length - 1, indent, text: line });
        continue;
      }
    } else {
      owner = dash; // a list item's scalar: the next line is at most at the dash
    }
    const value = line.slice(valueCol);
    if (/^[|>][-+1-9]{0,2}\s*(?:#.*)?$/.test(value)) blockIndent = key ? col : dash;
    else if (/^(?:\{\}|\[\])\s*(?:#.*)?$/.test(value)) scalarIndent = owner;
    else if (/^['"]/.test(value)) {
      // One quoted scalar, closed on this line.
      const q = value[0];
      const m = q === '"' ? /^"(?:[^"\\]|\\.)*"\s*(?:#.*)?$/.exec(value) : /^'(?:[^']|'')*'\s*(?:#.*)?$/.exec(value);
      if (!m) return undefined;
      scalarIndent = owner;
    } else if (/^[[{]/.test(value) || /:(?:\s|$)/.test(value)) return undefined;
    else scalarIndent = owner;
    lines.push({ start: at - line.length - 1, indent, text: line });
  }
  return lines;
}

/** Where a node starts (its first content character), from a line and column. */
function contentAt(lines: Line[], i: number, col: number): Node {
  const t = lines[i].text;
  let c = col;
  while (t[c] === ' ') c++;
  if (c < t.length && t[c] !== '#') return { line: i, col: c };
  return undefined;
}

/** The node a map entry's value or an item's content is, when written on the following lines. */
function nextNode(lines: Line[], i: number, parentCol: number, sameColumnList: boolean): Node {
  const next = lines[i + 1];
  if (!next) return undefined;
  if (next.indent > parentCol || (sameColumnList && next.indent === parentCol && next.text[next.indent] === '-'))
    return { line: i + 1, col: next.indent };
  return undefined;
}

function isDash(t: string, col: number): boolean {
  return t[col] === '-' && (col + 1 === t.length || t[col + 1] === ' ');
}

type Child = { node: Node; offset: number } | undefined;

/** The list item at `index` of the list whose first dash is at `list`. */
function itemOf(lines: Line[], list: { line: number; col: number }, index: number): Child {
  let n = -1;
  for (let i = list.line; i < lines.length; i++) {
    const l = lines[i];
    if (i > list.line && (l.indent < list.col || (l.indent === list.col && !isDash(l.text, list.col)))) break;
    if ((i === list.line || l.indent === list.col) && isDash(l.text, list.col) && ++n === index) {
      const item = contentAt(lines, i, list.col + 1) ?? nextNode(lines, i, list.col, false);
      if (!item) throw UNSURE; // an empty item
      return { node: item, offset: lines[item.line].start + item.col };
    }
  }
  return undefined;
}

/** The entry `key` of the map whose first key is at `map`. */
function entryOf(lines: Line[], map: { line: number; col: number }, key: string): Child {
  for (let i = map.line; i < lines.length; i++) {
    const l = lines[i];
    if (i > map.line && l.indent < map.col) break;
    if (i > map.line && (l.indent !== map.col || isDash(l.text, map.col))) continue;
    const k = keyAt(l.text, map.col);
    if (!k) throw UNSURE;
    if (k.key !== key) continue;
    const value = contentAt(lines, i, k.after) ?? nextNode(lines, i, map.col, true);
    return { node: value, offset: l.start + map.col };
  }
  return undefined;
}

/** One step along a path: the child node and the offset deepestOffset records for it. */
function childOf(lines: Line[], node: Node, segment: string | number): Child {
  if (!node) return undefined;
  const t = lines[node.line].text;
  if (isDash(t, node.col)) return typeof segment === 'number' ? itemOf(lines, node, segment) : undefined;
  // A scalar, `{}` or `[]` has no children.
  return keyAt(t, node.col) ? entryOf(lines, node, String(segment)) : undefined;
}

/**
 * The deepestOffset of a path in the plain YAML document that starts at `offset` (a
 * PlainDocument's) and ends at `to`; a function per document, undefined when its lines are not simple.
 */
export function blockLocator(
  text: string,
  offset: number,
  to: number,
): ((segments: (string | number)[]) => number | undefined) | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lines = simpleLines(text, lineStart, to);
  if (!lines?.length) return undefined;
  return (segments) => {
    let node: Node = { line: 0, col: offset - lineStart };
    let found = offset;
    try {
      for (const segment of segments) {
        const next = childOf(lines, node, segment);
        if (!next) break;
        node = next.node;
        found = next.offset;
      }
    } catch (err) {
      if (err === UNSURE) return undefined;
      throw err;
    }
    return found;
  };
}

/**
 * The start of each item of the list under `key` in the root map of the plain YAML document at
 * `offset` (a PlainDocument's) to `to`, found in one pass over its lines; undefined when the
 * lines are not simple, the key is missing or its value is not a block list.
 */
export function blockListItems(text: string, offset: number, to: number, key: string): number[] | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lines = simpleLines(text, lineStart, to);
  if (!lines?.length) return undefined;
  try {
    const list = childOf(lines, { line: 0, col: offset - lineStart }, key)?.node;
    return list && isDash(lines[list.line].text, list.col) ? itemStarts(lines, list) : undefined;
  } catch (err) {
    if (err === UNSURE) return undefined;
    throw err;
  }
}

/** Where each item of the list whose first dash is at `list` starts, as itemOf finds each, in one walk. */
function itemStarts(lines: Line[], list: { line: number; col: number }): number[] | undefined {
  const starts: number[] = [];
  for (let i = list.line; i < lines.length; i++) {
    const l = lines[i];
    if (i > list.line && (l.indent < list.col || (l.indent === list.col && !isDash(l.text, list.col)))) break;
    if (i > list.line && l.indent !== list.col) continue;
    const item = contentAt(lines, i, list.col + 1) ?? nextNode(lines, i, list.col, false);
    if (!item) return undefined;
    starts.push(lines[item.line].start + item.col);
  }
  return starts;
}

// ---- positions in JSON text, without the yaml library ----
//
// The text has been through JSON.parse (readJson) and has no duplicate keys, so the scan needs
// no error handling. Offsets are the yaml library's: a map entry at its key's opening quote, a
// list item at its first character. Values are skipped by the scan the informer splits list
// pages with (src/json-text.ts), over the text's UTF-16 units: linear in the text.

/** A string's UTF-16 code units, which index as the string does. */
function unitsOf(text: string): Uint16Array {
  const units = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
  return units;
}

/** The index after the value at `at`, and after the comma that may follow it. */
function nextValue(units: Uint16Array, at: number): number {
  const end = json.endOfValue(units, at, true);
  const i = json.skipSpace(units, end < 0 ? units.length : end);
  return units[i] === json.COMMA ? json.skipSpace(units, i + 1) : i;
}

/** One step into the JSON value at `at`: where the child is written and where its value starts. */
function jsonChild(
  text: string,
  units: Uint16Array,
  at: number,
  segment: string | number,
): { offset: number; value: number } | undefined {
  if (units[at] === json.OPEN_ARRAY) {
    if (typeof segment !== 'number') return undefined;
    let i = json.skipSpace(units, at + 1);
    for (let n = 0; i < units.length && units[i] !== json.CLOSE_ARRAY; n++) {
      if (n === segment) return { offset: i, value: i };
      i = nextValue(units, i);
    }
    return undefined;
  }
  if (units[at] !== json.OPEN_OBJECT) return undefined;
  const wanted = String(segment);
  let i = json.skipSpace(units, at + 1);
  while (units[i] === json.QUOTE) {
    const end = json.endOfString(units, i);
    if (end < 0) return undefined;
    const raw = text.slice(i + 1, end - 1);
    const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end)) as string) : raw;
    const value = json.skipSpace(units, json.skipSpace(units, end) + 1);
    if (key === wanted) return { offset: i, value };
    i = nextValue(units, value);
  }
  return undefined;
}

/**
 * A JSON file's text, scanned for positions: its units are made once, on the first question, and
 * each step into a value is found once, however many findings pass through it (the siblings
 * before a key of a megabyte-sized object are skipped once, not once per finding).
 */
export class JsonText {
  private unitsMade: Uint16Array | undefined;
  private readonly steps = new Map<string, { offset: number; value: number } | undefined>();

  constructor(readonly text: string) {}

  private get units(): Uint16Array {
    return (this.unitsMade ??= unitsOf(this.text));
  }

  private child(at: number, segment: string | number): { offset: number; value: number } | undefined {
    const key = `${at}\n${typeof segment}\n${segment}`;
    if (!this.steps.has(key)) this.steps.set(key, jsonChild(this.text, this.units, at, segment));
    return this.steps.get(key);
  }

  /** The deepestOffset of a path in the JSON value that starts at `offset`. */
  locator(offset: number): (segments: (string | number)[]) => number {
    return (segments) => {
      let value = offset;
      let found = offset;
      for (const segment of segments) {
        const next = this.child(value, segment);
        if (!next) break;
        value = next.value;
        found = next.offset;
      }
      return found;
    };
  }

  /** The start of each item of the list under `key` in the object at `offset`, in one pass; undefined if none. */
  listItems(offset: number, key: string): number[] | undefined {
    const units = this.units;
    const list = jsonChild(this.text, units, offset, key);
    if (!list || units[list.value] !== json.OPEN_ARRAY) return undefined;
    const starts: number[] = [];
    for (
      let i = json.skipSpace(units, list.value + 1);
      i < units.length && units[i] !== json.CLOSE_ARRAY;
      i = nextValue(units, i)
    )
      starts.push(i);
    return starts;
  }
}

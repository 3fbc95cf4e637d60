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

export interface PlainDocument {
  value: unknown;
  /** 0-based offset in the text where the document's content starts (the yaml library's range[0]). */
  offset: number;
}

/** The YAML 1.2 core schema as the `yaml` library resolves plain scalars (its schema/core/*.js). */
const CORE_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [
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
  ],
});

/**
 * What the fast reader leaves to the full one, by a look at the text (false alarms only cost
 * time): tabs and carriage returns; Helm's `{{`; directives, document end markers and content
 * on a `---` line; anchors, aliases and tags; explicit keys (`? `); collection keys (`]:`,
 * `}:`); empty and null keys; merge keys.
 */
const NOT_PLAIN =
  /[\t\r]|\{\{|^%|^\.\.\.|^---[^\s#]|^--- +[^\s#]|(?:^|[\s,[{])[&*!]\S|^[ -]*\? |[\]}]\s*:(?:\s|$)|^[ -]*(?:~|null|Null|NULL|""|'')?\s*:(?:\s|$)|<<\s*:/m;

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
    if (Array.isArray(v)) stack.push(...v);
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
    docs.push({ value: value ?? null, offset });
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

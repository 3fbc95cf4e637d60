// The bytes (and UTF-16 code units) that JSON's structure is made of, for the scans that read
// JSON text without parsing it: the decoder's nesting check (src/admission/review.ts), the
// informer's list splitter (src/cluster/list-body.ts) and the manifest locator
// (src/io/plain-documents.ts). All are ASCII, so a byte and a code unit agree, and no UTF-8
// continuation byte can be mistaken for one.
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const COLON = 0x3a;
export const COMMA = 0x2c;

/**
 * JSON text as code units: a Buffer's bytes (the informer's list pages) or a string's UTF-16
 * units (a manifest file's text). Offsets are in the units given.
 */
export type JsonUnits = Uint8Array | Uint16Array;

/** The index just past the string whose opening quote is at `open`, or -1. */
export function endOfString(units: JsonUnits, open: number): number {
  let at = open;
  for (;;) {
    const quote = units.indexOf(QUOTE, at + 1);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (units[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    at = quote;
  }
}

/** The first index at or after `at` that is not JSON whitespace. */
export function skipSpace(units: JsonUnits, at: number): number {
  let i = at;
  for (let c = units[i]; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = units[++i]);
  return i;
}

/** Whether a unit ends a number, true, false or null: whitespace, a comma or a closing bracket. */
function endsScalar(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT;
}

/**
 * The index just past the JSON value that starts at `at`, or -1. Brackets are only counted,
 * not matched: callers either give the text of every value to JSON.parse afterwards or scan
 * text JSON.parse has accepted. A scalar that runs to the end of the text counts only when
 * `scalarMayEnd`: a value inside a list body never does.
 */
export function endOfValue(units: JsonUnits, at: number, scalarMayEnd = false): number {
  const first = units[at];
  if (first === QUOTE) return endOfString(units, at);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    // A number, true, false or null: up to the next delimiter.
    let end = at;
    while (end < units.length && !endsScalar(units[end])) end++;
    return end === at || (end === units.length && !scalarMayEnd) ? -1 : end;
  }
  let depth = 0;
  for (let i = at; i < units.length; i++) {
    const c = units[i];
    if (c === QUOTE) {
      const end = endOfString(units, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && --depth === 0) return i + 1;
  }
  return -1;
}

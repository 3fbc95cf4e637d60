// A list response split into its items without parsing it whole. JSON.parse of a page of
// 500 VMIs (~2.6 MB) holds the event loop for one block of ~20 ms of CPU and makes every
// object of the page at once, so they outlive a few scavenges and V8 promotes them to the
// old space, where they are garbage for a mark-compact to collect. Splitting the body
// first, by a scan that only tracks strings and nesting, lets the informer parse, project
// and index the items a slice at a time: each step is a few milliseconds, and the raw
// items die young.
//
// The scan trusts nothing it cannot check cheaply: any surprise (not an object, no items
// array, unbalanced brackets) falls back to JSON.parse of the whole body, and each item's
// text is parsed by JSON.parse, which rejects what is not JSON.

import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from '../json-text.js';

export interface ListBody {
  /** The list without its items: metadata (resourceVersion, continue), kind, apiVersion. */
  envelope: { metadata?: { resourceVersion?: string; continue?: string }; items?: unknown };
  /** How many items the list holds. */
  count: number;
  /** False when the scan gave up and the body was parsed whole. */
  split: boolean;
  /** Items start to end - 1, parsed; throws SyntaxError on an item that is not JSON. */
  items(start: number, end: number): unknown[];
}

/** The index just past the string whose opening quote is at `open`, or -1. */
function endOfString(text: string, open: number): number {
  let at = open;
  for (;;) {
    const quote = text.indexOf('"', at + 1);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    at = quote;
  }
}

/** The first index at or after `at` that is not JSON whitespace. */
function skipSpace(text: string, at: number): number {
  let i = at;
  for (let c = text.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++i));
  return i;
}

/**
 * The index just past the JSON value that starts at `at`, or -1. Brackets are only
 * counted, not matched: the text of every value is given to JSON.parse afterwards.
 */
function endOfValue(text: string, at: number): number {
  const first = text.charCodeAt(at);
  if (first === QUOTE) return endOfString(text, at);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    // A number, true, false or null: up to the next delimiter.
    const end = text.slice(at).search(/[\s,\]}]/);
    return end <= 0 ? -1 : at + end;
  }
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = endOfString(text, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && --depth === 0) return i + 1;
  }
  return -1;
}

/** The spans of the objects in the array that opens at `open`, and where it closes. */
function itemSpans(text: string, open: number): { close: number; spans: number[] } | undefined {
  const spans: number[] = [];
  let at = skipSpace(text, open + 1);
  if (text.charCodeAt(at) === CLOSE_ARRAY) return { close: at, spans };
  for (;;) {
    // Something other than an object in the items array: leave it to JSON.parse.
    if (text.charCodeAt(at) !== OPEN_OBJECT) return undefined;
    const end = endOfValue(text, at);
    if (end < 0) return undefined;
    spans.push(at, end);
    at = skipSpace(text, end);
    if (text.charCodeAt(at) === CLOSE_ARRAY) return { close: at, spans };
    if (text.charCodeAt(at) !== COMMA) return undefined;
    at = skipSpace(text, at + 1);
  }
}

/**
 * Where the items of a list body are: the span of its top-level `items` array and of
 * each object in it, or undefined if the body is not laid out so. Between the values it
 * accepts only what JSON does (whitespace, colons, commas); the values themselves are
 * checked by JSON.parse, of the envelope and of the items.
 */
function findItems(text: string): { open: number; close: number; spans: number[] } | undefined {
  let at = skipSpace(text, 0);
  if (text.charCodeAt(at) !== OPEN_OBJECT) return undefined;
  let found: { open: number; close: number; spans: number[] } | undefined;
  at = skipSpace(text, at + 1);
  while (text.charCodeAt(at) !== CLOSE_OBJECT) {
    const keyEnd = text.charCodeAt(at) === QUOTE ? endOfString(text, at) : -1;
    if (keyEnd < 0) return undefined;
    const key = text.slice(at + 1, keyEnd - 1);
    at = skipSpace(text, keyEnd);
    if (text.charCodeAt(at) !== COLON) return undefined;
    at = skipSpace(text, at + 1);
    if (key === 'items' && text.charCodeAt(at) === OPEN_ARRAY) {
      const items = itemSpans(text, at);
      if (!items || found) return undefined;
      found = { open: at, ...items };
      at = items.close + 1;
    } else {
      at = endOfValue(text, at);
      if (at < 0) return undefined;
    }
    at = skipSpace(text, at);
    if (text.charCodeAt(at) === COMMA) at = skipSpace(text, at + 1);
    else if (text.charCodeAt(at) !== CLOSE_OBJECT) return undefined;
  }
  return skipSpace(text, at + 1) === text.length ? found : undefined;
}

/** Splits a list response body; falls back to one JSON.parse of it when the scan cannot. */
export function splitListBody(text: string): ListBody {
  const found = findItems(text);
  const envelope =
    found && (JSON.parse(text.slice(0, found.open + 1) + text.slice(found.close)) as ListBody['envelope']);
  // An escaped or repeated "items" key leaves the envelope with items of its own.
  if (!found || !envelope || !Array.isArray(envelope.items) || envelope.items.length > 0) {
    const whole = JSON.parse(text) as ListBody['envelope'];
    const items = whole && Array.isArray(whole.items) ? (whole.items as unknown[]) : [];
    return { envelope: whole ?? {}, count: items.length, split: false, items: (start, end) => items.slice(start, end) };
  }
  const { spans } = found;
  return {
    envelope,
    count: spans.length / 2,
    split: true,
    items(start, end) {
      // Item by item: a slice of the page text is a view, not a copy, while one text for
      // 100 items would be a ~0.5 MB copy, allocated straight in the old generation.
      const out: unknown[] = [];
      for (let i = start; i < Math.min(end, spans.length / 2); i++)
        out.push(JSON.parse(text.slice(spans[2 * i], spans[2 * i + 1])));
      return out;
    },
  };
}

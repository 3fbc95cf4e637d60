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

import {
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COLON,
  COMMA,
  OPEN_ARRAY,
  OPEN_OBJECT,
  QUOTE,
  endOfString,
  endOfValue,
  skipSpace,
} from '../json-text.js';

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

/** The spans of the objects in the array that opens at `open`, and where it closes. */
function itemSpans(body: Buffer, open: number): { close: number; spans: number[] } | undefined {
  const spans: number[] = [];
  let at = skipSpace(body, open + 1);
  if (body[at] === CLOSE_ARRAY) return { close: at, spans };
  for (;;) {
    // Something other than an object in the items array: leave it to JSON.parse.
    if (body[at] !== OPEN_OBJECT) return undefined;
    const end = endOfValue(body, at);
    if (end < 0) return undefined;
    spans.push(at, end);
    at = skipSpace(body, end);
    if (body[at] === CLOSE_ARRAY) return { close: at, spans };
    if (body[at] !== COMMA) return undefined;
    at = skipSpace(body, at + 1);
  }
}

/**
 * Where the items of a list body are: the span of its top-level `items` array and of
 * each object in it, or undefined if the body is not laid out so. Between the values it
 * accepts only what JSON does (whitespace, colons, commas); the values themselves are
 * checked by JSON.parse, of the envelope and of the items.
 */
function findItems(body: Buffer): { open: number; close: number; spans: number[] } | undefined {
  let at = skipSpace(body, 0);
  if (body[at] !== OPEN_OBJECT) return undefined;
  let found: { open: number; close: number; spans: number[] } | undefined;
  at = skipSpace(body, at + 1);
  while (body[at] !== CLOSE_OBJECT) {
    const keyEnd = body[at] === QUOTE ? endOfString(body, at) : -1;
    if (keyEnd < 0) return undefined;
    const key = body.toString('utf8', at + 1, keyEnd - 1);
    at = skipSpace(body, keyEnd);
    if (body[at] !== COLON) return undefined;
    at = skipSpace(body, at + 1);
    if (key === 'items' && body[at] === OPEN_ARRAY) {
      const items = itemSpans(body, at);
      if (!items || found) return undefined;
      found = { open: at, ...items };
      at = items.close + 1;
    } else {
      at = endOfValue(body, at);
      if (at < 0) return undefined;
    }
    at = skipSpace(body, at);
    if (body[at] === COMMA) at = skipSpace(body, at + 1);
    else if (body[at] !== CLOSE_OBJECT) return undefined;
  }
  return skipSpace(body, at + 1) === body.length ? found : undefined;
}

/**
 * Splits a list response body; falls back to one JSON.parse of it when the scan cannot.
 * The body stays bytes: a page as one string would be ~2.7 MB allocated straight in V8's
 * old generation (its large-object space), and 200 of them in a 100,000-VMI list brought
 * a mark-compact every few pages. A Buffer's bytes live outside the heap and go when the
 * page does; only each item's few kilobytes become a string, young and short-lived.
 */
export function splitListBody(input: Buffer | string): ListBody {
  const body = typeof input === 'string' ? Buffer.from(input) : input;
  const found = findItems(body);
  const envelope =
    found &&
    (JSON.parse(body.toString('utf8', 0, found.open + 1) + body.toString('utf8', found.close)) as ListBody['envelope']);
  // An escaped or repeated "items" key leaves the envelope with items of its own.
  if (!found || !envelope || !Array.isArray(envelope.items) || envelope.items.length > 0) {
    const whole = JSON.parse(body.toString('utf8')) as ListBody['envelope'];
    const items = whole && Array.isArray(whole.items) ? (whole.items as unknown[]) : [];
    return { envelope: whole ?? {}, count: items.length, split: false, items: (start, end) => items.slice(start, end) };
  }
  const { spans } = found;
  return {
    envelope,
    count: spans.length / 2,
    split: true,
    items(start, end) {
      const out: unknown[] = [];
      for (let i = start; i < Math.min(end, spans.length / 2); i++)
        out.push(JSON.parse(body.toString('utf8', spans[2 * i], spans[2 * i + 1])));
      return out;
    },
  };
}

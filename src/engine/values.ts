// Guards for untrusted admission input: any field of a request may be missing or of the
// wrong type, and any string may be huge. Rules read input only through these.

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The object at `v`, or an empty one: for walking optional nested specs. */
export function asObject(v: unknown): Record<string, unknown> {
  return isObject(v) ? v : {};
}

/** A string field, or undefined when absent or of another type. */
export function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** `obj.a.b.c` for untrusted objects: undefined as soon as a step is not an object. */
export function dig(v: unknown, ...keys: string[]): unknown {
  let at = v;
  for (const k of keys) {
    if (!isObject(at)) return undefined;
    at = at[k];
  }
  return at;
}

/** A map of string values (annotations, labels); entries of other types are left out. */
export function stringMap(v: unknown): Record<string, string> {
  if (!isObject(v)) return {};
  const out: Record<string, string> = {};
  for (const k in v) if (typeof v[k] === 'string') out[k] = v[k];
  return out;
}

/** Longest user-supplied text quoted in a message: enough to recognise it, never enough to flood. */
export const QUOTE_LIMIT = 80;

/**
 * A user-controlled value for a message, in double quotes and cut to QUOTE_LIMIT
 * characters, so a message stays bounded whatever the input holds.
 */
export function quote(value: unknown, limit = QUOTE_LIMIT): string {
  const text = typeof value === 'string' ? value : String(JSON.stringify(value) ?? value);
  return JSON.stringify(text.length > limit ? `${text.slice(0, limit)}...` : text);
}

/** The same, without the quotes: for values that read better bare (addresses, names in a list). */
export function bounded(value: string, limit = QUOTE_LIMIT): string {
  return value.length > limit ? `${value.slice(0, limit)}...` : value;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/**
 * The first `limit` names (each through `show`), comma-separated, and how many more there are:
 * a line stays readable, and only the names shown are formatted.
 */
export function namesUpTo(names: readonly string[], limit: number, show: (name: string) => string = String): string {
  const shown = names.slice(0, limit).map(show).join(', ');
  return names.length > limit ? `${shown} (and ${names.length - limit} more)` : shown;
}

/**
 * Appends every item of `from` to `to`. Not `to.push(...from)`: a spread passes each item as an
 * argument, and from about 125,000 items (a file of that many documents, a list page from a
 * server that ignores limit) it overflows the stack.
 */
export function appendAll<T>(to: T[], from: readonly T[]): void {
  for (const item of from) to.push(item);
}

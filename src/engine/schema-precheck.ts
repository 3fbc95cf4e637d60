// A conservative reading of the JSON schemas the schema rule builds from CRDs, walked with
// the object: "valid" only where every keyword on the way is one it knows and holds,
// "unsure" otherwise. The CLI judges thousands of objects that are nearly all valid; this
// answers them without compiling the CRD schema with ajv (about 0.3 s per process for
// KubeVirt's VirtualMachine), which stays the judge of everything else and the source of
// every message. A "valid" here must never be an object ajv would refuse:
// test/schema-precheck.test.ts compares the two on real and mutated objects.

type Json = Record<string, unknown>;

/** What the walk concluded: the object fits the schema, or ajv has to decide. */
export type Precheck = 'valid' | 'unsure';

/** The value checks of a structural schema this walk reads (the schema rule copies these and more). */
export const CHECKED_VALUE_KEYWORDS = [
  'enum',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'minProperties',
  'maxProperties',
] as const;

/** The keywords a schema node may carry for the walk to vouch for it. */
const KNOWN = new Set<string>([
  'type',
  'properties',
  'additionalProperties',
  'required',
  'items',
  ...CHECKED_VALUE_KEYWORDS,
]);

const patterns = new Map<string, RegExp | null>();

/** As ajv builds it: unicode mode, no anchors added; null for a pattern that does not compile. */
function regexOf(pattern: string): RegExp | null {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, 'u');
    } catch {
      re = null;
    }
    patterns.set(pattern, re);
  }
  return re;
}

function isPlainObject(v: unknown): v is Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** ajv's type test for one JSON type name. */
function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'object':
      return isPlainObject(value);
    case 'array':
      return Array.isArray(value);
    default:
      return false;
  }
}

/** Length in code points, as ajv counts it (ucs2length). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    n++;
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return n;
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** Every bound of `schema` that applies to `value`'s type holds; undefined when a bound is unreadable. */
function boundsHold(schema: Json, value: unknown): boolean | undefined {
  if (typeof value === 'number') {
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
    for (const bound of [minimum, maximum, exclusiveMinimum, exclusiveMaximum]) {
      if (bound !== undefined && numberOf(bound) === undefined) return undefined;
    }
    if (minimum !== undefined && !(value >= (minimum as number))) return false;
    if (maximum !== undefined && !(value <= (maximum as number))) return false;
    if (exclusiveMinimum !== undefined && !(value > (exclusiveMinimum as number))) return false;
    if (exclusiveMaximum !== undefined && !(value < (exclusiveMaximum as number))) return false;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined || schema.maxLength !== undefined) {
      const length = codePoints(value);
      const min = schema.minLength === undefined ? 0 : numberOf(schema.minLength);
      const max = schema.maxLength === undefined ? Infinity : numberOf(schema.maxLength);
      if (min === undefined || max === undefined) return undefined;
      if (length < min || length > max) return false;
    }
    if (schema.pattern !== undefined) {
      const re = typeof schema.pattern === 'string' ? regexOf(schema.pattern) : null;
      if (!re) return undefined;
      if (!re.test(value)) return false;
    }
  }
  if (Array.isArray(value)) {
    const min = schema.minItems === undefined ? 0 : numberOf(schema.minItems);
    const max = schema.maxItems === undefined ? Infinity : numberOf(schema.maxItems);
    if (min === undefined || max === undefined) return undefined;
    if (value.length < min || value.length > max) return false;
  }
  if (isPlainObject(value) && (schema.minProperties !== undefined || schema.maxProperties !== undefined)) {
    const min = schema.minProperties === undefined ? 0 : numberOf(schema.minProperties);
    const max = schema.maxProperties === undefined ? Infinity : numberOf(schema.maxProperties);
    if (min === undefined || max === undefined) return undefined;
    const count = Object.keys(value).length;
    if (count < min || count > max) return false;
  }
  return true;
}

/** `value` is one of the enum's values; only primitive enums are read. */
function inEnum(values: unknown, value: unknown): boolean | undefined {
  if (!Array.isArray(values)) return undefined;
  for (const v of values) if (typeof v === 'object' && v !== null) return undefined;
  return values.includes(value);
}

function fits(schema: unknown, value: unknown, depth: number): boolean {
  // The decoder refuses nesting past 100 levels; anything deeper is for ajv.
  if (depth > 200 || !isPlainObject(schema)) return false;
  for (const keyword in schema) if (!KNOWN.has(keyword)) return false;
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t))) return false;
  } else if (!(value === null || ['boolean', 'string', 'number'].includes(typeof value) || Array.isArray(value))) {
    // An untyped node accepts anything; make sure what it holds is JSON.
    if (!isPlainObject(value)) return false;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return false;
  if (schema.enum !== undefined && inEnum(schema.enum, value) !== true) return false;
  if (boundsHold(schema, value) !== true) return false;
  if (Array.isArray(value)) {
    if (schema.items === undefined) return value.every((item) => fits({}, item, depth + 1));
    if (Array.isArray(schema.items)) return false;
    for (const item of value) if (!fits(schema.items, item, depth + 1)) return false;
    return true;
  }
  if (isPlainObject(value)) {
    if (schema.required !== undefined) {
      if (!Array.isArray(schema.required)) return false;
      for (const name of schema.required) {
        if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(value, name)) return false;
      }
    }
    const properties = schema.properties === undefined ? {} : schema.properties;
    if (!isPlainObject(properties)) return false;
    const extra = schema.additionalProperties;
    for (const key of Object.keys(value)) {
      const child = value[key];
      if (Object.prototype.hasOwnProperty.call(properties, key)) {
        if (!fits(properties[key], child, depth + 1)) return false;
      } else if (extra === false) return false;
      else if (extra === undefined || extra === true) {
        if (!fits({}, child, depth + 1)) return false;
      } else if (!fits(extra, child, depth + 1)) return false;
    }
  }
  return true;
}

/** 'valid' when `value` certainly satisfies `schema` (as ajv would judge it), else 'unsure'. */
export function precheck(schema: unknown, value: unknown): Precheck {
  return fits(schema, value, 0) ? 'valid' : 'unsure';
}

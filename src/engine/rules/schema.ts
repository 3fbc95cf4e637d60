// Rule schema: the object has the shape its CRD declares, as the API server checks it
// before anything else (a VM with `template:` at the top level instead of under `spec:`
// never reaches KubeVirt). The CRD schemas are data in schemas/ (their READMEs name the
// upstream release and the command that regenerates them); each is turned into a JSON
// schema with the API server's rules for unknown fields, compiled with ajv once per process
// and per kind, on first use.
//
// Only objects read from manifests are checked: the API server has validated a request's
// object against the cluster's own CRD before it calls a validating webhook, so a finding
// there could only come from a difference between nicguard's copy and the cluster's release.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { crdSchemaOf } from '../crd-schemas.js';
import { CHECKED_VALUE_KEYWORDS, precheck } from '../schema-precheck.js';
import { FieldPath } from '../field-path.js';
import { formatVersion, knownKubeVirtVersion } from '../kubevirt-version.js';
import type { JudgedKind } from '../kinds.js';
import { defineRule, type RuleContext, type RuleDescriptor, VALIDATION_SETTINGS, type Cause } from '../rule.js';
import type { Action, KubeObject } from '../types.js';
import { bounded, isObject, quote } from '../values.js';

/** The KubeVirt release schemas/kubevirt/ was generated from (its README says so; a test keeps them in step). */
export const KUBEVIRT_SCHEMA_VERSION = { major: 1, minor: 8, patch: 4 };
/** ajv reports every error; past this many the rest of the object is not described. */
export const SCHEMA_CAUSE_LIMIT = 50;

type Json = Record<string, unknown>;

interface SchemaSource {
  /** Whose schema, for messages: "KubeVirt v1.8.4's VirtualMachine schema". */
  origin: string;
}

const KUBEVIRT = `KubeVirt ${formatVersion(KUBEVIRT_SCHEMA_VERSION)}`;
const SOURCES: Record<JudgedKind, SchemaSource> = {
  VirtualMachine: { origin: `${KUBEVIRT}'s VirtualMachine schema` },
  VirtualMachineInstance: { origin: `${KUBEVIRT}'s VirtualMachineInstance schema` },
  NetworkAttachmentDefinition: { origin: "Multus v4.3.0's NetworkAttachmentDefinition schema" },
  Subnet: { origin: "Kube-OVN v1.15.24's Subnet schema" },
};

/**
 * Value checks a structural schema may declare; descriptions, formats and CEL rules are left
 * out. The precheck reads all but multipleOf and uniqueItems, which send an object to ajv.
 */
const VALUE_KEYWORDS = [...CHECKED_VALUE_KEYWORDS, 'multipleOf', 'uniqueItems'] as const;

function withNull(schema: Json): Json {
  const type = schema.type;
  if (typeof type === 'string') return { ...schema, type: [type, 'null'] };
  if (Array.isArray(type) && !type.includes('null')) return { ...schema, type: [...type, 'null'] };
  return schema;
}

/**
 * One node of a CRD's structural schema as ajv's JSON schema, with the API server's
 * reading of it (k8s.io/apiextensions-apiserver pkg/apiserver/schema): a field an object
 * does not declare is unknown (pruned, and refused under strict field validation) unless
 * the node has x-kubernetes-preserve-unknown-fields; x-kubernetes-int-or-string takes both;
 * an embedded resource takes apiVersion, kind and metadata; and a null in a map field that
 * is not nullable is pruned, not refused (defaulting/prunenulls.go). `inValidation`: inside
 * allOf/anyOf/oneOf/not, which only add checks and declare no fields.
 */
function convert(node: unknown, inValidation = false): Json {
  if (!isObject(node)) return {};
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const out: Json = { ...typeOf(node, intOrString), ...fieldsOf(node, inValidation) };
  for (const keyword of VALUE_KEYWORDS) if (node[keyword] !== undefined) out[keyword] = node[keyword];
  if (Array.isArray(node.required)) out.required = node.required.filter((r) => typeof r === 'string');
  if (node.items !== undefined) out.items = convert(node.items, inValidation);
  // The int-or-string anyOf only restates the type.
  for (const combinator of intOrString ? [] : (['allOf', 'anyOf', 'oneOf'] as const)) {
    const branches = node[combinator];
    if (Array.isArray(branches)) out[combinator] = branches.map((n) => convert(n, true));
  }
  if (node.not !== undefined) out.not = convert(node.not, true);
  return out;
}

function typeOf(node: Json, intOrString: boolean): Json {
  if (intOrString) return { type: ['integer', 'string'] };
  if (typeof node.type !== 'string') return {};
  return { type: node.nullable === true ? [node.type, 'null'] : node.type };
}

/** properties and additionalProperties: which fields the object node declares. */
function fieldsOf(node: Json, inValidation: boolean): Json {
  const out: Json = {};
  const properties: Json = {};
  for (const [name, child] of Object.entries(isObject(node.properties) ? node.properties : {})) {
    properties[name] = withNull(convert(child, inValidation));
  }
  if (node['x-kubernetes-embedded-resource'] === true) {
    for (const implicit of ['apiVersion', 'kind', 'metadata']) properties[implicit] ??= {};
  }
  if (Object.keys(properties).length) out.properties = properties;
  const extra = node.additionalProperties;
  if (isObject(extra)) out.additionalProperties = withNull(convert(extra, inValidation));
  else if (typeof extra === 'boolean') out.additionalProperties = extra;
  else if (!inValidation && node.type === 'object' && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

/**
 * The whole object's schema. apiVersion, kind and metadata are implicit at the root (a CRD
 * may constrain only metadata.name and generateName; the API server checks the rest of
 * ObjectMeta itself, and nicguard's decoder checks its types). status is left out: the
 * status subresource ignores it on create and update, and controllers write it.
 */
function rootSchema(crd: unknown): Json {
  const root = convert(crd);
  const properties = isObject(root.properties) ? { ...root.properties } : {};
  const metadata =
    isObject(properties.metadata) && isObject(properties.metadata.properties) ? properties.metadata.properties : {};
  const nameRules: Json = {};
  for (const field of ['name', 'generateName']) if (metadata[field] !== undefined) nameRules[field] = metadata[field];
  properties.apiVersion = { type: 'string' };
  properties.kind = { type: 'string' };
  properties.metadata = { type: 'object', properties: nameRules };
  properties.status = {};
  return { ...root, type: 'object', properties, additionalProperties: false };
}

interface Compiled {
  validate: ValidateFunction;
  schema: Json;
}

const schemas = new Map<JudgedKind, Json>();
const compiled = new Map<JudgedKind, Compiled>();

/** The kind's JSON schema, converted from its CRD on first use; undefined without a source. */
function schemaOf(kind: JudgedKind): Json | undefined {
  let schema = schemas.get(kind);
  if (!schema) {
    const crd = crdSchemaOf(kind);
    if (crd === undefined) return undefined;
    schema = rootSchema(crd);
    schemas.set(kind, schema);
  }
  return schema;
}

/**
 * The kind's validator, compiled on first use (VM and VMI schemas take a few hundred
 * milliseconds): only for an object the precheck could not vouch for.
 */
export function schemaValidator(kind: JudgedKind): Compiled | undefined {
  let entry = compiled.get(kind);
  if (!entry) {
    const schema = schemaOf(kind);
    if (!schema) return undefined;
    // verbose: errors carry the schema node and the data, for the messages.
    // code.optimize off: a third less compile time (once per process) for no measurable cost per object.
    const ajv = new Ajv({
      allErrors: true,
      verbose: true,
      strict: false,
      validateFormats: false,
      code: { optimize: false },
    });
    entry = { validate: ajv.compile(schema), schema };
    compiled.set(kind, entry);
  }
  return entry;
}

type Token = string | number;

/** The JSON pointer's tokens, array indexes as numbers (as the data has them). */
function tokensOf(pointer: string, data: unknown): Token[] {
  if (pointer === '') return [];
  const tokens: Token[] = [];
  let at = data;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(at) && /^\d+$/.test(token)) {
      tokens.push(Number(token));
      at = at[Number(token)];
    } else {
      tokens.push(token);
      at = isObject(at) ? at[token] : undefined;
    }
  }
  return tokens;
}

function pathOf(tokens: readonly Token[]): FieldPath {
  let path = FieldPath.root;
  for (const t of tokens) {
    if (typeof t === 'number') path = path.index(t);
    else if (/^[A-Za-z_$][\w$-]*$/.test(t)) path = path.field(t);
    else path = path.key(bounded(t));
  }
  return path;
}

function valueAt(data: unknown, tokens: readonly Token[]): unknown {
  let at = data;
  for (const t of tokens) {
    if (typeof t === 'number') at = Array.isArray(at) ? at[t] : undefined;
    else at = isObject(at) && Object.prototype.hasOwnProperty.call(at, t) ? at[t] : undefined;
  }
  return at;
}

/** Ends a clause that may end in `?` or `spec:` as a sentence. */
function sentence(text: string): string {
  return /[?:.]$/.test(text) ? text : `${text}.`;
}

/** `spec.template` or `the top level`, for messages. */
function where(path: FieldPath): string {
  return path.segments.length ? path.toString() : 'the top level';
}

function kindOfValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `the string ${quote(value, 40)}`;
  return (
    `${typeof value === 'number' && Number.isInteger(value) ? 'the integer' : `the ${typeof value}`} ` +
    `${String(value)}`
  );
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a map (field: value)',
  array: 'a list (- item)',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

function typeFix(wanted: string[], value: unknown): string {
  if (typeof value === 'string') {
    if (wanted.includes('boolean') && (value === 'true' || value === 'false')) return ` Write ${value} without quotes.`;
    if ((wanted.includes('integer') || wanted.includes('number')) && /^-?\d+(\.\d+)?$/.test(value))
      return ' Write the number without quotes.';
  }
  if (wanted.includes('string') && (typeof value === 'number' || typeof value === 'boolean'))
    return ` Quote it: "${String(value)}".`;
  if (wanted.includes('object') && Array.isArray(value)) return ' Write its fields as a map, not as a list.';
  if (wanted.includes('array') && isObject(value)) return ' Write it as a list, each item starting with "- ".';
  return '';
}

/** Levenshtein distance, stopping early past `limit` (names are short). */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

function propertiesOf(schema: unknown): Json {
  return isObject(schema) && isObject(schema.properties) ? schema.properties : {};
}

/** A declared field that `name` most likely misspells, if any. */
function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const exact = known.find((k) => k.toLowerCase() === lower);
  if (exact) return exact;
  if (name.length < 4) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase(), 2);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** The action of findings the API server's verdict on may depend on its release. */
interface Strictness {
  /** Unknown fields and value checks (enum, pattern, bounds). */
  unknown: Action;
  values: Action;
  /** Said after a softened finding: why it only warns. */
  caveat: string;
}

function strictness(ctx: RuleContext): Strictness {
  switch (ctx.kind) {
    case 'VirtualMachine':
    case 'VirtualMachineInstance': {
      // KubeVirt adds fields and enum values in minor releases; patch releases keep the API.
      // A release nicguard has not read (a later patch, a pre-release) is not assumed to.
      const known = knownKubeVirtVersion(ctx.config, ctx.cluster);
      const same =
        known?.followed &&
        known.version.major === KUBEVIRT_SCHEMA_VERSION.major &&
        known.version.minor === KUBEVIRT_SCHEMA_VERSION.minor;
      if (same) return { unknown: 'deny', values: 'deny', caveat: '' };
      const runs = known
        ? `the cluster runs KubeVirt ${formatVersion(known.version)}`
        : "the cluster's KubeVirt version is unknown";
      const caveat =
        ` (warn only: ${runs}, another release than ${KUBEVIRT} may accept ` +
        `it${known ? '' : '; set kubevirtVersion'})`;
      return { unknown: 'warn', values: 'warn', caveat };
    }
    case 'NetworkAttachmentDefinition':
      // Multus' CRD declares spec.config only, unchanged from v3.9.3 to v4.3.0.
      return { unknown: 'deny', values: 'deny', caveat: '' };
    case 'Subnet':
      // No Subnet spec field appears after v1.15.24 up to v1.16.2, but v1.16 dropped the enums and bounds.
      return {
        unknown: 'deny',
        values: 'warn',
        caveat: " (warn only: Kube-OVN v1.13-v1.15's CRD refuses it, v1.16's does not check it)",
      };
  }
}

interface Unknown {
  tokens: Token[];
  name: string;
  /** The schema of the object that does not declare it. */
  parent: unknown;
  used: boolean;
}

/** Where an unknown field belongs, when a field declared here declares it: `move it under spec:`. */
function homeOf(unknown: Unknown, missing?: { name: string; schema: unknown }): string | undefined {
  if (missing && propertiesOf(missing.schema)[unknown.name] !== undefined) return missing.name;
  for (const [child, schema] of Object.entries(propertiesOf(unknown.parent))) {
    if (propertiesOf(schema)[unknown.name] !== undefined) return child;
  }
  return undefined;
}

function unknownCause(u: Unknown, origin: string, strict: Strictness): Cause {
  const at = pathOf(u.tokens);
  const field = at.field(u.name);
  const known = Object.keys(propertiesOf(u.parent));
  const home = homeOf(u);
  const guess = home ? undefined : closest(u.name, known);
  const fix = home
    ? `\`${bounded(u.name)}:\` is at ${where(at)} — move it under ${at.field(home).toString()}:`
    : guess
      ? `did you mean \`${guess}\`?`
      : known.length
        ? `remove it; the fields here are ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', ...' : ''}`
        : 'remove it; this map takes no fields';
  return {
    message:
      `${field.toString()} is not a field of ${origin}; the API server refuses it under strict field validation ` +
      `(kubectl's default) and otherwise drops it; ${sentence(fix)}${strict.unknown === 'warn' ? strict.caveat : ''}`,
    field,
    action: strict.unknown,
  };
}

function isPrefix(prefix: readonly Token[], tokens: readonly Token[]): boolean {
  return prefix.length <= tokens.length && prefix.every((t, i) => t === tokens[i]);
}

function requiredCause(error: ErrorObject, tokens: Token[], unknowns: Unknown[]): Cause {
  const name = (error.params as { missingProperty: string }).missingProperty;
  const at = pathOf(tokens);
  const field = at.field(name);
  const schema = propertiesOf(error.parentSchema)[name];
  // The field's content written where it does not belong: at this level (`template:` beside
  // a missing `spec:`), or the field itself at a level above.
  const misplaced =
    unknowns.find(
      (u) =>
        !u.used &&
        u.tokens.length === tokens.length &&
        isPrefix(u.tokens, tokens) &&
        homeOf(u, { name, schema }) === name,
    ) ??
    unknowns.find((u) => !u.used && u.name === name && u.tokens.length < tokens.length && isPrefix(u.tokens, tokens));
  if (!misplaced)
    return { message: `${field.toString()} is required; add ${name}: under ${where(at)}.`, field, action: 'deny' };
  misplaced.used = true;
  const stray = pathOf(misplaced.tokens);
  const target = misplaced.name === name ? at.toString() : field.toString();
  const fix = `\`${bounded(misplaced.name)}:\` is at ${where(stray)} — move it under ${target}:`;
  // The finding points at the stray field: that is the line to edit.
  return { message: `${field.toString()} is required; ${fix}`, field: stray.field(misplaced.name), action: 'deny' };
}

function valueCause(
  error: ErrorObject,
  tokens: Token[],
  value: unknown,
  origin: string,
  strict: Strictness,
): Cause | undefined {
  const field = pathOf(tokens);
  const name = field.toString() || 'the object';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type': {
      const wanted = String(params.type).split(',');
      const want = wanted.filter((t) => t !== 'null').map((t) => TYPE_NAMES[t] ?? t);
      return {
        message:
          `${name} must be ${want.join(' or ')}, not ${kindOfValue(value)} ` + `(${origin}).${typeFix(wanted, value)}`,
        field,
        action: 'deny',
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => String(v));
      const guess = typeof value === 'string' ? closest(value, allowed) : undefined;
      return {
        message:
          `${name} is ${kindOfValue(value)}; ${origin} allows ${allowed.join(', ')}` +
          `${guess ? `: did you mean ${guess}?` : '.'}${strict.values === 'warn' ? strict.caveat : ''}`,
        field,
        action: strict.values,
      };
    }
    case 'pattern':
      return {
        message:
          `${name} ${kindOfValue(value)} does not have the form ${origin} requires (pattern ` +
          `${bounded(String(params.pattern), 120)})` +
          `${String(params.pattern).includes('KMGTPE') ? '; write a quantity such as 2Gi or 500m' : ''}.` +
          `${strict.values === 'warn' ? strict.caveat : ''}`,
        field,
        action: strict.values,
      };
    case 'anyOf':
    case 'oneOf':
    case 'allOf':
      // Their branches' own errors say what is wrong.
      return undefined;
    default:
      return {
        message:
          `${name} ${kindOfValue(value)} ${error.message ?? 'is not allowed'} ` +
          `(${origin}).${strict.values === 'warn' ? strict.caveat : ''}`,
        field,
        action: strict.values,
      };
  }
}

/**
 * Since Kubernetes 1.30 the API server lets an unchanged invalid value stand on update
 * (CRD validation ratcheting, KEP-4008).
 */
function ratcheted(
  ctx: RuleContext,
  object: KubeObject,
  tokens: readonly Token[],
  value: unknown,
  cause: Cause,
): Cause {
  const old =
    ctx.kind === 'NetworkAttachmentDefinition' ? ctx.oldNad : ctx.kind === 'Subnet' ? ctx.oldSubnet : ctx.old?.object;
  if (cause.action !== 'deny' || !old || old === object) return cause;
  if (JSON.stringify(valueAt(old, tokens)) !== JSON.stringify(value)) return cause;
  const message =
    `${cause.message} The previous version has the same value, which the API server lets stand on ` + `update.`;
  return { ...cause, message, action: 'warn' };
}

/**
 * The causes for one object, at most SCHEMA_CAUSE_LIMIT: a missing field and the unknown
 * field that belongs there are one cause.
 */
export function schemaCauses(ctx: RuleContext, object: KubeObject): Cause[] {
  // Only manifests: what an API server sent has passed the cluster's own CRD (see the top).
  if (!ctx.request.fromManifest) return [];
  const source = SOURCES[ctx.kind];
  let validator: Compiled | undefined;
  try {
    const schema = schemaOf(ctx.kind);
    if (!schema || precheck(schema, object) === 'valid') return [];
    validator = schemaValidator(ctx.kind);
    if (!validator) return [];
  } catch (err) {
    return [
      {
        message: `nicguard cannot read ${source.origin}: ` + `${bounded((err as Error).message, 200)}.`,
        action: 'warn',
      },
    ];
  }
  if (validator.validate(object)) return [];
  const errors = (validator.validate.errors ?? []).slice(0, SCHEMA_CAUSE_LIMIT * 2);
  const strict = strictness(ctx);
  const unknowns: Unknown[] = [];
  for (const error of errors) {
    if (error.keyword !== 'additionalProperties') continue;
    const name = (error.params as { additionalProperty: string }).additionalProperty;
    unknowns.push({ tokens: tokensOf(error.instancePath, object), name, parent: error.parentSchema, used: false });
  }
  const causes: Cause[] = [];
  for (const error of errors) {
    if (error.keyword === 'additionalProperties') continue;
    const tokens = tokensOf(error.instancePath, object);
    if (error.keyword === 'required') {
      causes.push(requiredCause(error, tokens, unknowns));
      continue;
    }
    const value = valueAt(object, tokens);
    const cause = valueCause(error, tokens, value, source.origin, strict);
    if (cause) causes.push(ratcheted(ctx, object, tokens, value, cause));
  }
  for (const u of unknowns) if (!u.used) causes.push(unknownCause(u, source.origin, strict));
  return causes.slice(0, SCHEMA_CAUSE_LIMIT);
}

export const schema: RuleDescriptor<'schema'> = defineRule({
  id: 'schema',
  title: 'Objects have the shape their CRD declares',
  summary: 'a manifest the API server refuses for its shape: unknown, misplaced, mistyped or missing fields',
  description:
    'A VirtualMachine, VirtualMachineInstance, NetworkAttachmentDefinition or Kube-OVN Subnet read from a manifest ' +
    'is ' +
    "checked against its CRD's OpenAPI schema (KubeVirt v1.8.4, Multus v4.3.0, Kube-OVN v1.15.24) as the API server " +
    'checks it under strict field validation. The webhook skips it: the API server has checked the object already.',
  defaultSetting: 'deny',
  defaultNote: ' in the CLI; warn where the release decides; never in the webhook',
  settings: VALIDATION_SETTINGS,
  check: {
    vm: (ctx) => schemaCauses(ctx, ctx.object),
    nad: (ctx) => schemaCauses(ctx, ctx.nad),
    subnet: (ctx) => schemaCauses(ctx, ctx.subnet),
  },
});

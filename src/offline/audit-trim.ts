// What `nicguard audit` keeps of each object it lists from a live cluster, cut page by page
// as the pages arrive. The audit judges every VM (and every VMI without a VM) with the
// rules, so specs and metadata stay whole; what goes is what nothing reads and what makes
// most of a listed object's size: managedFields' field sets and most of the status. Kept
// whole, a VMI of bench:scale's fleet took 10.2 KB of heap, trimmed 4.4 KB (docs/deploy.md,
// "Memory of the audit").
//
// Read by the audit (src/offline/audit.ts) and by the rules it runs:
// - metadata.managedFields: `time` and `subresource` of each entry (lastSpecWrite dates a
//   pending change by the latest spec write). The field sets (fieldsV1) go.
// - VMI status: `phase` (a running domain), `interfaces` whole (hotplug-pending, unplug-pending;
//   the rules read name, infoSource, interfaceName, podInterfaceName from the view's VMIs),
//   and the MigrationRequired condition (since when a change waits). The rest goes:
//   guestOSInfo, volumeStatus, machine, other conditions.
// - VM status: no rule reads the status of the object being judged (a CREATE has no old
//   object to read a running state from), so only printableStatus and ready stay, for a
//   reader of the report's objects.
// A field the audit starts to read must be kept here; test/audit.test.ts checks that the
// report over trimmed objects equals the report over whole ones. VMIs, which the audit holds
// to the end, also share their string values with each other.
import type { Interner } from '../cluster/projection.js';
import type { KnownKind } from '../engine/kinds.js';
import type { KubeObject } from '../engine/types.js';
import { isObject } from '../engine/values.js';

type Json = Record<string, unknown>;

/** Each managedFields entry reduced to when it was written and whether it wrote status. */
function datedWrites(entries: unknown): Json[] | undefined {
  if (!Array.isArray(entries)) return undefined;
  return entries.filter(isObject).map((e) => ({
    ...(e.time !== undefined ? { time: e.time } : {}),
    ...(e.subresource !== undefined ? { subresource: e.subresource } : {}),
  }));
}

function trimMetadata(metadata: unknown): unknown {
  if (!isObject(metadata) || metadata.managedFields === undefined) return metadata;
  const writes = datedWrites(metadata.managedFields);
  const { managedFields: _dropped, ...rest } = metadata;
  return writes ? { ...rest, managedFields: writes } : rest;
}

/** Fields of `from` that are set, by name. */
function pick(from: Json, keys: readonly string[]): Json {
  const out: Json = {};
  for (const key of keys) if (from[key] !== undefined) out[key] = from[key];
  return out;
}

const MIGRATION_REQUIRED = 'MigrationRequired';

function trimVmiStatus(status: Json): Json {
  const out = pick(status, ['phase', 'interfaces']);
  if (Array.isArray(status.conditions)) {
    out.conditions = status.conditions.filter((c) => isObject(c) && c.type === MIGRATION_REQUIRED);
  }
  return out;
}

const STATUS_KEPT: Partial<Record<KnownKind, (status: Json) => Json>> = {
  VirtualMachineInstance: trimVmiStatus,
  VirtualMachine: (status) => pick(status, ['printableStatus', 'ready']),
};

/** Nesting below which string values are left as they are: a bound on the walk, deeper than any VMI's fields. */
const INTERN_DEPTH = 32;

/**
 * The same value with its strings shared through `strings`. JSON.parse gives every object its
 * own copy of each value ("virtio", a namespace, an image, a label); across a fleet built from
 * a few templates most are equal. A third less heap per VMI of bench:scale's fleet.
 */
function internStrings(value: unknown, strings: Interner, depth = 0): unknown {
  if (typeof value === 'string') return strings.intern(value);
  if (typeof value !== 'object' || value === null || depth >= INTERN_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => internStrings(v, strings, depth + 1));
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) out[key] = internStrings(v, strings, depth + 1);
  return out;
}

/**
 * The part of a listed object the audit keeps; a new object, `obj` itself is not changed. With
 * `strings`, a VMI's strings are shared with other objects': VMIs are held for the whole audit.
 */
export function keptForAudit(kind: KnownKind, obj: KubeObject, strings?: Interner): KubeObject {
  const trimStatus = STATUS_KEPT[kind];
  const out: KubeObject = { ...obj, metadata: trimMetadata(obj.metadata) as KubeObject['metadata'] };
  if (trimStatus && isObject(obj.status)) out.status = trimStatus(obj.status);
  return strings && kind === 'VirtualMachineInstance' ? (internStrings(out, strings) as KubeObject) : out;
}

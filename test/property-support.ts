// Hostile input for the property tests and for bench/fuzz.ts: real requests and reviews
// (examples/ and the hotplug fixtures) as seeds, and structure-aware mutations of them:
// wrong types at any path, deleted and added fields, deep nesting, huge strings and
// lists, keys such as __proto__. fast-check generates and shrinks them, so a failure is
// reported as the smallest mutation that still fails, with the seed to replay it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { KubeObject, PolicyRequest } from '../src/engine/types.js';
import {
  ADMISSION_API_VERSION,
  ADMISSION_KIND,
  DENIAL_MESSAGE_LIMIT,
  WARNING_LIMIT,
  WARNINGS_TOTAL_LIMIT,
  type AdmissionReviewResponse,
  type Webhook,
} from '../src/admission/review.js';
import { ROOT, clone, create, example, readYaml, update } from './support.js';
import { addMultusNic, asVmi, fedora, fedoraWithBridge, removeNic } from './hotplug-fixtures.js';
import { admissionReview } from './server-support.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

/** Fixed unless NICGUARD_PROPERTY_SEED is set: CI runs the same cases; explore with a seed of your own. */
export const PROPERTY_SEED = Number(process.env.NICGUARD_PROPERTY_SEED ?? 20261124);

/** Valid requests of each judged kind: hotplugs, refusals, unplugs, CREATEs and UPDATEs. */
export function seedRequests(): PolicyRequest[] {
  const nads = readYaml(join(ROOT, 'examples', 'cluster', 'networks.yaml'));
  const subnets = readYaml(join(ROOT, 'examples', 'cluster', 'subnets.yaml'));
  const wrongProvider = example('bad/wrong-ovn-provider.yaml');
  const subnetEdited = clone(subnets[0]);
  subnetEdited.spec.excludeIps = ['172.17.0.0..172.17.0.20'];
  return [
    update(fedora(), fedoraWithBridge()),
    update(fedora(), example('bad/masquerade-hotplug.yaml')),
    update(
      fedora(),
      addMultusNic(addMultusNic(fedora(), 'nic2', { sriov: {} }, 'sriov-net'), 'nic3', { bridge: {} }, 'missing-net'),
    ),
    update(fedoraWithBridge(), removeNic(fedoraWithBridge(), 'dyniface1')),
    create(fedoraWithBridge()),
    update(asVmi(fedora()), asVmi(fedoraWithBridge())),
    create(asVmi(fedoraWithBridge())),
    ...nads.map((nad) => create(nad)),
    create(wrongProvider),
    update(nads[0], wrongProvider),
    ...subnets.map((s) => create(s)),
    update(subnets[0], subnetEdited),
  ];
}

/** AdmissionReviews as the API server sends them, including the one in examples/reviews. */
export function seedReviews(): Json[] {
  const fromExample = JSON.parse(
    readFileSync(join(ROOT, 'examples', 'reviews', 'nad-wrong-provider.json'), 'utf8'),
  ) as Json;
  return [...seedRequests().map((r, i) => admissionReview({ ...r, uid: `seed-${i}` }) as Json), fromExample];
}

function nest(depth: number, shape: 'array' | 'object'): Json {
  let value: Json = 'bottom';
  for (let i = 0; i < depth; i++) value = shape === 'array' ? [value] : { a: value };
  return value;
}

/** An object whose own key is "__proto__" (as JSON.parse makes it), not a prototype change. */
function protoKeyed(inner: Json): Json {
  return JSON.parse(`{"__proto__": ${JSON.stringify(inner)}, "constructor": {"prototype": 1}}`) as Json;
}

const awkwardStrings = fc.constantFrom(
  '',
  ' ',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  '\u0000',
  '\u2028\u2029',
  '\ud800',
  '-1',
  '1e400',
  'NaN',
  '0x10',
  'default',
  'default/attachnet',
  'attachnet',
  'kube-ovn',
  'bridge',
  'sriov',
  'absent',
  '{"type":"kube-ovn","provider":',
  '{"type":"kube-ovn","provider":"attachnet.default.ovn"}',
  '172.17.0.0/16',
  '172.17.0.1..172.17.0.0',
  '::/0',
  'a'.repeat(300),
);

export interface HostileSizes {
  /** Deepest nesting produced. */
  depth: number;
  /** Longest string. */
  stringLength: number;
  /** Longest list. */
  listLength: number;
}

/**
 * Test-sized by default; bench/fuzz.ts asks for bigger (depth stays under ~1,000:
 * structuredClone overflows past ~1,500).
 */
export const SMALL: HostileSizes = { depth: 200, stringLength: 20_000, listLength: 500 };

/** Values that do not belong where they are put. */
export function hostileValue(sizes: HostileSizes = SMALL): fc.Arbitrary<Json> {
  const scalar: fc.Arbitrary<Json> = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, 0.5),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 20 }),
    awkwardStrings,
  );
  return fc.oneof(
    { weight: 6, arbitrary: scalar },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: fc.constant([] as Json) },
    { weight: 1, arbitrary: fc.constant({} as Json) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: sizes.depth }), fc.constantFrom('array' as const, 'object' as const))
        .map(([d, s]) => nest(d, s)),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: sizes.stringLength }).map((n) => 'x'.repeat(n)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 10, max: sizes.listLength }), scalar)
        .map(([n, item]) => Array.from({ length: n }, (_, i) => (i % 2 ? item : { name: `n${i}` })) as Json),
    },
    { weight: 1, arbitrary: scalar.map(protoKeyed) },
  );
}

/** One edit at the path numbered `at` (modulo the number of paths). */
export type Mutation =
  | { op: 'replace'; at: number; value: Json }
  | { op: 'delete'; at: number }
  | { op: 'add'; at: number; key: string; value: Json }
  | { op: 'duplicate'; at: number };

export function mutation(sizes: HostileSizes = SMALL): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), at, value: hostileValue(sizes) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('add' as const),
        at,
        key: fc.oneof(fc.string({ maxLength: 12 }), awkwardStrings),
        value: hostileValue(sizes),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at }) },
  );
}

/** Every path in a JSON value, parents before children (capped: huge values are not walked whole). */
function pathsOf(value: Json, limit = 5000): Path[] {
  const out: Path[] = [[]];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    let node: Json = value;
    for (const key of out[i]) node = (node as Record<string | number, Json>)[key];
    if (Array.isArray(node)) node.forEach((_, k) => out.push([...out[i], k]));
    else if (node && typeof node === 'object') for (const k of Object.keys(node)) out.push([...out[i], k]);
  }
  return out;
}

/** How many paths a value has (the root included), as the mutations number them. */
export function pathCount(value: Json): number {
  return pathsOf(value).length;
}

function setOwn(container: Json, key: string | number, value: Json): void {
  // defineProperty, so that a key "__proto__" is an own property as JSON.parse would make it.
  Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Applies the edits in order to a copy; the original is untouched. With `keepRoot` the
 * root is never replaced or deleted (an object stays an object, as a KubeObject must).
 */
export function applyMutations(original: Json, mutations: readonly Mutation[], keepRoot = false): Json {
  let root = structuredClone(original);
  for (const m of mutations) {
    const paths = pathsOf(root);
    const path =
      keepRoot && paths.length > 1 && (m.op === 'replace' || m.op === 'delete')
        ? paths[1 + (m.at % (paths.length - 1))]
        : paths[m.at % paths.length];
    const key = path[path.length - 1];
    let parent: Json = root;
    for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[k];
    const node = path.length ? (parent as Record<string | number, Json>)[key] : root;
    switch (m.op) {
      case 'replace':
        if (path.length === 0) root = structuredClone(m.value);
        else setOwn(parent, key, structuredClone(m.value));
        break;
      case 'delete':
        if (path.length === 0) root = null;
        else if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete (parent as Record<string, Json>)[key];
        break;
      case 'add':
        if (Array.isArray(node)) node.push(structuredClone(m.value));
        else if (node && typeof node === 'object') setOwn(node, m.key, structuredClone(m.value));
        else if (path.length) setOwn(parent, key, { [m.key]: structuredClone(m.value) });
        break;
      case 'duplicate':
        if (Array.isArray(parent)) parent.push(structuredClone(node));
        else if (Array.isArray(node) && node.length) node.push(structuredClone(node[0]));
        break;
    }
  }
  return root;
}

/** A seed and a few edits to it. */
export function mutated<T extends Json>(
  seeds: readonly T[],
  sizes: HostileSizes = SMALL,
  maxEdits = 4,
): fc.Arbitrary<Json> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutation(sizes), { minLength: 1, maxLength: maxEdits }))
    .map(([seed, edits]) => applyMutations(seed, edits));
}

/** Requests whose object and oldObject are mutated; kind, operation and group stay judged ones. */
export function mutatedRequest(sizes: HostileSizes = SMALL): fc.Arbitrary<PolicyRequest> {
  const seeds = seedRequests();
  return fc
    .tuple(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(mutation(sizes), { maxLength: 4 }),
      fc.array(mutation(sizes), { maxLength: 2 }),
      // Now and then an object is missing altogether (an UPDATE without object, say).
      fc.constantFrom('both', 'both', 'both', 'both', 'both', 'both', 'both', 'both', 'no object', 'no oldObject'),
    )
    .map(([i, objectEdits, oldEdits, present]) => {
      const { object: seedObject, oldObject: seedOld, ...rest } = seeds[i];
      const object =
        seedObject && present !== 'no object'
          ? (applyMutations(seedObject as Json, objectEdits, true) as KubeObject)
          : undefined;
      const oldObject =
        seedOld && present !== 'no oldObject'
          ? (applyMutations(seedOld as Json, oldEdits, true) as KubeObject)
          : undefined;
      return { ...rest, ...(object ? { object } : {}), ...(oldObject ? { oldObject } : {}) };
    });
}

/**
 * A real review with one value nested `depth` deep, spliced in as text: deeper than any
 * JavaScript value could be built (or cloned) without running out of stack.
 */
export function deepBody(minDepth: number, maxDepth: number): fc.Arbitrary<string> {
  const review = JSON.stringify(seedReviews()[0]);
  return fc.tuple(fc.integer({ min: minDepth, max: maxDepth }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => {
    const close = open === '[' ? ']' : '}';
    return review.replace('"spec":{', `"spec":{"deep":${open.repeat(depth)}1${close.repeat(depth)},`);
  });
}

/** Bodies that are not JSON, or not objects, or cut short. */
export function garbageBody(): fc.Arbitrary<string> {
  const review = JSON.stringify(seedReviews()[0]);
  return fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    fc.nat({ max: review.length }).map((n) => review.slice(0, n)),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(
      'null',
      '[]',
      '{}',
      '"AdmissionReview"',
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}',
      '\ufeff{}',
    ),
  );
}

/** What the API server needs of an answer: uid echoed, its limits kept, a patch only from /mutate. */
export function assertWellFormedAnswer(answer: AdmissionReviewResponse, uid: unknown, webhook: Webhook): void {
  assert.equal(answer.apiVersion, ADMISSION_API_VERSION);
  assert.equal(answer.kind, ADMISSION_KIND);
  const r = answer.response;
  assert.equal(r.uid, uid, 'uid echoed');
  assert.equal(typeof r.allowed, 'boolean');
  if (!r.allowed) {
    assert.equal(r.status?.code, 403);
    assert.equal(typeof r.status?.message, 'string');
    assert.ok(Buffer.byteLength(r.status!.message) <= DENIAL_MESSAGE_LIMIT);
  }
  if (r.warnings) {
    for (const w of r.warnings) assert.ok(Buffer.byteLength(w) <= WARNING_LIMIT && !/[\r\n]/.test(w), 'one short line');
    assert.ok(r.warnings.reduce((n, w) => n + Buffer.byteLength(w), 0) <= WARNINGS_TOTAL_LIMIT);
  }
  if (r.patch !== undefined) {
    assert.equal(webhook, 'mutate');
    assert.equal(r.patchType, 'JSONPatch');
    assert.ok(Array.isArray(JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8'))));
  }
}

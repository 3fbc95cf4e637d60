// The schema rule's precheck (src/engine/schema-precheck.ts) may only say "valid" of an
// object ajv, compiled from the same CRD schema, also accepts: compared here on every seed
// object of each judged kind and on thousands of mutations of them (wrong types, deleted
// and added fields, hostile values), and on edits aimed at the keywords it reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { schemaValidator } from '../src/engine/rules/schema.js';
import { precheck } from '../src/engine/schema-precheck.js';
import type { JudgedKind } from '../src/engine/kinds.js';
import { PROPERTY_SEED, mutated, seedRequests, type Json } from './property-support.js';
import { clone } from './support.js';

const seeds = new Map<JudgedKind, Json[]>();
for (const r of seedRequests()) {
  for (const o of [r.object, r.oldObject]) {
    if (!o) continue;
    const kind = o.kind as JudgedKind;
    seeds.set(kind, [...(seeds.get(kind) ?? []), o as unknown as Json]);
  }
}

function judge(kind: JudgedKind, object: unknown): { precheck: string; ajv: boolean } {
  const compiled = schemaValidator(kind);
  assert.ok(compiled, `a schema for ${kind}`);
  return { precheck: precheck(compiled.schema, object), ajv: compiled.validate(object) as boolean };
}

describe('the schema precheck never vouches for what ajv refuses', () => {
  for (const kind of ['VirtualMachine', 'VirtualMachineInstance', 'NetworkAttachmentDefinition', 'Subnet'] as const) {
    it(`${kind}: the seed objects are valid to both, and no mutation is valid to the precheck alone`, () => {
      const objects = seeds.get(kind) ?? [];
      assert.ok(objects.length > 0);
      // The precheck is only worth having if it answers real objects itself.
      for (const o of objects) assert.deepEqual(judge(kind, o), { precheck: 'valid', ajv: true });
      let vouched = 0;
      fc.assert(
        fc.property(mutated(objects, undefined, 3), (object) => {
          const { precheck: p, ajv } = judge(kind, object);
          if (p === 'valid') {
            vouched++;
            assert.ok(ajv, `precheck said valid, ajv refused: ${JSON.stringify(object).slice(0, 400)}`);
          }
        }),
        { seed: PROPERTY_SEED, numRuns: 1500 },
      );
      assert.ok(vouched > 0, 'some mutations (e.g. an added label) are still valid');
    });
  }

  it('edits aimed at the keywords it reads: type, enum, pattern, bounds, required, unknown fields', () => {
    const vm = clone(seeds.get('VirtualMachine')![0]) as Record<string, any>;
    const edits: [string, (o: Record<string, any>) => void][] = [
      ['rebootPolicy outside its enum', (o) => (o.spec.template.spec.domain.rebootPolicy = 'Sometimes')],
      ['memory.guest not a quantity (pattern)', (o) => (o.spec.template.spec.domain.memory = { guest: '2 GB' })],
      [
        'more than 256 interfaces (maxItems)',
        (o) => {
          const devices = o.spec.template.spec.domain.devices;
          devices.interfaces = Array.from({ length: 257 }, (_, i) => ({ name: `n${i}`, bridge: {} }));
        },
      ],
      ['an unknown field in spec', (o) => (o.spec.templte = {})],
      ['an interface without its required name', (o) => delete o.spec.template.spec.domain.devices.interfaces[0].name],
      ['a string where an integer belongs', (o) => (o.spec.template.spec.domain.cpu = { cores: '2' })],
      ['a float where an integer belongs', (o) => (o.spec.template.spec.domain.cpu = { cores: 1.5 })],
      ['a list where a map belongs', (o) => (o.spec.template.spec.domain.devices = [])],
      ['a map where a list belongs', (o) => (o.spec.template.spec.networks = {})],
    ];
    for (const [what, edit] of edits) {
      const object = clone(vm);
      edit(object);
      assert.deepEqual(judge('VirtualMachine', object), { precheck: 'unsure', ajv: false }, what);
    }
    // A label added: still valid to both, and answered by the precheck.
    const labelled = clone(vm);
    labelled.metadata.labels = { team: 'net' };
    assert.deepEqual(judge('VirtualMachine', labelled), { precheck: 'valid', ajv: true });
    // Not JSON at all: a Date or undefined is never vouched for.
    const dated = clone(vm);
    dated.spec.template.metadata = { annotations: { at: new Date(0) } };
    assert.equal(judge('VirtualMachine', dated).precheck, 'unsure');
  });
});

// The readers of the paths every VM review reads (src/engine/vm.ts) walk them with named
// property loads for speed; they must answer exactly as dig() does, whatever stands at each step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../src/engine/values.js';
import { interfacesOf, overlongLists, vmiAnnotationsOf, vmiSpecOf, KUBEVIRT_LIST_LIMIT } from '../src/engine/vm.js';
import type { KubeObject } from '../src/engine/types.js';

/** What may stand at one step of a path in a hostile review. */
const STEPS: ((next: unknown) => unknown)[] = [
  () => undefined,
  () => null,
  () => 'text',
  () => 7,
  () => [],
  (next) => [next],
  () => ({}),
];

/** Every object along `keys` that holds the next step, with each hostile value in its place. */
function shapes(keys: readonly string[], leaf: unknown): unknown[] {
  if (keys.length === 0) return [leaf];
  const out: unknown[] = [];
  for (const inner of shapes(keys.slice(1), leaf)) out.push({ [keys[0]]: inner });
  for (const step of STEPS) out.push(step({ [keys[0]]: leaf }));
  return out;
}

test('vmiSpecOf, interfacesOf and vmiAnnotationsOf answer as dig() for every shape along their paths', () => {
  const leaf = { marker: true };
  let compared = 0;
  for (const obj of shapes(['spec', 'template', 'spec'], leaf)) {
    if (typeof obj !== 'object' || obj === null) continue; // a review's object is always an object
    assert.equal(vmiSpecOf(obj as KubeObject, 'VirtualMachine'), dig(obj, 'spec', 'template', 'spec'));
    assert.equal(vmiSpecOf(obj as KubeObject, 'VirtualMachineInstance'), dig(obj, 'spec'));
    compared++;
  }
  for (const spec of shapes(['domain', 'devices', 'interfaces'], leaf)) {
    assert.equal(interfacesOf(spec), dig(spec, 'domain', 'devices', 'interfaces'));
    compared++;
  }
  const annotations = { a: 'b', skipped: 3 };
  for (const obj of shapes(['spec', 'template', 'metadata', 'annotations'], annotations)) {
    if (typeof obj !== 'object' || obj === null) continue;
    const viaDig = dig(obj, 'spec', 'template', 'metadata', 'annotations');
    assert.deepEqual(vmiAnnotationsOf(obj as KubeObject, 'VirtualMachine'), viaDig === annotations ? { a: 'b' } : {});
    compared++;
  }
  for (const obj of shapes(['metadata', 'annotations'], annotations)) {
    if (typeof obj !== 'object' || obj === null) continue;
    const viaDig = dig(obj, 'metadata', 'annotations');
    assert.deepEqual(
      vmiAnnotationsOf(obj as KubeObject, 'VirtualMachineInstance'),
      viaDig === annotations ? { a: 'b' } : {},
    );
    compared++;
  }
  assert.ok(compared > 40, `${compared} shapes compared`);
});

test('overlongLists names each list past the limit, and shares one empty answer otherwise', () => {
  const long = Array.from({ length: KUBEVIRT_LIST_LIMIT + 1 }, (_, i) => ({ name: `n${i}` }));
  const vm = (interfaces: unknown, networks: unknown): KubeObject =>
    ({ spec: { template: { spec: { domain: { devices: { interfaces } }, networks } } } }) as KubeObject;
  assert.equal(overlongLists(vm([], []), 'VirtualMachine'), overlongLists(vm(long.slice(1), 'x'), 'VirtualMachine'));
  assert.deepEqual(
    overlongLists(vm(long, long), 'VirtualMachine').map((l) => [l.path.toString(), l.length]),
    [
      ['spec.template.spec.domain.devices.interfaces', KUBEVIRT_LIST_LIMIT + 1],
      ['spec.template.spec.networks', KUBEVIRT_LIST_LIMIT + 1],
    ],
  );
  const vmi = { spec: { networks: long } } as KubeObject;
  assert.deepEqual(
    overlongLists(vmi, 'VirtualMachineInstance').map((l) => l.path.toString()),
    ['spec.networks'],
  );
});

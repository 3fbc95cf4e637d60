import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyJson } from '../src/engine/draft.js';

describe('copyJson: the deep copy a mutation edits', () => {
  it('equals what structuredClone makes of parsed JSON, and shares nothing with it', () => {
    const original = JSON.parse(
      '{"name":"net1","bridge":{},"ports":[{"port":80},{"port":443}],"tag":null,"n":1.5,"on":true,' +
        '"nested":{"list":[[1,"a"],{"b":[]}]}}',
    );
    const copy = copyJson(original);
    assert.deepStrictEqual(copy, structuredClone(original));
    copy.ports[0].port = 8080;
    copy.nested.list[1].b.push(1);
    copy.bridge.x = 1;
    assert.equal(original.ports[0].port, 80);
    assert.deepEqual(original.nested.list[1].b, []);
    assert.deepEqual(original.bridge, {});
  });

  it('keeps a parsed "__proto__" as a field, as structuredClone does, rather than setting a prototype', () => {
    const original = JSON.parse('{"name":"net1","__proto__":{"polluted":true}}');
    const copy = copyJson(original);
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.keys(copy), ['name', '__proto__']);
    assert.equal((copy as Record<string, { polluted: boolean }>)['__proto__'].polluted, true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepStrictEqual(copy, structuredClone(original));
  });
});

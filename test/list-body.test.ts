// The list-body splitter (src/cluster/list-body.ts): the items it finds, parsed, equal what
// JSON.parse of the whole body holds, for any JSON list; anything else falls back to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { splitListBody } from '../src/cluster/list-body.js';

const all = (text: string) => {
  const body = splitListBody(text);
  return { envelope: body.envelope, items: body.items(0, body.count) };
};

test('items and envelope of any list equal one JSON.parse of it, whatever the strings hold', () => {
  // Keys and strings with quotes, backslashes, brackets and unicode escapes, at any depth.
  const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '[', ']', '{', '}', ',', ':', 'a', 'é', '\n') });
  const value = fc.oneof(tricky, fc.jsonValue(), fc.array(fc.dictionary(tricky, tricky)));
  const item = fc.dictionary(fc.oneof(tricky, fc.string({ unit: 'binary' })), value, { maxKeys: 6 });
  fc.assert(
    fc.property(
      fc.array(item, { maxLength: 12 }),
      fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
      tricky,
      fc.boolean(),
      fc.constantFrom('', ' ', '\n  '),
      (items, extra, cont, itemsFirst, ws) => {
        const metadata = { resourceVersion: '42', continue: cont };
        const { items: _drop, ...rest } = extra as Record<string, unknown>;
        const list = itemsFirst ? { items, ...rest, metadata } : { ...rest, metadata, items };
        const text = JSON.stringify(list, null, ws || undefined);
        const whole = JSON.parse(text) as { items: unknown[] };
        assert.ok(splitListBody(text).split, 'split without the fallback');
        const got = all(text);
        assert.equal(got.items.length, items.length);
        assert.deepEqual(got.items, whole.items);
        assert.deepEqual(got.envelope.metadata, metadata);
        assert.deepEqual({ ...got.envelope, items: whole.items }, whole);
      },
    ),
    { numRuns: 300 },
  );
});

test('item slices are parsed on demand and a bad item throws only when its slice is read', () => {
  const text = '{"metadata":{"resourceVersion":"7"},"items":[{"a":1},{"b":"x\\"]}"},{"c":tru}]}';
  const body = splitListBody(text);
  assert.ok(body.split);
  assert.equal(body.count, 3);
  assert.deepEqual(body.items(0, 2), [{ a: 1 }, { b: 'x"]}' }]);
  assert.throws(() => body.items(2, 3), SyntaxError);
  assert.equal(body.envelope.metadata?.resourceVersion, '7');
});

test('what the scan cannot split goes through JSON.parse whole, errors included', () => {
  // Items that are not objects, no items, nested "items" only, and broken bodies.
  assert.equal(splitListBody('{"items":[1,{"x":[]}]}').split, false);
  assert.deepEqual(all('{"items":[1,"two",null,{"x":[]}]}').items, [1, 'two', null, { x: [] }]);
  assert.deepEqual(all('{"metadata":{}}').items, []);
  assert.deepEqual(all('{"metadata":{"items":[{"a":1}]}}').items, []);
  assert.deepEqual(all('{"items":null}').items, []);
  assert.deepEqual(all('{"items":[{"a":1}],"\\u0069tems":[{"b":2}]}').items, [{ b: 2 }]);
  assert.deepEqual(all('[{"a":1}]').items, []);
  assert.throws(() => splitListBody('{"items":[{"a":1}'), SyntaxError);
  assert.throws(() => splitListBody('{"items":[{"a":1}]} trailing'), SyntaxError);
  assert.throws(() => splitListBody('{"items":[{"a":"unterminated}]}'), SyntaxError);
});

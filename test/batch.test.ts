// The gathering of reviews into batches (src/server/batch.ts): what is handed over, when.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Batcher } from '../src/server/batch.js';

function recorder(limits = { aloneFrom: 100, maxBytes: 250 }) {
  const handed: string[][] = [];
  const batcher = new Batcher<string>((batch) => handed.push(batch), limits);
  return { handed, batcher };
}

describe('Batcher', () => {
  it('hands over the items of one turn together, in order, on the next setImmediate', async () => {
    const { handed, batcher } = recorder();
    batcher.add('a', 10);
    batcher.add('b', 10);
    batcher.add('c', 10);
    assert.deepEqual(handed, [], 'nothing is handed over in the turn the items arrive');
    await nextTurn();
    assert.deepEqual(handed, [['a', 'b', 'c']]);
    batcher.add('d', 10);
    await nextTurn();
    assert.deepEqual(handed, [['a', 'b', 'c'], ['d']], 'a later turn starts a new batch');
  });

  it('hands over an item larger than aloneFrom alone and at once, after what is queued before it', async () => {
    const { handed, batcher } = recorder();
    batcher.add('small', 10);
    batcher.add('large', 101);
    assert.deepEqual(handed, [['small'], ['large']]);
    batcher.add('after', 10);
    assert.equal(handed.length, 2);
    await nextTurn();
    assert.deepEqual(handed, [['small'], ['large'], ['after']], 'the pending setImmediate hands over what came after');
  });

  it('hands over at once when an item takes the batch to maxBytes', async () => {
    const { handed, batcher } = recorder();
    for (const item of ['a', 'b']) batcher.add(item, 100);
    assert.deepEqual(handed, [], 'at 200 of 250 bytes it waits');
    batcher.add('c', 50);
    assert.deepEqual(handed, [['a', 'b', 'c']]);
    await nextTurn();
    assert.deepEqual(handed, [['a', 'b', 'c']], 'no empty batch is handed over');
  });
});

// lowerHelperThreads' refusals; what it does to a running server is in serve-cli.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lowerHelperThreads } from '../src/server/helper-threads.js';

describe('lowerHelperThreads', () => {
  it('leaves every thread alone when asked for nice 0', () => {
    assert.match((lowerHelperThreads(0) as { skipped: string }).skipped, /nice 0/);
  });

  it('says why when it cannot list the threads', { skip: process.platform !== 'linux' }, () => {
    const result = lowerHelperThreads(10, '/proc/self/no-such-task-dir');
    assert.match((result as { skipped: string }).skipped, /cannot list threads in \/proc\/self\/no-such-task-dir/);
  });
});

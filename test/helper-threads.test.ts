// lowerHelperThreads' refusals; what it does to a running server is in serve-cli.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lowerHelperThreads } from '../src/server/helper-threads.js';

describe('lowerHelperThreads', () => {
  it('leaves every thread alone when asked for nice 0', () => {
    assert.match((lowerHelperThreads(0) as { skipped: string }).skipped, /nice 0/);
  });

  it('says why when it cannot list the threads', { skip: process.platform !== 'linux' }, () => {
    const result = lowerHelperThreads(10, '/proc/self/no-such-task-dir');
    assert.match((result as { skipped: string }).skipped, /cannot list threads in \/proc\/self\/no-such-task-dir/);
  });

  // Thread ids past Linux's pid_max (4,194,304 at most): never a live thread, so the test
  // cannot renice anything. Each call fails with ESRCH, as for a thread that just ended.
  it('passes over threads that ended before it reached them', { skip: process.platform !== 'linux' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'nicguard-tasks-'));
    try {
      for (const tid of ['2147483640', '2147483641']) mkdirSync(join(dir, tid));
      assert.deepEqual(lowerHelperThreads(10, dir, 2147483640), { threads: 0, nice: 10 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Exit codes of the command line: 0 allowed, 1 denied, 2 bad input or usage, 3 a failure
// of nicguard itself. An internal error is one line on stderr, its stack only with --debug,
// and never exits 1 (a CI job must not read a crash as "denied") nor 2 ("your input").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './support.js';
import { CLI, hasStackTrace, nicguard, tempDir } from './cli-run.js';

/** Runs the CLI with a module loaded first that fails later, the way a bug would. */
function withFailure(
  failure: string,
  args: string[],
): Promise<{ status: number | null; stderr: string; stdout: string }> {
  const preload = `data:text/javascript,${encodeURIComponent(failure)}`;
  return new Promise((resolve) => {
    // A directory of its own: `serve --dev` writes its certificates there.
    const child = spawn(process.execPath, ['--import', preload, CLI, ...args], {
      cwd: tempDir('nicguard-exit-'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('close', (status) => resolve({ status, stderr, stdout }));
  });
}

// `serve` stays up, so the failure surely comes while a command runs.
const SERVE = [
  'serve',
  '--dev',
  '--objects',
  join(ROOT, 'examples', 'cluster'),
  '--port',
  '0',
  '--metrics-port',
  '0',
  '--host',
  '127.0.0.1',
];

describe('nicguard exit codes', () => {
  it('0 for an allowed change, 1 for a denied one, 2 for a bad flag or file', async () => {
    const objects = join(ROOT, 'examples', 'cluster');
    const [allowed, denied, badFlag, missing] = await Promise.all([
      nicguard(['validate', '-f', 'examples/new', '--old', 'examples/old', '--objects', objects]),
      nicguard(['validate', '-f', 'examples/bad/wrong-ovn-provider.yaml', '--objects', objects]),
      nicguard(['validate', '--output', 'yaml', '-f', 'examples/new']),
      nicguard(['validate', '-f', 'examples/nowhere.yaml']),
    ]);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.equal(denied.status, 1, denied.stderr);
    assert.equal(badFlag.status, 2);
    assert.equal(missing.status, 2);
  });

  it('3 and one line for an uncaught exception; the stack only with --debug', async () => {
    const thrown = 'setTimeout(() => { throw new TypeError("boom in a timer") }, 2500)';
    const plain = await withFailure(thrown, SERVE);
    assert.equal(plain.status, 3);
    const last = plain.stderr.trim().split('\n').at(-1);
    assert.equal(last, 'nicguard: internal error: boom in a timer; rerun with --debug for the stack');
    assert.ok(!hasStackTrace(plain.stderr), plain.stderr);
    // The server's log keeps the stack for the operator.
    const fatal = plain.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'internal error; exiting');
    assert.ok(fatal, plain.stdout);
    assert.equal(fatal.level, 60);
    assert.match(fatal.err.stack, /TypeError: boom in a timer\n\s+at /);

    const debug = await withFailure(thrown, ['--debug', ...SERVE]);
    assert.equal(debug.status, 3);
    assert.match(debug.stderr, /nicguard: internal error: TypeError: boom in a timer\n\s+at /);
  });

  it('3 for an unhandled rejection, also with --debug after the command', async () => {
    const rejected = 'setTimeout(() => { Promise.reject(new RangeError("lost promise")) }, 2500)';
    const plain = await withFailure(rejected, SERVE);
    assert.equal(plain.status, 3);
    assert.match(plain.stderr, /^nicguard: internal error: lost promise; rerun with --debug for the stack$/m);
    const debug = await withFailure(rejected, [...SERVE, '--debug']);
    assert.equal(debug.status, 3);
    assert.match(debug.stderr, /RangeError: lost promise\n\s+at /);
  });
});

// --base reads each input file's previous version from git: one `git rev-parse` and one
// `git cat-file --batch` per repository, whatever the number of files and folders (a process per
// file took 5.4 s for 2,000). A `git` on PATH that logs its arguments counts the processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { readBaseVersions } from '../src/io/git-base.js';
import { gitRepo, tempDir, writeTree } from './cli-run.js';

const vm = (name: string, binding = 'bridge') =>
  `apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: ${name}\n  namespace: default\n` +
  `spec:\n  template:\n    spec:\n      domain:\n        devices:\n          interfaces:\n` +
  `          - name: default\n            ${binding}: {}\n      networks:\n      - name: default\n        pod: {}\n`;

/** Runs `fn` with a `git` first on PATH that appends its arguments to a log, and returns the logged calls. */
function countingGit(fn: () => void): string[] {
  const dir = tempDir('nicguard-git-log-');
  const log = join(dir, 'calls.log');
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'git'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(join(dir, 'git'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}${delimiter}${path}`;
  try {
    fn();
  } finally {
    process.env.PATH = path;
  }
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  rmSync(dir, { recursive: true, force: true });
  return calls;
}

test('--base reads every file of a repository with one git process, and tells new files from old', () => {
  const a = gitRepo();
  writeTree(a.repo, {
    'vms/changed.yaml': vm('changed'),
    'vms/with space.yaml': vm('spaced'),
    'vms/deep/unchanged.yaml': vm('unchanged'),
    'vms/was-a-folder/x.yaml': vm('x'),
  });
  a.git('add', '.');
  a.git('commit', '-q', '-m', 'base');
  a.git('commit', '-q', '--allow-empty', '-m', 'second');
  writeFileSync(join(a.repo, 'vms/changed.yaml'), vm('changed', 'masquerade'));
  writeFileSync(join(a.repo, 'vms/new.yaml'), vm('new'));
  rmSync(join(a.repo, 'vms/was-a-folder'), { recursive: true });
  writeFileSync(join(a.repo, 'vms/was-a-folder'), vm('folder'));
  // A second repository with one commit, where HEAD~1 does not exist; and a link into the first.
  const b = gitRepo();
  writeTree(b.repo, { 'b.yaml': vm('in-b') });
  b.git('add', '.');
  b.git('commit', '-q', '-m', 'only');
  const links = tempDir('nicguard-links-');
  symlinkSync(join(a.repo, 'vms'), join(links, 'vms'));
  mkdirSync(join(links, 'plain'));
  writeFileSync(join(links, 'plain', 'outside.yaml'), vm('outside'));

  const files = [
    join(a.repo, 'vms/changed.yaml'),
    join(a.repo, 'vms/with space.yaml'),
    join(a.repo, 'vms/deep/unchanged.yaml'),
    join(a.repo, 'vms/new.yaml'),
    join(a.repo, 'vms/was-a-folder'),
    join(links, 'vms/changed.yaml'),
    join(b.repo, 'b.yaml'),
    join(links, 'plain', 'outside.yaml'),
  ];
  let read: ReturnType<typeof readBaseVersions> | undefined;
  const calls = countingGit(() => (read = readBaseVersions(files, 'HEAD~1')));
  const base = read!;

  assert.deepEqual(
    base.objects.map((o) => [o.object.metadata?.name, o.source.file]),
    [
      ['changed', 'git:HEAD~1:' + files[0]],
      ['spaced', 'git:HEAD~1:' + files[1]],
      ['unchanged', 'git:HEAD~1:' + files[2]],
      ['changed', 'git:HEAD~1:' + files[5]],
    ],
  );
  // The previous version, not the file as it is now.
  assert.match(readFileSync(files[0], 'utf8'), /masquerade/);
  assert.equal(JSON.stringify(base.objects[0].object).includes('masquerade'), false);
  assert.deepEqual(base.newFiles, [files[3], files[4]]);
  assert.deepEqual(
    base.errors.map((e) => e.message),
    ['--base: unknown git revision "HEAD~1"', `--base: ${join(links, 'plain')} is not inside a git repository`],
  );
  // One rev-parse per repository (a, b) and per folder in none (plain); one cat-file for the first
  // repository, whose files came by two paths (the link's too), none for the second.
  assert.equal(calls.filter((c) => c.startsWith('rev-parse')).length, 3, calls.join('\n'));
  assert.deepEqual(
    calls.filter((c) => !c.startsWith('rev-parse')),
    ['cat-file --batch'],
  );
});

test('--base passes on what git says when it will not read a repository, and its fix', () => {
  const { repo, git } = gitRepo();
  writeTree(repo, { 'vm.yaml': vm('a') });
  git('add', '.');
  git('commit', '-q', '-m', 'base');
  // A git that refuses as it does for a checkout another user owns (a CI container's, often).
  const dir = tempDir('nicguard-git-refuses-');
  writeFileSync(
    join(dir, 'git'),
    `#!/bin/sh\necho "fatal: detected dubious ownership in repository at '${repo}'" >&2\n` +
      `echo "To add an exception for this directory, call:" >&2\necho >&2\n` +
      `printf '\\tgit config --global --add safe.directory ${repo}\\n' >&2\nexit 128\n`,
  );
  chmodSync(join(dir, 'git'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}${delimiter}${path}`;
  try {
    const base = readBaseVersions([join(repo, 'vm.yaml')], 'HEAD');
    assert.deepEqual(
      base.errors.map((e) => e.message),
      [
        `--base: git cannot read the repository of ${repo}: detected dubious ownership in repository at '${repo}'; ` +
          `to trust it: git config --global --add safe.directory ${repo}`,
      ],
    );
    assert.deepEqual(base.objects, []);
  } finally {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  }
});

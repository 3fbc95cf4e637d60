// The npm package as a user gets it: `npm pack`, installed into an empty folder, must give
// working `nicguard` and `kubectl-nicguard` commands with the examples they document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

/** The environment without the npm_* variables `npm test` sets, so the inner npm runs as a user's would. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

function run(cmd: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 240_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('npm pack ships the compiled CLI, both bins, schemas, examples and the licence, and no tests or sources', () => {
  const r = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT);
  assert.equal(r.status, 0, r.stderr);
  const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
  for (const bin of Object.values(pkg.bin)) assert.ok(files.has(bin), `bin ${bin} is packed`);
  for (const f of [
    'LICENSE',
    'package.json',
    'schemas/config.schema.json',
    'examples/bad/masquerade-hotplug.yaml',
    'dist/src/cli/program.js',
  ]) {
    assert.ok(files.has(f), `${f} is packed`);
  }
  const unwanted = [...files].filter(
    (f) =>
      f.startsWith('dist/test/') ||
      f.startsWith('test/') ||
      f.startsWith('charts/') ||
      /^src\/.*\.ts$/.test(f) ||
      /\.key$/.test(f),
  );
  assert.deepEqual(unwanted, []);
});

test('the packed tarball installs into an empty folder and its nicguard and kubectl-nicguard bins work', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nicguard-pack-'));
  try {
    // --ignore-scripts: dist/ is already built by the test command, and a rebuild (prepare)
    // would rewrite files that tests running alongside are reading.
    const packed = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT);
    assert.equal(packed.status, 0, packed.stderr);
    const tarball = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);

    const app = join(dir, 'app');
    run('mkdir', [app], dir);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'nicguard-pack-check', private: true }));
    const installed = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
    assert.equal(installed.status, 0, installed.stderr);

    const bin = (name: string) => join(app, 'node_modules', '.bin', name);
    const examples = join(app, 'node_modules', 'nicguard', 'examples');

    const version = run(bin('nicguard'), ['--version'], app);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);

    const clean = run(
      bin('nicguard'),
      ['validate', '-f', join(examples, 'new'), '--old', join(examples, 'old'), '--objects', join(examples, 'cluster')],
      app,
    );
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /1 object checked, 0 denied/);
    const bad = run(
      bin('nicguard'),
      ['validate', '-f', join(examples, 'bad'), '--old', join(examples, 'old'), '--objects', join(examples, 'cluster')],
      app,
    );
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /DENY\s+hotplug-binding/);

    const plugin = run(bin('kubectl-nicguard'), ['--help'], app);
    assert.equal(plugin.status, 0, plugin.stderr);
    assert.match(plugin.stdout, /^Usage: kubectl nicguard \[options\] \[command\]/);
    for (const command of ['validate', 'explain', 'serve', 'certs'])
      assert.match(plugin.stdout, new RegExp(`\\n  ${command}\\b`));
    const pluginVersion = run(bin('kubectl-nicguard'), ['--version'], app);
    assert.equal(pluginVersion.stdout.trim(), pkg.version);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('installing from git builds the CLI (the prepare script), as the CI recipes in docs/cli.md do', () => {
  const head = run('git', ['rev-parse', 'HEAD'], ROOT);
  assert.equal(head.status, 0, `the repository must be a git checkout for this test: ${head.stderr}`);
  const app = mkdtempSync(join(tmpdir(), 'nicguard-git-'));
  try {
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'nicguard-git-check', private: true }));
    // npm clones the commit into a folder of its own, installs the dev dependencies there
    // and runs `prepare` before packing; the checkout under test is not touched.
    const installed = run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', `git+file://${ROOT}#${head.stdout.trim()}`],
      app,
    );
    assert.equal(installed.status, 0, installed.stderr);
    const version = run(join(app, 'node_modules', '.bin', 'nicguard'), ['--version'], app);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);
    const plugin = run(join(app, 'node_modules', '.bin', 'kubectl-nicguard'), ['--help'], app);
    assert.match(plugin.stdout, /^Usage: kubectl nicguard/);
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

// `nicguard validate --base REF`: the previous version of each input file, read from a git
// revision. One `git rev-parse` per repository finds the revision there (any repository works,
// folders may belong to different ones); one `git cat-file --batch` per repository reads every
// file at once. A process per file took 5.4 s for 2,000 files, one per folder 6 s for 2,000 folders.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { STDIN, parseManifests, type LoadedObject, type ManifestError } from './manifests.js';
import { appendAll } from '../engine/values.js';

export interface BaseVersions {
  objects: LoadedObject[];
  /** Problems that make --base unusable (not a repository, unknown revision). */
  errors: ManifestError[];
  /** Files that did not exist at the revision: everything in them is a CREATE. */
  newFiles: string[];
}

function git(cwd: string, args: string[], input?: string) {
  // The output is every input file's previous version together: no cap beyond what they are.
  return spawnSync('git', args, { cwd, input, maxBuffer: Infinity });
}

/** Label under which objects read from the revision are reported, e.g. `git:origin/main:vms/a.yaml`. */
export function baseLabel(ref: string, file: string): string {
  return `git:${ref}:${file}`;
}

/** A folder's repository (its top folder, as git writes it) and the revision's commit there. */
interface Repository {
  top: string;
  commit: string;
}

/** The repository and commit of `ref` for a folder, or the message why there is none (naming it `shown`). */
function repositoryOf(dir: string, shown: string, ref: string): Repository | string {
  const found = git(dir, ['rev-parse', '--show-toplevel', '--verify', '--quiet', `${ref}^{commit}`]);
  if (found.error) {
    const why = (found.error as NodeJS.ErrnoException).code ?? found.error.message;
    return `--base needs git, which could not be run (${why})`;
  }
  const [top, commit] = found.stdout.toString('utf8').split('\n');
  // 128: not a repository, or one git will not read; 1: the top folder printed, the revision unknown.
  if (found.status !== 0 || !commit) {
    if (top) return `--base: unknown git revision "${ref}"`;
    const said = found.stderr.toString('utf8').trim().split('\n');
    if (!said[0] || /not a git repository/i.test(said[0])) return `--base: ${shown} is not inside a git repository`;
    // e.g. "detected dubious ownership" in a CI container whose checkout another user owns; git says the fix.
    const fix = said.find((line) => /^\s*git config .*safe\.directory/.test(line))?.trim();
    const why = said[0].replace(/^fatal: /, '');
    return `--base: git cannot read the repository of ${shown}: ${why}${fix ? `; to trust it: ${fix}` : ''}`;
  }
  return { top, commit };
}

/**
 * The contents of `paths` (relative to the repository's top, `/`-separated) at `commit`, by
 * path; a path missing there, or not a file, is left out.
 */
function readAtCommit(repo: Repository, paths: readonly string[]): Map<string, Buffer> | string {
  const out = new Map<string, Buffer>();
  const run = git(repo.top, ['cat-file', '--batch'], paths.map((p) => `${repo.commit}:${p}\n`).join(''));
  if (run.error || run.status !== 0) {
    return `--base: git cat-file failed in ${repo.top}: ${run.error?.message ?? run.stderr.toString('utf8').trim()}`;
  }
  // Per path: "<oid> <type> <size>\n<content>\n", or "<name> missing\n".
  const bytes = run.stdout;
  let at = 0;
  for (const path of paths) {
    const eol = bytes.indexOf(10, at);
    if (eol < 0) break;
    const header = bytes.toString('utf8', at, eol).split(' ');
    at = eol + 1;
    if (header.length !== 3 || !/^\d+$/.test(header[2])) continue;
    const size = Number(header[2]);
    if (header[1] === 'blob') out.set(path, bytes.subarray(at, at + size));
    at += size + 1;
  }
  return out;
}

/**
 * The folder git finds as the repository of `realDir`: the nearest folder up from it that holds
 * `.git` (a folder, or a file in a submodule or worktree); undefined when none does.
 */
function discoveredTop(realDir: string): string | undefined {
  for (let dir = realDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The input files by repository and commit, each with its path there; problems reported through
 * `fail`. git runs once per repository, found by the `.git` it would find; a folder with none
 * above it (or a GIT_DIR set) asks git itself, once per folder.
 */
function filesByRepository(files: readonly string[], ref: string, fail: (file: string, message: string) => void) {
  const byFolder = new Map<string, { repo: Repository; real: string } | undefined>();
  const byTop = new Map<string, Repository | string>();
  const groups = new Map<string, { repo: Repository; files: { file: string; path: string }[] }>();
  const folderOf = (file: string, dir: string) => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return undefined; // gone since it was read: no previous version to show
    }
    const top = process.env.GIT_DIR === undefined ? discoveredTop(real) : undefined;
    const key = top ?? real;
    let repo = byTop.get(key);
    if (repo === undefined) byTop.set(key, (repo = repositoryOf(top ?? dir, dirname(file), ref)));
    if (typeof repo !== 'string') return { repo, real };
    fail(file, repo);
    return undefined;
  };
  for (const file of files) {
    if (file === STDIN) continue;
    const dir = dirname(resolve(file));
    if (!byFolder.has(dir)) byFolder.set(dir, folderOf(file, dir));
    const found = byFolder.get(dir);
    if (!found) continue;
    const { repo, real } = found;
    // git names paths from its top folder with symbolic links resolved, and one path per line.
    const path = relative(repo.top, join(real, basename(file)))
      .split(sep)
      .join('/');
    if (path.includes('\n')) continue; // cannot be named to cat-file: read as new
    const key = `${repo.top}\n${repo.commit}`;
    const group = groups.get(key) ?? { repo, files: [] };
    groups.set(key, group);
    group.files.push({ file, path });
  }
  return { inRepository: (file: string) => byFolder.get(dirname(resolve(file))) !== undefined, groups };
}

export function readBaseVersions(files: readonly string[], ref: string): BaseVersions {
  const out: BaseVersions = { objects: [], errors: [], newFiles: [] };
  // git would read a leading dash as an option.
  if (ref.startsWith('-') || ref.trim() === '') {
    out.errors.push({ file: files[0] ?? ref, message: `--base: "${ref}" is not a git revision` });
    return out;
  }
  const reported = new Set<string>();
  const fail = (file: string, message: string) => {
    if (reported.has(message)) return;
    reported.add(message);
    out.errors.push({ file, message });
  };
  const { inRepository, groups } = filesByRepository(files, ref, fail);
  const previous = new Map<string, Buffer>();
  for (const { repo, files: inRepo } of groups.values()) {
    const read = readAtCommit(
      repo,
      inRepo.map((f) => f.path),
    );
    if (typeof read === 'string') {
      fail(inRepo[0].file, read);
      continue;
    }
    for (const { file, path } of inRepo) {
      const content = read.get(path);
      if (content) previous.set(file, content);
    }
  }
  // In the order of the files, as each was read before.
  for (const file of files) {
    const content = previous.get(file);
    if (content) {
      // A base version that no longer parses is not this change's fault: its objects count as new.
      appendAll(out.objects, parseManifests(content.toString('utf8'), baseLabel(ref, file)).objects);
    } else if (file !== STDIN && inRepository(file)) {
      out.newFiles.push(file);
    }
  }
  return out;
}

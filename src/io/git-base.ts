// `nicguard validate --base REF`: the previous version of each input file, read from a git
// revision with `git show REF:./file` in the file's own folder (so any repository works).
import { spawnSync } from 'node:child_process';
import { basename, dirname, resolve } from 'node:path';
import { STDIN, parseManifests, type LoadedObject, type ManifestError } from './manifests.js';
import { appendAll } from '../engine/values.js';

export interface BaseVersions {
  objects: LoadedObject[];
  /** Problems that make --base unusable (not a repository, unknown revision). */
  errors: ManifestError[];
  /** Files that did not exist at the revision: everything in them is a CREATE. */
  newFiles: string[];
}

function git(cwd: string, args: string[]) {
  return spawnSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

/** Label under which objects read from the revision are reported, e.g. `git:origin/main:vms/a.yaml`. */
export function baseLabel(ref: string, file: string): string {
  return `git:${ref}:${file}`;
}

export function readBaseVersions(files: readonly string[], ref: string): BaseVersions {
  const out: BaseVersions = { objects: [], errors: [], newFiles: [] };
  // git would read a leading dash as an option.
  if (ref.startsWith('-') || ref.trim() === '') {
    out.errors.push({ file: files[0] ?? ref, message: `--base: "${ref}" is not a git revision` });
    return out;
  }
  // One check of the revision per folder: folders may belong to different repositories.
  const usable = new Map<string, boolean>();
  const reported = new Set<string>();
  const fail = (file: string, message: string) => {
    if (reported.has(message)) return;
    reported.add(message);
    out.errors.push({ file, message });
  };
  for (const file of files) {
    if (file === STDIN) continue;
    const dir = dirname(resolve(file));
    if (!usable.has(dir)) {
      const check = git(dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
      if (check.error) {
        fail(
          file,
          `--base needs git, which could not be run ` +
            `(${(check.error as NodeJS.ErrnoException).code ?? check.error.message})`,
        );
        usable.set(dir, false);
      } else if (check.status !== 0) {
        const inRepo = git(dir, ['rev-parse', '--git-dir']).status === 0;
        fail(
          file,
          inRepo ? `--base: unknown git revision "${ref}"` : `--base: ${dirname(file)} is not inside a git repository`,
        );
        usable.set(dir, false);
      } else {
        usable.set(dir, true);
      }
    }
    if (!usable.get(dir)) continue;
    const shown = git(dir, ['show', `${ref}:./${basename(file)}`]);
    if (shown.status !== 0) {
      out.newFiles.push(file);
      continue;
    }
    // A base version that no longer parses is not this change's fault: its objects count as new.
    appendAll(out.objects, parseManifests(shown.stdout, baseLabel(ref, file)).objects);
  }
  return out;
}

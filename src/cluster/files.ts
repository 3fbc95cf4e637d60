// A ClusterView backed by a folder of manifests (`--objects DIR`): the NADs, Subnets, VMIs and
// the KubeVirt CR the engine may look up. Used by `nicguard validate`/`explain` and by
// `nicguard serve --objects` for development without a cluster.
import { INDEXED_KINDS } from '../engine/kinds.js';
import { ObjectIndex } from './object-index.js';
import { formatManifestError, loadManifests, type ManifestError, type ManifestLoad } from '../io/manifests.js';

export interface FileClusterLoad {
  view: ObjectIndex;
  /** Unreadable paths and unparsable documents; the objects that could be read are still indexed. */
  errors: ManifestError[];
  files: number;
  /** Objects indexed. */
  indexed: number;
  /** Objects of other kinds (Deployments, VMs, ...), which a cluster view does not need. */
  ignored: number;
}

/** Reads the folders (or files) into a fresh index. Never throws for bad input. */
export function readFileCluster(paths: string | readonly string[]): FileClusterLoad {
  return indexManifests(loadManifests(typeof paths === 'string' ? [paths] : paths));
}

/** Indexes manifests already read (e.g. when the caller also wants the VMs of the folder). */
export function indexManifests(loaded: ManifestLoad): FileClusterLoad {
  const view = new ObjectIndex();
  let indexed = 0;
  let ignored = 0;
  for (const { object, review } of loaded.objects) {
    if (!review && view.upsert(object)) indexed++;
    else ignored++;
  }
  return { view, errors: loaded.errors, files: loaded.files.length, indexed, ignored };
}

const toStderr = (e: ManifestError) => process.stderr.write(`nicguard: ${formatManifestError(e)}\n`);

/**
 * A fresh file-backed cluster view of a folder. Problems go to `onError` (by default one
 * line each on stderr); call again to re-load.
 */
export function loadFileClusterView(
  dir: string | readonly string[],
  onError: (e: ManifestError) => void = toStderr,
): ObjectIndex {
  const { view, errors } = readFileCluster(dir);
  errors.forEach(onError);
  return view;
}

/**
 * Re-reads the folder into an existing view (e.g. one the webhook already serves from),
 * replacing each kind's objects as a whole. Returns what the fresh read found.
 */
export function refreshFileClusterView(
  target: ObjectIndex,
  dir: string | readonly string[],
  onError: (e: ManifestError) => void = toStderr,
): FileClusterLoad {
  const fresh = readFileCluster(dir);
  fresh.errors.forEach(onError);
  for (const kind of INDEXED_KINDS) target.replaceAll(kind, fresh.view.list(kind));
  return fresh;
}

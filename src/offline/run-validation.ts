// The offline simulation behind `nicguard validate`: read the inputs, their previous
// versions and the cluster objects, build each request as the API server would, and run
// the engine over it as the webhooks would (mutation, then validation). Never throws for
// bad input: problems become report errors.
import { isJudged } from '../admission/judged.js';
import { objectIdentity, offlineRequest, withDefaultNamespace } from '../admission/offline.js';
import { readFileCluster } from '../cluster/files.js';
import type { ObjectIndex } from '../cluster/object-index.js';
import { evaluate } from '../engine/evaluate.js';
import { INDEXED_KINDS, isIndexedKind, kindOfObject } from '../engine/kinds.js';
import type { PolicyConfig, PolicyRequest } from '../engine/types.js';
import { stringOf } from '../engine/values.js';
import { objectRef } from '../engine/vm.js';
import { readBaseVersions } from '../io/git-base.js';
import { loadManifests, type LoadedObject, type ManifestError } from '../io/manifests.js';
import { summarize, type ObjectResult, type ValidationReport } from './report.js';

export interface ValidationInputs {
  /** Files, folders or `-`. */
  filename: string[];
  /** Previous versions: files or folders. */
  old: string[];
  /** A git revision to take each input file's previous version from. */
  base?: string;
  /** Cluster objects: files or folders. */
  objects: string[];
  /** Namespace of namespaced objects that name none, as `kubectl apply` assumes. */
  namespace: string;
  user?: string;
  /** A cluster view read elsewhere (live); objects from `objects` are added to it. */
  cluster?: ObjectIndex;
}

function requestFor(
  input: LoadedObject,
  previous: Map<string, LoadedObject>,
  opts: ValidationInputs,
): { request: PolicyRequest; oldSource?: string } {
  if (input.review) return { request: input.review };
  const key = objectIdentity(withDefaultNamespace(input.object, opts.namespace), opts.namespace);
  const old = key ? previous.get(key) : undefined;
  const request = offlineRequest({ object: input.object, oldObject: old?.object, namespace: opts.namespace, user: opts.user });
  return { request, ...(old ? { oldSource: old.source.file } : {}) };
}

function checkOne(
  input: LoadedObject,
  previous: Map<string, LoadedObject>,
  cluster: ObjectIndex,
  config: PolicyConfig,
  opts: ValidationInputs,
): ObjectResult | undefined {
  const { request, oldSource } = requestFor(input, previous, opts);
  if (!isJudged(request)) return undefined;
  const subject = request.object ?? request.oldObject;
  const result = evaluate(request, cluster, config, 'both');
  const namespace = request.namespace ?? stringOf(subject?.metadata?.namespace);
  return {
    file: input.source.file,
    line: input.source.line,
    column: input.source.column,
    document: input.source.document,
    apiVersion: stringOf(subject?.apiVersion) ?? '',
    kind: request.kind,
    ...(namespace ? { namespace } : {}),
    name: request.name ?? stringOf(subject?.metadata?.name) ?? stringOf(subject?.metadata?.generateName) ?? '',
    ref: objectRef(request.kind, subject, namespace, request.name),
    operation: request.operation,
    ...(oldSource ? { oldSource } : {}),
    admissionReview: !!input.review,
    allowed: result.allowed,
    findings: result.findings.map((f) => ({ ...f, ...input.locate(f.fieldPath) })),
    patch: result.patch,
  };
}

/** Reads the inputs, the previous versions and the cluster, and evaluates every object. */
export function runValidation(opts: ValidationInputs, config: PolicyConfig): ValidationReport {
  const errors: ManifestError[] = [];
  const inputs = loadManifests(opts.filename);
  errors.push(...inputs.errors);

  const previous = new Map<string, LoadedObject>();
  const remember = (objects: LoadedObject[]) => {
    for (const o of objects) {
      const key = o.review ? undefined : objectIdentity(withDefaultNamespace(o.object, opts.namespace), opts.namespace);
      if (key) previous.set(key, o);
    }
  };
  if (opts.base) {
    const base = readBaseVersions(inputs.files, opts.base);
    errors.push(...base.errors);
    remember(base.objects);
  }
  if (opts.old.length) {
    const old = loadManifests(opts.old);
    errors.push(...old.errors);
    remember(old.objects);
  }

  const clusterLoad = readFileCluster(opts.objects);
  errors.push(...clusterLoad.errors);
  const cluster = opts.cluster ?? clusterLoad.view;
  if (opts.cluster) {
    for (const kind of INDEXED_KINDS) for (const o of clusterLoad.view.list(kind)) cluster.upsert(o, kind);
  }
  // Cluster objects among the inputs count too: a change that adds a NAD and a VM using it is judged as a whole.
  for (const { object, review } of inputs.objects) {
    const kind = review ? undefined : kindOfObject(object);
    if (isIndexedKind(kind) && kind !== 'VirtualMachineInstance') cluster.upsert(withDefaultNamespace(object, opts.namespace), kind);
  }

  const results: ObjectResult[] = [];
  let skipped = 0;
  for (const input of inputs.objects) {
    const result = checkOne(input, previous, cluster, config, opts);
    if (result) results.push(result);
    else skipped++;
  }
  return { results, errors, summary: summarize(results, skipped, errors) };
}

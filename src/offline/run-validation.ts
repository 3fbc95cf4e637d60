// The offline simulation behind `nicguard validate`: read the inputs, their previous
// versions and the cluster objects, build each request as the API server would, and run
// the engine over it as the webhooks would (mutation, then validation). Never throws for
// bad input: problems become report errors.
import { isJudged, judgedKindOf } from '../admission/judged.js';
import { objectIdentity, offlineRequest, withDefaultNamespace } from '../admission/offline.js';
import { readFileCluster } from '../cluster/files.js';
import type { ObjectIndex } from '../cluster/object-index.js';
import { performance } from 'node:perf_hooks';
import { evaluate, judgesKind } from '../engine/evaluate.js';
import { INDEXED_KINDS, isIndexedKind, kindOfObject, type JudgedKind } from '../engine/kinds.js';
import { RULES } from '../engine/rules/index.js';
import type { EvaluationResult, KubeObject, PolicyConfig, PolicyRequest } from '../engine/types.js';
import { appendAll, asObject, quote, stringOf } from '../engine/values.js';
import { hotpluggedInterfaces, isAbsent, isRunning, objectRef, unpluggedInterfaces, viewVm } from '../engine/vm.js';
import { readBaseVersions } from '../io/git-base.js';
import { loadManifests, type LoadedObject, type ManifestError } from '../io/manifests.js';
import { summarize, type ObjectResult, type OldVersions, type SkippedRule, type ValidationReport } from './report.js';

export interface ValidationInputs {
  /** Files, folders or `-`. */
  filename: string[];
  /** Previous versions: files or folders. */
  old: string[];
  /** A git revision to take each input file's previous version from. */
  base?: string;
  /** Cluster objects: files or folders. */
  objects: string[];
  /** Globs on paths relative to each input folder: files and folders left out. */
  exclude?: string[];
  /** Namespace of namespaced objects that name none, as `kubectl apply` assumes. */
  namespace: string;
  user?: string;
  /** A cluster view read elsewhere (live); objects from `objects` are added to it. */
  cluster?: ObjectIndex;
}

/** Previous versions by identity, and which of them an input used. */
class PreviousVersions {
  private readonly byIdentity = new Map<string, LoadedObject>();
  private readonly used = new Set<string>();
  private count = 0;

  constructor(private readonly namespace: string) {}

  private identity(object: KubeObject): string | undefined {
    return objectIdentity(withDefaultNamespace(object, this.namespace), this.namespace);
  }

  /** A later source wins: --old over --base. */
  add(objects: LoadedObject[]): void {
    for (const o of objects) {
      const key = o.review ? undefined : this.identity(o.object);
      if (!key) continue;
      this.byIdentity.set(key, o);
      this.count++;
    }
  }

  take(object: KubeObject): LoadedObject | undefined {
    const key = this.identity(object);
    const old = key ? this.byIdentity.get(key) : undefined;
    if (key && old) this.used.add(key);
    return old;
  }

  /** Sources of which no object was taken as a previous version. */
  summary(matched: number, newFiles: string[]): OldVersions {
    const sources = new Map<string, boolean>();
    for (const [key, o] of this.byIdentity)
      sources.set(o.source.file, (sources.get(o.source.file) ?? false) || this.used.has(key));
    const unmatchedSources = [...sources].filter(([, used]) => !used).map(([file]) => file);
    return { objects: this.count, matched, unmatchedSources, newFiles };
  }
}

function requestFor(
  input: LoadedObject,
  previous: PreviousVersions,
  opts: ValidationInputs,
): { request: PolicyRequest; oldSource?: string } {
  if (input.review) return { request: input.review };
  const old = previous.take(input.object);
  const request = offlineRequest({
    object: input.object,
    oldObject: old?.object,
    namespace: opts.namespace,
    user: opts.user,
  });
  return { request, ...(old ? { oldSource: old.source.file } : {}) };
}

/** Why isRunning said no, in the words of the fields it read. */
function whyNotRunning(old: KubeObject, namespace: string): string {
  const status = asObject(old.status);
  if (status.printableStatus !== undefined) return `status.printableStatus is ${quote(status.printableStatus)}`;
  if (status.ready !== undefined) return `status.ready is ${quote(status.ready)}`;
  const spec = asObject(old.spec);
  const strategy =
    spec.runStrategy !== undefined
      ? `runStrategy ${quote(spec.runStrategy)}`
      : spec.running !== undefined
        ? `running: ${quote(spec.running)}`
        : 'no runStrategy or running';
  const name = stringOf(old.metadata?.name) ?? '';
  return `${strategy}, no status, and no VMI ${namespace}/${name} in --objects`;
}

/**
 * The hotplug rules an interface change of a stopped VM was not held to. Empty unless the
 * change adds or unplugs interfaces: an unchanged stopped VM skipped nothing worth saying.
 */
function skippedHotplugRules(request: PolicyRequest, cluster: ObjectIndex, config: PolicyConfig): SkippedRule[] {
  const { object, oldObject } = request;
  if (request.kind !== 'VirtualMachine' || request.operation !== 'UPDATE' || !object || !oldObject) return [];
  if (isRunning('VirtualMachine', oldObject, cluster)) return [];
  const namespace = request.namespace ?? stringOf(object.metadata?.namespace) ?? 'default';
  const [vm, oldVm] = [viewVm(object, 'VirtualMachine', namespace), viewVm(oldObject, 'VirtualMachine', namespace)];
  const changed = [
    ...hotpluggedInterfaces(oldVm, vm).map((i) => i.name),
    ...unpluggedInterfaces(oldVm, vm).map((u) => u.old.name),
  ];
  if (changed.length === 0) return [];
  const reason =
    `not running (${whyNotRunning(oldObject, namespace)}): ` +
    `${changed.length === 1 ? 'the interface' : 'the interfaces'} ` +
    `it adds or unplugs (${changed.map((n) => quote(n)).join(', ')}) ${changed.length === 1 ? 'waits' : 'wait'} for ` +
    'the next start, so the hotplug rules were not applied. If it runs, give its status (kubectl get vm -o yaml has ' +
    'it) or its VMI in --objects.';
  return RULES.filter((rule) => rule.check.hotplug && config.rules[rule.id] !== 'off').map((rule) => ({
    rule: rule.id,
    ...(rule.hotplugPart ? { part: rule.hotplugPart } : {}),
    reason,
  }));
}

/**
 * The mutation in words, from the mutated object: entries the patch puts back into the
 * interface and network lists. A JSON patch on a list shifts indexes (a `replace` of the
 * entry that moved), which reads as if it removed what it keeps.
 */
function describeChanges(request: PolicyRequest, result: EvaluationResult): string[] {
  const { object } = request;
  const mutated = result.mutated;
  if (!object || !mutated || (request.kind !== 'VirtualMachine' && request.kind !== 'VirtualMachineInstance'))
    return [];
  const namespace = request.namespace ?? 'default';
  const [before, after] = [viewVm(object, request.kind, namespace), viewVm(mutated, request.kind, namespace)];
  const had = (list: { name: string }[]) => new Set(list.map((x) => x.name));
  const [interfaces, networks] = [had(before.interfaces), had(before.networks)];
  const changes: string[] = [];
  for (const iface of after.interfaces) {
    if (interfaces.has(iface.name)) continue;
    changes.push(
      isAbsent(iface)
        ? `interface ${quote(iface.name)} kept with state: absent at ${iface.path} (KubeVirt unplugs it, then ` +
            `removes it)`
        : `interface ${quote(iface.name)} added at ${iface.path}`,
    );
  }
  for (const network of after.networks) {
    if (networks.has(network.name)) continue;
    changes.push(`network ${quote(network.name)} kept at ${network.path} (KubeVirt needs it until the unplug is done)`);
  }
  if (changes.length === 0)
    appendAll(
      changes,
      result.patch.map((op) => `${op.op} ${op.path}`),
    );
  return changes;
}

/** The rules that judge a kind under this configuration, in registry order. */
function rulesFor(kind: JudgedKind, config: PolicyConfig): string[] {
  return RULES.filter((rule) => config.rules[rule.id] !== 'off' && judgesKind(rule, kind)).map((rule) => rule.id);
}

function checkOne(
  input: LoadedObject,
  previous: PreviousVersions,
  cluster: ObjectIndex,
  config: PolicyConfig,
  opts: ValidationInputs,
): ObjectResult | undefined {
  const { request, oldSource } = requestFor(input, previous, opts);
  const kind = judgedKindOf(request);
  if (!kind || !isJudged(request)) return undefined;
  const subject = request.object ?? request.oldObject;
  const started = performance.now();
  const result = evaluate(request, cluster, config, 'both');
  const durationMs = performance.now() - started;
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
    rules: rulesFor(kind, config),
    changes: describeChanges(request, result),
    skippedRules: skippedHotplugRules(request, cluster, config),
    durationMs,
  };
}

/** Reads the inputs, the previous versions and the cluster, and evaluates every object. */
export function runValidation(opts: ValidationInputs, config: PolicyConfig): ValidationReport {
  const started = performance.now();
  const errors: ManifestError[] = [];
  const inputs = loadManifests(opts.filename, { exclude: opts.exclude ?? [] });
  appendAll(errors, inputs.errors);

  const previous = new PreviousVersions(opts.namespace);
  const newFiles: string[] = [];
  if (opts.base) {
    const base = readBaseVersions(inputs.files, opts.base);
    appendAll(errors, base.errors);
    appendAll(newFiles, base.newFiles);
    previous.add(base.objects);
  }
  if (opts.old.length) {
    const old = loadManifests(opts.old);
    appendAll(errors, old.errors);
    previous.add(old.objects);
  }

  const clusterLoad = readFileCluster(opts.objects);
  appendAll(errors, clusterLoad.errors);
  const cluster = opts.cluster ?? clusterLoad.view;
  if (opts.cluster) {
    for (const kind of INDEXED_KINDS) for (const o of clusterLoad.view.list(kind)) cluster.upsert(o, kind);
  }
  // Cluster objects among the inputs count too: a change that adds a NAD and a VM using it is judged as a whole.
  for (const { object, review } of inputs.objects) {
    const kind = review ? undefined : kindOfObject(object);
    if (isIndexedKind(kind) && kind !== 'VirtualMachineInstance')
      cluster.upsert(withDefaultNamespace(object, opts.namespace), kind);
  }

  const results: ObjectResult[] = [];
  let skipped = 0;
  for (const input of inputs.objects) {
    const result = checkOne(input, previous, cluster, config, opts);
    if (result) results.push(result);
    else skipped++;
  }
  const matched = results.filter((r) => r.oldSource !== undefined).length;
  return {
    results,
    errors,
    summary: summarize(results, skipped, errors),
    skippedFiles: inputs.skipped,
    excludedFiles: inputs.excluded,
    ...(opts.base || opts.old.length ? { old: previous.summary(matched, newFiles) } : {}),
    durationMs: performance.now() - started,
  };
}

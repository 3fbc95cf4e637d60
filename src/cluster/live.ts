// A one-shot, read-only read of a live cluster for the CLI (`explain`, `validate --cluster`,
// `audit`): list NADs, Subnets, VMIs and the KubeVirt CR page by page into the same
// ObjectIndex the webhook's informers fill, get single objects, and (for `audit --apply`
// only) write PolicyReports. Credentials come from a kubeconfig, its --context, or the
// pod's service account, as kubectl finds them.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { INDEXED_KINDS, KIND_FACTS, type IndexedKind, type KnownKind } from '../engine/kinds.js';
import type { KubeObject } from '../engine/types.js';
import { appendAll } from '../engine/values.js';
import { ObjectIndex } from './object-index.js';

/** Items per list request; the rest follows with `continue` (as kubectl's --chunk-size default). */
export const LIST_PAGE_SIZE = 500;
/** Reports per list request: a PolicyReport holds up to 1 MiB of results (src/cli/format/policyreport.ts). */
export const REPORT_PAGE_SIZE = 20;

export interface LiveOptions {
  /** A kubeconfig file; without it KUBECONFIG or ~/.kube/config, or in a pod its service account. */
  kubeconfig?: string;
  /** A context of that kubeconfig instead of its current-context. */
  context?: string;
}

/** A cluster that cannot be read: no configuration, no permission, unreachable. */
export class LiveClusterError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LiveClusterError';
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own message where it sent one (a Status body), else the error's. */
function reasonOf(err: unknown): string {
  const status = statusOf(err);
  const body = (err as { body?: unknown } | undefined)?.body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const message = typeof parsed === 'object' && parsed && 'message' in parsed ? String(parsed.message) : undefined;
  if (status !== undefined) return `HTTP ${status}${message ? `: ${message}` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

const NO_API =
  'no Kubernetes API configured: pass --kubeconfig, set KUBECONFIG, or run inside a cluster (or use --objects DIR)';

/** The kubeconfig as kubectl would pick it. Throws LiveClusterError when there is none or the context is unknown. */
export function loadLiveConfig(opts: LiveOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
  // The client falls back to http://localhost:8080 when it finds nothing; kubectl would say so instead.
  if (!opts.kubeconfig && !process.env.KUBECONFIG && !inCluster && !existsSync(join(homedir(), '.kube', 'config'))) {
    throw new LiveClusterError(NO_API);
  }
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else if (inCluster && !process.env.KUBECONFIG) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (err) {
    throw new LiveClusterError(
      `cannot read kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : ''}: ${reasonOf(err)}`,
    );
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new LiveClusterError(
        `context "${opts.context}" is not in the kubeconfig${known.length ? ` (it has ${known.join(', ')})` : ''}`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new LiveClusterError(
      opts.kubeconfig
        ? `kubeconfig ${opts.kubeconfig} has no current cluster (check current-context, or pass --context)`
        : NO_API,
    );
  }
  return kc;
}

/** The namespace of the kubeconfig's current context, as kubectl defaults -n to it. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || undefined;
}

export interface LiveRead {
  view: ObjectIndex;
  /** Resources whose CRD is not installed (HTTP 404): read as empty, e.g. Kube-OVN's Subnets without Kube-OVN. */
  missing: string[];
}

type WrittenReport = 'created' | 'updated';

/** The part of a listed object a reader keeps (e.g. the audit's trim); the object itself is left as it is. */
export type KeepOf<K extends KnownKind = KnownKind> = (kind: K, obj: KubeObject) => KubeObject;

export class LiveCluster {
  private readonly api: CustomObjectsApi;

  constructor(readonly kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  static connect(opts: LiveOptions = {}): LiveCluster {
    return new LiveCluster(loadLiveConfig(opts));
  }

  /** The cluster's API server URL, for messages. */
  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '';
  }

  private fail(what: string, err: unknown): LiveClusterError {
    return new LiveClusterError(`${what} on ${this.server}: ${reasonOf(err)}`, statusOf(err));
  }

  /**
   * Hands each page of a list to `onPage` as it arrives (the next is asked for after), so a
   * caller that does not keep the items never holds more than one page. false when the
   * resource (its CRD) does not exist.
   */
  private async pages(
    resource: { group: string; version: string; plural: string },
    filter: { namespace?: string; labelSelector?: string; limit?: number },
    onPage: (items: KubeObject[]) => void,
  ): Promise<boolean> {
    let token: string | undefined;
    do {
      const page = {
        ...resource,
        limit: filter.limit ?? LIST_PAGE_SIZE,
        ...(filter.labelSelector ? { labelSelector: filter.labelSelector } : {}),
        ...(token ? { _continue: token } : {}),
      };
      let list: { items?: KubeObject[]; metadata?: { continue?: string } };
      try {
        list = (await (filter.namespace
          ? this.api.listNamespacedCustomObject({ ...page, namespace: filter.namespace })
          : this.api.listClusterCustomObject(page))) as typeof list;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw this.fail(`listing ${resource.plural}.${resource.group}`, err);
      }
      onPage(list.items ?? []);
      token = list.metadata?.continue || undefined;
    } while (token);
    return true;
  }

  /**
   * Each page of the objects of a kind (in one namespace, or all), each object with kind and
   * apiVersion set (list items lack them) and passed through `keep`. false when the CRD is not installed.
   */
  async eachPage(
    kind: KnownKind,
    onPage: (objects: KubeObject[]) => void,
    opts: { namespace?: string; keep?: KeepOf } = {},
  ): Promise<boolean> {
    const { group, version, plural, namespaced } = KIND_FACTS[kind];
    const { namespace, keep } = opts;
    const typed = (item: KubeObject): KubeObject => ({ ...item, apiVersion: `${group}/${version}`, kind });
    return this.pages({ group, version, plural }, namespaced && namespace ? { namespace } : {}, (items) =>
      onPage(items.map(keep ? (item) => keep(kind, typed(item)) : typed)),
    );
  }

  /** Every object of a kind as eachPage gives them, in one array; undefined when the CRD is not installed. */
  async list(kind: KnownKind, namespace?: string, keep?: KeepOf): Promise<KubeObject[] | undefined> {
    const objects: KubeObject[] = [];
    const listed = await this.eachPage(kind, (page) => appendAll(objects, page), { namespace, keep });
    return listed ? objects : undefined;
  }

  /** One object, or undefined when it (or its CRD) does not exist. */
  async get(kind: KnownKind, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const { group, version, plural, namespaced } = KIND_FACTS[kind];
    try {
      const obj = (await (namespaced
        ? this.api.getNamespacedCustomObject({ group, version, plural, namespace: namespace ?? 'default', name })
        : this.api.getClusterCustomObject({ group, version, plural, name }))) as KubeObject;
      return { ...obj, apiVersion: `${group}/${version}`, kind };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.fail(`reading ${plural}.${group} ${namespace ? `${namespace}/` : ''}${name}`, err);
    }
  }

  /**
   * The cluster view the webhook's informers build, read once: NADs, Subnets, VMIs and the
   * KubeVirt CR of the whole cluster (a VM may use a NAD of another namespace), each object
   * passed through `keep` as its page arrives (whole without it).
   */
  async readView(keep?: KeepOf<IndexedKind>): Promise<LiveRead> {
    const view = new ObjectIndex();
    const missing: string[] = [];
    // One kind after the other: a CLI read should not burst the API server.
    for (const kind of INDEXED_KINDS) {
      const items = await this.list(kind, undefined, keep && ((_, obj) => keep(kind, obj)));
      if (items === undefined) missing.push(`${KIND_FACTS[kind].plural}.${KIND_FACTS[kind].group}`);
      else view.replaceAll(kind, items);
    }
    return { view, missing };
  }

  /**
   * Creates or replaces a report object (PolicyReport, ClusterPolicyReport) as a whole:
   * whatever results it held before are gone. Custom resources take no unconditional
   * update, so the current resourceVersion is read first; a conflict is retried once.
   */
  async putReport(report: KubeObject, plural: string, attempt = 0): Promise<WrittenReport> {
    const [group, version] = String(report.apiVersion).split('/');
    const name = String(report.metadata?.name);
    const namespace = report.metadata?.namespace;
    const where = { group, version, plural, name };
    try {
      const current = (await (
        namespace ? this.api.getNamespacedCustomObject({ ...where, namespace }) : this.api.getClusterCustomObject(where)
      ).catch((err: unknown) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      })) as KubeObject | undefined;
      if (!current) {
        await (namespace
          ? this.api.createNamespacedCustomObject({ group, version, plural, namespace, body: report })
          : this.api.createClusterCustomObject({ group, version, plural, body: report }));
        return 'created';
      }
      const body = { ...report, metadata: { ...report.metadata, resourceVersion: current.metadata?.resourceVersion } };
      await (namespace
        ? this.api.replaceNamespacedCustomObject({ ...where, namespace, body })
        : this.api.replaceClusterCustomObject({ ...where, body }));
      return 'updated';
    } catch (err) {
      if ((statusOf(err) === 409 || statusOf(err) === 404) && attempt === 0) return this.putReport(report, plural, 1);
      throw this.fail(`writing ${plural}.${group} ${namespace ? `${namespace}/` : ''}${name}`, err);
    }
  }

  /**
   * The names (and namespaces) of the objects of a custom resource matching a label selector,
   * across namespaces; [] without the CRD. Pages are small and only names are kept: these are
   * reports, up to a megabyte each, and 500 of them in one page would be a response of hundreds of MB.
   */
  async namesByLabel(
    resource: { group: string; version: string; plural: string },
    labelSelector: string,
  ): Promise<{ namespace?: string; name: string }[]> {
    const names: { namespace?: string; name: string }[] = [];
    await this.pages(resource, { labelSelector, limit: REPORT_PAGE_SIZE }, (page) => {
      for (const { metadata } of page)
        names.push(
          metadata?.namespace
            ? { namespace: metadata.namespace, name: String(metadata.name) }
            : { name: String(metadata?.name) },
        );
    });
    return names;
  }

  /** Deletes one object of a custom resource; one already gone is fine. */
  async deleteReport(
    resource: { group: string; version: string; plural: string },
    namespace: string | undefined,
    name: string,
  ): Promise<void> {
    try {
      await (namespace
        ? this.api.deleteNamespacedCustomObject({ ...resource, namespace, name })
        : this.api.deleteClusterCustomObject({ ...resource, name }));
    } catch (err) {
      if (statusOf(err) !== 404)
        throw this.fail(
          `deleting ${resource.plural}.${resource.group} ${namespace ? `${namespace}/` : ''}${name}`,
          err,
        );
    }
  }
}

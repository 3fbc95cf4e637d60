// The cluster view of a running webhook: one list-then-watch informer per resource the
// rules read, all feeding one ObjectIndex. Admission requests only read the index, so a
// decision never waits on the API server, and a broken watch leaves the last known
// objects in place while it is resumed.
//
// A resource whose CRD is not installed (HTTP 404) counts as synced and empty: without
// the CRD no such object can exist, and one absent optional component (say Kube-OVN) must
// not keep the webhook unready forever. The list is retried every `missingCrdRetryMs`, so
// a CRD installed later is picked up without a restart. Any other list failure (403 from
// missing RBAC, the API server unreachable) leaves the resource unsynced and is retried
// with backoff: serving decisions from an index that was never filled would be wrong.
import { CustomObjectsApi, KubeConfig, makeInformer, type Informer, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { ClusterView, KubeObject } from '../engine/types.js';
import { ObjectIndex, type IndexedKind } from './object-index.js';

type LogFn = (...a: unknown[]) => void;

export interface InformerClusterViewOptions {
  /** Path to a kubeconfig; in-cluster config when omitted and running in a pod, else the default kubeconfig. */
  kubeconfig?: string;
  /** A pino-compatible logger. */
  logger?: { info: LogFn; warn: LogFn; error: LogFn; debug: LogFn };
  /** First delay before resuming a broken list or watch; doubles per failure (default 1000 ms). */
  retryDelayMs?: number;
  /** Upper bound of that backoff (default 10000 ms): short, so an API server that comes back is seen soon. */
  maxRetryDelayMs?: number;
  /** How often a resource whose CRD is missing is listed again (default 60000 ms). */
  missingCrdRetryMs?: number;
}

export interface ResourceStatus {
  synced: boolean;
  /** The CRD was not found at the last attempt; the resource counts as empty. */
  crdMissing: boolean;
  /** The last list or watch error, cleared by the next successful list or event. */
  lastError?: string;
}

export interface InformerClusterView extends ClusterView {
  /** True once every watched resource has been listed once. */
  isSynced(): boolean;
  /** Per resource: synced or not, for /metrics. */
  syncState(): Record<string, boolean>;
  /** Per resource: synced, CRD missing, last error; for logs and diagnostics. */
  resourceStatus(): Record<string, ResourceStatus>;
  /** Resolves when first synced. */
  waitForSync(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface WatchedResource {
  kind: IndexedKind;
  group: string;
  version: string;
  plural: string;
}

export const WATCHED_RESOURCES: readonly WatchedResource[] = [
  { kind: 'NetworkAttachmentDefinition', group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' },
  { kind: 'Subnet', group: 'kubeovn.io', version: 'v1', plural: 'subnets' },
  { kind: 'VirtualMachineInstance', group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' },
  { kind: 'KubeVirt', group: 'kubevirt.io', version: 'v1', plural: 'kubevirts' },
];

const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

function resourceName(r: WatchedResource): string {
  return `${r.plural}.${r.group}`;
}

function httpStatusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

/** A one-line description; the client's ApiException message carries every header. */
function describeError(err: unknown): string {
  const status = httpStatusOf(err);
  if (status !== undefined) {
    const body = (err as { body?: unknown }).body;
    let detail = typeof body === 'object' && body && 'message' in body ? String((body as { message: unknown }).message) : undefined;
    if (!detail && typeof body === 'string') {
      try {
        detail = String((JSON.parse(body) as { message?: unknown }).message ?? '') || undefined;
      } catch {
        detail = undefined;
      }
    }
    return `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      kubeconfig
        ? `kubeconfig ${kubeconfig} has no current cluster (check current-context)`
        : 'no Kubernetes API configured: pass --kubeconfig, set KUBECONFIG, or run inside a cluster (or use --objects DIR)',
    );
  }
  return kc;
}

/** Runs one resource's informer and restarts it after failures. */
class ResourceWatch {
  synced = false;
  crdMissing = false;
  lastError: string | undefined;
  private informer: (Informer<KubernetesObject> & { stop(): Promise<void> }) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  readonly name: string;

  constructor(
    private readonly resource: WatchedResource,
    private readonly kc: KubeConfig,
    private readonly api: CustomObjectsApi,
    private readonly index: ObjectIndex,
    private readonly log: NonNullable<InformerClusterViewOptions['logger']>,
    private readonly timing: { retryDelayMs: number; maxRetryDelayMs: number; missingCrdRetryMs: number },
    private readonly onSynced: () => void,
  ) {
    this.name = resourceName(resource);
  }

  /** List items and watch objects usually lack kind/apiVersion; the index needs both. */
  private normalize(obj: KubernetesObject): KubeObject {
    const o = obj as KubeObject;
    o.apiVersion ??= `${this.resource.group}/${this.resource.version}`;
    o.kind ??= this.resource.kind;
    return o;
  }

  private readonly list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    const { group, version, plural } = this.resource;
    const list = (await this.api.listClusterCustomObject({ group, version, plural })) as KubernetesListObject<KubernetesObject>;
    const items = (list.items ?? []).map((o) => this.normalize(o));
    // The list is the whole truth at its resourceVersion: replace rather than merge, so
    // objects deleted while the watch was down disappear too.
    this.index.replaceAll(this.resource.kind, items);
    this.failures = 0;
    this.lastError = undefined;
    if (this.crdMissing) this.log.info({ resource: this.name, objects: items.length }, 'CRD is now installed; watching it');
    this.crdMissing = false;
    if (!this.synced) {
      this.synced = true;
      this.log.info({ resource: this.name, objects: items.length }, 'cluster view: resource synced');
      this.onSynced();
    }
    return list;
  };

  private readonly upsert = (obj: KubernetesObject): void => {
    this.failures = 0;
    this.lastError = undefined;
    this.index.upsert(this.normalize(obj), this.resource.kind);
  };

  private readonly remove = (obj: KubernetesObject): void => {
    this.failures = 0;
    this.index.remove(this.normalize(obj), this.resource.kind);
  };

  private readonly onError = (err: unknown): void => {
    if (this.stopped) return;
    const status = httpStatusOf(err);
    this.lastError = describeError(err);
    if (status === 404) {
      // Drop this informer: its resourceVersion belongs to a CRD that is gone, and a
      // fresh one lists from scratch when the CRD comes back.
      this.discardInformer();
      if (!this.crdMissing) {
        this.log.warn(
          { resource: this.name, retryInMs: this.timing.missingCrdRetryMs },
          'CRD not installed (404): treating the resource as empty and checking again periodically',
        );
      }
      this.crdMissing = true;
      this.index.replaceAll(this.resource.kind, []);
      if (!this.synced) {
        this.synced = true;
        this.onSynced();
      }
      this.scheduleRestart(this.timing.missingCrdRetryMs);
      return;
    }
    const delay = this.backoff();
    const hint = status === 401 || status === 403 ? ' (check the ServiceAccount and the ClusterRole: get/list/watch are needed)' : '';
    const level = status === 401 || status === 403 || !this.synced ? 'error' : 'warn';
    this.log[level](
      { resource: this.name, error: this.lastError, retryInMs: delay, synced: this.synced },
      this.synced
        ? `cluster view: watch failed${hint}; resuming later, decisions keep using the cached objects`
        : `cluster view: list failed${hint}; not ready until it succeeds, retrying`,
    );
    this.scheduleRestart(delay);
  };

  private backoff(): number {
    const base = Math.min(this.timing.maxRetryDelayMs, this.timing.retryDelayMs * 2 ** this.failures);
    this.failures++;
    // Jitter keeps the replicas' informers from reconnecting in lockstep.
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private scheduleRestart(delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.start();
    }, delayMs);
    this.retryTimer.unref();
  }

  private discardInformer(): void {
    const old = this.informer;
    this.informer = undefined;
    if (old) {
      old.off('add', this.upsert);
      old.off('update', this.upsert);
      old.off('delete', this.remove);
      old.off('error', this.onError);
      void old.stop();
    }
  }

  /** Starts (or resumes) list-then-watch; failures are reported through onError, never thrown. */
  async start(): Promise<void> {
    if (this.stopped) return;
    if (!this.informer) {
      const { group, version, plural } = this.resource;
      const informer = makeInformer<KubernetesObject>(this.kc, `/apis/${group}/${version}/${plural}`, this.list);
      informer.on('add', this.upsert);
      informer.on('update', this.upsert);
      informer.on('delete', this.remove);
      informer.on('error', this.onError);
      this.informer = informer;
    }
    try {
      // An informer that already listed resumes its watch from the last resourceVersion;
      // the client lists again by itself when that version has expired (410 Gone).
      await this.informer.start();
    } catch (err) {
      this.onError(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const informer = this.informer;
    this.discardInformer();
    if (informer) await informer.stop();
  }
}

/** Starts list-then-watch on every resource the rules read; resolves at once (see waitForSync). */
export async function startInformerClusterView(opts: InformerClusterViewOptions): Promise<InformerClusterView> {
  const log = opts.logger ?? silent;
  const kc = loadKubeConfig(opts.kubeconfig);
  const api = kc.makeApiClient(CustomObjectsApi);
  const index = new ObjectIndex();
  const timing = {
    retryDelayMs: opts.retryDelayMs ?? 1000,
    maxRetryDelayMs: opts.maxRetryDelayMs ?? 10_000,
    missingCrdRetryMs: opts.missingCrdRetryMs ?? 60_000,
  };

  let syncWaiters: Array<() => void> = [];
  const isSynced = () => watches.every((w) => w.synced);
  const onSynced = () => {
    if (!isSynced()) return;
    log.info({ objects: index.size }, 'cluster view synced');
    for (const resolve of syncWaiters) resolve();
    syncWaiters = [];
  };
  const watches = WATCHED_RESOURCES.map((r) => new ResourceWatch(r, kc, api, index, log, timing, onSynced));
  for (const w of watches) void w.start();

  return {
    getNetworkAttachmentDefinition: (namespace, name) => index.getNetworkAttachmentDefinition(namespace, name),
    findNetworkAttachmentDefinitionsByName: (name) => index.findNetworkAttachmentDefinitionsByName(name),
    findSubnetsByProvider: (provider) => index.findSubnetsByProvider(provider),
    getVirtualMachineInstance: (namespace, name) => index.getVirtualMachineInstance(namespace, name),
    getKubeVirt: () => index.getKubeVirt(),
    isSynced,
    syncState: () => Object.fromEntries(watches.map((w) => [w.name, w.synced])),
    resourceStatus: () =>
      Object.fromEntries(
        watches.map((w) => [w.name, { synced: w.synced, crdMissing: w.crdMissing, ...(w.lastError ? { lastError: w.lastError } : {}) }]),
      ),
    waitForSync(timeoutMs?: number): Promise<void> {
      if (isSynced()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        syncWaiters.push(done);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            syncWaiters = syncWaiters.filter((w) => w !== done);
            const pending = watches.filter((w) => !w.synced).map((w) => `${w.name}${w.lastError ? ` (${w.lastError})` : ''}`);
            reject(new Error(`cluster view not synced after ${timeoutMs} ms; waiting for ${pending.join(', ')}`));
          }, timeoutMs);
        }
      });
    },
    async stop(): Promise<void> {
      await Promise.all(watches.map((w) => w.stop()));
    },
  };
}

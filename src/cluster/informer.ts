// The cluster view of a running webhook: one list-then-watch loop per resource the rules
// read, all feeding one ObjectIndex. Admission requests only read the index, so a
// decision never waits on the API server, and a broken watch leaves the last known
// objects in place while it is resumed.
//
// Lists are paginated as client-go's reflector does (`limit=500` and `continue`,
// kubernetes/client-go v0.31.0 tools/pager/pager.go defaultPageSize): each page is split
// into its items (list-body.ts), which are parsed, cut down to what the rules read
// (projection.ts) and indexed 100 at a time, the loop yielding to the event loop between
// so admission requests and probes are answered meanwhile (a step is a few ms). The watch
// resumes from the list's resourceVersion. A 410 Gone (an expired continue token, or a
// watch older than etcd's compacted history) lists again; a failed page is retried on its
// own, so a flaky connection never pulls a whole large list again, and full relists that
// follow each other are spaced by a growing delay.
//
// A resource whose CRD is not installed (HTTP 404) counts as synced and empty: without
// the CRD no such object can exist, and one absent optional component (say Kube-OVN) must
// not keep the webhook unready forever. The list is retried every `missingCrdRetryMs`, so
// a CRD installed later is picked up without a restart. Any other list failure (403 from
// missing RBAC, the API server unreachable) leaves the resource unsynced and is retried
// with backoff: serving decisions from an index that was never filled would be wrong.
import { KubeConfig } from '@kubernetes/client-node';
import { INDEXED_KINDS, KIND_FACTS, resourceName, type IndexedKind } from '../engine/kinds.js';
import type { ClusterView, KubeObject } from '../engine/types.js';
import { ApiError, describeError, KubeApiClient, type ListPage, type WatchEvent } from './api-client.js';
import { ObjectIndex, objectKey } from './object-index.js';
import { projectObject, Interner } from './projection.js';

type LogFn = (...a: unknown[]) => void;

export interface InformerClusterViewOptions {
  /** Path to a kubeconfig; in-cluster config when omitted and running in a pod, else the default kubeconfig. */
  kubeconfig?: string;
  /** A pino-compatible logger. */
  logger?: { info: LogFn; warn: LogFn; error: LogFn; debug: LogFn };
  /** First delay before retrying a failed page or watch; doubles per failure (default 1000 ms). */
  retryDelayMs?: number;
  /** Upper bound of that backoff (default 10000 ms): short, so an API server that comes back is seen soon. */
  maxRetryDelayMs?: number;
  /** Upper bound of the delay between full relists that follow each other (default 60000 ms). */
  maxRelistDelayMs?: number;
  /** How often a resource whose CRD is missing is listed again (default 60000 ms). */
  missingCrdRetryMs?: number;
  /** Objects per list page (default 500, as client-go). */
  pageSize?: number;
  /** A progress line is logged every this many pages of one list (default 20). */
  logEveryPages?: number;
}

export interface ResourceStatus {
  synced: boolean;
  /** The CRD was not found at the last attempt; the resource counts as empty. */
  crdMissing: boolean;
  /** The last list or watch error, cleared by the next successful list or event. */
  lastError?: string;
}

export interface ListProgress {
  /** A list is under way (first sync or relist). */
  listing: boolean;
  /** Pages and objects read by the list under way, or by the last one. */
  pages: number;
  objects: number;
  /**
   * The most CPU time (ms) of one synchronous step of the list (parsing a page, or indexing
   * a slice of it): about the longest it kept the event loop from answering requests, on
   * an otherwise idle core. Process CPU, so GC helper threads count too: an upper bound.
   */
  maxPageCpuMs: number;
}

export interface InformerClusterView extends ClusterView {
  /** True once every watched resource has been listed once. */
  isSynced(): boolean;
  /** Per resource: synced or not, for /metrics. */
  syncState(): Record<string, boolean>;
  /** Per resource: synced, CRD missing, last error; for logs and diagnostics. */
  resourceStatus(): Record<string, ResourceStatus>;
  /** Per resource: objects in the cache, for /metrics. */
  objectCounts(): Record<string, number>;
  /** Per resource: how far the list under way has come. */
  listProgress(): Record<string, ListProgress>;
  /** The cached objects of a kind, as the rules see them. */
  list(kind: IndexedKind): KubeObject[];
  /** Resolves when first synced. */
  waitForSync(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface Timing {
  retryDelayMs: number;
  maxRetryDelayMs: number;
  maxRelistDelayMs: number;
  missingCrdRetryMs: number;
  pageSize: number;
  logEveryPages: number;
}

type Logger = NonNullable<InformerClusterViewOptions['logger']>;

const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

/** A watch that ran this long, or delivered an event, was healthy: the relist delay starts over. */
const HEALTHY_WATCH_MS = 10_000;
/**
 * A list is ingested in steps of at most this much time, with a yield to the event loop
 * between steps, so an admission request waits at most about one step. Steps are bounded by
 * time, not by a count of items: items differ in size, and a count that is quick on an idle
 * core took 25-100 ms on a busy one.
 */
const INGEST_STEP_MS = 4;
/** Items parsed between two looks at the clock. */
const INGEST_BATCH = 10;
/** Attempts at one page before the list counts as failed (each after a backoff). */
const PAGE_ATTEMPTS = 5;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      kubeconfig
        ? `kubeconfig ${kubeconfig} has no current cluster (check current-context)`
        : 'no Kubernetes API configured: pass --kubeconfig, set KUBECONFIG, or run inside a cluster (or use ' +
            '--objects DIR)',
    );
  }
  return kc;
}

/** Jitter keeps the replicas' informers from reconnecting in lockstep. */
function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function isStatus(err: unknown, ...codes: number[]): boolean {
  return err instanceof ApiError && codes.includes(err.status);
}

type ListOutcome = 'listed' | 'missing' | 'failed';
type WatchOutcome = 'ended' | 'gone' | 'missing' | 'failed';

/** The list-then-watch loop of one resource. */
class ResourceWatch {
  synced = false;
  crdMissing = false;
  lastError: string | undefined;
  readonly progress: ListProgress = { listing: false, pages: 0, objects: 0, maxPageCpuMs: 0 };
  readonly name: string;
  private readonly path: string;
  private resourceVersion: string | undefined;
  private failures = 0;
  /** Full relists since the last healthy watch. */
  private relists = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private currentWatch: { abort(): void } | undefined;
  /** Why the last list gave up. */
  private listFailure: unknown;

  constructor(
    private readonly kind: IndexedKind,
    private readonly client: KubeApiClient,
    private readonly index: ObjectIndex,
    private readonly strings: Interner,
    private readonly log: Logger,
    private readonly timing: Timing,
    private readonly onSynced: () => void,
  ) {
    const f = KIND_FACTS[kind];
    this.name = resourceName(kind);
    this.path = `/apis/${f.group}/${f.version}/${f.plural}`;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
      this.sleepTimer.unref();
    });
  }

  private backoff(): number {
    const base = Math.min(this.timing.maxRetryDelayMs, this.timing.retryDelayMs * 2 ** this.failures);
    this.failures++;
    return jitter(base);
  }

  /** None before the first relist after a healthy watch; then doubling up to maxRelistDelayMs. */
  private relistDelay(): number {
    const n = this.relists++;
    return n === 0 ? 0 : jitter(Math.min(this.timing.maxRelistDelayMs, this.timing.retryDelayMs * 2 ** n));
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.onSynced();
  }

  private ingest(raw: unknown): KubeObject | undefined {
    if (typeof raw !== 'object' || raw === null) return undefined;
    return projectObject(this.kind, raw as KubeObject, this.strings);
  }

  /** Caches one listed item (or keeps the cached object, if unchanged) and notes its key as seen. */
  private ingestItem(raw: unknown, seen: Set<string>): void {
    const unchanged = this.cachedIfUnchanged(raw);
    if (unchanged) {
      seen.add(unchanged);
      return;
    }
    const obj = this.ingest(raw);
    if (obj && this.index.upsert(obj, this.kind)) seen.add(objectKey(obj));
  }

  /**
   * The key of the cached object a listed item leaves as it is: same namespace, name and
   * resourceVersion, which the API server changes on every write. A relist (after a 410, or
   * a watch that kept failing) mostly lists objects the cache already holds; keeping those
   * skips their projection, and spares the old generation 100,000 replaced objects to
   * collect, the mark-compacts of which stalled admission for ~100 ms during a relist.
   */
  private cachedIfUnchanged(raw: unknown): string | undefined {
    const meta = (raw as { metadata?: { namespace?: unknown; name?: unknown; resourceVersion?: unknown } } | null)
      ?.metadata;
    if (typeof meta?.resourceVersion !== 'string' || meta.resourceVersion === '' || typeof meta.name !== 'string')
      return undefined;
    const key = objectKey(raw as KubeObject);
    const cached = this.index.cached(this.kind, key);
    return cached?.metadata?.resourceVersion === meta.resourceVersion ? key : undefined;
  }

  private markMissing(err: unknown): void {
    this.lastError = describeError(err);
    if (!this.crdMissing) {
      this.log.warn(
        { resource: this.name, retryInMs: this.timing.missingCrdRetryMs },
        'CRD not installed (404): treating the resource as empty and checking again periodically',
      );
    }
    this.crdMissing = true;
    this.resourceVersion = undefined;
    this.index.replaceAll(this.kind, []);
    this.markSynced();
  }

  private reportFailure(err: unknown, delay: number, what: 'list' | 'watch'): void {
    this.lastError = describeError(err);
    const denied = isStatus(err, 401, 403);
    const hint = denied ? ' (check the ServiceAccount and the ClusterRole: get/list/watch are needed)' : '';
    const level = denied || !this.synced ? 'error' : 'warn';
    this.log[level](
      { resource: this.name, error: this.lastError, retryInMs: delay, synced: this.synced },
      this.synced
        ? `cluster view: ${what} failed${hint}; resuming later, decisions keep using the cached objects`
        : `cluster view: list failed${hint}; not ready until it succeeds, retrying`,
    );
  }

  /**
   * Parses, projects and indexes the items of a page a few milliseconds at a time, yielding
   * to the event loop between steps so requests are answered meanwhile; the raw items of a
   * step are garbage before the next one is parsed.
   * Undefined when the view stopped meanwhile; throws SyntaxError on an item that is not JSON.
   */
  private async ingestPage(
    page: ListPage,
    seen: Set<string>,
  ): Promise<{ cpuUs: number; longestUs: number } | undefined> {
    let cpuUs = 0;
    let longestUs = 0;
    if (this.stopped) return undefined;
    for (let start = 0; start < page.count;) {
      await yieldToEventLoop();
      if (this.stopped) return undefined;
      const cpu = process.cpuUsage();
      const stepEnds = performance.now() + INGEST_STEP_MS;
      do {
        for (const raw of page.items(start, start + INGEST_BATCH)) this.ingestItem(raw, seen);
        start += INGEST_BATCH;
      } while (start < page.count && performance.now() < stepEnds);
      const used = process.cpuUsage(cpu);
      cpuUs += used.user + used.system;
      longestUs = Math.max(longestUs, used.user + used.system);
    }
    return { cpuUs, longestUs };
  }

  /**
   * Lists page by page into the index. Objects are upserted as their page arrives and
   * those the list did not hold are dropped at the end, so a relist never empties the
   * kind meanwhile. A 410 on a continue token starts the list over.
   */
  private async list(): Promise<ListOutcome> {
    const seen = new Set<string>();
    let continueToken: string | undefined;
    let pageFailures = 0;
    // Where the list's time went, for its closing log line: waiting for pages, parsing, indexing.
    const listStarted = performance.now();
    let fetchMs = 0;
    let parseCpuUs = 0;
    let ingestCpuUs = 0;
    Object.assign(this.progress, { listing: true, pages: 0, objects: 0, maxPageCpuMs: 0 });
    try {
      for (;;) {
        let page;
        let longest: number | undefined;
        const fetchStarted = performance.now();
        try {
          page = await this.client.listPage(this.path, this.timing.pageSize, continueToken);
          fetchMs += performance.now() - fetchStarted;
          parseCpuUs += page.parseCpuUs;
          const ingested = await this.ingestPage(page, seen);
          if (ingested === undefined) return 'failed';
          ingestCpuUs += ingested.cpuUs;
          longest = Math.max(page.parseCpuUs, ingested.longestUs);
        } catch (err) {
          if (this.stopped) return 'failed';
          if (isStatus(err, 404)) {
            this.markMissing(err);
            return 'missing';
          }
          if (isStatus(err, 410) && continueToken) {
            // The snapshot the pages come from is gone (compacted): start over.
            this.log.info(
              { resource: this.name, pages: this.progress.pages },
              'cluster view: list continue token expired (410); listing again',
            );
            continueToken = undefined;
            seen.clear();
            Object.assign(this.progress, { pages: 0, objects: 0, maxPageCpuMs: 0 });
            await this.sleep(this.relistDelay());
            continue;
          }
          if (isStatus(err, 401, 403) || ++pageFailures >= PAGE_ATTEMPTS) {
            this.listFailure = err;
            return 'failed';
          }
          // Retry this page only (a broken connection, or an item that is not JSON); the
          // pages read so far stay valid, and the objects of this one upserted so far too.
          const delay = this.backoff();
          this.lastError = describeError(err);
          this.log.warn(
            { resource: this.name, error: this.lastError, page: this.progress.pages + 1, retryInMs: delay },
            'cluster view: list page failed; retrying it',
          );
          await this.sleep(delay);
          if (this.stopped) return 'failed';
          continue;
        }
        pageFailures = 0;
        this.progress.maxPageCpuMs = Math.max(this.progress.maxPageCpuMs, Math.round(longest / 100) / 10);
        this.progress.pages++;
        this.progress.objects = seen.size;
        if (this.progress.pages % this.timing.logEveryPages === 0) {
          this.log.info(
            { resource: this.name, pages: this.progress.pages, objects: seen.size },
            'cluster view: listing',
          );
        }
        if (!page.continueToken) {
          this.index.retainOnly(this.kind, seen);
          this.resourceVersion = page.resourceVersion;
          break;
        }
        continueToken = page.continueToken;
        // Let admission requests and probes in between pages.
        await yieldToEventLoop();
      }
    } finally {
      this.progress.listing = false;
    }
    this.failures = 0;
    this.lastError = undefined;
    if (this.crdMissing)
      this.log.info({ resource: this.name, objects: seen.size }, 'CRD is now installed; watching it');
    this.crdMissing = false;
    const { pages, maxPageCpuMs } = this.progress;
    const took = {
      listMs: Math.round(performance.now() - listStarted),
      fetchMs: Math.round(fetchMs),
      parseCpuMs: Math.round(parseCpuUs / 1000),
      ingestCpuMs: Math.round(ingestCpuUs / 1000),
    };
    const fields = { resource: this.name, objects: seen.size, pages, maxPageCpuMs, ...took };
    this.log.info(fields, this.synced ? 'cluster view: relisted' : 'cluster view: resource synced');
    this.markSynced();
    return 'listed';
  }

  private onEvent(e: WatchEvent): void {
    const rv = e.object?.metadata?.resourceVersion;
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const obj = this.ingest(e.object);
        if (obj) this.index.upsert(obj, this.kind);
        break;
      }
      case 'DELETED': {
        const obj = this.ingest(e.object);
        if (obj) this.index.remove(obj, this.kind);
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR':
        // A Status object: 410 when the watch fell behind the compacted history.
        throw new ApiError(Number(e.object?.code) || 500, String(e.object?.message ?? 'watch error'));
      default:
        return;
    }
    if (rv) this.resourceVersion = rv;
    this.failures = 0;
    this.relists = 0;
    this.lastError = undefined;
  }

  private async watch(): Promise<WatchOutcome> {
    const started = Date.now();
    // As client-go's reflector, a random timeout of 5 to 10 minutes spreads reconnects
    // (kubernetes/client-go v0.31.0 tools/cache/reflector.go, defaultMinWatchTimeout).
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    const handle = this.client.watch(this.path, this.resourceVersion!, timeoutSeconds, (e) => this.onEvent(e));
    this.currentWatch = handle;
    try {
      await handle.done;
      const ranMs = Date.now() - started;
      if (ranMs >= HEALTHY_WATCH_MS) this.relists = 0;
      // A server that ends every watch at once must not be asked again in a tight loop.
      if (ranMs < 1000 && !this.stopped) await this.sleep(this.backoff());
      return 'ended';
    } catch (err) {
      if (this.stopped) return 'ended';
      if (isStatus(err, 410)) {
        this.log.info({ resource: this.name }, 'cluster view: watch history expired (410); listing again');
        return 'gone';
      }
      if (isStatus(err, 404)) {
        this.markMissing(err);
        return 'missing';
      }
      const delay = this.backoff();
      this.reportFailure(err, delay, 'watch');
      await this.sleep(delay);
      return 'failed';
    } finally {
      this.currentWatch = undefined;
    }
  }

  /** Lists, then watches for as long as the view runs; never throws. */
  async run(): Promise<void> {
    while (!this.stopped) {
      if (this.resourceVersion === undefined) {
        const listed = await this.list();
        if (this.stopped) return;
        if (listed === 'missing') {
          await this.sleep(this.timing.missingCrdRetryMs);
          continue;
        }
        if (listed === 'failed') {
          const delay = this.backoff();
          this.reportFailure(this.listFailure, delay, 'list');
          await this.sleep(delay);
          continue;
        }
      }
      const watched = await this.watch();
      if (watched === 'gone') {
        this.resourceVersion = undefined;
        await this.sleep(this.relistDelay());
      } else if (watched === 'missing') {
        await this.sleep(this.timing.missingCrdRetryMs);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.sleepTimer);
    this.wake?.();
    this.currentWatch?.abort();
  }
}

/** Starts list-then-watch on every resource the rules read; resolves at once (see waitForSync). */
export async function startInformerClusterView(opts: InformerClusterViewOptions): Promise<InformerClusterView> {
  const log = opts.logger ?? silent;
  const kc = loadKubeConfig(opts.kubeconfig);
  const client = new KubeApiClient(kc);
  const index = new ObjectIndex();
  const strings = new Interner();
  const timing: Timing = {
    retryDelayMs: opts.retryDelayMs ?? 1000,
    maxRetryDelayMs: opts.maxRetryDelayMs ?? 10_000,
    maxRelistDelayMs: opts.maxRelistDelayMs ?? 60_000,
    missingCrdRetryMs: opts.missingCrdRetryMs ?? 60_000,
    pageSize: opts.pageSize ?? 500,
    logEveryPages: opts.logEveryPages ?? 20,
  };

  let syncWaiters: Array<() => void> = [];
  const isSynced = () => watches.every((w) => w.synced);
  const onSynced = () => {
    if (!isSynced()) return;
    log.info({ objects: index.size }, 'cluster view synced');
    for (const resolve of syncWaiters) resolve();
    syncWaiters = [];
  };
  const watches = INDEXED_KINDS.map((kind) => new ResourceWatch(kind, client, index, strings, log, timing, onSynced));
  const running = watches.map((w) => w.run());
  const perResource = <T>(fn: (w: ResourceWatch) => T): Record<string, T> =>
    Object.fromEntries(watches.map((w) => [w.name, fn(w)]));

  return {
    getNetworkAttachmentDefinition: (namespace, name) => index.getNetworkAttachmentDefinition(namespace, name),
    findNetworkAttachmentDefinitionsByName: (name) => index.findNetworkAttachmentDefinitionsByName(name),
    findSubnetsByProvider: (provider) => index.findSubnetsByProvider(provider),
    getVirtualMachineInstance: (namespace, name) => index.getVirtualMachineInstance(namespace, name),
    getKubeVirt: () => index.getKubeVirt(),
    isSynced,
    syncState: () => perResource((w) => w.synced),
    resourceStatus: () =>
      perResource((w) => ({
        synced: w.synced,
        crdMissing: w.crdMissing,
        ...(w.lastError ? { lastError: w.lastError } : {}),
      })),
    objectCounts: () => index.objectCounts(),
    listProgress: () => perResource((w) => ({ ...w.progress })),
    list: (kind) => index.list(kind),
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
            const pending = watches
              .filter((w) => !w.synced)
              .map((w) => `${w.name}${w.lastError ? ` (${w.lastError})` : ''}`);
            reject(new Error(`cluster view not synced after ${timeoutMs} ms; waiting for ${pending.join(', ')}`));
          }, timeoutMs);
        }
      });
    },
    async stop(): Promise<void> {
      for (const w of watches) w.stop();
      client.closeAll();
      await Promise.all(running);
    },
  };
}

// Prometheus metrics on a registry of our own (not prom-client's global one), so that
// several apps in one process (tests) do not share or clash over series.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Finding } from '../engine/types.js';

export type Decision = 'allowed' | 'denied' | 'patched';

export interface DecisionSample {
  webhook: string;
  /** The request's kind for the four kinds we judge, `other` for the rest (bounded labels). */
  kind: string;
  operation: string;
  /** The request was a dry run (kubectl --dry-run=server): judged, but nothing is stored. */
  dryRun: boolean;
  decision: Decision;
  seconds: number;
  findings: readonly Finding[];
}

export interface MetricsOptions {
  /** process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
}

export class WebhookMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'webhook' | 'kind' | 'operation' | 'decision' | 'dry_run'>;
  private readonly badRequests: Counter<'webhook' | 'code'>;
  private readonly latency: Histogram<'webhook'>;
  private readonly findings: Counter<'rule' | 'action'>;
  private readonly reloads: Counter<'file' | 'result'>;
  private syncState: () => Record<string, boolean> = () => ({});
  private objectCounts: () => Record<string, number> = () => ({});
  private inflight: () => number = () => 0;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'nicguard_admission_requests_total',
      help: 'Admission reviews answered, by webhook, kind, operation, decision and whether it was a dry run.',
      labelNames: ['webhook', 'kind', 'operation', 'decision', 'dry_run'],
      registers,
    });
    this.badRequests = new Counter({
      name: 'nicguard_admission_bad_requests_total',
      help: 'Requests to the admission endpoints answered with an HTTP error (400, 413, 415, 429, 500, 503).',
      labelNames: ['webhook', 'code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'nicguard_admission_duration_seconds',
      help: 'Time from the complete request body to the response (parse, evaluate, encode), per webhook.',
      labelNames: ['webhook'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.findings = new Counter({
      name: 'nicguard_findings_total',
      help: 'Findings reported in admission reviews, by rule and action.',
      labelNames: ['rule', 'action'],
      registers,
    });
    this.reloads = new Counter({
      name: 'nicguard_reloads_total',
      help: 'Reloads of watched files (config, certificate), by result (applied, rejected).',
      labelNames: ['file', 'result'],
      registers,
    });
    const source = () => this.syncState();
    new Gauge({
      name: 'nicguard_cluster_cache_synced',
      help: 'Whether the cluster view of each resource has been listed (1) or not yet (0).',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        for (const [resource, synced] of Object.entries(source())) this.set({ resource }, synced ? 1 : 0);
      },
    });
    const counts = () => this.objectCounts();
    new Gauge({
      name: 'nicguard_cluster_cache_objects',
      help: 'Objects of each resource in the cluster view (rises page by page during a list).',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        for (const [resource, n] of Object.entries(counts())) this.set({ resource }, n);
      },
    });
    const inflight = () => this.inflight();
    // Read at scrape time: the request path only adds and subtracts a number.
    new Gauge({
      name: 'nicguard_admission_inflight_bytes',
      help: 'Bytes of admission request bodies held now (being read or judged), against the in-flight cap.',
      registers,
      collect() {
        this.set(inflight());
      },
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Where the cache sync state is read from at each scrape. */
  setSyncStateSource(fn: () => Record<string, boolean>): void {
    this.syncState = fn;
  }

  /** Where the number of cached objects per resource is read from at each scrape. */
  setObjectCountSource(fn: () => Record<string, number>): void {
    this.objectCounts = fn;
  }

  /** Where the bytes of request bodies in flight are read from at each scrape. */
  setInflightSource(fn: () => number): void {
    this.inflight = fn;
  }

  recordDecision(s: DecisionSample): void {
    this.requests.inc({
      webhook: s.webhook,
      kind: s.kind,
      operation: s.operation,
      decision: s.decision,
      dry_run: s.dryRun ? 'true' : 'false',
    });
    this.latency.observe({ webhook: s.webhook }, s.seconds);
    for (const f of s.findings) this.findings.inc({ rule: f.rule, action: f.action });
  }

  recordBadRequest(webhook: string, code: number): void {
    this.badRequests.inc({ webhook, code: String(code) });
  }

  recordReload(file: 'config' | 'certificate', applied: boolean): void {
    this.reloads.inc({ file, result: applied ? 'applied' : 'rejected' });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Plain-HTTP server answering `GET /metrics`; nothing else is served on this port. */
export function createMetricsServer(metrics: WebhookMetrics): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'not found', message: 'only GET /metrics is served here' }));
      return;
    }
    metrics.render().then(
      ({ contentType, body }) =>
        res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: Error) =>
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'metrics failed', message: err.message })),
    );
  });
}

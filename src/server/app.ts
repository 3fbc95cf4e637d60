// The express app behind the HTTPS server: the two admission endpoints and the probes.
// It knows nothing about TLS or files, so tests drive it with supertest directly.
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { evaluate, supportedKind } from '../engine/evaluate.js';
import type { ClusterView, Finding, PatchOperation, PolicyConfig, PolicyRequest } from '../engine/types.js';
import {
  AdmissionDecodeError,
  allowUntouched,
  decodeAdmissionReview,
  encodeAdmissionResponse,
  validator,
  type AdmissionReviewResponse,
  type Webhook,
} from './admission.js';
import { logBodies, logDecision, type Logger } from './logger.js';
import type { Decision, WebhookMetrics } from './metrics.js';

/** An UPDATE carries two objects, each up to the API server's 3 MiB request cap, plus the envelope. */
export const DEFAULT_BODY_LIMIT = 7 * 1024 * 1024;

export interface Readiness {
  ready: boolean;
  /** Each condition of readiness, e.g. `{ certificates: true, clusterView: false }`. */
  checks: Record<string, boolean>;
}

export interface AppOptions {
  /** The cluster view to judge with; undefined while it has not synced (answers 503). */
  getClusterView: () => ClusterView | undefined;
  /** The current configuration (may change between requests when the file is reloaded). */
  getConfig: () => PolicyConfig;
  isReady?: () => Readiness;
  logger?: Logger;
  metrics?: WebhookMetrics;
  /** Bytes; default DEFAULT_BODY_LIMIT. */
  bodyLimit?: number;
  /** While true (shutting down), responses ask clients to close their connection. */
  draining?: () => boolean;
}

function sendJson(res: Response, status: number, body: unknown, draining: boolean): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  if (draining) res.setHeader('connection', 'close');
  res.end(text);
}

function objectName(request: PolicyRequest): string {
  const name = request.name ?? request.object?.metadata?.name ?? request.oldObject?.metadata?.name ?? request.object?.metadata?.generateName ?? '';
  return request.namespace ? `${request.namespace}/${name}` : name;
}

function megabytes(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

export function createApp(opts: AppOptions): express.Express {
  const logger = opts.logger;
  const metrics = opts.metrics;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const draining = opts.draining ?? (() => false);
  const isReady = opts.isReady ?? (() => ({ ready: true, checks: {} }));

  validator();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);

  function fail(req: Request, res: Response, webhook: string | undefined, status: number, error: string, message: string): void {
    if (webhook) metrics?.recordBadRequest(webhook, status);
    const log = { method: req.method, path: req.path, status, message };
    if (status >= 500) logger?.error(log, error);
    else logger?.warn(log, error);
    sendJson(res, status, { error, message }, draining());
  }

  function admit(webhook: Webhook) {
    const phase = webhook;
    return (req: Request, res: Response): void => {
      const started = performance.now();
      let decoded;
      try {
        decoded = decodeAdmissionReview(req.body ?? '');
      } catch (err) {
        if (err instanceof AdmissionDecodeError) return fail(req, res, webhook, 400, 'bad request', err.message);
        throw err;
      }
      const { review, request, subResource } = decoded;
      const kind = supportedKind(request.kind, request.group, request.object?.apiVersion ?? request.oldObject?.apiVersion);
      const judged = kind !== undefined && !subResource && (request.operation === 'CREATE' || request.operation === 'UPDATE');

      let answer: AdmissionReviewResponse;
      let findings: Finding[] = [];
      let patch: PatchOperation[] = [];
      if (!judged) {
        answer = allowUntouched(review);
      } else {
        const cluster = opts.getClusterView();
        if (!cluster) return fail(req, res, webhook, 503, 'not ready', 'the cluster view has not synced yet; try again shortly');
        let result;
        try {
          result = evaluate(request, cluster, opts.getConfig(), phase);
        } catch (err) {
          // A rule that throws is a bug in nicguard, not in the request: 500 lets the
          // webhook's failurePolicy decide, and the caller sees no stack trace.
          logger?.error({ uid: request.uid, kind: request.kind, object: objectName(request), err }, 'evaluation failed');
          return fail(req, res, webhook, 500, 'internal error', `nicguard could not evaluate ${request.kind} ${objectName(request)}: ${(err as Error).message}`);
        }
        answer = encodeAdmissionResponse(review, result, webhook);
        findings = result.findings;
        patch = result.patch;
      }

      sendJson(res, 200, answer, draining());

      const decision: Decision = !answer.response.allowed ? 'denied' : answer.response.patch ? 'patched' : 'allowed';
      const seconds = (performance.now() - started) / 1000;
      metrics?.recordDecision({ webhook, kind: kind ?? 'other', operation: request.operation, decision, seconds, findings });
      if (logger) {
        logDecision(logger, {
          uid: request.uid ?? '',
          webhook,
          kind: request.kind,
          object: objectName(request),
          operation: request.operation,
          dryRun: request.dryRun === true,
          decision,
          rules: [...new Set(findings.map((f) => f.rule))],
          ms: Math.round(seconds * 1e6) / 1e3,
        });
        logBodies(logger, request.uid ?? '', { object: request.object, oldObject: request.oldObject, ...(patch.length ? { patch } : {}) });
      }
    };
  }

  // Any content type: the API server sends application/json, but a mislabelled body
  // should get a clear "not an AdmissionReview" rather than an empty-body puzzle.
  const body = express.raw({ type: () => true, limit: bodyLimit });
  app.post('/validate', body, admit('validate'));
  app.post('/mutate', body, admit('mutate'));
  app.all(['/validate', '/mutate'], (req, res) => {
    res.setHeader('allow', 'POST');
    fail(req, res, undefined, 405, 'method not allowed', `${req.path} takes POST with an AdmissionReview`);
  });

  app.get('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }, draining()));
  app.get('/readyz', (_req, res) => {
    const r = draining() ? { ready: false, checks: { ...isReady().checks, notShuttingDown: false } } : isReady();
    sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks }, draining());
  });

  app.use((req, res) => fail(req, res, undefined, 404, 'not found', `no route for ${req.method} ${req.path}; the webhook serves POST /validate, POST /mutate, GET /healthz, GET /readyz`));

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const webhook = req.path === '/validate' ? 'validate' : req.path === '/mutate' ? 'mutate' : undefined;
    if (res.headersSent) {
      logger?.error({ err, path: req.path }, 'error after response started');
      res.destroy();
      return;
    }
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (err?.type === 'entity.too.large') {
      return fail(req, res, webhook, 413, 'request too large', `request body is larger than the ${megabytes(bodyLimit)} limit`);
    }
    if (status < 500 && err?.expose !== false) return fail(req, res, webhook, status, 'bad request', String(err?.message ?? 'bad request'));
    logger?.error({ err, path: req.path }, 'request failed');
    fail(req, res, webhook, status, 'internal error', 'the webhook failed to handle this request; see its log');
  };
  app.use(onError);
  return app;
}

// The webhook's HTTP handling: the two admission endpoints and the probes, as an express
// app (what tests drive with supertest) and as a request listener for the HTTPS server.
// The listener hands POST /validate and /mutate straight to the admission handler and
// everything else to express: express's per-request setup costs about as much as a whole
// bare TLS request, and the admission path is the one that has to keep up with the API server.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import { isJudged, judgedKindOf } from '../admission/judged.js';
import { evaluate } from '../engine/evaluate.js';
import type { ClusterView, Finding, PatchOperation, PolicyConfig, PolicyRequest } from '../engine/types.js';
import {
  AdmissionDecodeError,
  allowUntouched,
  decodeAdmissionReview,
  encodeAdmissionResponse,
  NestingScanner,
  TEXT_DEPTH_SCAN_FROM,
  tooDeep,
  validator,
  type AdmissionReviewResponse,
  type DecodedReview,
  type Webhook,
} from '../admission/review.js';
import { Batcher } from './batch.js';
import { logBodies, logDecision, type Logger } from './logger.js';
import type { Decision, WebhookMetrics } from './metrics.js';

/** An UPDATE carries two objects, each up to the API server's 3 MiB request cap, plus the envelope. */
export const DEFAULT_BODY_LIMIT = 7 * 1024 * 1024;
/**
 * Bytes of admission request bodies held at once (being read or judged), across all
 * connections. Without it, 512 connections each sending a 7 MiB body could hold 3.5 GiB;
 * ordinary reviews are a few KiB, so this is room for thousands of them, or nine of the largest.
 */
export const DEFAULT_INFLIGHT_LIMIT = 64 * 1024 * 1024;
/** Seconds the API server is asked to wait before it retries a request turned away for load. */
export const RETRY_AFTER_SECONDS = 1;

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
  /** Bytes of request bodies held at once, all requests together; default DEFAULT_INFLIGHT_LIMIT. */
  inflightLimit?: number;
  /** While true (shutting down), responses ask clients to close their connection. */
  draining?: () => boolean;
}

export interface WebhookHandlers {
  /** The express app: every route, for supertest and for whatever the listener passes on. */
  app: express.Express;
  /** For the HTTPS server: admission requests directly, the rest through `app`. */
  listener: RequestListener;
  /** Bytes of admission request bodies held now (read or being read, not yet answered). */
  inflightBytes: () => number;
}

const NO_RULES: string[] = [];

/**
 * Reviews judged together: most VM reviews are 4-10 KiB, so a batch holds a dozen. The first review of a batch is
 * answered when the last is judged; with 64 KiB that adds well under a millisecond, and a review over 16 KiB, which
 * can take milliseconds to parse and judge, goes alone so that small ones never wait for it.
 */
const BATCH_LIMITS = { aloneFrom: 16 * 1024, maxBytes: 64 * 1024 };

/** An admission request whose body has been read whole, waiting to be judged. */
interface ReadReview {
  webhook: Webhook;
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
  /** The body went through a NestingScanner as it arrived. */
  nestingChecked: boolean;
  /** Gives back the body's bytes to the cap on bodies in flight. */
  release: () => void;
  /** When the body was complete (performance.now()): the latency histogram starts here. */
  started: number;
}

interface DecodedRead extends DecodedReview {
  read: ReadReview;
}

/** A review's answer and what it is recorded with. */
interface Judgement {
  read: ReadReview;
  request: PolicyRequest;
  answer: AdmissionReviewResponse;
  findings: Finding[];
  patch: PatchOperation[];
  /** From the complete body to the answer handed to the socket; set when it is sent. */
  seconds: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown, draining: boolean): void {
  const text = JSON.stringify(body);
  // One writeHead with the headers (merged with any set before) rather than a setHeader each.
  res.writeHead(
    status,
    draining
      ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' }
      : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
  );
  res.end(text);
}

function objectName(request: PolicyRequest): string {
  const name =
    request.name ??
    request.object?.metadata?.name ??
    request.oldObject?.metadata?.name ??
    request.object?.metadata?.generateName ??
    '';
  return request.namespace ? `${request.namespace}/${name}` : name;
}

function megabytes(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

function pathOf(url: string | undefined): string {
  const q = (url ?? '/').indexOf('?');
  return q < 0 ? (url ?? '/') : url!.slice(0, q);
}

/** The admission webhook for a path, or undefined. The API server appends `?timeout=10s`. */
function webhookOf(url: string | undefined): Webhook | undefined {
  const path = pathOf(url);
  return path === '/validate' ? 'validate' : path === '/mutate' ? 'mutate' : undefined;
}

export function createWebhook(opts: AppOptions): WebhookHandlers {
  const logger = opts.logger;
  const metrics = opts.metrics;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const inflightLimit = opts.inflightLimit ?? DEFAULT_INFLIGHT_LIMIT;
  let inflight = 0;
  const draining = opts.draining ?? (() => false);
  const isReady = opts.isReady ?? (() => ({ ready: true, checks: {} }));
  validator();

  function fail(
    req: IncomingMessage,
    res: ServerResponse,
    webhook: string | undefined,
    status: number,
    error: string,
    message: string,
  ): void {
    if (webhook) metrics?.recordBadRequest(webhook, status);
    const log = { method: req.method, path: pathOf(req.url), status, message };
    if (status === 500) logger?.error(log, error);
    else logger?.warn(log, error);
    sendJson(res, status, { error, message }, draining());
  }

  /** Reviews judged together, stage by stage (see batch.ts): 123 -> 84-95 µs of CPU per review in bench:server. */
  const batches = new Batcher(judgeBatch, BATCH_LIMITS);

  /** All decoded, then all evaluated, then all answered, then all logged. */
  function judgeBatch(batch: ReadReview[]): void {
    try {
      const decoded = stage(
        batch.map((read) => ({ read })),
        ({ read }) => decode(read),
      );
      const judged = stage(decoded, evaluateDecoded);
      stage(stage(judged, send), record);
    } finally {
      for (const read of batch) read.release();
    }
  }

  /** One stage over a batch: a throw fails that review alone (500 if not yet answered) and drops it from the rest. */
  function stage<T extends { read: ReadReview }, U>(items: T[], step: (item: T) => U | undefined): U[] {
    const out: U[] = [];
    for (const item of items) {
      try {
        const next = step(item);
        if (next !== undefined) out.push(next);
      } catch (err) {
        const { req, res, webhook } = item.read;
        logger?.error({ err, path: pathOf(req.url) }, 'request failed');
        if (!res.headersSent)
          fail(req, res, webhook, 500, 'internal error', 'the webhook failed to handle this request; see its log');
      }
    }
    return out;
  }

  function decode(read: ReadReview): DecodedRead | undefined {
    try {
      const { review, request, subResource } = decodeAdmissionReview(read.body, {
        textNestingChecked: read.nestingChecked,
      });
      return { read, review, request, subResource };
    } catch (err) {
      if (!(err instanceof AdmissionDecodeError)) throw err;
      fail(read.req, read.res, read.webhook, 400, 'bad request', err.message);
      return undefined;
    }
  }

  function evaluateDecoded(decoded: DecodedRead): Judgement | undefined {
    const { read, review, request, subResource } = decoded;
    const { req, res, webhook } = read;
    if (!isJudged(request, subResource))
      return { read, request, answer: allowUntouched(review), findings: [], patch: [], seconds: 0 };
    const cluster = opts.getClusterView();
    if (!cluster) {
      fail(req, res, webhook, 503, 'not ready', 'the cluster view has not synced yet; try again shortly');
      return undefined;
    }
    let result;
    try {
      result = evaluate(request, cluster, opts.getConfig(), webhook);
    } catch (err) {
      // A rule that throws is a bug in nicguard, not in the request: 500 lets the webhook's
      // failurePolicy decide. The caller gets a generic body; the log has the error and the uid.
      logger?.error({ uid: request.uid, kind: request.kind, object: objectName(request), err }, 'evaluation failed');
      const message = `nicguard failed to evaluate this request (uid ${request.uid}); see its log`;
      fail(req, res, webhook, 500, 'internal error', message);
      return undefined;
    }
    const answer = encodeAdmissionResponse(review, result, webhook);
    return { read, request, answer, findings: result.findings, patch: result.patch, seconds: 0 };
  }

  function send(judgement: Judgement): Judgement {
    sendJson(judgement.read.res, 200, judgement.answer, draining());
    judgement.seconds = (performance.now() - judgement.read.started) / 1000;
    return judgement;
  }

  /** Metrics and the decision line of an answered review. */
  function record({ read, request, answer, findings, patch, seconds }: Judgement): undefined {
    const { webhook } = read;
    const decision: Decision = !answer.response.allowed ? 'denied' : answer.response.patch ? 'patched' : 'allowed';
    metrics?.recordDecision({
      webhook,
      kind: judgedKindOf(request) ?? 'other',
      operation: request.operation,
      dryRun: request.dryRun === true,
      decision,
      seconds,
      findings,
    });
    if (!logger) return;
    logDecision(logger, {
      uid: request.uid ?? '',
      webhook,
      kind: request.kind,
      object: objectName(request),
      operation: request.operation,
      user: request.userInfo?.username ?? '',
      dryRun: request.dryRun === true,
      decision,
      rules: findings.length ? [...new Set(findings.map((f) => f.rule))] : NO_RULES,
      ms: Math.round(seconds * 1e6) / 1e3,
    });
    // The bodies object is built only when debug lines are written.
    if (logger.isLevelEnabled('debug')) {
      logBodies(logger, request.uid ?? '', {
        object: request.object,
        oldObject: request.oldObject,
        ...(patch.length ? { patch } : {}),
      });
    }
  }

  /**
   * Reads the body (any content type: a mislabelled body should get a clear "not an
   * AdmissionReview", not an empty-body puzzle) within the limit, then judges it.
   */
  function admit(webhook: Webhook, req: IncomingMessage, res: ServerResponse): void {
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding !== 'identity') {
      req.resume();
      return fail(
        req,
        res,
        webhook,
        415,
        'unsupported content encoding',
        `content-encoding "${encoding}" is not supported; send the review uncompressed`,
      );
    }
    let size = 0;
    let held = 0;
    const release = () => {
      inflight -= held;
      held = 0;
    };
    // Either refusal drains the rest of the body unread: the connection stays usable.
    const refuse = (status: number, error: string, message: string) => {
      release();
      req.removeAllListeners('data');
      req.resume();
      if (status === 429) res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
      fail(req, res, webhook, status, error, message);
    };
    const tooLarge = () =>
      refuse(413, 'request too large', `request body is larger than the ${megabytes(bodyLimit)} limit`);
    // Past the cap on bodies in flight, answer at once rather than buffer more. A request is
    // always let in while nothing else is held, so a body within the limit is never refused forever.
    const busy = () =>
      refuse(
        429,
        'too many requests',
        `request bodies in flight exceed ${megabytes(inflightLimit)}; retry after ${RETRY_AFTER_SECONDS} s`,
      );
    const declared = Number(req.headers['content-length']);
    if (declared > bodyLimit) return tooLarge();
    if (inflight > 0 && inflight + (declared || 0) > inflightLimit) return busy();
    const chunks: Buffer[] = [];
    let done = false;
    // A large body's nesting is counted chunk by chunk as it arrives (the decoder is told so):
    // the scan never blocks in one piece, and a body nested too deep is refused unread.
    // Small bodies parse in well under a millisecond whatever their shape and are not scanned.
    let nesting: NestingScanner | undefined;
    const refuseTooDeep = () => {
      done = true;
      refuse(400, 'bad request', tooDeep());
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyLimit) {
        done = true;
        return tooLarge();
      }
      held += chunk.length;
      inflight += chunk.length;
      if (inflight > inflightLimit && inflight > held) {
        done = true;
        return busy();
      }
      chunks.push(chunk);
      if (nesting) {
        if (nesting.feed(chunk)) return refuseTooDeep();
      } else if (size > TEXT_DEPTH_SCAN_FROM) {
        const scanner = (nesting = new NestingScanner());
        if (chunks.some((piece) => scanner.feed(piece))) return refuseTooDeep();
      }
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      const started = performance.now();
      batches.add({ webhook, req, res, body, nestingChecked: nesting !== undefined, release, started }, body.length);
    });
    // A client that goes away mid-body gets no answer; its bytes are no longer held.
    req.on('close', release);
    req.on('error', (err) => logger?.debug({ reason: err.message, path: pathOf(req.url) }, 'request aborted'));
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);

  app.post('/validate', (req, res) => admit('validate', req, res));
  app.post('/mutate', (req, res) => admit('mutate', req, res));
  app.all(['/validate', '/mutate'], (req, res) => {
    res.setHeader('allow', 'POST');
    fail(req, res, undefined, 405, 'method not allowed', `${req.path} takes POST with an AdmissionReview`);
  });

  app.get('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }, draining()));
  app.get('/readyz', (_req, res) => {
    const r = draining() ? { ready: false, checks: { ...isReady().checks, notShuttingDown: false } } : isReady();
    sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks }, draining());
  });

  app.use((req, res) =>
    fail(
      req,
      res,
      undefined,
      404,
      'not found',
      `no route for ${req.method} ${req.path}; the webhook serves POST /validate, POST /mutate, GET /healthz, GET ` +
        `/readyz`,
    ),
  );

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    if (res.headersSent) {
      logger?.error({ err, path: req.path }, 'error after response started');
      res.destroy();
      return;
    }
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status < 500 && err?.expose !== false)
      return fail(req, res, undefined, status, 'bad request', String(err?.message ?? 'bad request'));
    logger?.error({ err, path: req.path }, 'request failed');
    fail(req, res, undefined, 500, 'internal error', 'the webhook failed to handle this request; see its log');
  };
  app.use(onError);

  const listener: RequestListener = (req, res) => {
    const webhook = req.method === 'POST' ? webhookOf(req.url) : undefined;
    if (webhook) admit(webhook, req, res);
    else app(req, res);
  };
  return { app, listener, inflightBytes: () => inflight };
}

/** The express app alone (supertest, or embedding); the HTTPS server uses createWebhook().listener. */
export function createApp(opts: AppOptions): express.Express {
  return createWebhook(opts).app;
}

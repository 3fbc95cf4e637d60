// What `nicguard serve` runs: certificates, cluster view, configuration, the HTTPS and
// metrics servers, file watches and the SIGTERM drain. src/cli/serve.ts loads this only
// when the command runs, so other commands do not pay for express, pino and prom-client.
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { Server as TlsListener } from 'node:tls';
import { coversOtherNames, ensureCertificates, readCertificates, unfitReason } from '../certs/reuse.js';
import { readFileCluster, refreshFileClusterView } from '../cluster/files.js';
import type { InformerClusterView } from '../cluster/informer.js';
import type { ObjectIndex } from '../cluster/object-index.js';
import type { ClusterView, PolicyConfig } from '../engine/types.js';
import { loadConfigFile } from '../io/config-file.js';
import { createWebhook } from './app.js';
import { createLogger, type Logger } from './logger.js';
import { createMetricsServer, WebhookMetrics } from './metrics.js';
import { trackConnections } from './drain.js';
import { lowerHelperThreads } from './helper-threads.js';
import { ReleaseNotice } from './release-notice.js';
import { createTlsServer, tlsPolicy, type TlsPolicy, type WebhookTlsServer } from './tls.js';
import { watchFiles, type FileWatch } from './watch.js';

export interface ServeOptions {
  port: number;
  host?: string;
  cert?: string;
  key?: string;
  dev?: boolean;
  objects?: string;
  kubeconfig?: string;
  config?: string;
  /** The KubeVirt release, over the configuration's kubevirtVersion (and kept across reloads). */
  kubevirtVersion?: string;
  logLevel: string;
  metricsPort: number;
  /** Seconds from SIGTERM to exit, the shutdown delay included. */
  gracePeriod: number;
  /** Seconds to keep serving (not ready, `Connection: close`) after SIGTERM before the listener closes. */
  shutdownDelay: number;
  maxConnections: number;
  /** Nice value for Node's helper threads (V8's GC and compiler, libuv's pool); 0 leaves them. */
  helperThreadNice: number;
  tlsMinVersion?: string;
  tlsCipherSuites?: string[];
}

/** Where `--dev` keeps its CA and serving certificate, relative to the working directory. */
export const DEV_CERT_DIR = 'certs';
/** How often the webhook looks whether the releases it judges under changed (the KubeVirt CR is watched). */
const RELEASE_CHECK_MS = 10_000;
const DEV_CERT = { commonName: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'] };

/** A problem with the flags or the files they name: the command exits 2 with the message. */
export class UsageError extends Error {}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function listen(server: HttpServer, portNumber: number, host: string | undefined): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${portNumber} is already in use`
            : err.code === 'EACCES'
              ? `no permission to listen on port ${portNumber}`
              : err.message,
        ),
      );
    };
    server.once('error', onError);
    server.listen(portNumber, host, () => {
      server.off('error', onError);
      resolvePromise(server.address() as AddressInfo);
    });
  });
}

// The refused review the README uses too (a NAD whose Kube-OVN provider lacks `.ovn`),
// inlined so the printed line pastes from any directory. Absent where examples/ is not
// shipped (the container image), and then there is no hint.
const EXAMPLE_REVIEW = new URL('../../../examples/reviews/nad-wrong-provider.json', import.meta.url);

function curlExample(portNumber: number, caPath: string): string | undefined {
  let review: unknown;
  try {
    review = JSON.parse(readFileSync(EXAMPLE_REVIEW, 'utf8'));
  } catch {
    return undefined;
  }
  return (
    `curl -sS --cacert ${caPath} -H 'Content-Type: application/json' https://localhost:${portNumber}/validate ` +
    `-d '${JSON.stringify(review)}'`
  );
}

/** `--dev`: reuse ./certs when it serves localhost, make it otherwise; never clobber another name's certificates. */
function devCertificates(): { certFile: string; keyFile: string; caFile: string; caPem: string } {
  const dir = resolve(DEV_CERT_DIR);
  const existing = readCertificates(dir);
  if (existing && coversOtherNames(existing, DEV_CERT)) {
    const reason = unfitReason(existing, DEV_CERT);
    throw new UsageError(
      `${dir} holds certificates for other names (${reason}); move them away, or pass --cert/--key instead of --dev`,
    );
  }
  const ensured = ensureCertificates(dir, DEV_CERT);
  const what = ensured.created
    ? `made new certificates${ensured.replacedBecause ? ` (${ensured.replacedBecause})` : ''}`
    : 'reused the certificates';
  say(`nicguard serve --dev: ${what} in ${DEV_CERT_DIR}/ for localhost and 127.0.0.1`);
  return {
    certFile: ensured.paths.certPath,
    keyFile: ensured.paths.keyPath,
    caFile: ensured.paths.caPath,
    caPem: ensured.bundle.caCert,
  };
}

interface ClusterSource {
  view: () => ClusterView | undefined;
  synced: () => boolean;
  syncState: () => Record<string, boolean>;
  objectCounts: () => Record<string, number>;
  stop: () => Promise<void>;
}

function fileSource(dir: string, logger: Logger): ClusterSource {
  const first = readFileCluster(dir);
  if (first.files === 0) {
    throw new UsageError(
      `--objects ${dir}: no manifests found${first.errors.length ? ` (${first.errors[0].message})` : ''}`,
    );
  }
  for (const e of first.errors)
    logger.warn({ file: e.file, line: e.line, reason: e.message }, 'cannot read object manifest');
  logger.info(
    { dir, files: first.files, indexed: first.indexed, ignored: first.ignored },
    'cluster view loaded from files',
  );
  const view: ObjectIndex = first.view;
  // Edits to the folder are picked up, so a NAD added while developing is seen.
  const watch = watchFiles(
    [resolve(dir)],
    () => {
      const fresh = refreshFileClusterView(view, dir, (e) =>
        logger.warn({ file: e.file, line: e.line, reason: e.message }, 'cannot read object manifest'),
      );
      logger.info({ dir, files: fresh.files, indexed: fresh.indexed }, 'cluster view reloaded from files');
    },
    {
      onWatchError: (err, watched) =>
        logger.warn({ dir: watched, reason: err.message }, 'cannot watch the objects folder; polling only'),
    },
  );
  return {
    view: () => view,
    synced: () => true,
    syncState: () => ({ files: true }),
    objectCounts: () => view.objectCounts(),
    stop: async () => watch.close(),
  };
}

async function informerSource(kubeconfig: string | undefined, logger: Logger): Promise<ClusterSource> {
  let informer: InformerClusterView;
  try {
    // Loaded only here: the Kubernetes client is large, and --objects runs without it.
    const { startInformerClusterView } = await import('../cluster/informer.js');
    informer = await startInformerClusterView({ kubeconfig, logger });
  } catch (err) {
    throw new UsageError(
      `cannot start the cluster view${kubeconfig ? ` from ${kubeconfig}` : ' (in-cluster config)'}: ` +
        `${(err as Error).message}; use --kubeconfig, or --objects DIR to run without a cluster`,
    );
  }
  return {
    view: () => (informer.isSynced() ? informer : undefined),
    synced: () => informer.isSynced(),
    syncState: () => informer.syncState(),
    objectCounts: () => informer.objectCounts(),
    stop: () => informer.stop(),
  };
}

function watchConfig(
  path: string,
  logger: Logger,
  metrics: WebhookMetrics,
  apply: (c: PolicyConfig) => void,
): FileWatch {
  let last = JSON.stringify(loadConfigFile(path));
  return watchFiles(
    [path],
    () => {
      let next: PolicyConfig;
      try {
        next = loadConfigFile(path);
      } catch (err) {
        logger.error(
          { config: path, reason: (err as Error).message },
          'new configuration rejected; keeping the previous one',
        );
        metrics.recordReload('config', false);
        return;
      }
      const text = JSON.stringify(next);
      if (text === last) return;
      last = text;
      apply(next);
      metrics.recordReload('config', true);
      logger.info({ config: path, rules: next.rules }, 'configuration reloaded');
    },
    {
      onWatchError: (err, dir) =>
        logger.warn({ dir, reason: err.message }, 'cannot watch configuration directory; polling only'),
    },
  );
}

export async function runServe(o: ServeOptions): Promise<void> {
  if (o.dev && (o.cert || o.key)) throw new UsageError('--dev makes its own certificates; leave out --cert/--key');
  if (!o.dev && (!o.cert || !o.key))
    throw new UsageError('give both --cert FILE and --key FILE, or --dev for self-signed local certificates');
  if (o.objects && o.kubeconfig)
    throw new UsageError(
      '--objects and --kubeconfig exclude each other: the cluster view comes from files or from a cluster',
    );
  let policy: TlsPolicy;
  try {
    policy = tlsPolicy(o.tlsMinVersion, o.tlsCipherSuites);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const logger = createLogger(o.logLevel);
  // A crash leaves its stack in the JSON log an operator reads; src/cli/main.ts then prints
  // one line and exits 3 (pino writes out pending lines on exit).
  const logCrash = (err: unknown) => logger.fatal({ err }, 'internal error; exiting');
  process.prependListener('uncaughtException', logCrash);
  process.prependListener('unhandledRejection', logCrash);
  const withFlags = (c: PolicyConfig): PolicyConfig =>
    o.kubevirtVersion ? { ...c, kubevirtVersion: o.kubevirtVersion } : c;
  let config = withFlags(loadConfigFile(o.config));
  const dev = o.dev ? devCertificates() : undefined;
  const certFile = dev?.certFile ?? resolve(o.cert!);
  const keyFile = dev?.keyFile ?? resolve(o.key!);

  const metrics = new WebhookMetrics();
  const cluster = o.objects ? fileSource(o.objects, logger) : await informerSource(o.kubeconfig, logger);
  metrics.setSyncStateSource(cluster.syncState);
  metrics.setObjectCountSource(cluster.objectCounts);

  let draining = false;
  let tls: WebhookTlsServer | undefined;
  const { listener, inflightBytes } = createWebhook({
    getClusterView: cluster.view,
    getConfig: () => config,
    isReady: () => {
      const checks = { certificates: tls?.certificatesLoaded() ?? false, clusterView: cluster.synced() };
      return { ready: checks.certificates && checks.clusterView, checks };
    },
    logger,
    metrics,
    draining: () => draining,
  });
  metrics.setInflightSource(inflightBytes);
  try {
    tls = createTlsServer({
      certFile,
      keyFile,
      app: listener,
      logger,
      metrics,
      policy,
      maxConnections: o.maxConnections,
    });
  } catch (err) {
    await cluster.stop();
    throw new UsageError((err as Error).message);
  }
  const connections = trackConnections(tls.server);
  // Which releases the rules judge under: logged now (or once the cluster view is synced) and on each change.
  const releases = new ReleaseNotice(logger);
  const noteReleases = () => releases.note(config, cluster.view());
  const configWatch = o.config
    ? watchConfig(o.config, logger, metrics, (c) => {
        config = withFlags(c);
        noteReleases();
      })
    : undefined;
  const metricsServer = createMetricsServer(metrics);

  let webhookAddress: AddressInfo, metricsAddress: AddressInfo;
  try {
    webhookAddress = await listen(tls.server, o.port, o.host);
    metricsAddress = await listen(metricsServer, o.metricsPort, o.host);
  } catch (err) {
    tls.stopWatching();
    configWatch?.close();
    tls.server.close();
    await cluster.stop();
    throw new UsageError((err as Error).message);
  }

  noteReleases();
  const releaseTimer = setInterval(noteReleases, RELEASE_CHECK_MS).unref();

  // After start-up, when V8's and Node's helper threads exist.
  const helpers = lowerHelperThreads(o.helperThreadNice);
  if (!('skipped' in helpers))
    logger.info(helpers, 'helper threads run at a lower priority than the thread that answers');
  else if (o.helperThreadNice > 0) logger.warn({ reason: helpers.skipped }, 'helper threads left at normal priority');

  const shown = o.host ?? 'localhost';
  const webhookUrl = `https://${shown.includes(':') ? `[${shown}]` : shown}:${webhookAddress.port}`;
  const metricsUrl = `http://${shown.includes(':') ? `[${shown}]` : shown}:${metricsAddress.port}/metrics`;
  logger.info(
    { port: webhookAddress.port, metricsPort: metricsAddress.port, host: o.host ?? 'all interfaces' },
    'listening',
  );
  if (dev) {
    say('CA bundle (base64, for caBundle in a webhook configuration):');
    say(Buffer.from(dev.caPem).toString('base64'));
    const curl = curlExample(webhookAddress.port, `${DEV_CERT_DIR}/ca.crt`);
    if (curl) say(`Try it (a NetworkAttachmentDefinition with a wrong Kube-OVN provider, refused):\n  ${curl}`);
  }
  say(
    `nicguard webhook listening on ${webhookUrl}${o.host ? '' : ' (all interfaces)'}: POST /validate, POST /mutate, ` +
      `GET /healthz, GET /readyz; metrics on ${metricsUrl}`,
  );

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    draining = true;
    const graceMs = o.gracePeriod * 1000;
    // SIGINT is someone at a terminal: there are no endpoints to wait for.
    const askedDelayMs = signal === 'SIGINT' ? 0 : o.shutdownDelay * 1000;
    const delayMs = Math.min(askedDelayMs, graceMs / 2);
    if (delayMs < askedDelayMs)
      logger.warn(
        { shutdownDelaySeconds: o.shutdownDelay, gracePeriodSeconds: o.gracePeriod },
        'shutdown delay cut to half the grace period',
      );
    logger.info(
      {
        signal,
        shutdownDelaySeconds: delayMs / 1000,
        gracePeriodSeconds: o.gracePeriod,
        connections: connections.open(),
      },
      'shutting down: not ready; serving with Connection: close until the shutdown delay is over',
    );
    tls!.stopWatching();
    configWatch?.close();
    clearInterval(releaseTimer);
    let done = false;
    let sweep: NodeJS.Timeout | undefined;
    const finish = async (reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(stopListening);
      clearInterval(sweep);
      // The informer's stop must not hold the exit past the grace period.
      await Promise.race([cluster.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
      logger.info({ reason }, 'stopped');
      // Stdout is written asynchronously: let the last lines out before exiting, but do
      // not wait on a stdout that no longer drains.
      setTimeout(() => process.exit(0), 500);
      logger.flush(() => process.exit(0));
    };
    // Leave a little of the grace period for the exit itself.
    const deadline = setTimeout(
      () => {
        logger.warn(
          { connections: connections.open(), inFlight: connections.inFlight() },
          'grace period over; closing the connections still open',
        );
        tls!.server.closeAllConnections();
        void finish('grace period over');
      },
      Math.max(0, graceMs - Math.min(1500, graceMs / 4)),
    );
    // The API server keeps sending to this pod until its endpoint is withdrawn everywhere;
    // until then new connections are accepted and answered (with Connection: close).
    const stopListening = setTimeout(() => {
      logger.info(
        { connections: connections.open(), inFlight: connections.inFlight() },
        'shutting down: no new connections; finishing requests in flight',
      );
      // net's close, not https.Server's: that one also destroys every connection without a
      // request in flight, including one whose client is sending a review at this moment.
      TlsListener.prototype.close.call(tls!.server, () => void finish('all connections closed'));
      metricsServer.close();
      metricsServer.closeAllConnections();
      connections.closeQuiet();
      // Connections that were busy or fresh become quiet later.
      sweep = setInterval(() => connections.closeQuiet(), 100);
    }, delayMs);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

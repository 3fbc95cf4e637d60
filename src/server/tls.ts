// The HTTPS server for the admission endpoints: TLS 1.2 or newer, and a certificate pair
// that is re-read when its files change. A new pair replaces the server's secure context,
// so connections already open keep theirs and only new handshakes see the new certificate;
// a new pair that does not load is logged and the old one stays in service.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Logger } from './logger.js';
import type { WebhookMetrics } from './metrics.js';
import { watchFiles, type FileWatch, type WatchOptions } from './watch.js';

export const MIN_TLS_VERSION = 'TLSv1.2';
/** Go's http.Transport IdleConnTimeout, which the API server's webhook client keeps. */
export const API_SERVER_IDLE_TIMEOUT_MS = 90_000;

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

export interface CertificatePair {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the leaf certificate, as `AB:CD:...`. */
  fingerprint: string;
  notAfter: Date;
  subject: string;
}

function readPem(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CertificateError(`${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!text.includes('-----BEGIN ')) throw new CertificateError(`${path}: not a PEM ${what}`);
  return text;
}

/** Reads and checks a pair: both PEM, the certificate parses, and the key belongs to it. */
export function loadCertificatePair(certFile: string, keyFile: string): CertificatePair {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'private key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new CertificateError(`${certFile}: not a valid certificate (${(err as Error).message})`);
  }
  try {
    createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION });
  } catch (err) {
    const reason = /key values mismatch/i.test((err as Error).message) ? 'the key does not belong to the certificate' : (err as Error).message;
    throw new CertificateError(`${certFile} + ${keyFile}: unusable pair: ${reason}`);
  }
  return { cert, key, fingerprint: x509.fingerprint256, notAfter: new Date(x509.validTo), subject: x509.subject.replace(/\n/g, ', ') };
}

export interface TlsServerOptions {
  certFile: string;
  keyFile: string;
  app: RequestListener;
  logger?: Logger;
  metrics?: WebhookMetrics;
  /** File watching; false turns it off (reload() still works). */
  watch?: WatchOptions | false;
}

export interface WebhookTlsServer {
  server: Server;
  /** A pair is loaded and within its validity period (readiness). */
  certificatesLoaded(): boolean;
  /** The pair in service. */
  current(): CertificatePair;
  /** Re-reads the files; true when a different pair was taken, false when kept. */
  reload(): boolean;
  /** Stops watching the files; does not close the server. */
  stopWatching(): void;
}

/** Creates (does not start) the HTTPS server. Throws CertificateError when the pair does not load. */
export function createTlsServer(opts: TlsServerOptions): WebhookTlsServer {
  const { certFile, keyFile, logger, metrics } = opts;
  let pair = loadCertificatePair(certFile, keyFile);
  const server = createServer({ cert: pair.cert, key: pair.key, minVersion: MIN_TLS_VERSION }, opts.app);
  // The API server (Go's HTTP client) keeps idle webhook connections for 90 s. If the
  // server closed them first (Node's default is 5 s), a review sent just as one closes
  // fails with EOF, and Go does not retry a POST: the user's request would be refused.
  server.keepAliveTimeout = API_SERVER_IDLE_TIMEOUT_MS + 30_000;
  logger?.info({ certFile, subject: pair.subject, fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString() }, 'serving certificate loaded');

  const reload = (): boolean => {
    let next: CertificatePair;
    try {
      next = loadCertificatePair(certFile, keyFile);
    } catch (err) {
      // Often transient: the certificate written, the key not yet. The next event retries.
      logger?.error({ certFile, keyFile, reason: (err as Error).message }, 'new certificate pair rejected; still serving the previous one');
      metrics?.recordReload('certificate', false);
      return false;
    }
    if (next.cert === pair.cert && next.key === pair.key) return false;
    server.setSecureContext({ cert: next.cert, key: next.key, minVersion: MIN_TLS_VERSION });
    pair = next;
    metrics?.recordReload('certificate', true);
    logger?.info({ certFile, subject: pair.subject, fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString() }, 'serving certificate replaced');
    return true;
  };

  let watcher: FileWatch | undefined;
  if (opts.watch !== false) {
    watcher = watchFiles([certFile, keyFile], reload, {
      ...(opts.watch ?? {}),
      onWatchError: (err, dir) => logger?.warn({ dir, reason: err.message }, 'cannot watch certificate directory; polling only'),
    });
  }

  return {
    server,
    certificatesLoaded: () => Date.now() < pair.notAfter.getTime(),
    current: () => pair,
    reload,
    stopWatching: () => watcher?.close(),
  };
}

// The HTTPS server for the admission endpoints: TLS 1.2 (ECDHE with AEAD ciphers only) or
// 1.3, timeouts and a connection cap, and a certificate pair that is re-read when its
// files change. A new pair replaces the server's secure context,
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

/** Go's http.Transport IdleConnTimeout, which the API server's webhook client keeps. */
export const API_SERVER_IDLE_TIMEOUT_MS = 90_000;
/**
 * Whole request (headers and body) and headers alone. Node's defaults (300 s, 60 s) let a
 * slow client hold a connection for minutes; the API server gives up on a webhook after its
 * timeoutSeconds (5 in manifests/base/webhooks.yaml, 30 at most), so nothing legitimate
 * takes longer than this.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
export const HEADERS_TIMEOUT_MS = 10_000;
/** A client that connects and never finishes the TLS handshake (Node's default: 120 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How often Node checks the two timeouts above (its default, 30 s, would triple them). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
export const DEFAULT_MAX_CONNECTIONS = 512;

/**
 * TLS 1.2 cipher suites by IANA name, as Kubernetes components take them in
 * --tls-cipher-suites (k8s.io/component-base cli/flag/ciphersuites_flag.go at v0.36.3,
 * which accepts the names of Go's tls.CipherSuites() and tls.InsecureCipherSuites(),
 * golang/go src/crypto/tls/cipher_suites.go), mapped to OpenSSL's names. Only ECDHE key
 * exchange (forward secrecy) with an AEAD cipher is offered; Go's default list, which
 * Kubernetes uses when the flag is unset, also has the ECDHE CBC-SHA1 suites, left out here.
 */
const TLS12_SUITES: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  // The legacy spellings component-base keeps accepting.
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
};
/** TLS 1.3 suites: all AEAD with ephemeral key exchange; OpenSSL uses the IANA names. */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/** Names Kubernetes knows that nicguard refuses, and why (same sources as TLS12_SUITES). */
const REFUSED_SUITES = [
  'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
  'TLS_RSA_WITH_AES_128_CBC_SHA',
  'TLS_RSA_WITH_AES_256_CBC_SHA',
  'TLS_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_RSA_WITH_AES_128_CBC_SHA256',
  'TLS_RSA_WITH_RC4_128_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA',
  'TLS_ECDHE_RSA_WITH_RC4_128_SHA',
];

export const TLS_VERSIONS = { VersionTLS12: 'TLSv1.2', VersionTLS13: 'TLSv1.3' } as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS;

export interface TlsPolicy {
  minVersion: (typeof TLS_VERSIONS)[TlsVersionName];
  /** OpenSSL cipher string (TLS 1.2 names and TLS 1.3 suites, colon separated). */
  ciphers: string;
}

/** The names --tls-cipher-suites accepts. */
export function supportedCipherSuites(): string[] {
  return [...Object.keys(TLS12_SUITES), ...TLS13_SUITES];
}

function refusalReason(name: string): string {
  if (name.startsWith('TLS_RSA_')) return 'RSA key exchange has no forward secrecy';
  if (name.includes('_RC4_')) return 'RC4 is broken';
  if (name.includes('_3DES_')) return '3DES is weak (Sweet32)';
  return 'CBC mode with HMAC is not an AEAD cipher (Lucky13-style padding oracles)';
}

/**
 * `--tls-min-version` and `--tls-cipher-suites` as kube components spell them. Throws with
 * the accepted values named. Without TLS 1.3 names, all three TLS 1.3 suites stay on
 * (Go does not let TLS 1.3 suites be configured at all).
 */
export function tlsPolicy(minVersion: string = 'VersionTLS12', cipherSuites: readonly string[] = []): TlsPolicy {
  const version = TLS_VERSIONS[minVersion as TlsVersionName];
  if (!version)
    throw new Error(
      `--tls-min-version: unknown TLS version "${minVersion}"; use ${Object.keys(TLS_VERSIONS).join(' or ')}`,
    );
  const tls12: string[] = [];
  const tls13: string[] = [];
  for (const name of cipherSuites) {
    if (TLS12_SUITES[name]) tls12.push(TLS12_SUITES[name]);
    else if (TLS13_SUITES.includes(name)) tls13.push(name);
    else if (REFUSED_SUITES.includes(name))
      throw new Error(
        `--tls-cipher-suites: ${name} is not allowed: ${refusalReason(name)}; allowed: ` +
          `${supportedCipherSuites().join(', ')}`,
      );
    else
      throw new Error(
        `--tls-cipher-suites: unknown cipher suite "${name}" (IANA names, e.g. ` +
          `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); allowed: ${supportedCipherSuites().join(', ')}`,
      );
  }
  if (cipherSuites.length > 0 && tls12.length === 0 && version === 'TLSv1.2') {
    throw new Error(
      '--tls-cipher-suites names no TLS 1.2 suite, so TLS 1.2 clients could not connect; add one or set ' +
        '--tls-min-version VersionTLS13',
    );
  }
  const twelve = cipherSuites.length ? tls12 : Object.values(TLS12_SUITES);
  const thirteen = tls13.length ? tls13 : TLS13_SUITES;
  return { minVersion: version, ciphers: [...new Set([...thirteen, ...twelve])].join(':') };
}

const DEFAULT_POLICY = tlsPolicy();

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
    throw new CertificateError(
      `${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (!text.includes('-----BEGIN ')) throw new CertificateError(`${path}: not a PEM ${what}`);
  return text;
}

/** Reads and checks a pair: both PEM, the certificate parses, and the key belongs to it. */
export function loadCertificatePair(
  certFile: string,
  keyFile: string,
  policy: TlsPolicy = DEFAULT_POLICY,
): CertificatePair {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'private key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new CertificateError(`${certFile}: not a valid certificate (${(err as Error).message})`);
  }
  try {
    createSecureContext({ cert, key, ...secureOptions(policy) });
  } catch (err) {
    const reason = /key values mismatch/i.test((err as Error).message)
      ? 'the key does not belong to the certificate'
      : (err as Error).message;
    throw new CertificateError(`${certFile} + ${keyFile}: unusable pair: ${reason}`);
  }
  return {
    cert,
    key,
    fingerprint: x509.fingerprint256,
    notAfter: new Date(x509.validTo),
    subject: x509.subject.replace(/\n/g, ', '),
  };
}

/** The TLS options of the webhook server (also the benchmarks' baseline servers, for a like-for-like handshake). */
export function secureOptions(policy: TlsPolicy = DEFAULT_POLICY) {
  return { minVersion: policy.minVersion, ciphers: policy.ciphers, honorCipherOrder: true } as const;
}

export interface TlsServerOptions {
  certFile: string;
  keyFile: string;
  app: RequestListener;
  logger?: Logger;
  metrics?: WebhookMetrics;
  /** File watching; false turns it off (reload() still works). */
  watch?: WatchOptions | false;
  /** Versions and cipher suites; default TLS 1.2+ with ECDHE AEAD suites. */
  policy?: TlsPolicy;
  /** Open connections beyond this are closed at once (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number;
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
  const policy = opts.policy ?? DEFAULT_POLICY;
  let pair = loadCertificatePair(certFile, keyFile, policy);
  const server = createServer(
    {
      cert: pair.cert,
      key: pair.key,
      ...secureOptions(policy),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    opts.app,
  );
  server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  let lastDropLog = 0;
  server.on('drop', (info) => {
    // At most one line every 10 s: a flood must not become a flood of log lines too.
    if (Date.now() - lastDropLog < 10_000) return;
    lastDropLog = Date.now();
    logger?.warn(
      { maxConnections: server.maxConnections, remote: info?.remoteAddress },
      'connection refused: too many open connections',
    );
  });
  // The API server (Go's HTTP client) keeps idle webhook connections for 90 s. If the
  // server closed them first (Node's default is 5 s), a review sent just as one closes
  // fails with EOF, and Go does not retry a POST: the user's request would be refused.
  server.keepAliveTimeout = API_SERVER_IDLE_TIMEOUT_MS + 30_000;
  logger?.info(
    { certFile, subject: pair.subject, fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString() },
    'serving certificate loaded',
  );

  const reload = (): boolean => {
    let next: CertificatePair;
    try {
      next = loadCertificatePair(certFile, keyFile, policy);
    } catch (err) {
      // Often transient: the certificate written, the key not yet. The next event retries.
      logger?.error(
        { certFile, keyFile, reason: (err as Error).message },
        'new certificate pair rejected; still serving the previous one',
      );
      metrics?.recordReload('certificate', false);
      return false;
    }
    if (next.cert === pair.cert && next.key === pair.key) return false;
    server.setSecureContext({ cert: next.cert, key: next.key, ...secureOptions(policy) });
    pair = next;
    metrics?.recordReload('certificate', true);
    logger?.info(
      { certFile, subject: pair.subject, fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString() },
      'serving certificate replaced',
    );
    return true;
  };

  let watcher: FileWatch | undefined;
  if (opts.watch !== false) {
    watcher = watchFiles([certFile, keyFile], reload, {
      ...(opts.watch ?? {}),
      onWatchError: (err, dir) =>
        logger?.warn({ dir, reason: err.message }, 'cannot watch certificate directory; polling only'),
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

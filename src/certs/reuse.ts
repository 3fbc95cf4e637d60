// Reuse certificates already on disk when they still fit, so that repeated runs of
// `serve --dev` or `nicguard certs` do not change the CA bundle the webhooks trust.
// A CA found on disk is never replaced here unless asked (rotateCa): every caBundle that
// trusts it would stop working. A serving certificate that no longer fits is re-issued
// by the same CA, which keeps those bundles valid.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  CERT_FILES,
  certPaths,
  generateCertificates,
  issueServingCertificate,
  prepareCertDir,
  writeCertificates,
  type CaPair,
  type CertBundle,
  type CertOptions,
  type CertPaths,
} from './generate.js';

export interface EnsuredCertificates {
  bundle: CertBundle;
  paths: CertPaths;
  /** True when a new serving certificate was made and written; false when the files were reused. */
  created: boolean;
  /** True when the CA is new too (no CA on disk, or rotateCa). */
  caCreated: boolean;
  /** Why the serving certificate on disk was not reused (absent when reused or when there was none). */
  replacedBecause?: string;
}

export interface EnsureOptions {
  /** Issue a new serving certificate even when the one on disk fits (the CA is kept). */
  force?: boolean;
  /** Make a new CA too, replacing the one on disk. */
  rotateCa?: boolean;
}

// A certificate that expires within this window is renewed rather than reused.
const RENEW_BEFORE_MS = 7 * 24 * 60 * 60 * 1000;

/** Reads whichever of the four files exist in dir. */
function readCertificateFiles(dir: string): Partial<CertBundle> {
  const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : undefined);
  return {
    caCert: read(CERT_FILES.ca),
    caKey: read(CERT_FILES.caKey),
    cert: read(CERT_FILES.cert),
    key: read(CERT_FILES.key),
  };
}

/** Reads the four files from dir; undefined when any is missing. */
export function readCertificates(dir: string): CertBundle | undefined {
  const { caCert, caKey, cert, key } = readCertificateFiles(dir);
  return caCert && caKey && cert && key ? { caCert, caKey, cert, key } : undefined;
}

/** One spelling per address: OpenSSL prints IPv6 SANs fully expanded and upper-case. */
function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

function expiresSoon(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validTo) - RENEW_BEFORE_MS < now;
}

/** Why this CA pair cannot sign new serving certificates, or undefined when it can. */
export function caUnfitReason(pair: Partial<CaPair>, now = Date.now()): string | undefined {
  if (!pair.caCert) return `${CERT_FILES.ca} is missing`;
  if (!pair.caKey) return `${CERT_FILES.caKey} is missing`;
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(pair.caCert);
  } catch (err) {
    return `ca.crt is not valid PEM (${(err as Error).message})`;
  }
  if (!ca.ca) return 'ca.crt is not a CA certificate';
  try {
    if (!ca.checkPrivateKey(createPrivateKey(pair.caKey))) return 'ca.key does not match ca.crt';
  } catch (err) {
    return `ca.key is not a valid private key (${(err as Error).message})`;
  }
  if (expiresSoon(ca, now)) return `ca.crt expires soon or has expired (${ca.validTo})`;
  return undefined;
}

/** Why the bundle does not serve these options, or undefined when it does. */
export function unfitReason(bundle: CertBundle, opts: CertOptions, now = Date.now()): string | undefined {
  let ca: X509Certificate, leaf: X509Certificate;
  try {
    ca = new X509Certificate(bundle.caCert);
    leaf = new X509Certificate(bundle.cert);
  } catch (err) {
    return `a certificate file is not valid PEM (${(err as Error).message})`;
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'tls.crt is not signed by ca.crt';
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(bundle.key))) return 'tls.key does not match tls.crt';
  } catch (err) {
    return `tls.key is not a valid private key (${(err as Error).message})`;
  }
  for (const c of [ca, leaf]) {
    if (expiresSoon(c, now)) return `a certificate expires soon or has expired (${c.validTo})`;
  }
  const missing = namesNotCovered(leaf, opts);
  if (missing.length > 0) return `tls.crt does not cover ${missing.join(', ')}`;
  return undefined;
}

/** The DNS names and IPs of opts that the serving certificate does not cover (`DNS:x`, `IP Address:y`). */
function namesNotCovered(leaf: X509Certificate, opts: CertOptions): string[] {
  const sans = (leaf.subjectAltName ?? '')
    .split(', ')
    .map((s) => (s.startsWith('IP Address:') ? `IP Address:${canonicalIp(s.slice(11))}` : s));
  return [
    ...opts.dnsNames.map((n) => `DNS:${n}`),
    ...(opts.ips ?? []).map((ip) => `IP Address:${canonicalIp(ip)}`),
  ].filter((want) => !sans.includes(want));
}

/** Whether the bundle's serving certificate is for other names than opts asks for (unreadable: false). */
export function coversOtherNames(bundle: CertBundle, opts: CertOptions): boolean {
  try {
    return namesNotCovered(new X509Certificate(bundle.cert), opts).length > 0;
  } catch {
    return false;
  }
}

/**
 * Reuses the certificates in dir when they fit opts; re-issues the serving certificate with
 * the CA on disk when it does not (or force); makes a new CA only when there is none or
 * rotateCa is set. Throws, before generating anything, when dir is not writable or its CA
 * cannot sign (expiring, key missing or mismatched) and rotateCa is not set.
 */
export function ensureCertificates(
  dir: string,
  opts: CertOptions,
  { force = false, rotateCa = false }: EnsureOptions = {},
): EnsuredCertificates {
  prepareCertDir(dir);
  const found = readCertificateFiles(dir);
  const hasCa = found.caCert !== undefined || found.caKey !== undefined;
  if (!hasCa || rotateCa) {
    const bundle = generateCertificates(opts);
    return { bundle, paths: writeCertificates(dir, bundle), created: true, caCreated: true };
  }
  const caProblem = caUnfitReason(found);
  if (caProblem) {
    throw new Error(
      `${dir} holds a CA that cannot sign a new certificate (${caProblem}); it is not replaced without ` +
        '--rotate-ca, because every caBundle that trusts it would break',
    );
  }
  const ca: CaPair = { caCert: found.caCert!, caKey: found.caKey! };
  const current = readCertificates(dir);
  const reason = current ? unfitReason(current, opts) : `${CERT_FILES.cert} or ${CERT_FILES.key} is missing`;
  if (current && !reason && !force) return { bundle: current, paths: certPaths(dir), created: false, caCreated: false };
  const bundle = issueServingCertificate(ca, opts);
  return {
    bundle,
    paths: writeCertificates(dir, bundle),
    created: true,
    caCreated: false,
    replacedBecause: force && !reason ? 'forced' : reason,
  };
}

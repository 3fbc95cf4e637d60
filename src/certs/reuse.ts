// Reuse certificates already on disk when they still fit, so that repeated runs of
// `serve --dev` or `nicguard certs` do not change the CA bundle the webhooks trust.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { CERT_FILES, generateCertificates, writeCertificates, type CertBundle, type CertOptions, type CertPaths } from './generate.js';

export interface EnsuredCertificates {
  bundle: CertBundle;
  paths: CertPaths;
  /** True when new certificates were made and written; false when the files were reused. */
  created: boolean;
  /** Why existing files were not reused (absent when reused or when there were none). */
  replacedBecause?: string;
}

// A certificate that expires within this window is renewed rather than reused.
const RENEW_BEFORE_MS = 7 * 24 * 60 * 60 * 1000;

/** Reads the four files from dir; undefined when any is missing. */
export function readCertificates(dir: string): CertBundle | undefined {
  const files = [CERT_FILES.ca, CERT_FILES.caKey, CERT_FILES.cert, CERT_FILES.key].map((f) => join(dir, f));
  if (!files.every((f) => existsSync(f))) return undefined;
  const [caCert, caKey, cert, key] = files.map((f) => readFileSync(f, 'utf8'));
  return { caCert, caKey, cert, key };
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
    if (Date.parse(c.validTo) - RENEW_BEFORE_MS < now) return `a certificate expires soon or has expired (${c.validTo})`;
  }
  const sans = (leaf.subjectAltName ?? '').split(', ').map((s) => (s.startsWith('IP Address:') ? `IP Address:${canonicalIp(s.slice(11))}` : s));
  const missing = [...opts.dnsNames.map((n) => `DNS:${n}`), ...(opts.ips ?? []).map((ip) => `IP Address:${canonicalIp(ip)}`)].filter(
    (want) => !sans.includes(want),
  );
  if (missing.length > 0) return `tls.crt does not cover ${missing.join(', ')}`;
  return undefined;
}

/** Reuses the certificates in dir when they fit opts (and force is not set); otherwise makes and writes new ones. */
export function ensureCertificates(dir: string, opts: CertOptions, { force = false } = {}): EnsuredCertificates {
  const existing = force ? undefined : readCertificates(dir);
  const reason = existing ? unfitReason(existing, opts) : undefined;
  if (existing && !reason) {
    const paths = {
      caPath: join(dir, CERT_FILES.ca),
      caKeyPath: join(dir, CERT_FILES.caKey),
      certPath: join(dir, CERT_FILES.cert),
      keyPath: join(dir, CERT_FILES.key),
    };
    return { bundle: existing, paths, created: false };
  }
  const bundle = generateCertificates(opts);
  return { bundle, paths: writeCertificates(dir, bundle), created: true, ...(reason ? { replacedBecause: reason } : {}) };
}

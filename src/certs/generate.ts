// A private CA and a serving certificate for the webhook. Keys come from node's native
// RSA generator (milliseconds, where forge's pure-JS one takes seconds); node-forge only
// assembles and signs the X.509 structures, which node's crypto cannot do.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import forge from 'node-forge';

export interface CertBundle {
  /** PEM */
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface CertOptions {
  commonName: string;
  dnsNames: string[];
  ips?: string[];
  /** Validity in days (default 365). */
  days?: number;
}

export interface CertPaths {
  caPath: string;
  caKeyPath: string;
  certPath: string;
  keyPath: string;
}

export const CERT_FILES = { ca: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

/** The DNS names the API server may use to reach a Service: short, namespaced and FQDN. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

// Tolerates small clock differences between the machine that signs and the API server.
const BACKDATE_MS = 5 * 60 * 1000;

function newKeyPair(): {
  privatePem: string;
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
} {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    privatePem: privateKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
  };
}

/**
 * A positive, random serial number of 16 bytes in DER's minimal form: the top bit cleared so
 * the INTEGER stays positive, and the first byte never 0. forge drops one leading 0 byte, not
 * two: a serial of 00 00 and a byte under 0x80 kept a padding byte, which OpenSSL ("illegal
 * padding") and Go's x509 parser refuse (golang.org/x/crypto/cryptobyte asn1.go
 * checkASN1Integer, vendored in Go's standard library): one certificate in 65,536 unreadable,
 * seen once in a test run.
 */
export function randomSerial(bytes: Buffer = randomBytes(16)): string {
  bytes[0] &= 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + days * 24 * 60 * 60 * 1000);
}

function checkOptions(opts: CertOptions): { days: number; dnsNames: string[]; ips: string[] } {
  const days = opts.days ?? 365;
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`certificate validity must be a whole number of days >= 1, got ${String(opts.days)}`);
  if (!opts.commonName) throw new Error('certificate commonName must not be empty');
  const ips = opts.ips ?? [];
  for (const ip of ips) if (!isIP(ip)) throw new Error(`not an IP address: "${ip}"`);
  const dnsNames = opts.dnsNames.filter((n) => n.length > 0);
  if (dnsNames.length === 0 && ips.length === 0)
    throw new Error('a serving certificate needs at least one DNS name or IP address');
  return { days, dnsNames, ips };
}

/** A CA certificate and its private key (PEM). */
export type CaPair = Pick<CertBundle, 'caCert' | 'caKey'>;

/** Makes a fresh private CA (self-signed, may sign leaf certificates only). */
export function generateCa(opts: CertOptions): CaPair {
  const { days } = checkOptions(opts);
  const caKeys = newKeyPair();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = randomSerial();
  validity(ca, days);
  const caSubject = [
    { name: 'commonName', value: `${opts.commonName} CA` },
    { name: 'organizationName', value: 'nicguard' },
  ];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  return { caCert: toPem(ca), caKey: caKeys.privatePem };
}

/** Reads a CA pair as forge objects; throws a message naming the file that is unusable. */
function loadCa(pair: CaPair): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  let cert: forge.pki.Certificate;
  try {
    cert = forge.pki.certificateFromPem(pair.caCert);
  } catch (err) {
    throw new Error(`ca.crt cannot be used to sign (${(err as Error).message})`, { cause: err });
  }
  try {
    return { cert, key: forge.pki.privateKeyFromPem(pair.caKey) as forge.pki.rsa.PrivateKey };
  } catch (err) {
    throw new Error(`ca.key cannot be used to sign (${(err as Error).message})`, { cause: err });
  }
}

/** Issues a serving certificate (serverAuth) for opts, signed by the given CA. */
export function issueServingCertificate(caPair: CaPair, opts: CertOptions): CertBundle {
  const { days, dnsNames, ips } = checkOptions(opts);
  const ca = loadCa(caPair);
  const leafKeys = newKeyPair();
  const leaf = forge.pki.createCertificate();
  leaf.publicKey = leafKeys.publicKey;
  leaf.serialNumber = randomSerial();
  validity(leaf, days);
  // Never outlive the CA: a chain is only valid while every certificate in it is.
  if (leaf.validity.notAfter > ca.cert.validity.notAfter) leaf.validity.notAfter = ca.cert.validity.notAfter;
  leaf.setSubject([
    { name: 'commonName', value: opts.commonName },
    { name: 'organizationName', value: 'nicguard' },
  ]);
  leaf.setIssuer(ca.cert.subject.attributes);
  leaf.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
    {
      name: 'subjectAltName',
      altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
    },
  ]);
  leaf.sign(ca.key, forge.md.sha256.create());
  return { ...caPair, cert: toPem(leaf), key: leafKeys.privatePem };
}

/** Makes a fresh CA and a serving certificate (serverAuth) signed by it. */
export function generateCertificates(opts: CertOptions): CertBundle {
  return issueServingCertificate(generateCa(opts), opts);
}

/** forge writes CRLF line ends; node and most tools write LF, and a caBundle should not change with the tool. */
function toPem(cert: forge.pki.Certificate): string {
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

function writePrivate(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
  // The mode above only applies when the file is created; an existing file keeps its own.
  chmodSync(path, 0o600);
}

/** The four file paths in dir. */
export function certPaths(dir: string): CertPaths {
  return {
    caPath: join(dir, CERT_FILES.ca),
    caKeyPath: join(dir, CERT_FILES.caKey),
    certPath: join(dir, CERT_FILES.cert),
    keyPath: join(dir, CERT_FILES.key),
  };
}

/**
 * Creates dir (and missing parents) one level at a time and checks it is writable; throws a
 * one-line message otherwise. Not mkdirSync's recursive mode: under /proc it gets ENOENT for
 * every level and retries forever instead of failing (node v20).
 */
export function prepareCertDir(dir: string): void {
  const missing: string[] = [];
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) {
    missing.unshift(existing);
    existing = dirname(existing);
  }
  const fail = (err: unknown): never => {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`cannot write certificates to ${dir}: ${why}`);
  };
  try {
    if (!statSync(existing).isDirectory()) throw new Error(`${existing} is not a folder`);
    for (const level of missing) mkdirSync(level);
    accessSync(resolve(dir), constants.W_OK);
  } catch (err) {
    fail(err);
  }
}

/** Writes ca.crt, ca.key, tls.crt, tls.key into dir (created if missing; keys mode 0600). */
export function writeCertificates(dir: string, bundle: CertBundle): CertPaths {
  prepareCertDir(dir);
  const paths = certPaths(dir);
  writePrivate(paths.caKeyPath, bundle.caKey);
  writePrivate(paths.keyPath, bundle.key);
  writeFileSync(paths.caPath, bundle.caCert, { mode: 0o644 });
  writeFileSync(paths.certPath, bundle.cert, { mode: 0o644 });
  return paths;
}

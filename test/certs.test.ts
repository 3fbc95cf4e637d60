import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import forge from 'node-forge';
import { parseAllDocuments } from 'yaml';
import {
  generateCa,
  generateCertificates,
  issueServingCertificate,
  randomSerial,
  serviceDnsNames,
  writeCertificates,
} from '../src/certs/generate.js';
import { NICGUARD_WEBHOOK_CONFIGURATIONS } from '../src/certs/patch-webhooks.js';
import { caUnfitReason, ensureCertificates, unfitReason } from '../src/certs/reuse.js';
import { ROOT } from './support.js';

const DNS = serviceDnsNames('nicguard', 'nicguard-system');
const bundle = generateCertificates({
  commonName: 'nicguard.nicguard-system.svc',
  dnsNames: [...DNS, 'localhost'],
  ips: ['127.0.0.1', '::1'],
  days: 30,
});
// Another CA and certificate, for "signed by someone else" checks (RSA key generation is the slow part).
const foreign = generateCertificates({ commonName: 'x', dnsNames: ['x'] });

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'nicguard-certs-'));
}

test('serviceDnsNames lists the short, namespaced, svc and cluster.local names', () => {
  assert.deepEqual(serviceDnsNames('nicguard', 'ns1'), [
    'nicguard',
    'nicguard.ns1',
    'nicguard.ns1.svc',
    'nicguard.ns1.svc.cluster.local',
  ]);
});

test('the serving certificate carries every DNS name and IP as SANs, and serverAuth', () => {
  const leaf = new X509Certificate(bundle.cert);
  const sans = leaf.subjectAltName!.split(', ');
  for (const n of [...DNS, 'localhost'])
    assert.ok(sans.includes(`DNS:${n}`), `missing DNS:${n} in ${leaf.subjectAltName}`);
  assert.ok(sans.includes('IP Address:127.0.0.1'), leaf.subjectAltName);
  assert.equal(sans.filter((s) => s.startsWith('IP Address:')).length, 2);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(leaf.ca, false);
  assert.match(leaf.subject, /CN=nicguard\.nicguard-system\.svc/);
});

test('the CA is a CA, self-issued, and issued the serving certificate', () => {
  const ca = new X509Certificate(bundle.caCert);
  const leaf = new X509Certificate(bundle.cert);
  assert.equal(ca.ca, true);
  assert.ok(ca.checkIssued(ca), 'CA is self-issued');
  assert.ok(ca.verify(ca.publicKey), 'CA is self-signed');
  assert.ok(leaf.checkIssued(ca));
  assert.ok(leaf.verify(ca.publicKey));
  assert.equal(leaf.issuer, ca.subject);
  assert.ok(leaf.checkPrivateKey(createPrivateKey(bundle.key)));
  assert.ok(ca.checkPrivateKey(createPrivateKey(bundle.caKey)));
  // A certificate from another run is not signed by this CA.
  assert.equal(new X509Certificate(foreign.cert).verify(ca.publicKey), false);
});

test('validity starts slightly in the past and lasts the requested days', () => {
  const leaf = new X509Certificate(bundle.cert);
  const from = Date.parse(leaf.validFrom);
  const to = Date.parse(leaf.validTo);
  assert.ok(from <= Date.now(), 'already valid');
  assert.ok(Date.now() - from < 10 * 60 * 1000, 'not backdated by more than minutes');
  const days = (to - Date.now()) / 86_400_000;
  assert.ok(days > 29.9 && days <= 30, `validity ${days} days`);
});

test('bad options are refused with a message naming the problem', () => {
  assert.throws(() => generateCertificates({ commonName: 'a', dnsNames: ['a'], days: 0 }), /whole number of days/);
  assert.throws(
    () => generateCertificates({ commonName: 'a', dnsNames: ['a'], ips: ['300.1.1.1'] }),
    /not an IP address: "300.1.1.1"/,
  );
  assert.throws(() => generateCertificates({ commonName: 'a', dnsNames: [] }), /at least one DNS name or IP/);
});

test('writeCertificates creates the folder, keys mode 0600, certificates readable', () => {
  const dir = join(tmp(), 'nested', 'certs');
  try {
    const paths = writeCertificates(dir, bundle);
    assert.equal(statSync(paths.keyPath).mode & 0o777, 0o600);
    assert.equal(statSync(paths.caKeyPath).mode & 0o777, 0o600);
    assert.equal(statSync(paths.certPath).mode & 0o077, 0o044);
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), bundle.caCert);
    assert.equal(readFileSync(join(dir, 'tls.crt'), 'utf8'), bundle.cert);
    assert.equal(readFileSync(join(dir, 'tls.key'), 'utf8'), bundle.key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a client trusting only the CA completes a TLS handshake by DNS name and by IP', async () => {
  const server = createServer({ cert: bundle.cert, key: bundle.key }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const get = (servername: string | undefined, ca: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', ca, servername, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    assert.equal(await get('nicguard.nicguard-system.svc', bundle.caCert), 'ok');
    assert.equal(await get(undefined, bundle.caCert), 'ok'); // verified against IP SAN 127.0.0.1
    await assert.rejects(get('evil.example.com', bundle.caCert), /altnames|ERR_TLS_CERT_ALTNAME_INVALID/);
    await assert.rejects(
      get('nicguard.nicguard-system.svc', foreign.caCert),
      /self[- ]signed|unable to verify|UNABLE_TO_VERIFY/i,
    );
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('ensureCertificates reuses fitting files and replaces unfit ones', () => {
  const dir = tmp();
  try {
    const opts = { commonName: 'svc', dnsNames: ['svc', 'svc.ns'], ips: ['127.0.0.1', '::1'] };
    const first = ensureCertificates(dir, opts);
    assert.equal(first.created, true);
    const again = ensureCertificates(dir, opts);
    assert.equal(again.created, false);
    assert.equal(again.bundle.caCert, first.bundle.caCert);
    // The same IPv6 address spelled differently is still covered.
    assert.equal(ensureCertificates(dir, { ...opts, ips: ['127.0.0.1', '0:0::0001'] }).created, false);

    const wider = ensureCertificates(dir, { ...opts, dnsNames: [...opts.dnsNames, 'svc.ns.svc'] });
    assert.equal(wider.created, true);
    assert.match(wider.replacedBecause ?? '', /does not cover DNS:svc\.ns\.svc/);

    assert.equal(wider.caCreated, false);
    assert.equal(wider.bundle.caCert, first.bundle.caCert, 'a new serving certificate, signed by the CA already there');
    assert.ok(new X509Certificate(wider.bundle.cert).verify(new X509Certificate(first.bundle.caCert).publicKey));

    const forced = ensureCertificates(dir, { ...opts, dnsNames: [...opts.dnsNames, 'svc.ns.svc'] }, { force: true });
    assert.equal(forced.created, true);
    assert.equal(forced.replacedBecause, 'forced');
    assert.equal(forced.bundle.caCert, wider.bundle.caCert, '--force keeps the CA');
    assert.notEqual(forced.bundle.cert, wider.bundle.cert);

    const rotated = ensureCertificates(dir, opts, { rotateCa: true });
    assert.equal(rotated.caCreated, true);
    assert.notEqual(rotated.bundle.caCert, forced.bundle.caCert);

    writeFileSync(join(dir, 'tls.key'), bundle.key); // a key that belongs to another certificate
    assert.match(unfitReason({ ...rotated.bundle, key: bundle.key }, opts) ?? '', /tls\.key does not match/);
    const rekeyed = ensureCertificates(dir, opts);
    assert.equal(rekeyed.created, true);
    assert.equal(rekeyed.bundle.caCert, rotated.bundle.caCert);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ensureCertificates never replaces a CA it cannot use unless told to rotate it', () => {
  const dir = tmp();
  try {
    const opts = { commonName: 'svc', dnsNames: ['svc'] };
    writeCertificates(dir, generateCertificates({ ...opts, days: 3 }));
    const refused = /holds a CA that cannot sign a new certificate \(ca\.crt expires soon.*--rotate-ca/;
    assert.throws(() => ensureCertificates(dir, opts), refused);
    assert.throws(() => ensureCertificates(dir, opts, { force: true }), /--rotate-ca/);
    assert.equal(ensureCertificates(dir, opts, { rotateCa: true }).caCreated, true);

    rmSync(join(dir, 'ca.key'));
    assert.throws(() => ensureCertificates(dir, opts), /\(ca\.key is missing\)/);
    writeFileSync(join(dir, 'ca.key'), foreign.caKey);
    assert.throws(() => ensureCertificates(dir, opts), /\(ca\.key does not match ca\.crt\)/);
    assert.equal(caUnfitReason({ caCert: bundle.cert, caKey: bundle.key }), 'ca.crt is not a CA certificate');
    assert.equal(caUnfitReason(bundle), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a serving certificate issued by an existing CA never outlives it', () => {
  const ca = generateCa({ commonName: 'svc', dnsNames: ['svc'], days: 10 });
  const leaf = issueServingCertificate(ca, { commonName: 'svc', dnsNames: ['svc'], days: 365 });
  assert.equal(new X509Certificate(leaf.cert).validTo, new X509Certificate(ca.caCert).validTo);
  assert.ok(new X509Certificate(leaf.cert).verify(new X509Certificate(ca.caCert).publicKey));
});

test('serial numbers are positive 16-byte DER integers with no padding, whatever the random bytes', () => {
  // Bytes 00 00 11 (or 80 00 11, 00 once the sign bit is cleared): forge dropped one 0 and the
  // certificate kept a padded INTEGER that OpenSSL refuses ("illegal padding").
  for (const first of [0x00, 0x80, 0x01, 0x7f, 0xff]) {
    const serial = Buffer.from(randomSerial(Buffer.from([first, 0x00, ...Array<number>(14).fill(0x11)])), 'hex');
    assert.equal(serial.length, 16);
    assert.ok(serial[0] >= 0x01 && serial[0] <= 0x7f, `first byte ${serial[0]} from ${first}`);
  }
  // And through forge into a certificate that OpenSSL reads, as `nicguard certs` makes them.
  const keys = forge.pki.rsa.generateKeyPair(512);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial(Buffer.from([0x80, 0x00, ...Array<number>(14).fill(0x11)]));
  cert.setSubject([{ name: 'commonName', value: 'x' }]);
  cert.setIssuer([{ name: 'commonName', value: 'x' }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  assert.equal(new X509Certificate(forge.pki.certificateToPem(cert)).serialNumber, '0100' + '11'.repeat(14));
});

test('unfitReason spots a certificate close to expiry and a foreign signer', () => {
  const opts = { commonName: 'svc', dnsNames: ['svc'] };
  const short = generateCertificates({ ...opts, days: 3 });
  assert.match(unfitReason(short, opts) ?? '', /expires soon/);
  assert.match(
    unfitReason({ ...bundle, caCert: foreign.caCert }, { commonName: 'x', dnsNames: DNS }) ?? '',
    /not signed by ca\.crt/,
  );
  assert.equal(unfitReason(bundle, { commonName: 'x', dnsNames: DNS, ips: ['::1'] }), undefined);
});

// ---- the `nicguard certs` command, run as a user would ----
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function nicguard(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return nicguardIn(ROOT, ...args);
}

function nicguardIn(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const WEBHOOKS_YAML = `# rendered webhooks
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: nicguard
webhooks:
  - name: validate.nicguard.io # keep this comment
    clientConfig:
      service: { name: nicguard, namespace: nicguard-system, path: /validate }
  - name: second.nicguard.io
    clientConfig:
      service: { name: nicguard, namespace: nicguard-system, path: /validate }
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
data: { a: b }
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: nicguard
webhooks:
  - name: mutate.nicguard.io
    clientConfig:
      caBundle: b2xk
      service: { name: nicguard, namespace: nicguard-system, path: /mutate }
`;

test('nicguard certs writes the files, prints only the CA bundle, and patches webhook files', () => {
  const dir = tmp();
  try {
    const hooks = join(dir, 'webhooks.yaml');
    writeFileSync(hooks, WEBHOOKS_YAML);
    const out = join(dir, 'certs');
    const r = nicguard(
      'certs',
      '--service',
      'guard',
      '--namespace',
      'sec',
      '--out',
      out,
      '--ip',
      '10.0.0.5',
      '--dns',
      'localhost',
      '--days',
      '90',
      '--patch-webhooks',
      hooks,
    );
    assert.equal(r.status, 0, r.stderr);
    const caPem = readFileSync(join(out, 'ca.crt'), 'utf8');
    assert.equal(r.stdout, `${Buffer.from(caPem).toString('base64')}\n`);
    assert.equal(statSync(join(out, 'tls.key')).mode & 0o777, 0o600);
    const leaf = new X509Certificate(readFileSync(join(out, 'tls.crt')));
    for (const n of serviceDnsNames('guard', 'sec'))
      assert.ok(leaf.subjectAltName!.includes(`DNS:${n}`), leaf.subjectAltName);
    assert.ok(leaf.subjectAltName!.includes('DNS:localhost'));
    assert.ok(leaf.subjectAltName!.includes('IP Address:10.0.0.5'));
    assert.ok(leaf.checkIssued(new X509Certificate(caPem)));

    const docs = parseAllDocuments(readFileSync(hooks, 'utf8')).map((d) => d.toJS());
    const bundle = r.stdout.trim();
    assert.deepEqual(
      docs[0].webhooks.map((w: { clientConfig: { caBundle: string } }) => w.clientConfig.caBundle),
      [bundle, bundle],
    );
    assert.equal(docs[2].webhooks[0].clientConfig.caBundle, bundle);
    assert.deepEqual(docs[1], {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'unrelated' },
      data: { a: 'b' },
    });
    assert.match(readFileSync(hooks, 'utf8'), /# keep this comment/);
    assert.match(
      r.stderr,
      /set caBundle in .*webhooks\.yaml: ValidatingWebhookConfiguration\/nicguard: validate\.nicguard\.io/,
    );

    // A second run reuses the CA, so the bundle already in the webhooks stays valid.
    const again = nicguard(
      'certs',
      '--service',
      'guard',
      '--namespace',
      'sec',
      '--out',
      out,
      '--ip',
      '10.0.0.5',
      '--dns',
      'localhost',
    );
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, r.stdout);
    assert.match(again.stderr, /reused/);
    // Another Service name: a new serving certificate from the same CA, so the caBundle holds.
    const renamed = nicguard('certs', '--service', 'other', '--namespace', 'sec', '--out', out);
    assert.equal(renamed.status, 0, renamed.stderr);
    assert.equal(renamed.stdout, r.stdout, 'same CA bundle');
    assert.match(renamed.stderr, /new serving certificate signed by the existing CA .*does not cover DNS:other/);
    assert.ok(new X509Certificate(readFileSync(join(out, 'tls.crt'))).subjectAltName!.includes('DNS:other.sec.svc'));
    const forced = nicguard('certs', '--service', 'guard', '--namespace', 'sec', '--out', out, '--force');
    assert.equal(forced.stdout, r.stdout, '--force keeps the CA');
    const rotated = nicguard('certs', '--service', 'guard', '--namespace', 'sec', '--out', out, '--rotate-ca');
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.notEqual(rotated.stdout, r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nicguard certs refuses bad input with exit 2, a clear message, and no file changed', () => {
  const dir = tmp();
  try {
    const r = nicguard('certs', '--out', join(dir, 'a'), '--ip', 'not-an-ip');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not an IP address: "not-an-ip"/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/); // no stack trace

    const days = nicguard('certs', '--out', join(dir, 'a'), '--days', 'soon');
    assert.equal(days.status, 2);
    assert.match(days.stderr, /whole number of days/);

    const good = join(dir, 'good.yaml');
    const plain = join(dir, 'plain.yaml');
    writeFileSync(good, WEBHOOKS_YAML);
    writeFileSync(plain, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    const none = nicguard('certs', '--out', join(dir, 'b'), '--patch-webhooks', good, plain);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /plain\.yaml holds no ValidatingWebhookConfiguration/);
    assert.equal(readFileSync(good, 'utf8'), WEBHOOKS_YAML, 'nothing written when one file is bad');
    assert.equal(none.stdout, '');
    assert.equal(existsSync(join(dir, 'b')), false, 'no certificates made for a command that cannot finish');

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'kind: ValidatingWebhookConfiguration\nwebhooks: [\n');
    const bad = nicguard('certs', '--out', join(dir, 'b'), '--patch-webhooks', broken);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /broken\.yaml: document 1 is not valid YAML/);

    const missing = nicguard('certs', '--out', join(dir, 'b'), '--patch-webhooks', join(dir, 'nope.yaml'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*nope\.yaml: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nicguard certs fails fast with exit 2 and one line on an --out it cannot write', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    for (const [out, why] of [
      ['/proc/nope', 'ENOENT'],
      [join(file, 'sub'), `${file} is not a folder`],
    ]) {
      const r = nicguard('certs', '--out', out);
      assert.equal(r.status, 2, `${out}: ${r.stderr}`);
      assert.equal(r.stderr, `nicguard certs: cannot write certificates to ${out}: ${why}\n`);
      assert.equal(r.stdout, '');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nicguard certs refuses to replace an expiring CA without --rotate-ca, and says so in one line', () => {
  const dir = tmp();
  try {
    const expiring = generateCertificates({ commonName: 'nicguard.nicguard-system.svc', dnsNames: DNS, days: 2 });
    writeCertificates(dir, expiring);
    const caBefore = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const r = nicguard('certs', '--out', dir);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^nicguard certs: .* holds a CA that cannot sign a new certificate \(ca\.crt expires soon.*--rotate-ca/,
    );
    assert.equal(r.stderr.split('\n').length, 2, 'one line');
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), caBefore, 'CA untouched');
    const rotated = nicguard('certs', '--out', dir, '--rotate-ca');
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.notEqual(readFileSync(join(dir, 'ca.crt'), 'utf8'), caBefore);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('certs --print-secret prints a TLS Secret and caBundle patches for both webhooks, and writes no file', () => {
  const dir = tmp();
  try {
    const r = nicguardIn(dir, 'certs', '--print-secret', '--namespace', 'sec', '--secret-name', 'guard-tls');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(dir), [], 'nothing written to the working folder');
    const [secret, ...patches] = parseAllDocuments(r.stdout).map((d) => {
      assert.equal(d.errors.length, 0);
      return d.toJS();
    });
    assert.deepEqual(
      [secret.kind, secret.type, secret.metadata.name, secret.metadata.namespace],
      ['Secret', 'kubernetes.io/tls', 'guard-tls', 'sec'],
    );
    const pem = (k: string) => Buffer.from(secret.data[k], 'base64').toString('utf8');
    const ca = new X509Certificate(pem('ca.crt'));
    const leaf = new X509Certificate(pem('tls.crt'));
    assert.ok(leaf.verify(ca.publicKey), 'tls.crt is signed by ca.crt');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(pem('tls.key'))));
    assert.ok(leaf.subjectAltName!.includes('DNS:nicguard.sec.svc'));
    assert.doesNotMatch(r.stdout, /ca\.key/, 'the CA key is not printed');

    // The patches name the shipped configurations and webhooks, each with the Secret's CA.
    const baseText = readFileSync(join(ROOT, 'manifests', 'base', 'webhooks.yaml'), 'utf8');
    const base = parseAllDocuments(baseText).map((d) => d.toJS());
    assert.deepEqual(
      patches.map((p) => [p.kind, p.metadata.name, p.webhooks.map((w: { name: string }) => w.name)]),
      base.map((b) => [b.kind, b.metadata.name, b.webhooks.map((w: { name: string }) => w.name)]),
    );
    assert.equal(NICGUARD_WEBHOOK_CONFIGURATIONS.length, base.length);
    for (const p of patches) for (const w of p.webhooks) assert.equal(w.clientConfig.caBundle, secret.data['ca.crt']);

    // With --out the pair is kept there and reused by the next run.
    const out = join(dir, 'keep');
    const first = nicguardIn(dir, 'certs', '--print-secret', '--out', out);
    const second = nicguardIn(dir, 'certs', '--print-secret', '--out', out);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(readdirSync(out).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PEM files use LF line ends only', () => {
  for (const pem of Object.values(bundle)) {
    assert.doesNotMatch(pem, /\r/);
    assert.match(pem, /^-----BEGIN [A-Z ]+-----\n[\s\S]+\n-----END [A-Z ]+-----\n$/);
  }
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { generateCertificates, type CertBundle } from '../src/certs/generate.js';
import { createApp, createWebhook } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import { WebhookMetrics } from '../src/server/metrics.js';
import {
  API_SERVER_IDLE_TIMEOUT_MS,
  CertificateError,
  createTlsServer,
  loadCertificatePair,
  type WebhookTlsServer,
} from '../src/server/tls.js';
import { config, seedCluster, update } from './support.js';
import { fedora, fedoraWithBridge } from './hotplug-fixtures.js';
import { LogCapture, admissionReview, waitFor } from './server-support.js';

const makeBundle = (): CertBundle =>
  generateCertificates({ commonName: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'], days: 2 });
// RSA key generation takes a while on a small machine: three pairs, shared by every test.
const BUNDLES: CertBundle[] = [];
const bundle = (i: number): CertBundle => (BUNDLES[i] ??= makeBundle());
const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

interface Reply {
  status: number;
  body: any;
  fingerprint: string;
  reusedSocket: boolean;
  protocol: string | null;
}

function call(port: number, agent: Agent, path: string, ca: string[], body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: data ? 'POST' : 'GET',
        agent,
        ca,
        servername: 'localhost',
        headers: data ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text),
            fingerprint: socket.getPeerCertificate().fingerprint256,
            reusedSocket: req.reusedSocket,
            protocol: socket.getProtocol(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Handshake only: resolves with the negotiated protocol, rejects when the server refuses. */
function handshake(
  port: number,
  opts: { maxVersion: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; ca: string[] },
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      // SECLEVEL=0 lets this client offer TLS 1.1 at all; the server alone decides.
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: opts.ca,
        minVersion: 'TLSv1.1',
        maxVersion: opts.maxVersion,
        ciphers: 'DEFAULT@SECLEVEL=0',
      },
      () => {
        const protocol = socket.getProtocol();
        socket.end();
        resolve(protocol);
      },
    );
    socket.on('error', reject);
  });
}

function listen(server: {
  listen: (port: number, host: string, cb: () => void) => unknown;
  address: () => unknown;
}): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('TLS server', () => {
  let dir: string;
  let certFile: string;
  let keyFile: string;
  let first: CertBundle;
  let second: CertBundle;
  let tls: WebhookTlsServer;
  let port: number;
  let logs: LogCapture;
  let metrics: WebhookMetrics;

  const writePair = (b: Pick<CertBundle, 'cert' | 'key'>) => {
    writeFileSync(certFile, b.cert);
    writeFileSync(keyFile, b.key);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nicguard-tls-'));
    certFile = join(dir, 'tls.crt');
    keyFile = join(dir, 'tls.key');
    first = bundle(0);
    second = bundle(1);
    writePair(first);
    logs = new LogCapture();
    metrics = new WebhookMetrics({ defaultMetrics: false });
    const logger = createLogger('info', logs);
    const cluster = seedCluster();
    const { listener } = createWebhook({ getClusterView: () => cluster, getConfig: () => config(), logger, metrics });
    tls = createTlsServer({
      certFile,
      keyFile,
      app: listener,
      logger,
      metrics,
      watch: { debounceMs: 50, pollIntervalMs: 200 },
    });
    port = await listen(tls.server);
  });

  after(() => {
    tls.stopWatching();
    tls.server.closeAllConnections();
    tls.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves admission reviews over HTTPS with TLS 1.2 or newer', async () => {
    const agent = new Agent({ keepAlive: false });
    const review = admissionReview(update(fedora(), fedoraWithBridge()));
    const reply = await call(port, agent, '/validate', [first.caCert], review);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.response, { uid: review.request.uid, allowed: true });
    assert.match(reply.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(tls.certificatesLoaded(), true);
    assert.equal(await handshake(port, { maxVersion: 'TLSv1.2', ca: [first.caCert] }), 'TLSv1.2');
  });

  it('keeps idle connections open longer than the API server does, so it is always the one to close them', () => {
    assert.ok(tls.server.keepAliveTimeout > API_SERVER_IDLE_TIMEOUT_MS);
  });

  it('refuses TLS 1.1, which a permissive server would accept from the same client', async () => {
    await assert.rejects(handshake(port, { maxVersion: 'TLSv1.1', ca: [first.caCert] }));
    const permissive = createHttpsServer(
      { cert: first.cert, key: first.key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
      (_q, r) => r.end(),
    );
    const otherPort = await listen(permissive);
    try {
      assert.equal(await handshake(otherPort, { maxVersion: 'TLSv1.1', ca: [first.caCert] }), 'TLSv1.1');
    } finally {
      permissive.close();
    }
  });

  it('takes a new pair without dropping an open keep-alive connection', async () => {
    const ca = [first.caCert, second.caCert];
    const kept = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await call(port, kept, '/healthz', ca);
      assert.equal(before.fingerprint, fingerprintOf(first.cert));

      writePair(second);
      await waitFor(
        () => tls.current().fingerprint === fingerprintOf(second.cert),
        5000,
        'the new certificate to be taken',
      );

      const same = await call(port, kept, '/healthz', ca);
      assert.equal(same.status, 200);
      assert.equal(same.reusedSocket, true, 'the keep-alive connection survived the swap');
      assert.equal(same.fingerprint, fingerprintOf(first.cert), 'an open connection keeps its handshake');

      const fresh = await call(port, new Agent({ keepAlive: false }), '/healthz', ca);
      assert.equal(fresh.fingerprint, fingerprintOf(second.cert), 'a new connection sees the new certificate');
      // The replaced context keeps the TLS floor.
      await assert.rejects(handshake(port, { maxVersion: 'TLSv1.1', ca }));
      assert.ok(logs.messages('serving certificate replaced').length >= 1);
    } finally {
      kept.destroy();
    }
  });

  it('keeps the pair in service when the new one is broken', async () => {
    const inService = tls.current().fingerprint;
    const rejectedBefore = logs.messages('new certificate pair rejected; still serving the previous one').length;
    // A new certificate with a key that is not its own, as when a rotation is half-written.
    const third = bundle(2);
    writePair({ cert: third.cert, key: first.key });
    await waitFor(
      () => logs.messages('new certificate pair rejected; still serving the previous one').length > rejectedBefore,
      5000,
      'the broken pair to be rejected',
    );
    assert.equal(tls.current().fingerprint, inService);
    const reply = await call(port, new Agent({ keepAlive: false }), '/healthz', [
      first.caCert,
      second.caCert,
      third.caCert,
    ]);
    assert.equal(reply.status, 200);
    assert.equal(reply.fingerprint, inService);
    const line = logs.messages('new certificate pair rejected; still serving the previous one').at(-1);
    assert.match(line.reason, /the key does not belong to the certificate/);
    assert.match(
      await metrics.registry.metrics(),
      /nicguard_reloads_total\{file="certificate",result="rejected"\} [1-9]/,
    );

    // Garbage is no better.
    writeFileSync(keyFile, 'not a key');
    assert.equal(tls.reload(), false);
    assert.equal(tls.current().fingerprint, inService);

    // Once the pair is whole again it is taken.
    writePair(third);
    await waitFor(() => tls.current().fingerprint === fingerprintOf(third.cert), 5000, 'the repaired pair to be taken');
  });
});

describe('certificate pair loading', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'nicguard-pair-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names the file and the problem', () => {
    const a = bundle(0);
    const b = bundle(1);
    const cert = join(dir, 'a.crt');
    const key = join(dir, 'b.key');
    writeFileSync(cert, a.cert);
    writeFileSync(key, b.key);
    assert.throws(
      () => loadCertificatePair(cert, key),
      (err: Error) =>
        err instanceof CertificateError &&
        /a\.crt \+ .*b\.key: unusable pair: the key does not belong to the certificate/.test(err.message),
    );
    assert.throws(
      () => loadCertificatePair(join(dir, 'missing.crt'), key),
      /missing\.crt: cannot read certificate \(ENOENT\)/,
    );
    writeFileSync(join(dir, 'text.crt'), 'hello');
    assert.throws(() => loadCertificatePair(join(dir, 'text.crt'), key), /text\.crt: not a PEM certificate/);
    const app = createApp({ getClusterView: () => undefined, getConfig: () => config() });
    assert.throws(() => createTlsServer({ certFile: cert, keyFile: key, app, watch: false }), CertificateError);
    writeFileSync(join(dir, 'a.key'), a.key);
    const good = loadCertificatePair(cert, join(dir, 'a.key'));
    assert.equal(good.fingerprint, fingerprintOf(a.cert));
    assert.ok(good.notAfter.getTime() > Date.now());
  });
});

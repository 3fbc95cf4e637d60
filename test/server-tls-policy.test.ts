// What the HTTPS server agrees to speak: TLS 1.2 with ECDHE key exchange and an AEAD
// cipher, or TLS 1.3; the kube-style flags that change it; and the timeouts and the
// connection cap a hostile client runs into. Every refusal is shown against a permissive
// server that the same client can talk to, so the test proves the policy, not the client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureVersion } from 'node:tls';
import { generateCertificates, type CertBundle } from '../src/certs/generate.js';
import { createWebhook } from '../src/server/app.js';
import {
  createTlsServer,
  HEADERS_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS,
  supportedCipherSuites,
  tlsPolicy,
  type WebhookTlsServer,
} from '../src/server/tls.js';
import { config, seedCluster } from './support.js';
import { nicguard } from './cli-run.js';

interface Offer {
  minVersion?: SecureVersion;
  maxVersion: SecureVersion;
  /** OpenSSL names the client offers for TLS 1.2 and older. */
  ciphers?: string;
}

/** Handshake only: resolves with protocol and cipher, rejects when the server refuses. */
function handshake(port: number, ca: string, offer: Offer): Promise<{ protocol: string | null; cipher: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca,
        minVersion: offer.minVersion ?? 'TLSv1',
        maxVersion: offer.maxVersion,
        // SECLEVEL=0 lets this client offer old protocols and ciphers at all; the server decides.
        ciphers: `${offer.ciphers ?? 'DEFAULT'}@SECLEVEL=0`,
      },
      () => {
        const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().standardName };
        socket.end();
        resolve(result);
      },
    );
    socket.on('error', reject);
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

// Plain RSA key exchange, ECDHE with CBC and SHA-1, plain RSA with AES-GCM, CBC with SHA-256.
const WEAK_OFFERS: Record<string, string> = {
  'AES128-SHA (RSA key exchange, CBC, SHA-1)': 'AES128-SHA',
  'AES256-GCM-SHA384 (RSA key exchange)': 'AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-SHA (CBC, SHA-1)': 'ECDHE-RSA-AES128-SHA',
  'ECDHE-RSA-AES256-SHA384 (CBC, SHA-384)': 'ECDHE-RSA-AES256-SHA384',
};

describe('TLS policy of the webhook server', () => {
  let dir: string;
  let bundle: CertBundle;
  let certFile: string;
  let keyFile: string;
  const servers: WebhookTlsServer[] = [];
  let permissivePort: number;
  let permissive: Server;

  const start = async (
    policy = tlsPolicy(),
    maxConnections?: number,
  ): Promise<{ tls: WebhookTlsServer; port: number }> => {
    const cluster = seedCluster();
    const { listener } = createWebhook({ getClusterView: () => cluster, getConfig: () => config() });
    const tls = createTlsServer({
      certFile,
      keyFile,
      app: listener,
      watch: false,
      policy,
      ...(maxConnections ? { maxConnections } : {}),
    });
    servers.push(tls);
    return { tls, port: await listen(tls.server) };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nicguard-tls-policy-'));
    bundle = generateCertificates({ commonName: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'], days: 2 });
    certFile = join(dir, 'tls.crt');
    keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, bundle.cert);
    writeFileSync(keyFile, bundle.key);
    permissive = createHttpsServer(
      { cert: bundle.cert, key: bundle.key, minVersion: 'TLSv1', ciphers: 'ALL@SECLEVEL=0' },
      (_q, r) => r.end(),
    );
    permissivePort = await listen(permissive);
  });

  after(() => {
    for (const s of servers) {
      s.server.closeAllConnections();
      s.server.close();
    }
    permissive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('speaks TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305', async () => {
    const { port } = await start();
    assert.equal((await handshake(port, bundle.caCert, { maxVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');
    for (const cipher of [
      'ECDHE-RSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE-RSA-CHACHA20-POLY1305',
    ]) {
      const got = await handshake(port, bundle.caCert, { maxVersion: 'TLSv1.2', ciphers: cipher });
      assert.equal(got.protocol, 'TLSv1.2', cipher);
      assert.match(got.cipher, /^TLS_ECDHE_RSA_WITH_(AES_(128|256)_GCM|CHACHA20_POLY1305)/, cipher);
    }
  });

  it('refuses RSA key exchange and CBC suites, which a permissive server accepts from the same client', async () => {
    const { port } = await start();
    for (const [what, cipher] of Object.entries(WEAK_OFFERS)) {
      const offer = { maxVersion: 'TLSv1.2' as const, ciphers: cipher };
      assert.equal((await handshake(permissivePort, bundle.caCert, offer)).protocol, 'TLSv1.2', `control: ${what}`);
      await assert.rejects(handshake(port, bundle.caCert, offer), `refused: ${what}`);
    }
  });

  it('refuses TLS 1.0 and 1.1', async () => {
    const { port } = await start();
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const offer = { minVersion: version, maxVersion: version };
      assert.equal((await handshake(permissivePort, bundle.caCert, offer)).protocol, version, `control: ${version}`);
      await assert.rejects(handshake(port, bundle.caCert, offer), version);
    }
  });

  it('takes --tls-min-version VersionTLS13 and a chosen cipher suite list', async () => {
    const only13 = await start(tlsPolicy('VersionTLS13'));
    await assert.rejects(
      handshake(only13.port, bundle.caCert, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
    );
    assert.equal((await handshake(only13.port, bundle.caCert, { maxVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');

    const chosen = await start(tlsPolicy('VersionTLS12', ['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384']));
    const got = await handshake(chosen.port, bundle.caCert, { maxVersion: 'TLSv1.2' });
    assert.equal(got.cipher, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384');
    await assert.rejects(
      handshake(chosen.port, bundle.caCert, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
    );
    // TLS 1.3 stays on with all its suites when the list names none.
    assert.equal((await handshake(chosen.port, bundle.caCert, { maxVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');
  });

  it('names the problem with a bad version or suite name', () => {
    assert.throws(
      () => tlsPolicy('VersionTLS11'),
      /--tls-min-version: unknown TLS version "VersionTLS11"; use VersionTLS12 or VersionTLS13/,
    );
    assert.throws(() => tlsPolicy('TLSv1.2'), /unknown TLS version/);
    assert.throws(
      () => tlsPolicy('VersionTLS12', ['TLS_RSA_WITH_AES_128_CBC_SHA']),
      /TLS_RSA_WITH_AES_128_CBC_SHA is not allowed: RSA key exchange has no forward secrecy/,
    );
    assert.throws(() => tlsPolicy('VersionTLS12', ['TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA']), /not allowed: CBC mode/);
    assert.throws(() => tlsPolicy('VersionTLS12', ['TLS_ECDHE_RSA_WITH_RC4_128_SHA']), /not allowed: RC4/);
    assert.throws(
      () => tlsPolicy('VersionTLS12', ['ECDHE-RSA-AES128-GCM-SHA256']),
      /unknown cipher suite "ECDHE-RSA-AES128-GCM-SHA256" \(IANA names/,
    );
    assert.throws(() => tlsPolicy('VersionTLS12', ['TLS_AES_128_GCM_SHA256']), /names no TLS 1\.2 suite/);
    assert.doesNotThrow(() => tlsPolicy('VersionTLS13', ['TLS_AES_128_GCM_SHA256']));
    assert.ok(supportedCipherSuites().every((n) => /^TLS_/.test(n) && !/CBC|RC4|3DES|^TLS_RSA_/.test(n)));
  });

  it('exits 2 with one line for a bad flag', async () => {
    const run = await nicguard(
      [
        'serve',
        '--dev',
        '--objects',
        'examples/cluster',
        '--port',
        '0',
        '--tls-cipher-suites',
        'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_RC4_128_SHA',
      ],
      { cwd: dir },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^nicguard serve: --tls-cipher-suites: TLS_RSA_WITH_RC4_128_SHA is not allowed/);
    assert.equal(run.stderr.trim().split('\n').length, 1);
  });

  it('bounds slow requests and the number of connections', async () => {
    const { tls, port } = await start(tlsPolicy(), 3);
    assert.ok(
      tls.server.headersTimeout <= 10_000 && tls.server.headersTimeout > 5_000,
      'headers: above the webhook timeout of 5 s, far below 60 s',
    );
    assert.ok(tls.server.requestTimeout <= 10_000 && tls.server.requestTimeout > 5_000);
    assert.equal(tls.server.headersTimeout, HEADERS_TIMEOUT_MS);
    assert.equal(tls.server.requestTimeout, REQUEST_TIMEOUT_MS);
    // Three held open, the fourth is turned away.
    const held = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<ReturnType<typeof connect>>((resolve, reject) => {
            const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: bundle.caCert }, () =>
              resolve(s),
            );
            s.on('error', reject);
          }),
      ),
    );
    try {
      await assert.rejects(handshake(port, bundle.caCert, { maxVersion: 'TLSv1.3' }));
    } finally {
      for (const s of held) s.destroy();
    }
    // Once they are gone, a new connection is taken again.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await handshake(port, bundle.caCert, { maxVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');
  });
});

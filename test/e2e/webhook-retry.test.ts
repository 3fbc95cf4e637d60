// End to end: what a real kube-apiserver does with a webhook that answers 429 and
// Retry-After, as nicguard does past its cap on request bodies in flight (docs/server.md,
// Limits). The webhook is registered with failurePolicy Fail and timeoutSeconds 5, as
// manifests/base/webhooks.yaml registers nicguard's.
//
// The API server calls a webhook through client-go's REST client, with the review as
// bytes it can send again (k8s.io/apiserver v0.37.2,
// pkg/admission/plugin/webhook/validating/dispatcher.go, callHook:
// `client.Post().Body(request)` then `Do(ctx)`). That client retries a 429 or 5xx answer
// that carries Retry-After, after that many seconds, up to 10 times and within the
// request's deadline (k8s.io/client-go v0.37.2, rest/with_retry.go: IsNextRetry,
// checkWait; rest/request.go: maxRetries 10). So a 429 from nicguard delays the write by a
// second instead of failing it; these tests check that against the real API server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateCertificates } from '../../src/certs/generate.js';
import { RETRY_AFTER_SECONDS } from '../../src/server/app.js';
import { ApiServer, BIN, kubectl, requireBinaries, sleep } from './harness.js';

const work = mkdtempSync(join(tmpdir(), 'nicguard-e2e-retry-'));
const api = new ApiServer(work);
const LABEL = 'nicguard-e2e/retry';

/** The webhook: refuses the first `refusals` reviews as nicguard does when busy, then allows. */
const hook = { refusals: 0, calls: 0 };
let server: Server;

function configMap(name: string): string {
  return stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { [LABEL]: 'on-test' } } });
}

/** kubectl create, run without blocking: the webhook answering it lives in this process. */
async function create(name: string): Promise<{ status: number | null; stderr: string; seconds: number }> {
  const started = performance.now();
  const child = spawn(join(BIN, 'kubectl'), ['--kubeconfig', api.kubeconfig, 'create', '-f', '-']);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  child.stdout.resume();
  child.stdin.end(configMap(name));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stderr, seconds: (performance.now() - started) / 1000 };
}

describe('the API server retries a webhook that answers 429 with Retry-After', () => {
  before(async () => {
    requireBinaries(['e2e-apiserver', 'kubectl']);
    await api.start();
    const certs = generateCertificates({ commonName: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        hook.calls++;
        if (hook.calls <= hook.refusals) {
          // What nicguard answers past its cap (src/server/app.ts, `busy`).
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(RETRY_AFTER_SECONDS) });
          res.end(JSON.stringify({ error: 'too many requests', message: 'request bodies in flight exceed 64 MiB' }));
          return;
        }
        const uid = (JSON.parse(body) as { request: { uid: string } }).request.uid;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid, allowed: true },
          }),
        );
      });
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    const registration = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'retry-e2e' },
      webhooks: [
        {
          name: 'retry.e2e.nicguard.io',
          clientConfig: {
            url: `https://127.0.0.1:${port}/validate`,
            caBundle: Buffer.from(certs.caCert).toString('base64'),
          },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
          objectSelector: { matchExpressions: [{ key: LABEL, operator: 'Exists' }] },
          failurePolicy: 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 5,
        },
      ],
    };
    const applied = kubectl(api.kubeconfig, ['apply', '-f', '-'], stringify(registration));
    assert.equal(applied.status, 0, applied.stderr);
    // The API server picks a new registration up from its informer: wait until it calls.
    for (let i = 0; hook.calls === 0; i++) {
      assert.ok(i < 100, 'the webhook was never called');
      await create(`warm-up-${i}`);
      await sleep(100);
    }
  });

  after(async () => {
    server?.close();
    await api.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('one 429: the write succeeds, a Retry-After later', async () => {
    Object.assign(hook, { refusals: 1, calls: 0 });
    const r = await create('after-one-refusal');
    assert.equal(r.status, 0, `the write failed:\n${r.stderr}`);
    assert.equal(hook.calls, 2, 'refused once, then asked again');
    assert.ok(r.seconds >= RETRY_AFTER_SECONDS, `retried after ${r.seconds.toFixed(2)} s`);
  });

  test('429 on every attempt: the write fails within the webhook timeout, after several tries', async () => {
    Object.assign(hook, { refusals: Infinity, calls: 0 });
    const r = await create('always-refused');
    assert.notEqual(r.status, 0, 'a webhook that never answers must fail the write under failurePolicy Fail');
    assert.match(r.stderr, /retry\.e2e\.nicguard\.io/);
    assert.ok(hook.calls >= 3, `asked ${hook.calls} times within the 5 s timeout`);
    assert.ok(r.seconds < 15, `failed after ${r.seconds.toFixed(1)} s`);
  });
});

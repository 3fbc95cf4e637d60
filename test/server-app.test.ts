import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import fastJsonPatch from 'fast-json-patch';
import request from 'supertest';
import { createWebhook, DEFAULT_BODY_LIMIT, RETRY_AFTER_SECONDS, type AppOptions } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import { createMetricsServer, WebhookMetrics } from '../src/server/metrics.js';
import { WARNINGS_TOTAL_LIMIT, WARNING_LIMIT } from '../src/admission/review.js';
import type { ClusterView, PolicyConfig, PolicyRequest } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { clone, config, create, example, seedCluster, update } from './support.js';
import {
  KUBEVIRT_CONTROLLER,
  addMultusNic,
  fedora,
  fedoraWithBridge,
  ifaceNamed,
  networksOf,
} from './hotplug-fixtures.js';
import { LogCapture, admissionReview, patchOf, waitFor } from './server-support.js';

interface Harness {
  server: Server;
  logs: LogCapture;
  metrics: WebhookMetrics;
  setConfig(c: PolicyConfig): void;
  close(): Promise<void>;
}

type Via = 'express app' | 'server listener';
const VIAS: Via[] = ['express app', 'server listener'];

/**
 * One app on one real listening server, so that "keeps serving" means the same process.
 * `via`: the express app alone (as supertest users embed it), or the listener the HTTPS
 * server runs, which takes the admission paths before express.
 */
async function start(
  overrides: Partial<AppOptions> = {},
  logLevel = 'info',
  via: Via = 'server listener',
): Promise<Harness> {
  const logs = new LogCapture();
  const metrics = new WebhookMetrics({ defaultMetrics: false });
  const cluster = seedCluster();
  let cfg = config();
  const { app, listener } = createWebhook({
    getClusterView: () => cluster,
    getConfig: () => cfg,
    logger: createLogger(logLevel, logs),
    metrics,
    ...overrides,
  });
  const server = via === 'express app' ? app.listen(0, '127.0.0.1') : createServer(listener).listen(0, '127.0.0.1');
  // Listening before the first request: supertest would otherwise listen, and close, itself.
  await once(server, 'listening');
  return {
    server,
    logs,
    metrics,
    setConfig: (c) => (cfg = c),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const post = (h: Harness, path: string, body: unknown) =>
  request(h.server)
    .post(path)
    .set('content-type', 'application/json')
    .send(typeof body === 'string' ? body : JSON.stringify(body));

const seedHotplug = () => update(fedora(), fedoraWithBridge());
const masqueradeHotplug = (extra: Partial<PolicyRequest> = {}) =>
  update(fedora(), example('bad/masquerade-hotplug.yaml'), extra);
/** The user deletes dyniface1 (interface and network) from the running VM. */
const removal = (extra: Partial<PolicyRequest> = {}) => update(fedoraWithBridge(), fedora(), extra);

/** Sends the bodies as pipelined POSTs to /validate in one write on one connection; resolves with the answers. */
function pipelined(port: number, bodies: string[]): Promise<{ status: number; body: string }[]> {
  const requests = bodies.map(
    (body) =>
      `POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(requests.join('')));
    let received = Buffer.alloc(0);
    const answers: { status: number; body: string }[] = [];
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (;;) {
        const headEnd = received.indexOf('\r\n\r\n');
        if (headEnd < 0) break;
        const head = received.subarray(0, headEnd).toString('latin1');
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (received.length < headEnd + 4 + length) break;
        const status = Number(head.split(' ')[1]);
        answers.push({ status, body: received.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8') });
        received = received.subarray(headEnd + 4 + length);
      }
      if (answers.length === bodies.length) {
        socket.destroy();
        resolve(answers);
      }
    });
    socket.on('error', reject);
  });
}

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /\n\s+at |node_modules|\.js:\d+|\.ts:\d+/);
}

describe('webhook app: probes', () => {
  it('GET /healthz answers while the process lives', async () => {
    const h = await start({ isReady: () => ({ ready: false, checks: { clusterView: false } }) });
    try {
      const res = await request(h.server).get('/healthz').expect(200);
      assert.deepEqual(res.body, { status: 'ok' });
    } finally {
      await h.close();
    }
  });

  it('GET /readyz reports each check, 503 until all hold', async () => {
    let synced = false;
    const h = await start({ isReady: () => ({ ready: synced, checks: { certificates: true, clusterView: synced } }) });
    try {
      const before = await request(h.server).get('/readyz').expect(503);
      assert.deepEqual(before.body, { status: 'not ready', checks: { certificates: true, clusterView: false } });
      synced = true;
      const afterSync = await request(h.server).get('/readyz').expect(200);
      assert.deepEqual(afterSync.body, { status: 'ready', checks: { certificates: true, clusterView: true } });
    } finally {
      await h.close();
    }
  });

  it('goes unready and asks clients to close connections while draining', async () => {
    let draining = false;
    const h = await start({ draining: () => draining });
    try {
      await request(h.server).get('/readyz').expect(200);
      draining = true;
      const res = await request(h.server).get('/readyz').expect(503);
      assert.equal(res.body.checks.notShuttingDown, false);
      assert.equal(res.headers.connection, 'close');
      const review = await post(h, '/validate', admissionReview(seedHotplug())).expect(200);
      assert.equal(review.headers.connection, 'close');
      assert.equal(review.body.response.allowed, true);
    } finally {
      await h.close();
    }
  });
});

for (const via of VIAS)
  describe(`webhook app: decisions (${via})`, () => {
    let h: Harness;
    before(async () => (h = await start({}, 'info', via)));
    after(() => h.close());

    it('allows the seed hotplug on both webhooks, echoing the uid, without patch or warnings', async () => {
      for (const path of ['/validate', '/mutate']) {
        const review = admissionReview(seedHotplug());
        const res = await post(h, path, review)
          .expect(200)
          .expect('content-type', /application\/json/);
        assert.deepEqual(res.body, {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request.uid, allowed: true },
        });
      }
    });

    it('denies a masquerade hotplug with 403 and the rule in the message', async () => {
      const review = admissionReview(masqueradeHotplug());
      const res = await post(h, '/validate', review).expect(200);
      const { response } = res.body;
      assert.equal(response.uid, review.request.uid);
      assert.equal(response.allowed, false);
      assert.equal(response.status.code, 403);
      assert.match(
        response.status.message,
        /^VirtualMachine default\/vm-fedora: \[hotplug-binding\] interface "dyniface1" cannot be hotplugged/,
      );
      assert.equal(response.patch, undefined);
    });

    it('lists every denial in the message', async () => {
      const vm = example('bad/masquerade-hotplug.yaml');
      addMultusNic(vm, 'nowhere', { bridge: {} }, 'missing-net');
      const res = await post(h, '/validate', admissionReview(update(fedora(), vm))).expect(200);
      const message: string = res.body.response.status.message;
      assert.match(message, /\[hotplug-binding\] interface "dyniface1"/);
      assert.match(message, /\[nad-exists\][^;]*missing-net/);
    });

    it('turns unplug-by-removal into a patch that puts the interface back absent, with a warning', async () => {
      const req = removal();
      const res = await post(h, '/mutate', admissionReview(req)).expect(200);
      const { response } = res.body;
      assert.equal(response.allowed, true);
      assert.equal(response.patchType, 'JSONPatch');
      const patched = fastJsonPatch.applyPatch(clone(req.object!), patchOf(response)!, true, false)
        .newDocument as KubeObject;
      assert.deepEqual(ifaceNamed(patched, 'dyniface1'), { bridge: {}, name: 'dyniface1', state: 'absent' });
      assert.deepEqual(
        networksOf(patched).find((n: any) => n.name === 'dyniface1'),
        { name: 'dyniface1', multus: { networkName: 'attachnet' } },
      );
      assert.equal(response.warnings.length, 1);
      assert.match(response.warnings[0], /^\[unplug-by-removal\] interface "dyniface1" was removed/);
    });

    it('never returns a patch from /validate, even for the same removal', async () => {
      const res = await post(h, '/validate', admissionReview(removal())).expect(200);
      const { response } = res.body;
      assert.equal(response.allowed, true);
      assert.equal(response.patch, undefined);
      assert.equal(response.patchType, undefined);
      // The mutating webhook did not run for this request: the validating one says so.
      assert.match(response.warnings[0], /^\[unplug-by-removal\]/);
    });

    it("leaves a removal by KubeVirt's controller alone (exempt service account)", async () => {
      const mine = await post(h, '/mutate', admissionReview(removal())).expect(200);
      assert.ok(mine.body.response.patch, 'the same removal by a user is patched');
      const res = await post(
        h,
        '/mutate',
        admissionReview(removal({ userInfo: { username: KUBEVIRT_CONTROLLER } })),
      ).expect(200);
      assert.deepEqual(res.body.response, { uid: res.body.response.uid, allowed: true });
      const masq = await post(
        h,
        '/validate',
        admissionReview(masqueradeHotplug({ userInfo: { username: KUBEVIRT_CONTROLLER } })),
      ).expect(200);
      assert.equal(masq.body.response.allowed, true);
    });

    it('evaluates a dryRun request exactly like a real one', async () => {
      for (const [path, req] of [
        ['/validate', masqueradeHotplug],
        ['/mutate', removal],
      ] as const) {
        const real = await post(h, path, admissionReview(req(), { uid: 'same' })).expect(200);
        const dry = await post(h, path, admissionReview(req({ dryRun: true }), { uid: 'same' })).expect(200);
        assert.deepEqual(dry.body, real.body);
      }
      const line = h.logs.messages('admission decision').at(-1);
      assert.equal(line.dryRun, true);
    });

    it('judges NetworkAttachmentDefinitions and Kube-OVN Subnets', async () => {
      const nad = await post(h, '/validate', admissionReview(create(example('bad/wrong-ovn-provider.yaml')))).expect(
        200,
      );
      assert.equal(nad.body.response.allowed, false);
      assert.match(
        nad.body.response.status.message,
        /^NetworkAttachmentDefinition default\/attachnet2: \[ovn-provider\]/,
      );
      const subnet = clone(seedCluster().list('Subnet')[0]) as KubeObject;
      subnet.metadata = { name: 'broken' };
      subnet.spec.provider = 'broken.default';
      subnet.spec.gateway = '10.9.9.1';
      const res = await post(h, '/validate', admissionReview(create(subnet))).expect(200);
      assert.equal(res.body.response.allowed, false);
      assert.match(res.body.response.status.message, /\[subnet-shape\][^;]*10\.9\.9\.1/);
    });

    it('allows other kinds untouched, and a Subnet of another API group', async () => {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'default' },
        spec: { containers: [] },
      };
      const res = await post(h, '/mutate', admissionReview(create(pod))).expect(200);
      assert.deepEqual(res.body.response, { uid: res.body.response.uid, allowed: true });
      const otherSubnet = {
        apiVersion: 'network.example.com/v1',
        kind: 'Subnet',
        metadata: { name: 's' },
        spec: { gateway: 'not an ip' },
      };
      const sub = await post(h, '/validate', admissionReview(create(otherSubnet))).expect(200);
      assert.deepEqual(sub.body.response, { uid: sub.body.response.uid, allowed: true });
    });

    it('allows DELETE untouched, even of a VM that would be refused', async () => {
      const req: PolicyRequest = {
        operation: 'DELETE',
        kind: 'VirtualMachine',
        group: 'kubevirt.io',
        namespace: 'default',
        name: 'vm-fedora',
        oldObject: example('bad/masquerade-hotplug.yaml'),
      };
      for (const path of ['/validate', '/mutate']) {
        const res = await post(h, path, admissionReview(req)).expect(200);
        assert.deepEqual(res.body.response, { uid: res.body.response.uid, allowed: true });
      }
    });

    it('allows status subresource updates untouched', async () => {
      const res = await post(h, '/validate', admissionReview(masqueradeHotplug(), { subResource: 'status' })).expect(
        200,
      );
      assert.equal(res.body.response.allowed, true);
    });

    it('follows the configuration of the moment (e.g. a rule set to warn)', async () => {
      h.setConfig(config({ rules: { 'hotplug-binding': 'warn' } as PolicyConfig['rules'] }));
      try {
        const res = await post(h, '/validate', admissionReview(masqueradeHotplug())).expect(200);
        assert.equal(res.body.response.allowed, true);
        assert.match(res.body.response.warnings[0], /^\[hotplug-binding\] interface "dyniface1"/);
      } finally {
        h.setConfig(config());
      }
    });

    it('keeps warnings short and within the 4096-character cap', async () => {
      const vm = fedora();
      for (let i = 0; i < 30; i++) addMultusNic(vm, `nic${i}`, { bridge: {} }, 'new-fancy-net');
      h.setConfig(
        config({
          dynamicNetworksController: false,
          rules: { 'hotplug-slots': 'off', 'pci-bus': 'off' } as PolicyConfig['rules'],
        }),
      );
      try {
        const res = await post(h, '/validate', admissionReview(update(fedora(), vm))).expect(200);
        const warnings: string[] = res.body.response.warnings;
        assert.equal(res.body.response.allowed, true);
        assert.ok(warnings.length > 5);
        for (const w of warnings) assert.ok(Buffer.byteLength(w) <= WARNING_LIMIT, w);
        assert.ok(warnings.reduce((n, w) => n + Buffer.byteLength(w), 0) <= WARNINGS_TOTAL_LIMIT);
        assert.match(warnings[0], /^\[hotplug-path\] interface "nic0" attaches only after a live migration/);
        assert.match(warnings.at(-1)!, /^\[nicguard\] \d+ more warning\(s\) not shown/);
      } finally {
        h.setConfig(config());
      }
    });
  });

for (const via of VIAS)
  describe(`webhook app: bad input (${via})`, () => {
    let h: Harness;
    before(async () => (h = await start({}, 'info', via)));
    after(() => h.close());

    async function expectError(res: request.Response, status: number, message: RegExp): Promise<void> {
      assert.equal(res.status, status, res.text);
      assert.match(res.headers['content-type'], /application\/json/);
      assert.match(res.body.message, message);
      assertNoStack(res.text);
      // The same server answers the next good request.
      const next = await post(h, '/validate', admissionReview(seedHotplug())).expect(200);
      assert.equal(next.body.response.allowed, true);
    }

    it('400 for a body that is not JSON', async () => {
      await expectError(await post(h, '/validate', '{"apiVersion":'), 400, /^body is not JSON/);
      await expectError(await post(h, '/mutate', ''), 400, /empty body/);
    });

    it('400 for a review of another apiVersion, or without request', async () => {
      const v1beta1 = { ...admissionReview(seedHotplug()), apiVersion: 'admission.k8s.io/v1beta1' };
      await expectError(await post(h, '/validate', v1beta1), 400, /admission\.k8s\.io\/v1beta1/);
      await expectError(
        await post(h, '/mutate', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
        400,
        /no request/,
      );
      await expectError(
        await post(h, '/validate', admissionReview(seedHotplug(), { uid: undefined })),
        400,
        /request\.uid is missing/,
      );
    });

    it('reads the body whatever its content type says', async () => {
      const res = await request(h.server)
        .post('/validate')
        .set('content-type', 'text/plain')
        .send(JSON.stringify(admissionReview(masqueradeHotplug())))
        .expect(200);
      assert.equal(res.body.response.allowed, false);
    });

    it('accepts an UPDATE carrying two VMs near the 3 MiB request cap', async () => {
      const pad = 'x'.repeat(3 * 1024 * 1024 - 64 * 1024);
      const big = (vm: KubeObject) => ({ ...vm, metadata: { ...vm.metadata, annotations: { padding: pad } } });
      const res = await post(
        h,
        '/validate',
        admissionReview(update(big(fedora()), big(example('bad/masquerade-hotplug.yaml')))),
      ).expect(200);
      assert.equal(res.body.response.allowed, false);
    });

    it('413 for a body over the limit', async () => {
      const huge = JSON.stringify(admissionReview(seedHotplug(), { padding: 'x'.repeat(DEFAULT_BODY_LIMIT) }));
      await expectError(await post(h, '/validate', huge), 413, /larger than the 7 MiB limit/);
    });

    it('413 for a chunked body that grows past the limit, without a declared length', async () => {
      const { port } = h.server.address() as AddressInfo;
      const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method: 'POST', path: '/mutate', headers: { 'content-type': 'application/json' } },
          (r) => {
            let text = '';
            r.on('data', (c) => (text += c));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        const chunk = Buffer.alloc(1024 * 1024, 'x');
        for (let i = 0; i < 8; i++) req.write(chunk);
        req.end();
      });
      assert.equal(res.status, 413);
      assert.match(JSON.parse(res.text).message, /larger than the 7 MiB limit/);
      await post(h, '/mutate', admissionReview(seedHotplug())).expect(200);
    });

    it('415 for a compressed body', async () => {
      const res = await post(h, '/validate', admissionReview(seedHotplug())).set('content-encoding', 'gzip');
      await expectError(res, 415, /content-encoding "gzip" is not supported/);
    });

    it("takes the API server's ?timeout= query on the webhook path", async () => {
      const res = await post(h, '/validate?timeout=10s', admissionReview(masqueradeHotplug())).expect(200);
      assert.equal(res.body.response.allowed, false);
    });

    it('routes /validate/ with a trailing slash like /validate', async () => {
      const res = await post(h, '/validate/', admissionReview(masqueradeHotplug())).expect(200);
      assert.equal(res.body.response.allowed, false);
    });

    it('404 and 405 as JSON', async () => {
      await expectError(await request(h.server).get('/nope'), 404, /no route for GET \/nope/);
      const res = await request(h.server).get('/validate');
      assert.equal(res.headers.allow, 'POST');
      await expectError(res, 405, /takes POST/);
    });

    it('counts bad requests by webhook and status', async () => {
      const text = await h.metrics.registry.metrics();
      assert.match(text, /nicguard_admission_bad_requests_total\{webhook="validate",code="400"\} [1-9]/);
      assert.match(text, /nicguard_admission_bad_requests_total\{webhook="validate",code="413"\} 1/);
    });
  });

describe('webhook app: cap on request bodies in flight', () => {
  const LIMIT = 64 * 1024;
  /** A review padded to about `bytes`, as JSON text. */
  const padded = (bytes: number) =>
    JSON.stringify(admissionReview(masqueradeHotplug(), { padding: 'x'.repeat(bytes) }));
  interface Sent {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    text: string;
  }

  /** Starts a POST whose body is written by the caller; `answer` settles with the response. */
  function open(port: number, headers: Record<string, string> = {}) {
    let settle!: (r: Sent) => void;
    let reject!: (e: Error) => void;
    const answer = new Promise<Sent>((res, rej) => ((settle = res), (reject = rej)));
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/validate',
        headers: { 'content-type': 'application/json', ...headers },
      },
      (r) => {
        let text = '';
        r.on('data', (c) => (text += c));
        r.on('end', () => settle({ status: r.statusCode ?? 0, headers: r.headers, text }));
      },
    );
    req.on('error', reject);
    return { req, answer };
  }

  async function harness() {
    const metrics = new WebhookMetrics({ defaultMetrics: false });
    const cluster = seedCluster();
    const handlers = createWebhook({
      getClusterView: () => cluster,
      getConfig: () => config(),
      logger: createLogger('info', new LogCapture()),
      metrics,
      inflightLimit: LIMIT,
    });
    metrics.setInflightSource(handlers.inflightBytes);
    const server = createServer(handlers.listener).listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      port: (server.address() as AddressInfo).port,
      metrics,
      inflight: handlers.inflightBytes,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  it(
    'answers 429 with Retry-After past the cap, declared or streamed, ' + 'and serves again once bodies are answered',
    async () => {
      const h = await harness();
      try {
        // A holds 40 KiB of its body and waits.
        const a = open(h.port);
        const body = padded(48 * 1024);
        a.req.write(body.slice(0, 40 * 1024));
        await waitFor(() => h.inflight() >= 40 * 1024, 5000, 'the first body held');

        // B declares 30 KiB: refused before a byte of it is kept.
        const small = padded(30 * 1024);
        const b = open(h.port, { 'content-length': String(Buffer.byteLength(small)) });
        b.req.end(small);
        const refused = await b.answer;
        assert.equal(refused.status, 429);
        assert.equal(refused.headers['retry-after'], String(RETRY_AFTER_SECONDS));
        assert.match(JSON.parse(refused.text).message, /request bodies in flight exceed 0.1 MiB/);

        // C streams without a declared length and is refused when it crosses the cap.
        const c = open(h.port);
        c.req.end(small);
        assert.equal((await c.answer).status, 429);
        assert.ok(h.inflight() < LIMIT, `refused bodies are not held (${h.inflight()} bytes)`);

        // A completes and is judged; then nothing is held and B's retry goes through.
        a.req.end(body.slice(40 * 1024));
        const judged = await a.answer;
        assert.equal(judged.status, 200);
        assert.equal(JSON.parse(judged.text).response.allowed, false);
        await waitFor(() => h.inflight() === 0, 5000, 'nothing held');
        const retry = open(h.port);
        retry.req.end(small);
        assert.equal((await retry.answer).status, 200);

        const text = await h.metrics.registry.metrics();
        assert.match(text, /nicguard_admission_bad_requests_total\{webhook="validate",code="429"\} 2/);
        assert.match(text, /nicguard_admission_inflight_bytes 0/);
      } finally {
        await h.close();
      }
    },
  );

  it('lets go of the bytes of a client that disconnects mid-body', async () => {
    const h = await harness();
    try {
      const a = open(h.port);
      a.answer.catch(() => undefined);
      a.req.write(padded(48 * 1024).slice(0, 40 * 1024));
      await waitFor(() => h.inflight() >= 40 * 1024, 5000, 'the body held');
      const text = await h.metrics.registry.metrics();
      assert.match(text, /nicguard_admission_inflight_bytes [1-9]\d*/);
      a.req.destroy();
      await waitFor(() => h.inflight() === 0, 5000, 'the bytes let go');
    } finally {
      await h.close();
    }
  });

  it('refuses a large body nested too deep as it arrives, before the rest of it is sent', async () => {
    const h = await harness();
    try {
      const deep = padded(70 * 1024).replace('"spec":{', `"spec":{"deep":${'['.repeat(1000)}`);
      const a = open(h.port);
      // All but the end is written and the request stays open: the answer cannot wait for it.
      a.req.write(deep);
      const refused = await a.answer;
      assert.equal(refused.status, 400);
      assert.match(JSON.parse(refused.text).message, /nested more than 100 levels deep/);
      a.req.end(']'.repeat(1000));
      await waitFor(() => h.inflight() === 0, 5000, 'the refused body let go');
    } finally {
      await h.close();
    }
  });

  it('refuses well-formed JSON nested too deep, in a body too small to scan and in a scanned one', async () => {
    // A small body is not scanned as it arrives: the decoder walks the parsed value. A large
    // one is scanned and then not walked again: both must end in the same 400.
    const h = await harness();
    try {
      for (const bytes of [1024, 70 * 1024]) {
        const nested = `${'['.repeat(150)}1${']'.repeat(150)}`;
        const deep = padded(bytes).replace('"spec":{', `"spec":{"deep":${nested},`);
        JSON.parse(deep);
        const a = open(h.port);
        a.req.end(deep);
        const refused = await a.answer;
        assert.equal(refused.status, 400, `${deep.length} bytes`);
        assert.match(JSON.parse(refused.text).message, /nested more than 100 levels deep/);
      }
    } finally {
      await h.close();
    }
  });

  it('takes a body larger than the cap (within the body limit) when nothing else is held', async () => {
    const h = await harness();
    try {
      const big = padded(2 * LIMIT);
      const a = open(h.port, { 'content-length': String(Buffer.byteLength(big)) });
      a.req.end(big);
      assert.equal((await a.answer).status, 200);
      const b = open(h.port);
      b.req.end(big);
      assert.equal((await b.answer).status, 200);
    } finally {
      await h.close();
    }
  });
});

describe('webhook app: failures inside', () => {
  it('answers 500 without a stack trace when evaluation throws, and keeps serving', async () => {
    const cluster = seedCluster();
    const broken: ClusterView = Object.assign(Object.create(Object.getPrototypeOf(cluster)), cluster, {
      getNetworkAttachmentDefinition() {
        throw new TypeError('boom in a lookup');
      },
    });
    let useBroken = true;
    const h = await start({ getClusterView: () => (useBroken ? broken : cluster) });
    try {
      const review = admissionReview(seedHotplug());
      const res = await post(h, '/validate', review).expect(500);
      assert.equal(res.body.error, 'internal error');
      // The body is generic (no JavaScript error text reaches the caller); the uid ties it to the log.
      assert.equal(
        res.body.message,
        `nicguard failed to evaluate this request (uid ${review.request.uid}); see its log`,
      );
      assertNoStack(res.text);
      assert.doesNotMatch(res.text, /boom/);
      const logged = h.logs.messages('evaluation failed')[0];
      assert.ok(logged.err.stack, 'the stack goes to the log');
      assert.equal(logged.uid, review.request.uid);
      useBroken = false;
      await post(h, '/validate', admissionReview(seedHotplug())).expect(200);
    } finally {
      await h.close();
    }
  });

  it('answers pipelined reviews in order, each its own; a throw in evaluation fails one alone', async () => {
    // The reviews arrive in one write on one connection, so their bodies complete in the same turn and are
    // judged as one batch (src/server/batch.ts).
    const cluster = seedCluster();
    const broken: ClusterView = Object.assign(Object.create(Object.getPrototypeOf(cluster)), cluster, {
      getNetworkAttachmentDefinition(namespace: string, name: string) {
        if (name === 'boom-net') throw new TypeError('boom in a lookup');
        return cluster.getNetworkAttachmentDefinition(namespace, name);
      },
    });
    const h = await start({ getClusterView: () => broken });
    try {
      const reviews = [
        admissionReview(update(fedora(), fedoraWithBridge(), { uid: 'allowed-1' })),
        admissionReview(masqueradeHotplug({ uid: 'denied-2' })),
        admissionReview(
          update(fedora(), addMultusNic(fedora(), 'boomnic', { bridge: {} }, 'boom-net'), { uid: 'throws-3' }),
        ),
        admissionReview(update(fedora(), fedoraWithBridge(), { uid: 'allowed-4' })),
      ];
      const answers = await pipelined(
        (h.server.address() as AddressInfo).port,
        reviews.map((r) => JSON.stringify(r)),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 500, 200],
      );
      assert.deepEqual(
        answers.map((a) => JSON.parse(a.body).response?.uid),
        ['allowed-1', 'denied-2', undefined, 'allowed-4'],
      );
      assert.deepEqual(
        answers.map((a) => JSON.parse(a.body).response?.allowed),
        [true, false, undefined, true],
      );
      assert.match(JSON.parse(answers[2].body).message, /uid throws-3/);
      assert.deepEqual(
        h.logs.messages('admission decision').map((l) => l.uid),
        ['allowed-1', 'denied-2', 'allowed-4'],
      );
    } finally {
      await h.close();
    }
  });

  it('answers 503 for our kinds while the cluster view has not synced, and still allows other kinds', async () => {
    const h = await start({ getClusterView: () => undefined });
    try {
      const res = await post(h, '/validate', admissionReview(seedHotplug())).expect(503);
      assert.match(res.body.message, /not synced/);
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' } };
      await post(h, '/validate', admissionReview(create(pod))).expect(200);
    } finally {
      await h.close();
    }
  });
});

describe('webhook app: logs and metrics', () => {
  it('logs one line per decision, without object bodies at info level', async () => {
    const h = await start();
    try {
      const review = admissionReview(masqueradeHotplug({ dryRun: true }));
      await post(h, '/validate', review).expect(200);
      const lines = h.logs.messages('admission decision');
      assert.equal(lines.length, 1);
      const line = lines[0];
      assert.equal(line.uid, review.request.uid);
      assert.equal(line.webhook, 'validate');
      assert.equal(line.kind, 'VirtualMachine');
      assert.equal(line.object, 'default/vm-fedora');
      assert.equal(line.operation, 'UPDATE');
      assert.equal(line.dryRun, true);
      assert.equal(line.decision, 'denied');
      assert.deepEqual(line.rules, ['hotplug-binding']);
      assert.equal(typeof line.ms, 'number');
      assert.ok(!h.logs.lines.some((l) => 'object' in l && typeof l.object === 'object'), 'no bodies at info');
    } finally {
      await h.close();
    }
  });

  it('logs the bodies and the patch at debug level', async () => {
    const h = await start({}, 'debug');
    try {
      const review = admissionReview(removal());
      await post(h, '/mutate', review).expect(200);
      const bodies = h.logs.messages('admission bodies')[0];
      assert.equal(bodies.uid, review.request.uid);
      assert.equal(bodies.object.metadata.name, 'vm-fedora');
      assert.equal(bodies.patch.length, 2);
      assert.equal(h.logs.messages('admission decision')[0].decision, 'patched');
    } finally {
      await h.close();
    }
  });

  it(
    'counts requests by webhook, kind, operation and decision, findings by rule and action, ' +
      'and serves them on /metrics',
    async () => {
      const h = await start();
      h.metrics.setSyncStateSource(() => ({ networkattachmentdefinitions: true, subnets: false }));
      const metricsServer = createMetricsServer(h.metrics).listen(0, '127.0.0.1');
      try {
        await post(h, '/validate', admissionReview(masqueradeHotplug())).expect(200);
        await post(h, '/validate', admissionReview(masqueradeHotplug())).expect(200);
        await post(h, '/mutate', admissionReview(removal())).expect(200);
        await post(h, '/validate', admissionReview(seedHotplug())).expect(200);
        const res = await request(metricsServer).get('/metrics').expect(200);
        assert.match(res.headers['content-type'], /text\/plain/);
        const text = res.text;
        assert.match(
          text,
          new RegExp(
            /nicguard_admission_requests_total\{webhook="validate",kind="VirtualMachine",operation="UPDATE",/.source +
              /decision="denied",dry_run="false"\} 2/.source,
          ),
        );
        assert.match(
          text,
          new RegExp(
            /nicguard_admission_requests_total\{webhook="mutate",kind="VirtualMachine",operation="UPDATE",/.source +
              /decision="patched",dry_run="false"\} 1/.source,
          ),
        );
        assert.match(
          text,
          new RegExp(
            /nicguard_admission_requests_total\{webhook="validate",kind="VirtualMachine",operation="UPDATE",/.source +
              /decision="allowed",dry_run="false"\} 1/.source,
          ),
        );
        assert.match(text, /nicguard_findings_total\{rule="hotplug-binding",action="deny"\} 2/);
        assert.match(text, /nicguard_findings_total\{rule="unplug-by-removal",action="warn"\} 1/);
        assert.match(text, /nicguard_admission_duration_seconds_count\{webhook="validate"\} 3/);
        assert.match(text, /nicguard_cluster_cache_synced\{resource="networkattachmentdefinitions"\} 1/);
        assert.match(text, /nicguard_cluster_cache_synced\{resource="subnets"\} 0/);
        await request(metricsServer).get('/other').expect(404);
      } finally {
        metricsServer.close();
        await h.close();
      }
    },
  );

  it('includes the default process metrics unless turned off', async () => {
    const text = await new WebhookMetrics().registry.metrics();
    assert.match(text, /process_resident_memory_bytes/);
    assert.match(text, /nodejs_eventloop_lag_seconds/);
  });
});

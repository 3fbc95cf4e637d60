// `nicguard serve` as a user runs it: the built CLI in a child process, real HTTPS with the
// CA it prints, metrics over HTTP, configuration reload, and SIGTERM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, example, update } from './support.js';
import { addMultusNic, fedora } from './hotplug-fixtures.js';
import { admissionReview, waitFor } from './server-support.js';
import { FakeApiServer } from './support/fake-api.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const OBJECTS = join(ROOT, 'examples', 'cluster');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

class Serve {
  readonly child: ChildProcess;
  stderr = '';
  stdout = '';
  port = 0;
  metricsPort = 0;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  constructor(args: string[], cwd: string) {
    this.child = spawn(process.execPath, [CLI, 'serve', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c) => (this.stdout += c));
    this.child.stderr!.on('data', (c) => (this.stderr += c));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits for the one line that says where it listens. */
  async listening(): Promise<this> {
    let exitedEarly = false;
    void this.exited.then(() => (exitedEarly = true));
    await waitFor(
      () => exitedEarly || /listening on https:\/\/\S+:\d+.*metrics on http:\/\/\S+:\d+\/metrics/.test(this.stderr),
      15_000,
      'the listening line',
    );
    const m = /listening on https:\/\/\S+:(\d+).*metrics on http:\/\/\S+:(\d+)\/metrics/.exec(this.stderr);
    if (!m) throw new Error(`serve did not start:\n${this.stderr}`);
    this.port = Number(m[1]);
    this.metricsPort = Number(m[2]);
    return this;
  }

  logs(msg: string): any[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === msg);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

function send(opts: {
  port: number;
  path: string;
  ca?: string;
  body?: unknown;
  agent?: Agent;
  plain?: boolean;
}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const common = {
      host: '127.0.0.1',
      port: opts.port,
      path: opts.path,
      method: data ? 'POST' : 'GET',
      headers: data ? { 'content-type': 'application/json' } : {},
    };
    const onResponse = (res: import('node:http').IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }),
      );
    };
    const req = opts.plain
      ? httpRequest(common, onResponse)
      : httpsRequest(
          { ...common, ca: opts.ca, servername: 'localhost', agent: opts.agent ?? new Agent({ keepAlive: false }) },
          onResponse,
        );
    req.on('error', reject);
    req.end(data);
  });
}

const masquerade = () => admissionReview(update(fedora(), example('bad/masquerade-hotplug.yaml')));

describe('nicguard serve --dev --objects', () => {
  let cwd: string;
  let serve: Serve;
  let ca: string;

  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'nicguard-serve-'));
    serve = await new Serve(
      [
        '--dev',
        '--objects',
        OBJECTS,
        '--port',
        '0',
        '--metrics-port',
        '0',
        '--host',
        '127.0.0.1',
        '--grace-period',
        '5',
      ],
      cwd,
    ).listening();
    ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
  });

  after(async () => {
    await serve.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('makes certificates under certs/ and prints the CA bundle and a curl example', () => {
    for (const f of ['ca.crt', 'tls.crt', 'tls.key']) assert.ok(existsSync(join(cwd, 'certs', f)), f);
    assert.match(serve.stderr, /made new certificates in certs\//);
    const base64 = serve.stderr.split('\n').find((l) => /^[A-Za-z0-9+/]{100,}={0,2}$/.test(l));
    assert.ok(base64, 'a base64 line');
    assert.equal(Buffer.from(base64!, 'base64').toString('utf8'), ca);
    assert.match(
      serve.stderr,
      new RegExp(
        `curl -sS --cacert certs/ca\\.crt .*https://localhost:${serve.port}/validate ` +
          `-d '\\{"apiVersion":"admission\\.k8s\\.io/v1"`,
      ),
    );
  });

  // Under a 1-CPU limit V8's background thread shares a core with the thread that answers
  // (docs/server.md, Hostile input). Nice values are per thread on Linux: field 19 of stat.
  // The server inherits this test's nice value (0 unless the runner was started lower).
  it(
    'runs its helper threads at nice 10 and the thread that answers as it was started',
    { skip: process.platform !== 'linux' },
    async () => {
      // The JSON log on stdout may arrive after the listening line on stderr.
      const message = 'helper threads run at a lower priority than the thread that answers';
      await waitFor(() => serve.logs(message).length > 0, 5000, 'the helper threads log line');
      const niceOf = (tid: string) =>
        Number(readFileSync(`/proc/${serve.child.pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
      const started = getPriority();
      const threads = readdirSync(`/proc/${serve.child.pid}/task`);
      assert.equal(niceOf(String(serve.child.pid)), started);
      const helpers = threads.filter((t) => t !== String(serve.child.pid));
      const lowered = helpers.filter((t) => niceOf(t) === Math.max(10, started));
      const [line] = serve.logs(message);
      assert.equal(line.nice, 10);
      // V8's background thread and Node's task scheduler at least; libuv's pool, if started.
      assert.ok(line.threads >= 2 && lowered.length >= line.threads, `${lowered.length} of ${helpers.length}`);
    },
  );

  it('answers a real AdmissionReview over HTTPS with the printed CA', async () => {
    const review = masquerade();
    const res = await send({ port: serve.port, path: '/validate', ca, body: review });
    assert.equal(res.status, 200);
    const { response } = res.json();
    assert.equal(response.uid, review.request.uid);
    assert.equal(response.allowed, false);
    assert.equal(response.status.code, 403);
    assert.match(response.status.message, /\[hotplug-binding\]/);
    // The line is written right after the response.
    await waitFor(
      () => serve.logs('admission decision').some((l) => l.uid === review.request.uid),
      5000,
      'the decision log line',
    );
    const line = serve.logs('admission decision').find((l) => l.uid === review.request.uid);
    assert.equal(line.decision, 'denied');
  });

  it('runs the printed curl example as printed', async () => {
    const curl = /curl -sS .* -d '(.*)'$/m.exec(serve.stderr);
    assert.ok(curl);
    const res = await send({ port: serve.port, path: '/validate', ca, body: JSON.parse(curl[1]) });
    const { response } = res.json();
    assert.equal(response.allowed, false);
    assert.match(response.status.message, /\[ovn-provider\]/);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    assert.deepEqual((await send({ port: serve.port, path: '/healthz', ca })).json(), { status: 'ok' });
    const ready = await send({ port: serve.port, path: '/readyz', ca });
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json().checks, { certificates: true, clusterView: true });
    const metrics = await send({ port: serve.metricsPort, path: '/metrics', plain: true });
    assert.equal(metrics.status, 200);
    assert.match(
      metrics.text,
      new RegExp(
        /nicguard_admission_requests_total\{webhook="validate",kind="VirtualMachine",operation="UPDATE",/.source +
          /decision="denied",dry_run="false"\} [1-9]/.source,
      ),
    );
    assert.match(metrics.text, /nicguard_cluster_cache_synced\{resource="files"\} 1/);
    assert.match(metrics.text, /process_resident_memory_bytes \d+/);
  });

  it('serves no plain HTTP on the admission port', async () => {
    await assert.rejects(send({ port: serve.port, path: '/healthz', plain: true }));
  });

  it('finishes a request in flight on SIGTERM, then exits 0 within the grace period', async () => {
    const body = Buffer.from(JSON.stringify(masquerade()));
    const reply = new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: serve.port,
          path: '/validate',
          method: 'POST',
          ca,
          servername: 'localhost',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }),
          );
        },
      );
      req.on('error', reject);
      // Half the body now, the rest after SIGTERM: the request is in flight when it arrives.
      req.write(body.subarray(0, 100));
      setTimeout(() => {
        serve.child.kill('SIGTERM');
        setTimeout(() => req.end(body.subarray(100)), 300);
      }, 200);
    });
    const started = Date.now();
    const res = await reply;
    assert.equal(res.status, 200);
    assert.equal(res.json().response.allowed, false);
    assert.equal(res.headers.connection, 'close');
    const { code } = await serve.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 5000, 'exited within the grace period');
    assert.equal(serve.logs('shutting down: no new connections; finishing requests in flight').length, 1);
  });

  it('reuses the certificates on the next start', async () => {
    const again = await new Serve(
      ['--dev', '--objects', OBJECTS, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1'],
      cwd,
    ).listening();
    try {
      assert.match(again.stderr, /reused the certificates in certs\//);
      assert.equal(readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8'), ca);
      assert.equal((await send({ port: again.port, path: '/healthz', ca })).status, 200);
      again.child.kill('SIGTERM');
      assert.equal((await again.exited).code, 0);
    } finally {
      await again.stop();
    }
  });
});

describe('nicguard serve --config', () => {
  it('reloads a changed configuration and keeps the old one when the new file is bad', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'nicguard-serve-config-'));
    const configFile = join(cwd, 'nicguard.yaml');
    writeFileSync(configFile, 'rules:\n  hotplug-binding: warn\n');
    const serve = await new Serve(
      [
        '--dev',
        '--objects',
        OBJECTS,
        '--config',
        configFile,
        '--port',
        '0',
        '--metrics-port',
        '0',
        '--host',
        '127.0.0.1',
      ],
      cwd,
    ).listening();
    const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
    const decide = async () =>
      (await send({ port: serve.port, path: '/validate', ca, body: masquerade() })).json().response;
    try {
      const warned = await decide();
      assert.equal(warned.allowed, true);
      assert.match(warned.warnings[0], /^\[hotplug-binding\]/);

      assert.equal(serve.logs('judging under these releases').length, 1);
      writeFileSync(configFile, 'rules:\n  hotplug-binding: deny\nkubeovnVersion: v1.17.0\n');
      await waitFor(() => serve.logs('configuration reloaded').length === 1, 10_000, 'the reload');
      assert.equal((await decide()).allowed, false);
      // A release nicguard has not read is said in the log at once, as a warning.
      const unread = /^Kube-OVN v1\.17\.0: not a release nicguard has read/;
      await waitFor(() => /v1\.17\.0/.test(serve.stdout), 5_000, 'the release warning');
      const warning = serve.stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
        .find((l) => unread.test(l.msg));
      assert.equal(warning?.level, 40, serve.stdout);
      assert.equal(warning?.kubeovn, 'v1.17.0 (from the configuration)');

      writeFileSync(configFile, 'rules:\n  hotplug-binding: maybe\n');
      await waitFor(
        () => serve.logs('new configuration rejected; keeping the previous one').length === 1,
        10_000,
        'the rejection',
      );
      const rejected = serve.logs('new configuration rejected; keeping the previous one')[0];
      assert.match(rejected.reason, /rules\.hotplug-binding: must be one of/);
      assert.equal((await decide()).allowed, false, 'the previous configuration still applies');
      const metrics = await send({ port: serve.metricsPort, path: '/metrics', plain: true });
      assert.match(metrics.text, /nicguard_reloads_total\{file="config",result="applied"\} 1/);
      assert.match(metrics.text, /nicguard_reloads_total\{file="config",result="rejected"\} 1/);
    } finally {
      await serve.stop();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('nicguard serve --objects (reload)', () => {
  it('sees a NAD added to the folder while it runs', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'nicguard-serve-objects-'));
    const objects = join(cwd, 'objects');
    cpSync(OBJECTS, objects, { recursive: true });
    const serve = await new Serve(
      ['--dev', '--objects', objects, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1'],
      cwd,
    ).listening();
    const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
    const review = () =>
      admissionReview(update(fedora(), addMultusNic(fedora(), 'dyniface1', { bridge: {} }, 'late-net')));
    try {
      const before = (await send({ port: serve.port, path: '/validate', ca, body: review() })).json().response;
      assert.equal(before.allowed, false);
      assert.match(before.status.message, /\[nad-exists\]/);
      writeFileSync(
        join(objects, 'late.yaml'),
        'apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\n' +
          'metadata:\n  name: late-net\n  namespace: default\n' +
          'spec:\n  config: \'{"cniVersion": "0.3.1", "type": "bridge", "name": "late-net"}\'\n',
      );
      await waitFor(() => serve.logs('cluster view reloaded from files').length > 0, 10_000, 'the folder reload');
      const after = (await send({ port: serve.port, path: '/validate', ca, body: review() })).json().response;
      assert.equal(after.allowed, true, JSON.stringify(after));
    } finally {
      await serve.stop();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('nicguard serve: bad flags and files', () => {
  let cwd: string;
  before(() => (cwd = mkdtempSync(join(tmpdir(), 'nicguard-serve-bad-'))));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  const run = async (args: string[]) => {
    const s = new Serve(args, cwd);
    const { code } = await s.exited;
    return { code, stderr: s.stderr };
  };

  it('exits 2 with a clear message and no stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['--objects', OBJECTS], /give both --cert FILE and --key FILE, or --dev/],
      [
        ['--cert', join(cwd, 'missing.crt'), '--key', join(cwd, 'missing.key'), '--objects', OBJECTS],
        /missing\.crt: cannot read certificate \(ENOENT\)/,
      ],
      [['--dev', '--cert', 'x', '--key', 'y', '--objects', OBJECTS], /--dev makes its own certificates/],
      [['--dev', '--objects', join(cwd, 'nowhere')], /--objects .*nowhere: no manifests found/],
      [['--dev', '--objects', OBJECTS, '--config', join(cwd, 'none.yaml')], /none\.yaml: cannot read config file/],
      [['--dev', '--objects', OBJECTS, '--port', '70000'], /--port <port>.*expected a port number/],
      [['--dev', '--objects', OBJECTS, '--log-level', 'loud'], /--log-level <level>.*expected one of/],
      [['--dev', '--objects', OBJECTS, '--helper-thread-nice', '20'], /--helper-thread-nice <n>.*nice value 0-19/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const { code, stderr } = results[i];
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /\n\s+at /);
    }
  });
});

describe('nicguard serve --kubeconfig (informer cluster view)', () => {
  it("stays unready and refuses to judge until the first sync, then judges with the cluster's objects", async () => {
    const nad = {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'cluster-only-net', namespace: 'default', resourceVersion: '90' },
      spec: { config: JSON.stringify({ cniVersion: '0.3.1', type: 'bridge', name: 'cluster-only-net' }) },
    };
    // Lists are held back until release(), to see readiness wait for the first sync.
    const api = new FakeApiServer();
    api.put('nad', nad);
    api.holdLists = true;
    await api.start();
    const cwd = mkdtempSync(join(tmpdir(), 'nicguard-serve-informer-'));
    const kubeconfig = join(cwd, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig());
    const serve = await new Serve(
      ['--dev', '--kubeconfig', kubeconfig, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1'],
      cwd,
    ).listening();
    const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
    const hotplugOnto = (networkName: string) =>
      admissionReview(update(fedora(), addMultusNic(fedora(), 'dyniface1', { bridge: {} }, networkName)));
    try {
      const unready = await send({ port: serve.port, path: '/readyz', ca });
      assert.equal(unready.status, 503);
      assert.deepEqual(unready.json().checks, { certificates: true, clusterView: false });
      const early = await send({ port: serve.port, path: '/validate', ca, body: hotplugOnto('cluster-only-net') });
      assert.equal(early.status, 503);
      assert.match(early.json().message, /not synced/);

      api.release();
      await waitFor(
        async () => (await send({ port: serve.port, path: '/readyz', ca })).status === 200,
        10_000,
        'readiness after the sync',
      ).catch((err) => {
        throw new Error(`${err.message}\n${serve.stdout}`);
      });
      const known = (
        await send({ port: serve.port, path: '/validate', ca, body: hotplugOnto('cluster-only-net') })
      ).json().response;
      assert.equal(known.allowed, true, JSON.stringify(known));
      const unknown = (await send({ port: serve.port, path: '/validate', ca, body: hotplugOnto('attachnet') })).json()
        .response;
      assert.equal(unknown.allowed, false, 'attachnet exists in examples/, not in this cluster');
      assert.match(unknown.status.message, /\[nad-exists\]/);
      const metrics = await send({ port: serve.metricsPort, path: '/metrics', plain: true });
      assert.match(
        metrics.text,
        /nicguard_cluster_cache_synced\{resource="network-attachment-definitions\.k8s\.cni\.cncf\.io"\} 1/,
      );
      assert.match(
        metrics.text,
        /nicguard_cluster_cache_objects\{resource="network-attachment-definitions\.k8s\.cni\.cncf\.io"\} 1/,
      );

      serve.child.kill('SIGTERM');
      assert.equal((await serve.exited).code, 0);
    } finally {
      await serve.stop();
      await api.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

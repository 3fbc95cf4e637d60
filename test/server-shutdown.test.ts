// `nicguard serve` stopping as Kubernetes stops it: SIGTERM, a shutdown delay while the
// endpoint is withdrawn, then the drain. The built CLI runs in a child process and is
// driven over real HTTPS, kept-alive connections included, as the API server drives it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest, type AgentOptions } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { ROOT, example, update } from './support.js';
import { fedora } from './hotplug-fixtures.js';
import { admissionReview, waitFor } from './server-support.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const OBJECTS = join(ROOT, 'examples', 'cluster');

class ServeProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  port = 0;
  readonly exited: Promise<{ code: number | null; at: number }>;

  constructor(args: string[], cwd: string) {
    this.child = spawn(
      process.execPath,
      [CLI, 'serve', '--dev', '--objects', OBJECTS, '--host', '127.0.0.1', '--metrics-port', '0', ...args],
      {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stdout!.on('data', (c) => (this.stdout += c));
    this.child.stderr!.on('data', (c) => (this.stderr += c));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve({ code, at: Date.now() })));
  }

  async listening(): Promise<this> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    await waitFor(() => exited || /listening on https:\/\/\S+:\d+/.test(this.stderr), 20_000, 'the listening line');
    const m = /listening on https:\/\/\S+:(\d+)/.exec(this.stderr);
    if (!m) throw new Error(`serve did not start:\n${this.stderr}`);
    this.port = Number(m[1]);
    return this;
  }

  logged(msg: string): boolean {
    return this.stdout.split('\n').some((l) => l.includes(`"msg":"${msg}`));
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

function send(port: number, ca: string, opts: { path: string; body?: string; agent?: Agent }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: opts.path,
        method: opts.body === undefined ? 'GET' : 'POST',
        ca,
        servername: 'localhost',
        agent: opts.agent ?? new Agent({ keepAlive: false }),
        headers: opts.body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reusedSocket: req.reusedSocket }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A TLS connection that has shaken hands and sent nothing yet. */
function openTls(port: number, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends one request on a raw connection and reads its answer (Content-Length bodies only). */
function rawRequest(
  socket: TLSSocket,
  path: string,
  body: string,
): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (Buffer.byteLength(text.slice(end + 4)) < length) return;
      socket.off('data', onData);
      resolve({ status: Number(head.split(' ')[1]), head, body: text.slice(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () =>
      reject(new Error(`connection closed before an answer (got ${JSON.stringify(text.slice(0, 80))})`)),
    );
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
}

const REVIEW = admissionReview(update(fedora(), example('bad/masquerade-hotplug.yaml')));
let serial = 0;
/** The refused hotplug review, with a uid of its own. */
const reviewBody = () => JSON.stringify({ ...REVIEW, request: { ...REVIEW.request, uid: `shutdown-${++serial}` } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nicguard serve: SIGTERM', () => {
  let cwd: string;
  let ca: string;

  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'nicguard-shutdown-'));
    // Make the dev certificates once; every server below reuses them.
    const first = await new ServeProcess(['--port', '0'], cwd).listening();
    await first.kill();
    ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it(
    'turns not ready at once, serves kept-alive and new connections through the delay, ' +
      'then closes quiet ones and exits 0',
    async () => {
      const serve = await new ServeProcess(
        ['--port', '0', '--shutdown-delay', '1.5', '--grace-period', '10'],
        cwd,
      ).listening();
      try {
        const kept = new Agent({ keepAlive: true, maxSockets: 1 });
        const idle = new Agent({ keepAlive: true, maxSockets: 1 });
        assert.equal((await send(serve.port, ca, { path: '/validate', body: reviewBody(), agent: kept })).status, 200);
        assert.equal((await send(serve.port, ca, { path: '/healthz', agent: idle })).status, 200);
        const idleSocket = (idle.freeSockets as Record<string, Socket[]>)[Object.keys(idle.freeSockets)[0]][0];
        let idleClosedAt = 0;
        idleSocket.once('close', () => (idleClosedAt = Date.now()));

        const signalledAt = Date.now();
        serve.child.kill('SIGTERM');
        await waitFor(
          async () => (await send(serve.port, ca, { path: '/readyz' })).status === 503,
          1000,
          '/readyz 503',
        );
        const readyz = await send(serve.port, ca, { path: '/readyz' });
        assert.equal(JSON.parse(readyz.body).checks.notShuttingDown, false);
        assert.ok(Date.now() - signalledAt < 1000, 'not ready well within the delay');

        // A review on the connection kept alive from before the signal: answered, and the
        // answer says to close it.
        const onKept = await send(serve.port, ca, { path: '/validate', body: reviewBody(), agent: kept });
        assert.equal(onKept.status, 200);
        assert.equal(onKept.reusedSocket, true);
        assert.equal(onKept.headers.connection, 'close');
        assert.equal(JSON.parse(onKept.body).response.allowed, false);
        // New connections are still taken during the delay.
        const fresh = await send(serve.port, ca, { path: '/validate', body: reviewBody() });
        assert.equal(fresh.status, 200);
        assert.equal(fresh.headers.connection, 'close');

        // Opened just before the listener closes, sending only after it has: still answered.
        await sleep(Math.max(0, signalledAt + 1300 - Date.now()));
        const late = await openTls(serve.port, ca);
        await waitFor(() => serve.logged('shutting down: no new connections'), 3000, 'the listener to close');
        await sleep(200);
        const lateAnswer = await rawRequest(late, '/validate', reviewBody());
        assert.equal(lateAnswer.status, 200);
        assert.match(lateAnswer.head, /connection: close/i);
        assert.equal(JSON.parse(lateAnswer.body).response.allowed, false);

        const { code, at } = await serve.exited;
        assert.equal(code, 0);
        assert.ok(idleClosedAt > 0, 'the idle kept-alive connection was closed by the server');
        assert.ok(
          idleClosedAt - signalledAt >= 1400,
          `idle connection kept through the delay (closed after ${idleClosedAt - signalledAt} ms)`,
        );
        assert.ok(at - signalledAt < 8000, `exited within the grace period (${at - signalledAt} ms)`);
        kept.destroy();
        idle.destroy();
      } finally {
        await serve.kill();
      }
    },
  );

  it('finishes a review whose body is still arriving when the listener closes', async () => {
    const serve = await new ServeProcess(
      ['--port', '0', '--shutdown-delay', '0.5', '--grace-period', '10'],
      cwd,
    ).listening();
    try {
      const body = reviewBody();
      const socket = await openTls(serve.port, ca);
      socket.write(
        'POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 50)}`,
      );
      serve.child.kill('SIGTERM');
      await waitFor(() => serve.logged('shutting down: no new connections'), 3000, 'the listener to close');
      await sleep(300);
      let text = '';
      socket.on('data', (c) => (text += c));
      const closed = new Promise((r) => socket.once('close', r));
      socket.write(body.slice(50));
      await closed;
      assert.match(text, /^HTTP\/1\.1 200/);
      assert.match(text, /connection: close/i);
      assert.equal((await serve.exited).code, 0);
    } finally {
      await serve.kill();
    }
  });

  it('restarts under keep-alive load at ~1,000 reviews/s without failing one', async () => {
    // The client plays the API server behind a Service: keep-alive connections (each stays
    // bound to its server, as conntrack keeps it), new connections only to a ready server
    // (the endpoint is withdrawn when /readyz fails; the poll below stands in for the
    // endpoints controller and kube-proxy), and a retry only when a connection is refused,
    // i.e. when nothing was sent. Any other error or a non-200 answer is a failure.
    const args = ['--shutdown-delay', '1', '--grace-period', '8'];
    const old = await new ServeProcess(['--port', '0', ...args], cwd).listening();
    const port = old.port;
    let next: ServeProcess | undefined;
    let ready = true;
    let stop = false;
    const poller = (async () => {
      while (!stop) {
        ready = await send(port, ca, { path: '/readyz' }).then(
          (r) => r.status === 200,
          () => false,
        );
        await sleep(50);
      }
    })();

    class ServiceAgent extends Agent {
      constructor(options: AgentOptions) {
        super(options);
        const dial = (this as unknown as { createConnection: (o: object) => Socket }).createConnection.bind(this);
        // Dials wait until the service has a ready endpoint, as new connections do once
        // kube-proxy has dropped a terminating pod.
        (
          this as unknown as { createConnection: (o: object, cb: (err: Error | null, s?: Socket) => void) => undefined }
        ).createConnection = (o, cb) => {
          void waitFor(() => ready, 20_000, 'a ready endpoint').then(() => cb(null, dial(o)), cb);
          return undefined;
        };
      }
    }
    const CONNECTIONS = 16;
    const agent = new ServiceAgent({
      keepAlive: true,
      maxSockets: CONNECTIONS,
      ca,
      servername: 'localhost',
    } as AgentOptions);
    // At most one request per connection in the agent at a time; the rest wait here, as
    // requests wait in the API server. (Node's agent would otherwise start a dial for every
    // queued request while dials are held back, and flood the new server at once.)
    let slots = CONNECTIONS;
    const waiting: (() => void)[] = [];
    const acquire = () => (slots > 0 ? (slots--, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)));
    const release = () => {
      const nextInLine = waiting.shift();
      if (nextInLine) nextInLine();
      else slots++;
    };

    const counts = { sent: 0, ok: 0, refusedRetried: 0, failed: 0, closeHeaders: 0 };
    const failures: string[] = [];
    let signalledAt = 0;
    const one = async (): Promise<void> => {
      const body = reviewBody();
      const uid = JSON.parse(body).request.uid;
      await acquire();
      try {
        await attempt(body, uid);
      } finally {
        release();
      }
    };
    const attempt = async (body: string, uid: string): Promise<void> => {
      for (;;) {
        try {
          const r = await send(port, ca, { path: '/validate', body, agent });
          if (r.status === 200 && JSON.parse(r.body).response.uid === uid) counts.ok++;
          else {
            counts.failed++;
            failures.push(`HTTP ${r.status}`);
          }
          if (r.headers.connection === 'close') counts.closeHeaders++;
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
            counts.refusedRetried++;
            await sleep(20);
            continue;
          }
          counts.failed++;
          failures.push(
            `${Date.now() - signalledAt} ms after SIGTERM: ` +
              `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`,
          );
          return;
        }
      }
    };

    const inFlight: Promise<void>[] = [];
    const RATE = 1000;
    const started = Date.now();
    let signalled = false;
    try {
      // Paced in 10 ms ticks for 5 s: 1 s before the SIGTERM, 4 s through the restart.
      while (Date.now() - started < 5000) {
        const due = Math.floor(((Date.now() - started) * RATE) / 1000);
        while (counts.sent < due) {
          counts.sent++;
          inFlight.push(one());
        }
        if (!signalled && Date.now() - started >= 1000) {
          signalled = true;
          signalledAt = Date.now();
          old.child.kill('SIGTERM');
          // The new server takes the port once the old one has let it go.
          void waitFor(() => old.logged('shutting down: no new connections'), 5000, 'the old listener to close').then(
            async () => {
              next = await new ServeProcess(['--port', String(port), ...args], cwd).listening();
            },
          );
        }
        await sleep(10);
      }
      await Promise.all(inFlight);
      const { code } = await old.exited;
      assert.equal(code, 0, 'the old server exited cleanly');
      assert.ok(next, 'the new server started on the same port');
      assert.equal((await send(port, ca, { path: '/healthz' })).status, 200);
      process.stderr.write(`restart under load: ${JSON.stringify(counts)}\n`);
      assert.deepEqual(
        failures.slice(0, 20),
        [],
        `${failures.length} failures; old server:\n${old.stdout.slice(-3000)}`,
      );
      assert.equal(counts.ok, counts.sent);
      assert.ok(counts.sent >= 3000, `sent ${counts.sent}`);
      assert.ok(counts.closeHeaders > 0, 'the old server asked its connections to close');
    } finally {
      stop = true;
      await poller;
      agent.destroy();
      await old.kill();
      await next?.kill();
    }
  });
});

// Webhook server benchmark: `nicguard serve --objects examples/cluster` against a bare Node
// HTTPS server that reads each body and answers a fixed `allowed: true` review, both in
// child processes, both loaded by the same autocannon client over keep-alive HTTPS on
// loopback in the same run. Prints requests/s and p50/p99 latency for each, the throughput
// ratio (serve / bare), latency at 1,000 requests/s (autocannon's overallRate, which comes
// in bursts, and a steadily paced run), and each server's resident memory after the run.
//
// A fourth server parses and then does 10 µs of busy work per review: it shows what each µs of a
// webhook's own work costs in CPU per request under this load, and so what the aim leaves.
//
// The max-throughput figures (req/s, p99, server CPU µs per request) are the median of
// --runs runs (default 3) per server, interleaved so that a busy moment of a shared machine
// does not land on one server only. CPU per request is read from /proc and does not count
// time spent waiting for a core, so it is the steadiest figure; its ratio to the server that
// only parses the review is nicguard's own cost (aim <= 1.3).
//
//   npm run build && node dist/bench/server.js [--duration S] [--connections N] [--rate R] [--runs N]
//   node dist/bench/server.js --print-corpus     (the requests as JSON, for replaying)
//   NICGUARD_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node dist/bench/server.js
//                                                (Node flags for serve: here a CPU profile, written when it stops)
//
// Aims on a 2-core machine: p99 < 5 ms at 1,000 requests/s, RSS < 150 MB, CPU per request
// <= 1.3x the parse-only server (issue 11). Throughput against the bare server, which reads the body
// but does not parse it, is printed for scale only.
import { admissionReview } from '../test/server-support.js';
import { cpuMs, rssMb, stopChild, LOOPBACK_ANY_PORTS } from './process.js';
import { median, percentile } from './stats.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { generateCertificates } from '../src/certs/generate.js';
import { secureOptions } from '../src/server/tls.js';
import { update, type Manifest as KubeObject } from '../test/support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Busy work per review of the calibration server: about what nicguard's engine costs in a warm loop. */
const CALIBRATION_WORK_US = 10;
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const SELF = fileURLToPath(import.meta.url);

// autocannon ships no types; this is the part used here.
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
interface AutocannonInstance extends Promise<AutocannonResult> {
  on(event: 'response', fn: (client: unknown, statusCode: number, bytes: number, ms: number) => void): void;
}
type Autocannon = (opts: Record<string, unknown>) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

// ---- the baselines, run as `node dist/bench/server.js --baseline CERT KEY [parse]` ----

// `bare` reads each body and answers a fixed review. `parse` also parses the body as JSON and
// echoes its uid: the least any real webhook must do, so serve/parse shows nicguard's own cost.
// `workUs` > 0 adds that much busy work per review after parsing: a calibration of what each
// µs of a webhook's own work costs in CPU per request under this load (more than a µs: a slower
// server's answers find the client asleep more often, and waking it is charged to the server).
function runBaseline(certFile: string, keyFile: string, parse: boolean, workUs = 0): void {
  const fixed = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'fixed', allowed: true },
  });
  const server = createServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile), ...secureOptions() },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => (parse ? chunks.push(c) : undefined));
      req.on('end', () => {
        if (workUs > 0) busyFor(workUs);
        const answer = parse
          ? JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: { uid: JSON.parse(Buffer.concat(chunks).toString('utf8')).request?.uid, allowed: true },
            })
          : fixed;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    },
  );
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

/** Spins for `us` microseconds: work that touches no memory, as cheap for the caches as work can be. */
function busyFor(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
}

// ---- the corpus: VM UPDATE reviews from the seed examples, as the API server sends them ----

function readExample(rel: string): KubeObject {
  return parseAllDocuments(readFileSync(join(ROOT, 'examples', rel), 'utf8'))[0].toJS() as KubeObject;
}

const NETWORKS = ['attachnet', 'new-fancy-net', 'shared-networks/storage-net'];

/** A VM as a real cluster returns it: managed fields, status, a few NICs. */
function clusterVm(base: KubeObject, id: number, nics: number): KubeObject {
  const vm = structuredClone(base);
  const name = `vm-${id}`;
  vm.metadata = {
    name,
    namespace: 'default',
    uid: `4f3c${String(id).padStart(8, '0')}-1b2c-4d5e-8f90-a1b2c3d4e5f6`,
    resourceVersion: String(100000 + id),
    generation: 3,
    labels: { app: `app-${id % 7}`, 'kubevirt.io/os': 'fedora' },
    annotations: { 'kubevirt.io/latest-observed-api-version': 'v1', 'kubevirt.io/storage-observed-api-version': 'v1' },
    managedFields: [
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'kubevirt.io/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:spec': { 'f:runStrategy': {}, 'f:template': { 'f:spec': { 'f:domain': {}, 'f:networks': {} } } },
        },
      },
      {
        manager: 'virt-controller',
        operation: 'Update',
        subresource: 'status',
        apiVersion: 'kubevirt.io/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:printableStatus': {}, 'f:ready': {} } },
      },
    ],
  };
  const spec = vm.spec.template.spec;
  for (let i = 1; i < nics; i++) {
    spec.domain.devices.interfaces.push({ name: `net${i}`, bridge: {}, ...(i % 2 ? { model: 'virtio' } : {}) });
    spec.networks.push({ name: `net${i}`, multus: { networkName: NETWORKS[(id + i) % NETWORKS.length] } });
  }
  vm.status = {
    created: true,
    ready: true,
    printableStatus: 'Running',
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2025-01-14T09:22:41Z' }],
    volumeSnapshotStatuses: [
      {
        name: 'containerdisk',
        enabled: false,
        reason: 'Snapshot is not supported for this volumeSource type [containerdisk]',
      },
    ],
  };
  return vm;
}

function review(id: number, oldObject: KubeObject, object: KubeObject): string {
  const body = admissionReview(update(oldObject, object, { uid: `bench-${id}`, namespace: 'default' }), {
    options: { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply' },
  });
  body.request.userInfo = { username: 'alice', groups: ['system:authenticated'] };
  return JSON.stringify(body);
}

/** Hotplugs, unplugs by removal, refused hotplugs and plain edits, to /validate and /mutate. */
function corpus(size: number): AutocannonRequest[] {
  const base = readExample('old/vm-fedora.yaml');
  const out: AutocannonRequest[] = [];
  for (let id = 0; id < size; id++) {
    const nics = 1 + (id % 3);
    const before = clusterVm(base, id, nics);
    const after = structuredClone(before);
    const spec = after.spec.template.spec;
    switch (id % 4) {
      case 0: // hotplug a bridge NIC on the Kube-OVN network: allowed
        spec.domain.devices.interfaces.push({ name: 'dyniface1', bridge: {} });
        spec.networks.push({ name: 'dyniface1', multus: { networkName: 'attachnet' } });
        break;
      case 1: // hotplug a masquerade NIC: refused
        spec.domain.devices.interfaces.push({ name: 'dyniface1', masquerade: {} });
        spec.networks.push({ name: 'dyniface1', multus: { networkName: 'new-fancy-net' } });
        break;
      case 2: // remove the last secondary NIC (or add one when there is none): patched on /mutate
        if (nics > 1) {
          spec.domain.devices.interfaces.pop();
          spec.networks.pop();
        } else {
          spec.domain.devices.interfaces.push({ name: 'dyniface1', bridge: {}, model: 'virtio' });
          spec.networks.push({ name: 'dyniface1', multus: { networkName: 'new-fancy-net' } });
        }
        break;
      default: // a label edit: nothing about NICs
        after.metadata!.labels = { ...after.metadata!.labels, edited: 'true' };
    }
    out.push({
      method: 'POST',
      // Each kind of change goes to both webhooks, as the API server sends it to both.
      path: Math.floor(id / 4) % 2 === 0 ? '/validate' : '/mutate',
      headers: { 'content-type': 'application/json' },
      body: review(id, before, after),
    });
  }
  return out;
}

// ---- running the two servers and the load ----

/** No drain delay on SIGTERM: the bench stops serve when done, and a --cpu-prof in its flags gets written. */
const NO_DRAIN = ['--shutdown-delay', '0'];

function startChild(
  args: string[],
  cwd: string,
  ready: RegExp,
  stream: 'stdout' | 'stderr',
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, {
    cwd,
    stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', stream === 'stderr' ? 'pipe' : 'ignore'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${text}`)), 20_000);
    child[stream]!.on('data', (c) => {
      text += c;
      const m = ready.exec(text);
      if (m) {
        clearTimeout(timer);
        child[stream]!.removeAllListeners('data');
        child[stream]!.resume();
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${text}`));
    });
  });
}

interface Measured {
  /** Server CPU per answered request, in µs: independent of what else the machine runs. */
  cpuUs: number;
  rps: number;
  p50: number;
  p99: number;
  total: number;
  failures: number;
}

async function load(
  target: { port: number; pid: number },
  requests: AutocannonRequest[],
  opts: { seconds: number; connections: number; rate?: number },
): Promise<Measured> {
  const { port, pid } = target;
  const samples: number[] = [];
  const cpuBefore = cpuMs(pid);
  const instance = autocannon({
    url: `https://127.0.0.1:${port}`,
    connections: opts.connections,
    pipelining: 1,
    duration: opts.seconds,
    requests,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
  });
  // autocannon's own histogram keeps whole milliseconds; the raw times keep fractions.
  instance.on('response', (_c, _status, _bytes, ms) => samples.push(ms));
  const result = await instance;
  const cpuUsed = cpuMs(pid) - cpuBefore;
  const sorted = Float64Array.from(samples).sort();
  return {
    cpuUs: (cpuUsed * 1000) / Math.max(1, result.requests.total),
    rps: result.requests.total / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    total: result.requests.total,
    failures: result.errors + result.timeouts + result.non2xx,
  };
}

/**
 * A steady 1,000 requests/s: one request every millisecond on a keep-alive pool, latency
 * counted from when each request was due (so a stall is not hidden by sending later).
 * autocannon's `overallRate` sends each second's quota back to back at the start of the
 * second, which measures bursts at full speed rather than a steady rate.
 */
async function paced(
  target: { port: number; pid: number },
  ca: string,
  requests: AutocannonRequest[],
  opts: { seconds: number; rate: number; connections: number },
): Promise<Measured> {
  const { request, Agent } = await import('node:https');
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const total = Math.round(opts.seconds * opts.rate);
  const interval = 1000 / opts.rate;
  const samples: number[] = [];
  let failures = 0;
  const cpuBefore = cpuMs(target.pid);
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let answered = 0;
    const finish = () => {
      if (++answered === total) resolve();
    };
    const send = (due: number) => {
      const r = requests[sent % requests.length];
      const req = request(
        {
          host: '127.0.0.1',
          port: target.port,
          path: r.path,
          method: 'POST',
          ca,
          servername: 'localhost',
          agent,
          headers: r.headers,
        },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            if (res.statusCode === 200) samples.push(performance.now() - due);
            else failures++;
            finish();
          });
        },
      );
      req.on('error', () => {
        failures++;
        finish();
      });
      req.end(r.body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) send(start + sent++ * interval);
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = Float64Array.from(samples).sort();
  return {
    cpuUs: ((cpuMs(target.pid) - cpuBefore) * 1000) / Math.max(1, total),
    rps: total / elapsed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    total,
    failures,
  };
}

/** One request per corpus entry, to show the mix of decisions the load exercises. */
async function decisions(port: number, ca: string, requests: AutocannonRequest[]): Promise<Record<string, number>> {
  const { request } = await import('node:https');
  const counts: Record<string, number> = {};
  for (const r of requests) {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: r.path, method: 'POST', ca, servername: 'localhost', headers: r.headers },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
    const { response } = JSON.parse(body);
    const key = !response.allowed
      ? 'denied'
      : response.patch
        ? 'patched'
        : response.warnings
          ? 'allowed with warnings'
          : 'allowed';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** Field by field median of several runs; totals and failures summed. */
function medianOf(runs: Measured[]): Measured {
  return {
    cpuUs: median(runs.map((r) => r.cpuUs)),
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    total: runs.reduce((a, r) => a + r.total, 0),
    failures: runs.reduce((a, r) => a + r.failures, 0),
  };
}

async function main(): Promise<void> {
  const seconds = option('duration', 6);
  const connections = option('connections', 8);
  const rate = option('rate', 1000);
  const runs = option('runs', 3);
  const warmup = 2;

  const dir = mkdtempSync(join(tmpdir(), 'nicguard-bench-'));
  const children: ChildProcess[] = [];
  try {
    const bundle = generateCertificates({ commonName: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, bundle.cert);
    writeFileSync(keyFile, bundle.key, { mode: 0o600 });

    const objects = join(ROOT, 'examples', 'cluster');
    if (readdirSync(objects).length === 0) throw new Error(`${objects} is empty`);
    const nodeFlags = process.env.NICGUARD_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
    const tls = ['--cert', certFile, '--key', keyFile];
    const serve = await startChild(
      [...nodeFlags, CLI, 'serve', ...tls, '--objects', objects, ...NO_DRAIN, ...LOOPBACK_ANY_PORTS],
      dir,
      /listening on https:\/\/127\.0\.0\.1:(\d+)/,
      'stderr',
    );
    children.push(serve.child);
    const bare = await startChild([SELF, '--baseline', certFile, keyFile], dir, /listening (\d+)/, 'stdout');
    children.push(bare.child);
    const parsing = await startChild(
      [SELF, '--baseline', certFile, keyFile, 'parse'],
      dir,
      /listening (\d+)/,
      'stdout',
    );
    children.push(parsing.child);
    const working = await startChild(
      [SELF, '--baseline', certFile, keyFile, 'parse', String(CALIBRATION_WORK_US)],
      dir,
      /listening (\d+)/,
      'stdout',
    );
    children.push(working.child);

    const requests = corpus(64);
    const sizes = requests.map((r) => Buffer.byteLength(r.body));
    const mix = await decisions(serve.port, bundle.caCert, requests);
    console.log(
      `corpus: ${requests.length} VM UPDATE reviews, ${Math.min(...sizes)}-${Math.max(...sizes)} bytes; ` +
        `nicguard's answers: ${Object.entries(mix)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}`,
    );
    console.log(
      `client: autocannon, ${connections} keep-alive HTTPS connections on loopback; ` +
        `${seconds} s per run after ${warmup} s warm-up\n`,
    );

    const targets = [
      { name: 'bare https', port: bare.port, pid: bare.child.pid! },
      { name: 'bare + parse', port: parsing.port, pid: parsing.child.pid! },
      { name: 'nicguard serve', port: serve.port, pid: serve.child.pid! },
      { name: `parse + ${CALIBRATION_WORK_US} µs`, port: working.port, pid: working.child.pid! },
    ];
    const SERVE = 2;
    const WORKING = 3;
    for (const t of targets) await load(t, requests, { seconds: warmup, connections });

    const maxRuns: Measured[][] = targets.map(() => []);
    for (let run = 0; run < runs; run++) {
      for (const [i, t] of targets.entries()) maxRuns[i].push(await load(t, requests, { seconds, connections }));
    }
    const max = maxRuns.map(medianOf);
    const fixed: Measured[] = [];
    for (const t of targets) fixed.push(await load(t, requests, { seconds, connections, rate }));
    const steady: Measured[] = [];
    for (const t of targets) steady.push(await paced(t, bundle.caCert, requests, { seconds, connections, rate }));

    const row = (name: string, m: Measured) =>
      `  ${name.padEnd(16)}${fmt(m.rps, 0).padStart(9)}${fmt(m.p50).padStart(10)}${fmt(m.p99).padStart(10)}` +
      `${fmt(m.cpuUs, 0).padStart(12)}${String(m.failures).padStart(8)}`;
    const header =
      `${'req/s'.padStart(9)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}` +
      `${'CPU µs/req'.padStart(12)}${'failed'.padStart(8)}`;
    console.log(`max throughput  ${header}   (median of ${runs} runs)`);
    targets.forEach((t, i) => console.log(row(t.name, max[i])));
    console.log(
      `  CPU per request, each run: ` +
        `${targets.map((t, i) => `${t.name} ${maxRuns[i].map((m) => fmt(m.cpuUs, 0)).join('/')}`).join('; ')} µs`,
    );
    console.log(
      `  CPU per request serve/(bare + parse): ${fmt(max[SERVE].cpuUs / max[1].cpuUs)} (aim <= 1.30); ` +
        `serve ${fmt(max[SERVE].cpuUs, 0)} µs, parse-only ${fmt(max[1].cpuUs, 0)} µs`,
    );
    // What one µs of work costs here, and so how much work the aim leaves a webhook beyond parsing.
    const [parsed, worked] = [max[1].cpuUs, max[WORKING].cpuUs];
    const perWorkUs = (worked - parsed) / CALIBRATION_WORK_US;
    console.log(
      `  calibration: parse-only + ${CALIBRATION_WORK_US} µs of busy work per review ${fmt(worked, 0)} µs ` +
        `(${fmt(worked / parsed)}x parse-only): each µs of work costs ${fmt(perWorkUs, 1)} µs of CPU at full ` +
        `load, so the aim leaves ${fmt((0.3 * parsed) / perWorkUs, 0)} µs of work beyond parsing`,
    );
    const ratio = max[SERVE].rps / max[0].rps;
    console.log(
      `  ratio serve/bare: ${fmt(ratio)} (for scale: the bare server does not parse the review); ` +
        `server CPU per request serve/bare: ${fmt(max[SERVE].cpuUs / max[0].cpuUs)}`,
    );
    console.log(
      `  ratio serve/(bare + parse): ${fmt(max[SERVE].rps / max[1].rps)}: ` +
        'what nicguard costs beyond reading and parsing the review\n',
    );
    console.log(`${`${rate} req/s (ac)`.padEnd(16)}${header}`);
    targets.forEach((t, i) => console.log(row(t.name, fixed[i])));
    console.log(
      `  autocannon overallRate: each second's ${rate} requests go out back to back, so this is burst latency\n`,
    );
    console.log(`${`${rate} req/s paced`.padEnd(16)}${header}`);
    targets.forEach((t, i) => console.log(row(t.name, steady[i])));
    console.log(`  one request due every ${fmt(1000 / rate)} ms (node https client), latency from when it was due`);
    console.log(
      `  nicguard serve p99 at ${rate} req/s: ${fmt(fixed[SERVE].p99)} ms in bursts, ` +
        `${fmt(steady[SERVE].p99)} ms paced (aim < 5 ms)\n`,
    );
    console.log(
      `resident memory after the run: nicguard serve ${fmt(rssMb(serve.child.pid!), 1)} MB (aim < 150 MB), ` +
        `bare https ${fmt(rssMb(bare.child.pid!), 1)} MB`,
    );
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--baseline') {
  runBaseline(process.argv[3], process.argv[4], process.argv[5] === 'parse', Number(process.argv[6] ?? 0));
} else if (process.argv[2] === '--print-corpus') {
  // The requests as JSON, to replay one with curl or profile the server with another client.
  process.stdout.write(`${JSON.stringify(corpus(64))}\n`);
} else {
  main().catch((err: Error) => {
    console.error(`bench/server: ${err.message}`);
    process.exit(1);
  });
}

// Latency nicguard adds to a real update: a real kube-apiserver (test/e2e's, with embedded
// etcd) and KubeVirt's real CRDs, and sequential PUTs of a stopped VM (a label changed
// each time) in three configurations measured in the same run:
//
//   none     no webhook is called
//   noop     a no-op webhook: a bare Node HTTPS server that parses each review and answers
//            `allowed: true` with its uid (bench/server.ts --baseline ... parse), the floor
//            any webhook pays
//   nicguard `nicguard serve --kubeconfig` (informer view, default configuration, info
//            logs), as test/e2e runs it
//
// The noop and nicguard servers are each registered with manifests/base/webhooks.yaml's two
// configurations (validating and mutating: the same rules, matchConditions, matchPolicy,
// timeouts and failure policies), pointed at loopback with the same CA and serving
// certificate and the same TLS options. Each configuration owns one namespace, with one VM
// in it: each registration's namespaceSelector gets `kubernetes.io/metadata.name In [its
// namespace]` next to the manifest's own NotIn. So all three are measured without
// re-registering anything, one PUT of each per round, in an order that rotates every round
// to cancel drift and order effects. KubeVirt's virt-api, and so its webhooks, do not run:
// the CRDs (and KubeVirt's RBAC) are what virt-operator installs.
//
// The warm-up (default 1,000 rounds) is long enough for V8 to optimise both servers' request
// paths: after 100 rounds both still ran baseline-tier code and TurboFan was still compiling,
// and each server's CPU per PUT was 1.6-1.7x what it was after 1,500.
//
// Printed: median, p90, p99 of each; the ratios nicguard / noop of the median and the p99,
// and of the latency each adds to `none`; the API server's own mean time per webhook call
// (apiserver_admission_webhook_admission_duration_seconds), nicguard's decision time (its
// log), and each server's CPU per PUT and preemptions (/proc), so that a difference can be
// placed: in the API server, on the wire, or in nicguard.
//
//   bash test/e2e/build.sh && npm run build && node dist/bench/apiserver.js [--puts N] [--warmup N]
//     [--cpu-prof DIR]   (V8 CPU profiles of nicguard and the no-op webhook, written when they stop)
//
// Aim: nicguard / noop <= 1.1 (median and p99).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  ApiServer,
  NICGUARD,
  Nicguard,
  ROOT,
  kubectl,
  requireBinaries,
  startLogged,
  waitFor,
} from '../test/e2e/harness.js';
import { KubeApi } from '../test/e2e/kube-api.js';
import { KubeVirtControlPlane, webhooksWithUrl } from '../test/e2e/kubevirt-control-plane.js';
import { contextSwitches, cpuMs, stopChild } from './process.js';
import { percentile } from './stats.js';

type Obj = Record<string, any>;

const CONFIGS = ['none', 'noop', 'nicguard'] as const;
type Config = (typeof CONFIGS)[number];
/** One namespace per configuration; names of one length, so every request is the same size. */
const NAMESPACE: Record<Config, string> = { none: 'put-none', noop: 'put-noop', nicguard: 'put-nicg' };
const VM = 'vm-fedora';
/** The webhook names each configuration registers (the noop ones are renamed copies). */
const HOOKS: Record<Exclude<Config, 'none'>, string[]> = {
  noop: ['validate.noop.bench.nicguard.io', 'mutate.noop.bench.nicguard.io'],
  nicguard: ['validate.nicguard.io', 'mutate.nicguard.io'],
};

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

function profileDir(): string | undefined {
  const at = process.argv.indexOf('--cpu-prof');
  return at >= 0 ? resolve(process.argv[at + 1] ?? '.') : undefined;
}

function mustK(kubeconfig: string, args: string[], input?: string): string {
  const r = kubectl(kubeconfig, args, input);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** manifests/base's webhook configurations at `port`, limited to the namespace `ns`. */
function registration(port: number, caBundle: string, ns: string, rename?: (name: string) => string): string {
  return webhooksWithUrl(
    readFileSync(join(ROOT, 'manifests', 'base', 'webhooks.yaml'), 'utf8'),
    port,
    caBundle,
    (cfg) => {
      if (rename) cfg.metadata.name = rename(cfg.metadata.name);
      for (const hook of cfg.webhooks as Obj[]) {
        if (rename) hook.name = rename(hook.name);
        hook.namespaceSelector.matchExpressions.push({
          key: 'kubernetes.io/metadata.name',
          operator: 'In',
          values: [ns],
        });
      }
    },
  );
}

/** Per webhook name: calls and seconds so far, from the API server's admission metrics. */
async function webhookTotals(api: KubeApi): Promise<Map<string, { count: number; sum: number }>> {
  const res = await api.request('GET', '/metrics', undefined);
  // Not JSON: KubeApi hands such a body back as `message`.
  const text = String(res.body.message ?? '');
  const totals = new Map<string, { count: number; sum: number }>();
  const line = /^apiserver_admission_webhook_admission_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm;
  for (const m of text.matchAll(line)) {
    const name = /(?:^|,)name="([^"]+)"/.exec(m[2])?.[1];
    if (!name || !/operation="UPDATE"/.test(m[2])) continue;
    const t = totals.get(name) ?? { count: 0, sum: 0 };
    t[m[1] as 'sum' | 'count'] += Number(m[3]);
    totals.set(name, t);
  }
  return totals;
}

/** nicguard's own decision times (ms) for UPDATEs, per webhook: from the end of the body to the answer sent. */
function nicguardDecisionMs(log: string, skip: number): Record<string, Stats> {
  const times: Record<string, number[]> = {};
  const lines = readFileSync(log, 'utf8').split('\n').slice(skip);
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    const d = JSON.parse(l) as { decision?: string; webhook?: string; operation?: string; ms?: number };
    if (!d.decision || d.operation !== 'UPDATE' || typeof d.ms !== 'number') continue;
    (times[d.webhook ?? '?'] ??= []).push(d.ms);
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]));
}

interface Usage {
  cpu: number;
  voluntary: number;
  involuntary: number;
}

interface Stats {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

function stats(samples: number[]): Stats {
  const sorted = Float64Array.from(samples).sort();
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** What runs for the benchmark; each is stopped (if started) at the end. */
interface Running {
  api: ApiServer;
  nicguard?: Nicguard;
  noop?: ChildProcess;
}

/**
 * The API server with the CRDs and seed cluster, nicguard and the no-op webhook with their
 * registrations, and one stopped VM per configuration; returns the PUT of one of them.
 */
async function setUp(work: string, run: Running): Promise<{ admin: KubeApi; put: (c: Config) => Promise<number> }> {
  const { api } = run;
  await api.start();
  const k = (args: string[], input?: string) => mustK(api.kubeconfig, args, input);
  const admin = KubeApi.fromKubeconfig(api.kubeconfig);

  // The kinds nicguard reads (test/e2e's minimal NAD and Subnet CRDs), KubeVirt's real
  // CRDs and RBAC, and the seed cluster (NADs, Subnets, the KubeVirt CR).
  k(['apply', '-f', join(ROOT, 'test', 'e2e', 'crds', 'crds.yaml')]);
  k(['wait', '--for', 'condition=established', 'crd', '--all', '--timeout=60s']);
  new KubeVirtControlPlane(work, api.kubeconfig).install();
  for (const ns of ['shared-networks', ...Object.values(NAMESPACE)]) k(['create', 'namespace', ns]);
  k(['apply', '-f', join(ROOT, 'examples', 'cluster')]);

  // One CA and serving certificate for both webhook servers.
  const certDir = join(work, 'certs');
  const caBundle = execFileSync(process.execPath, [NICGUARD, 'certs', '--ip', '127.0.0.1', '--out', certDir], {
    encoding: 'utf8',
  }).trim();
  const profile = profileDir();
  const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [];
  run.nicguard = new Nicguard(work, Buffer.from(caBundle, 'base64').toString('utf8'), certDir, nodeArgs);
  await run.nicguard.start(api.kubeconfig);
  const noopLog = join(work, 'noop.log');
  const serverJs = fileURLToPath(new URL('./server.js', import.meta.url));
  run.noop = startLogged(
    process.execPath,
    [...nodeArgs, serverJs, '--baseline', join(certDir, 'tls.crt'), join(certDir, 'tls.key'), 'parse'],
    noopLog,
  );
  const noopPort = await waitFor(
    'no-op webhook listening',
    () => /listening (\d+)/.exec(readFileSync(noopLog, 'utf8'))?.[1],
    20_000,
  ).then(Number);

  k(['apply', '-f', '-'], registration(run.nicguard.port, caBundle, NAMESPACE.nicguard));
  k(
    ['apply', '-f', '-'],
    registration(noopPort, caBundle, NAMESPACE.noop, (name) =>
      name === 'nicguard' ? 'noop-bench' : name.replace('.nicguard.io', '.noop.bench.nicguard.io'),
    ),
  );

  // The seed VM, stopped (nothing acts on it), one per namespace.
  const seed = parse(readFileSync(join(ROOT, 'examples', 'old', 'vm-fedora.yaml'), 'utf8')) as Obj;
  seed.spec.runStrategy = 'Halted';
  const vms = {} as Record<Config, Obj>;
  const collection = (c: Config) => `/apis/kubevirt.io/v1/namespaces/${NAMESPACE[c]}/virtualmachines`;
  for (const c of CONFIGS) {
    const vm = structuredClone(seed);
    vm.metadata = { name: VM, namespace: NAMESPACE[c], labels: { app: 'bench' } };
    const r = await admin.request('POST', collection(c), vm);
    if (r.status !== 201) throw new Error(`creating the VM in ${NAMESPACE[c]}: ${r.status} ${r.body.message}`);
    vms[c] = r.body;
  }

  let sequence = 0;
  /** One PUT of the VM of `c` with a new label value; its latency in ms. */
  const put = async (c: Config): Promise<number> => {
    const vm = vms[c];
    vm.metadata.labels = { ...vm.metadata.labels, 'bench.nicguard.io/sequence': String(sequence++) };
    const t0 = performance.now();
    const r = await admin.request('PUT', `${collection(c)}/${VM}`, vm);
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`PUT ${VM} in ${NAMESPACE[c]}: ${r.status} ${r.body.message}`);
    vms[c] = r.body;
    return ms;
  };
  return { admin, put };
}

/** The webhook calls between two readings of the API server's metrics: count and mean ms per name. */
function callsBetween(
  before: Map<string, { count: number; sum: number }>,
  after: Map<string, { count: number; sum: number }>,
): Map<string, { calls: number; ms: number }> {
  const out = new Map<string, { calls: number; ms: number }>();
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, sum: 0 };
    const calls = a.count - b.count;
    if (calls > 0) out.set(name, { calls, ms: ((a.sum - b.sum) * 1000) / calls });
  }
  return out;
}

/**
 * Every registered webhook called for each PUT of its configuration, and nothing else called.
 * A few PUTs may call a webhook twice: the API server runs admission again when its
 * compare-and-swap in etcd finds the object it started from outdated.
 */
function checkCalls(calls: Map<string, { calls: number }>, puts: number): void {
  const expected = [...HOOKS.noop, ...HOOKS.nicguard];
  for (const h of expected) {
    const n = calls.get(h)?.calls ?? 0;
    if (n < puts || n > puts * 1.05) throw new Error(`${h} was called ${n} times for ${puts} PUTs`);
  }
  for (const name of calls.keys())
    if (!expected.includes(name)) throw new Error(`an unexpected webhook was called: ${name}`);
}

function report(
  s: Record<Config, Stats>,
  calls: Map<string, { calls: number; ms: number }>,
  decisionMs: Record<string, Stats>,
): void {
  console.log('configuration   median       p90       p99      mean   (ms)');
  for (const c of CONFIGS) {
    const r = s[c];
    console.log(
      `${c.padEnd(15)} ${fmt(r.p50).padStart(6)}  ${fmt(r.p90).padStart(8)}  ${fmt(r.p99).padStart(8)}  ` +
        `${fmt(r.mean).padStart(8)}`,
    );
  }
  const added = (c: Config, key: keyof Stats) => s[c][key] - s.none[key];
  const addedRatio = (key: keyof Stats) =>
    `${fmt(added('nicguard', key))} vs ${fmt(added('noop', key))} ms: ` +
    fmt(added('nicguard', key) / added('noop', key));
  console.log(
    `nicguard / noop: median ${fmt(s.nicguard.p50 / s.noop.p50)}, p99 ${fmt(s.nicguard.p99 / s.noop.p99)}` +
      '   (aim: <= 1.1)',
  );
  console.log(`latency added to none, nicguard vs noop: median ${addedRatio('p50')}; p99 ${addedRatio('p99')}`);
  const hookLine = (c: 'noop' | 'nicguard') =>
    HOOKS[c].map((h) => `${h.split('.')[0]} ${fmt(calls.get(h)?.ms ?? NaN)} (${calls.get(h)?.calls} calls)`).join(', ');
  console.log(
    `API server's mean time per webhook call (ms): noop ${hookLine('noop')}; nicguard ${hookLine('nicguard')}`,
  );
  console.log(
    "nicguard's decision time (ms, its log), median / mean: " +
      Object.entries(decisionMs)
        .map(([w, d]) => `${w} ${fmt(d.p50, 3)} / ${fmt(d.mean, 3)}`)
        .join(', '),
  );
}

async function main(): Promise<void> {
  const puts = option('puts', 1000);
  const warmup = option('warmup', 1000);
  requireBinaries(['e2e-apiserver', 'kubectl', 'kubevirt-manifests']);
  const work = mkdtempSync(join(tmpdir(), 'nicguard-bench-apiserver-'));
  const run: Running = { api: new ApiServer(work) };
  try {
    const started = performance.now();
    const { admin, put } = await setUp(work, run);

    // The API server picks registrations up asynchronously: PUT until each of the four
    // webhooks has been called, then warm up every path.
    await waitFor(
      'both registrations in effect',
      async () => {
        for (const c of CONFIGS) await put(c);
        const totals = await webhookTotals(admin);
        return [...HOOKS.noop, ...HOOKS.nicguard].every((h) => (totals.get(h)?.count ?? 0) > 0) ? true : undefined;
      },
      30_000,
    );
    for (let i = 0; i < warmup; i++) for (const c of CONFIGS) await put(c);

    const pids = { noop: run.noop!.pid!, nicguard: run.nicguard!.pid! };
    const usage = () =>
      Object.fromEntries(
        (['noop', 'nicguard'] as const).map((c) => [c, { cpu: cpuMs(pids[c]), ...contextSwitches(pids[c]) }]),
      ) as Record<'noop' | 'nicguard', Usage>;
    const usageBefore = usage();
    const before = await webhookTotals(admin);
    const nicguardLog = run.nicguard!.log;
    const logLines = readFileSync(nicguardLog, 'utf8').split('\n').length - 1;
    const samples: Record<Config, number[]> = { none: [], noop: [], nicguard: [] };
    const measureStart = performance.now();
    for (let i = 0; i < puts; i++) {
      // Each round PUTs all three, starting one further along each time.
      for (let j = 0; j < CONFIGS.length; j++) {
        const c = CONFIGS[(i + j) % CONFIGS.length];
        samples[c].push(await put(c));
      }
    }
    const measureSeconds = (performance.now() - measureStart) / 1000;
    const usageAfter = usage();
    const calls = callsBetween(before, await webhookTotals(admin));
    checkCalls(calls, puts);
    // nicguard's log is written in batches at least every 200 ms.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(
      `PUT ${VM} (stopped, a label changed), ${puts} per configuration after ${warmup} warm-up rounds, ` +
        `interleaved; ${fmt(measureSeconds, 1)} s measuring, ${fmt((performance.now() - started) / 1000, 0)} s ` +
        `in all; load average ${load}`,
    );
    const s = Object.fromEntries(CONFIGS.map((c) => [c, stats(samples[c])])) as Record<Config, Stats>;
    report(s, calls, nicguardDecisionMs(nicguardLog, logLines));
    const perPut = (c: 'noop' | 'nicguard', key: keyof Usage) => (usageAfter[c][key] - usageBefore[c][key]) / puts;
    console.log(
      'server CPU per PUT (ms, both calls; 10 ms ticks) and preemptions of its main thread per PUT: ' +
        (['noop', 'nicguard'] as const)
          .map((c) => `${c} ${fmt(perPut(c, 'cpu'), 3)} ms, ${fmt(perPut(c, 'involuntary'))}`)
          .join('; '),
    );
  } finally {
    if (run.noop) await stopChild(run.noop);
    await run.nicguard?.stop();
    await run.api.stop();
    if (process.env.NICGUARD_BENCH_KEEP) console.log(`work dir kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});

// A bounded fuzzer over real HTTPS: starts `nicguard serve --dev --objects examples/cluster`
// on 127.0.0.1 and sends it hostile AdmissionReviews built from real ones
// (test/property-support.ts): wrong types at every path of every seed, random
// structure-aware mutations (some with huge strings and long lists), nesting up to a
// million deep, and garbage bodies. Every answer must be a 200 AdmissionReview echoing the uid, or a 4xx.
//
//   npm run fuzz                 100,000 reviews
//   npm run fuzz -- --count N    N reviews (npm run fuzz:ci: 2,000)
//   --seed S                     another sequence of random mutations (default: fixed)
//   --shared-cpus                server and fuzzer run on any CPU (default: a core each, see cpuPlan)
//   --node-flags=F               more Node flags for nicguard serve, e.g. --node-flags=--single-threaded-gc
//   --serve-flags=F              more flags for nicguard serve, e.g. --serve-flags=--helper-thread-nice=0
//   --cpu-limit N                serve in a cgroup with N CPUs of CFS quota, as limits.cpu sets (root; cpu-limit.ts)
//
// Prints counts of 2xx/4xx/5xx, uid mismatches, connection errors, answer-time percentiles,
// the count over 100 ms and the five slowest answers (cases are generated in a worker
// thread at the lowest priority, so generating them neither delays the timing of an answer
// nor takes a core the server needs),
// throughput and the server's resident memory; writes each 5xx body to a folder for
// replaying. Exits 1 if anything but a 2xx/4xx came back or the server died.
import { createCpuLimitGroup, type CpuLimitGroup, type CpuThrottling } from './cpu-limit.js';
import {
  deployedNodeFlags,
  nodeFlagsOption,
  rssMb,
  serveFlagsOption,
  stopChild,
  LOOPBACK_ANY_PORTS,
  scrapeMetrics,
} from './process.js';
import { percentile } from './stats.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PROPERTY_SEED, seedReviews } from '../test/property-support.js';
import { GENERATOR_NICE, type CaseStreamOptions, type GeneratorStarted, type PreparedCase } from './fuzz-cases.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const n = Number(process.argv[at + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} takes a whole number`);
  return n;
}

/**
 * The CPUs this process may run on ("0-3,6"), as taskset lists them; undefined where there
 * is no taskset (not Linux, or util-linux missing).
 */
function allowedCpus(): number[] | undefined {
  const out = spawnSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
  const list = out.status === 0 ? /:\s*([\d,-]+)\s*$/.exec(out.stdout)?.[1] : undefined;
  if (!list) return undefined;
  return list.split(',').flatMap((range) => {
    const [from, to = from] = range.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/**
 * Where the server and the fuzzer run. The Deployment gives the webhook at most one CPU
 * (manifests/base/deployment.yaml) and the API server that sends it reviews runs elsewhere;
 * here the sender shares the machine. With two CPUs or more, the server gets one to itself
 * and this process (senders, case generator) the rest, so an answer's time is the server's
 * work and not its wait for a core the fuzzer holds (measured: a server thread waiting
 * 25-45 ms for a core in a 60-120 ms stall). `--shared-cpus` keeps the earlier set-up.
 */
function cpuPlan(): { server: number[]; fuzzer: number[] } | undefined {
  if (process.argv.includes('--shared-cpus')) return undefined;
  const cpus = allowedCpus();
  if (!cpus || cpus.length < 2) return undefined;
  // Under a CPU limit the server may run on any CPU, as in a pod; the quota bounds it.
  return { server: CPU_LIMIT ? cpus : cpus.slice(-1), fuzzer: cpus.slice(0, -1) };
}

/** `--cpu-limit N`: CPUs of CFS quota for the server (the Deployment's limits.cpu is 1); 0 for none. */
const CPU_LIMIT = (() => {
  const at = process.argv.indexOf('--cpu-limit');
  const n = at < 0 ? 0 : Number(process.argv[at + 1]);
  if (!(n >= 0) || !Number.isFinite(n)) throw new Error('--cpu-limit takes a number of CPUs, e.g. 1 or 0.5');
  return n;
})();

function describeCpus(cpus: { server: number[]; fuzzer: number[] } | undefined): string {
  const fuzzer = cpus ? `fuzzer on ${cpus.fuzzer.join(',')}` : '';
  if (CPU_LIMIT) return `server limited to ${CPU_LIMIT} CPU by CFS quota, on any CPU; ${fuzzer || 'fuzzer anywhere'}`;
  if (cpus) return `server alone on CPU ${cpus.server.join(',')}, ${fuzzer}`;
  return 'shared: server and fuzzer on any CPU';
}

const COUNT = option('--count', 100_000);
const SEED = option('--seed', PROPERTY_SEED);
const CONCURRENCY = 16;
/** Cases the worker keeps generated ahead of the senders. */
const GENERATED_AHEAD = 1_000;
/** The bound every answer should meet (issue 9). */
const ANSWER_BOUND_MS = 100;
/**
 * The cases, generated ahead by a worker thread (bench/fuzz-cases.ts) so that this thread
 * does nothing but send reviews and time their answers.
 */
class CaseQueue {
  private readonly worker: Worker;
  private readonly ready: PreparedCase[] = [];
  private asked = false;
  private ended = false;
  private waiting: (() => void)[] = [];
  /** Whether the generating thread runs at the lowest priority (see fuzz-cases.ts). */
  generatorLowPriority = false;

  constructor(options: CaseStreamOptions) {
    this.worker = new Worker(new URL('./fuzz-cases.js', import.meta.url), { workerData: options });
    this.worker.on('message', (batch: PreparedCase[] | GeneratorStarted) => {
      if (!Array.isArray(batch)) {
        this.generatorLowPriority = batch.lowPriority;
        return;
      }
      this.asked = false;
      if (batch.length === 0) this.ended = true;
      this.ready.push(...batch);
      for (const wake of this.waiting.splice(0)) wake();
      this.topUp();
    });
    this.worker.on('error', (err) => {
      process.stderr.write(`case generator failed: ${err.stack ?? err.message}\n`);
      process.exit(2);
    });
    this.topUp();
  }

  private topUp(): void {
    if (this.asked || this.ended || this.ready.length >= 2 * GENERATED_AHEAD) return;
    this.asked = true;
    this.worker.postMessage({ want: GENERATED_AHEAD });
  }

  async next(): Promise<PreparedCase | undefined> {
    while (this.ready.length === 0) {
      if (this.ended) return undefined;
      this.topUp();
      await new Promise<void>((wake) => this.waiting.push(wake));
    }
    const next = this.ready.shift();
    this.topUp();
    return next;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

function percentiles(values: number[]): Record<string, number> {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => Math.round(percentile(sorted, p) * 10) / 10;
  return { p50: at(50), p99: at(99), p999: at(99.9), max: at(100) };
}

/** The Deployment's NODE_OPTIONS (heap cap, one V8 background thread), then any --node-flags. */
const NODE_FLAGS = [...deployedNodeFlags(ROOT), ...nodeFlagsOption()];

function startServe(
  cwd: string,
  serverCpus: number[] | undefined,
  limit: CpuLimitGroup | undefined,
): Promise<{ child: ChildProcess; port: number; metricsPort: number; ca: string }> {
  // The heap limit the Deployment sets (manifests/base/deployment.yaml): hostile input
  // must not run the pod out of memory as deployed. taskset and the cgroup's shell exec
  // node: the pid is the server's.
  const command = [
    ...(limit?.prefix ?? []),
    // Set even where it is every CPU: the server would otherwise inherit the fuzzer's.
    ...(serverCpus === undefined ? [] : ['taskset', '-c', serverCpus.join(',')]),
    process.execPath,
    ...NODE_FLAGS,
    CLI,
    'serve',
    '--dev',
    '--objects',
    join(ROOT, 'examples', 'cluster'),
    ...LOOPBACK_ANY_PORTS,
    '--log-level',
    'error',
    ...serveFlagsOption(),
  ];
  const child = spawn(command[0], command.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      stderr += c;
      const m = /listening on https:\/\/\S+:(\d+).*metrics on http:\/\/\S+:(\d+)\/metrics/.exec(stderr);
      if (m)
        resolve({
          child,
          port: Number(m[1]),
          metricsPort: Number(m[2]),
          ca: readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8'),
        });
    });
    child.on('exit', (code) => reject(new Error(`nicguard serve exited (${code}):\n${stderr}`)));
  });
}

interface Answer {
  status: number;
  text: string;
}

function post(port: number, ca: string, agent: Agent, path: string, body: string | Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca,
        servername: 'localhost',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The sum over all label sets of the samples named `name` whose labels include `labels`. */
function sample(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * CPU time the hypervisor gave to other guests (the steal column of /proc/stat), in ms;
 * undefined where there is no /proc/stat. Linux counts it in USER_HZ ticks, 100 a second on
 * every mainstream architecture.
 */
function hostStealMs(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    const steal = Number(cpu[8]);
    return cpu[0] === 'cpu' && Number.isFinite(steal) ? steal * 10 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A thread's time on a CPU and waiting for one (runnable, not running), in ms, from
 * /proc/<pid>/task/<tid>/schedstat; undefined without it (not Linux, or no schedstats).
 */
function threadSchedMs(pid: number, tid: number): { ran: number; waited: number } | undefined {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
    return Number.isFinite(ran) && Number.isFinite(waited) ? { ran: ran / 1e6, waited: waited / 1e6 } : undefined;
  } catch {
    return undefined;
  }
}

/** One second between two reads: what the server's main thread did and what the host took. */
interface Second {
  from: number;
  to: number;
  stealMs: number;
  mainRanMs: number;
  mainWaitedMs: number;
  /** Time the server's CFS quota was used up (with --cpu-limit; else 0). */
  throttledMs: number;
}

/**
 * Where answers over the bound come from: the server's own event-loop stalls and GC pauses
 * (prom-client's default metrics; the lag maximum resets at each scrape, so it is read every
 * second), its admission handler times, this process's own stalls, which delay how an
 * answer is read and timed although the server sent it in time, time the hypervisor
 * took from this virtual machine (steal), which stalls the server and the fuzzer alike, and
 * the server's main thread's time on a CPU and waiting for one, each second: an answer can
 * be late because the server worked, or because it was ready and no core was free. Under
 * --cpu-limit, also the time its cgroup was throttled, its quota for the period spent.
 */
class StallWatch {
  private readonly clientLoop = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;
  serverLoopMaxMs = 0;
  /** Seconds in which the server's event loop stalled for longer than the bound. */
  serverSecondsOverBound = 0;
  private lastRead = performance.now();
  private lastSteal = hostStealMs();
  private lastSched: { ran: number; waited: number } | undefined;
  private readonly throttlingAtStart: CpuThrottling | undefined;
  private lastThrottling: CpuThrottling | undefined;
  private readonly seconds: Second[] = [];
  /** When each answer over the bound was waited for, and how long. */
  private readonly slow: { from: number; to: number }[] = [];

  constructor(
    private readonly metricsPort: number,
    private readonly serverPid: number,
    private readonly limit?: CpuLimitGroup,
  ) {
    this.clientLoop.enable();
    this.lastSched = threadSchedMs(serverPid, serverPid);
    this.throttlingAtStart = this.lastThrottling = limit?.throttling();
    this.timer = setInterval(() => void this.read(), 1000);
  }

  answerOverBound(from: number, to: number): void {
    this.slow.push({ from, to });
  }

  /** The steal and the server's main thread's scheduling since the last read. */
  private readSecond(): void {
    const now = performance.now();
    const steal = hostStealMs();
    const sched = threadSchedMs(this.serverPid, this.serverPid);
    const throttling = this.limit?.throttling();
    this.seconds.push({
      from: this.lastRead,
      to: now,
      stealMs: steal !== undefined && this.lastSteal !== undefined ? steal - this.lastSteal : 0,
      mainRanMs: sched && this.lastSched ? sched.ran - this.lastSched.ran : 0,
      mainWaitedMs: sched && this.lastSched ? sched.waited - this.lastSched.waited : 0,
      throttledMs: throttling && this.lastThrottling ? throttling.throttledMs - this.lastThrottling.throttledMs : 0,
    });
    this.lastThrottling = throttling;
    this.lastSteal = steal;
    this.lastSched = sched;
    this.lastRead = now;
  }

  private async read(): Promise<void> {
    this.readSecond();
    const lagMs = sample(await scrapeMetrics(this.metricsPort), 'nodejs_eventloop_lag_max_seconds') * 1000;
    this.serverLoopMaxMs = Math.max(this.serverLoopMaxMs, lagMs);
    if (lagMs > ANSWER_BOUND_MS) this.serverSecondsOverBound++;
  }

  /** The seconds an answer was waited through, summed (a slow answer spans one or two). */
  private around(a: { from: number; to: number }): Omit<Second, 'from' | 'to'> {
    const sum = { stealMs: 0, mainRanMs: 0, mainWaitedMs: 0, throttledMs: 0 };
    for (const s of this.seconds) {
      if (!(a.from < s.to && s.from < a.to)) continue;
      sum.stealMs += s.stealMs;
      sum.mainRanMs += s.mainRanMs;
      sum.mainWaitedMs += s.mainWaitedMs;
      sum.throttledMs += s.throttledMs;
    }
    return sum;
  }

  async summary(): Promise<Record<string, number | string | string[]>> {
    clearInterval(this.timer);
    this.readSecond();
    this.clientLoop.disable();
    const text = await scrapeMetrics(this.metricsPort);
    const bound = `le="${ANSWER_BOUND_MS / 1000}"`;
    const handled = sample(text, 'nicguard_admission_duration_seconds_count');
    const gcs = sample(text, 'nodejs_gc_duration_seconds_count');
    const hasSteal = this.lastSteal !== undefined;
    const hasSched = this.lastSched !== undefined;
    const steals = this.seconds.map((s) => s.stealMs);
    const ms = (n: number) => Math.round(n);
    const perSecond = (pick: (s: Second) => number) => {
      const values = Float64Array.from(this.seconds, pick).sort();
      return (
        `${ms(values.reduce((a, b) => a + b, 0))} in all; per second: median ${ms(percentile(values, 50))}, ` +
        `p99 ${ms(percentile(values, 99))}, worst ${ms(percentile(values, 100))}`
      );
    };
    const start = this.throttlingAtStart;
    const end = this.lastThrottling;
    const overlapsSteal = (a: { from: number; to: number }) => this.around(a).stealMs > 0;
    return {
      serverEventLoopStallMaxMs: Math.round(this.serverLoopMaxMs),
      serverSecondsWithStallOverBound: this.serverSecondsOverBound,
      serverGcPausesOverBound: gcs - sample(text, 'nodejs_gc_duration_seconds_bucket', bound),
      serverHandlerTimesOverBound: handled - sample(text, 'nicguard_admission_duration_seconds_bucket', bound),
      fuzzerEventLoopStallMaxMs: Math.round(this.clientLoop.max / 1e6),
      // Time the server's thread was ready to run but had no CPU: the fuzzer, or the server's own
      // GC and compiler threads, held them.
      serverMainThreadWaitedForCpuMs: hasSched
        ? perSecond((s) => s.mainWaitedMs)
        : 'n/a (no /proc/<pid>/task/<tid>/schedstat)',
      ...(start && end
        ? {
            serverCpuThrottledMs:
              `${perSecond((s) => s.throttledMs)}; ${end.throttledPeriods - start.throttledPeriods} of ` +
              `${end.periods - start.periods} periods of 100 ms`,
          }
        : {}),
      hostStealMsTotal: hasSteal ? steals.reduce((a, b) => a + b, 0) : 'n/a (no /proc/stat)',
      hostStealMsMaxInASecond: hasSteal ? Math.max(0, ...steals) : 'n/a',
      [`answersOver${ANSWER_BOUND_MS}msInASecondOfSteal`]: hasSteal ? this.slow.filter(overlapsSteal).length : 'n/a',
      // The slowest answers' seconds, against the median second above.
      [`secondsOfAnswersOver${ANSWER_BOUND_MS}ms`]: this.slow
        .sort((a, b) => b.to - b.from - (a.to - a.from))
        .slice(0, 5)
        .map((a) => {
          const s = this.around(a);
          return (
            `${ms(a.to - a.from)} ms answer: server's main thread ran ${ms(s.mainRanMs)} ms, ` +
            `waited ${ms(s.mainWaitedMs)} ms for a CPU; host steal ${ms(s.stealMs)} ms` +
            (this.limit ? `; CPU quota throttled ${ms(s.throttledMs)} ms` : '')
          );
        }),
    };
  }
}

async function main(): Promise<void> {
  const cwd = mkdtempSync(join(tmpdir(), 'nicguard-fuzz-'));
  const failures = join(cwd, 'failures');
  mkdirSync(failures);
  const cpus = cpuPlan();
  // Every thread this process has now, and those it starts later (they inherit it).
  if (cpus && spawnSync('taskset', ['-a', '-c', '-p', cpus.fuzzer.join(','), String(process.pid)]).status !== 0)
    throw new Error('taskset could not pin the fuzzer; run with --shared-cpus');
  const limit = CPU_LIMIT ? createCpuLimitGroup(CPU_LIMIT) : undefined;
  const { child, port, metricsPort, ca } = await startServe(cwd, cpus?.server, limit);
  let died = false;
  child.on('exit', () => (died = true));
  // Never leave the server behind, whatever happens to this process.
  process.on('exit', () => child.kill('SIGKILL'));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const counts = { sent: 0, '2xx': 0, '4xx': 0, '5xx': 0, other: 0, uidMismatch: 0, connectionErrors: 0 };
  const statuses = new Map<number, number>();
  const serverMessages = new Map<string, number>();
  const latencies: number[] = [];
  /** The slowest answers, slowest first, to say what made them slow. */
  let slowest: { ms: number; what: string; bytes: number; status: number }[] = [];
  let maxRss = Math.round(rssMb(child.pid!));
  const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, died ? 0 : Math.round(rssMb(child.pid!)))), 1000);
  const cases = new CaseQueue({ count: COUNT, seed: SEED });
  // Open every connection before timing: a connection's first answer carries its TLS
  // handshake, and 16 handshakes at once on two shared cores would be timed as answers.
  // The API server keeps its connections open, so the handshake is rare in a cluster;
  // its cost is reported on its own. (A connection the server closes mid-run reopens
  // with its handshake timed as part of that answer.)
  const warmup = seedReviews()[0];
  const handshakeStarted = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, () => post(port, ca, agent, '/validate', JSON.stringify(warmup))),
  );
  const connectionSetupMs = Math.round(performance.now() - handshakeStarted);
  const stalls = new StallWatch(metricsPort, child.pid!, limit);
  const started = performance.now();
  let lastReport = started;

  const worker = async (): Promise<void> => {
    for (;;) {
      if (counts.sent >= COUNT || died) return;
      const n = counts.sent++;
      const next = await cases.next();
      if (!next) {
        counts.sent--;
        return;
      }
      const { what, body } = next;
      const path = n % 2 ? '/mutate' : '/validate';
      const t0 = performance.now();
      let answer: Answer;
      try {
        answer = await post(port, ca, agent, path, body);
      } catch (err) {
        counts.connectionErrors++;
        writeFileSync(join(failures, `conn-${n}.json`), body);
        if (counts.connectionErrors <= 5)
          process.stderr.write(`connection error on ${what}: ${(err as Error).message}\n`);
        continue;
      }
      const t1 = performance.now();
      const ms = t1 - t0;
      latencies.push(ms);
      if (ms > ANSWER_BOUND_MS) stalls.answerOverBound(t0, t1);
      if (slowest.length < 5 || ms > slowest[slowest.length - 1].ms) {
        slowest.push({ ms, what: `${path} ${what}`, bytes: Buffer.byteLength(body), status: answer.status });
        slowest = slowest.sort((a, b) => b.ms - a.ms).slice(0, 5);
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status >= 200 && answer.status < 300) {
        counts['2xx']++;
        let uid: unknown;
        try {
          uid = JSON.parse(answer.text)?.response?.uid;
        } catch {
          uid = Symbol('unparsable answer');
        }
        if (uid !== next.uid) {
          counts.uidMismatch++;
          writeFileSync(join(failures, `uid-${n}.json`), body);
        }
      } else if (answer.status >= 400 && answer.status < 500) counts['4xx']++;
      else {
        if (answer.status >= 500) counts['5xx']++;
        else counts.other++;
        const message = (() => {
          try {
            return String(JSON.parse(answer.text).message).replace(/\d+/g, 'N').slice(0, 160);
          } catch {
            return answer.text.slice(0, 160);
          }
        })();
        serverMessages.set(message, (serverMessages.get(message) ?? 0) + 1);
        writeFileSync(join(failures, `${answer.status}-${n}.json`), body);
      }
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        process.stderr.write(
          `${counts.sent}/${COUNT} sent, ${Math.round(counts.sent / ((now - started) / 1000))}/s, ` +
            `5xx ${counts['5xx']}\n`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(rssTimer);
  const finalRss = died ? NaN : Math.round(rssMb(child.pid!));
  const whereSlowAnswersCameFrom = await stalls.summary();
  let healthy = false;
  if (!died)
    healthy = await post(port, ca, new Agent({ keepAlive: false }), '/validate', JSON.stringify(seedReviews()[0])).then(
      (a) => a.status === 200,
      () => false,
    );
  agent.destroy();
  await cases.close();

  const summary = {
    reviews: counts.sent,
    seconds: Math.round(seconds * 10) / 10,
    reviewsPerSecond: Math.round(counts.sent / seconds),
    ...counts,
    statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
    answerMs: percentiles(latencies),
    [`answersOver${ANSWER_BOUND_MS}ms`]: latencies.filter((ms) => ms > ANSWER_BOUND_MS).length,
    // Half the bound: a million reviews take half an hour, and the tail under the bound
    // tells two set-ups apart in a shorter run.
    [`answersOver${ANSWER_BOUND_MS / 2}ms`]: latencies.filter((ms) => ms > ANSWER_BOUND_MS / 2).length,
    whereSlowAnswersCameFrom,
    [`first${CONCURRENCY}AnswersWithTlsHandshakesMs`]: connectionSetupMs,
    slowest: slowest.map((a) => `${Math.round(a.ms)} ms: ${a.what} (${a.bytes} bytes, HTTP ${a.status})`),
    loadAverage: loadavg().map((l) => Math.round(l * 10) / 10),
    serverRssMbMax: maxRss,
    serverRssMbEnd: finalRss,
    serverAliveAndAnswering: healthy,
    seed: SEED,
    serverNodeFlags: NODE_FLAGS.join(' '),
    serveFlags: serveFlagsOption().join(' '),
    cpus: describeCpus(cpus),
    caseGenerator: cases.generatorLowPriority
      ? `worker thread at nice ${GENERATOR_NICE}`
      : 'worker thread, normal priority',
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (serverMessages.size) {
    process.stdout.write('5xx and other answers by message:\n');
    for (const [m, c] of [...serverMessages].sort((a, b) => b[1] - a[1]).slice(0, 20))
      process.stdout.write(`  ${c}  ${m}\n`);
  }
  const bad = counts['5xx'] + counts.other + counts.uidMismatch + counts.connectionErrors > 0 || !healthy;
  if (bad) process.stdout.write(`bodies of the failures: ${failures}\n`);
  else rmSync(cwd, { recursive: true, force: true });
  process.exitCode = bad ? 1 : 0;
  // The server's pipes keep this process alive until it is gone.
  await stopChild(child, 10_000);
  limit?.remove();
}

await main();

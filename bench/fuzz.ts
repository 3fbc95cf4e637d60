// A bounded fuzzer over real HTTPS: starts `nicguard serve --dev --objects examples/cluster`
// on 127.0.0.1 and sends it hostile AdmissionReviews built from real ones
// (test/property-support.ts): wrong types at every path of every seed, random
// structure-aware mutations (some with huge strings and long lists), nesting up to a
// million deep, and garbage bodies. Every answer must be a 200 AdmissionReview echoing the uid, or a 4xx.
//
//   npm run fuzz                 100,000 reviews
//   npm run fuzz -- --count N    N reviews (npm run fuzz:ci: 2,000)
//   --seed S                     another sequence of random mutations (default: fixed)
//
// Prints counts of 2xx/4xx/5xx, uid mismatches, connection errors, the slowest answer,
// throughput and the server's resident memory; writes each 5xx body to a folder for
// replaying. Exits 1 if anything but a 2xx/4xx came back or the server died.
import { rssMb, stopChild } from './process.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  PROPERTY_SEED,
  applyMutations,
  deepBody,
  garbageBody,
  mutated,
  pathCount,
  seedReviews,
  type HostileSizes,
  type Mutation,
} from '../test/property-support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const n = Number(process.argv[at + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} takes a whole number`);
  return n;
}

const COUNT = option('--count', 100_000);
const SEED = option('--seed', PROPERTY_SEED);
const CONCURRENCY = 16;
const BATCH = 500;
/** Most mutations stay moderate so that 100,000 reviews take minutes, not hours. */
const MODERATE: HostileSizes = { depth: 1_000, stringLength: 100_000, listLength: 2_000 };
/** One review in a hundred goes to the extremes (still under the 7 MiB body limit). */
const EXTREME: HostileSizes = { depth: 1_000, stringLength: 3_000_000, listLength: 100_000 };
/** Nesting spliced in as text, beyond what a JavaScript value can hold without overflowing. */
const DEEPEST = 1_000_000;

interface Case {
  what: string;
  body: string;
}

/** Each seed with every path replaced by each JSON type in turn: wrong types everywhere. */
function* wrongTypes(): Generator<Case> {
  const seeds = seedReviews();
  const replacements = [null, true, 0, -1.5, '', 'x', [], {}];
  for (const [s, seed] of seeds.entries()) {
    // Path 0 is the review itself; a replace at index i edits path i.
    for (let at = 1; at < pathCount(seed); at++) {
      for (const value of replacements) {
        const m: Mutation = { op: 'replace', at, value };
        yield {
          what: `wrong type: seed ${s}, path #${at} := ${JSON.stringify(value)}`,
          body: JSON.stringify(applyMutations(seed, [m])),
        };
      }
    }
  }
}

function* randomCases(seed: number): Generator<Case> {
  const reviews = seedReviews();
  for (let batch = 0; ; batch++) {
    const moderate = fc.sample(mutated(reviews, MODERATE, 6), { seed: seed + batch, numRuns: BATCH });
    const extreme = fc.sample(mutated(reviews, EXTREME, 2), { seed: seed + batch, numRuns: BATCH / 100 });
    const garbage = fc.sample(garbageBody(), { seed: seed + batch, numRuns: BATCH / 10 });
    const deep = fc.sample(deepBody(1_000, DEEPEST), { seed: seed + batch, numRuns: BATCH / 100 });
    for (let i = 0; i < BATCH; i++) {
      yield { what: `mutation (seed ${seed + batch}, #${i})`, body: JSON.stringify(moderate[i]) };
      if (i % 100 === 0)
        yield { what: `extreme mutation (seed ${seed + batch}, #${i / 100})`, body: JSON.stringify(extreme[i / 100]) };
      if (i % 10 === 0) yield { what: `garbage body (seed ${seed + batch}, #${i / 10})`, body: garbage[i / 10] };
      if (i % 100 === 50)
        yield { what: `deep nesting (seed ${seed + batch}, #${(i - 50) / 100})`, body: deep[(i - 50) / 100] };
    }
  }
}

function* corpus(): Generator<Case> {
  // A quarter of the budget (at most) on the systematic pass, the rest random.
  let n = 0;
  for (const c of wrongTypes()) {
    if (n++ >= COUNT / 4) break;
    yield c;
  }
  yield* randomCases(SEED);
}

function uidOf(body: string): unknown {
  try {
    return JSON.parse(body)?.request?.uid;
  } catch {
    return undefined;
  }
}

function startServe(cwd: string): Promise<{ child: ChildProcess; port: number; ca: string }> {
  // The heap limit the Deployment sets (manifests/base/deployment.yaml): hostile input
  // must not run the pod out of memory as deployed.
  const child = spawn(
    process.execPath,
    [
      '--max-old-space-size=192',
      CLI,
      'serve',
      '--dev',
      '--objects',
      join(ROOT, 'examples', 'cluster'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--log-level',
      'error',
    ],
    {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      stderr += c;
      const m = /listening on https:\/\/\S+:(\d+)/.exec(stderr);
      if (m) resolve({ child, port: Number(m[1]), ca: readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8') });
    });
    child.on('exit', (code) => reject(new Error(`nicguard serve exited (${code}):\n${stderr}`)));
  });
}

interface Answer {
  status: number;
  text: string;
}

function post(port: number, ca: string, agent: Agent, path: string, body: string): Promise<Answer> {
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

async function main(): Promise<void> {
  const cwd = mkdtempSync(join(tmpdir(), 'nicguard-fuzz-'));
  const failures = join(cwd, 'failures');
  mkdirSync(failures);
  const { child, port, ca } = await startServe(cwd);
  let died = false;
  child.on('exit', () => (died = true));
  // Never leave the server behind, whatever happens to this process.
  process.on('exit', () => child.kill('SIGKILL'));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const counts = { sent: 0, '2xx': 0, '4xx': 0, '5xx': 0, other: 0, uidMismatch: 0, connectionErrors: 0 };
  const statuses = new Map<number, number>();
  const serverMessages = new Map<string, number>();
  let slowest = { ms: 0, what: '', bytes: 0 };
  let maxRss = Math.round(rssMb(child.pid!));
  const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, died ? 0 : Math.round(rssMb(child.pid!)))), 1000);
  const cases = corpus();
  const started = performance.now();
  let lastReport = started;

  const worker = async (): Promise<void> => {
    for (;;) {
      if (counts.sent >= COUNT || died) return;
      const next = cases.next();
      if (next.done) return;
      const { what, body } = next.value;
      const n = counts.sent++;
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
      const ms = performance.now() - t0;
      if (ms > slowest.ms) slowest = { ms, what: `${path} ${what}`, bytes: Buffer.byteLength(body) };
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status >= 200 && answer.status < 300) {
        counts['2xx']++;
        let uid: unknown;
        try {
          uid = JSON.parse(answer.text)?.response?.uid;
        } catch {
          uid = Symbol('unparsable answer');
        }
        if (uid !== uidOf(body)) {
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
          `${counts.sent}/${COUNT} sent, ${Math.round(counts.sent / ((now - started) / 1000))}/s, 5xx ${counts['5xx']}\n`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(rssTimer);
  const finalRss = died ? NaN : Math.round(rssMb(child.pid!));
  let healthy = false;
  if (!died)
    healthy = await post(port, ca, new Agent({ keepAlive: false }), '/validate', JSON.stringify(seedReviews()[0])).then(
      (a) => a.status === 200,
      () => false,
    );
  agent.destroy();

  const summary = {
    reviews: counts.sent,
    seconds: Math.round(seconds * 10) / 10,
    reviewsPerSecond: Math.round(counts.sent / seconds),
    ...counts,
    statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
    slowestMs: Math.round(slowest.ms * 10) / 10,
    slowest: `${slowest.what} (${slowest.bytes} bytes)`,
    serverRssMbMax: maxRss,
    serverRssMbEnd: finalRss,
    serverAliveAndAnswering: healthy,
    seed: SEED,
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
}

await main();

// The fuzzer's case stream, generated in a worker thread: building a batch of hostile
// reviews (megabyte strings, 100,000-element lists) takes the generating thread hundreds
// of milliseconds, and were it the thread that times the answers, every answer in flight
// meanwhile would look that much slower than the server made it.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import {
  applyMutations,
  deepBody,
  garbageBody,
  mutated,
  pathCount,
  seedReviews,
  type HostileSizes,
  type Mutation,
} from '../test/property-support.js';

export interface Case {
  what: string;
  body: string;
}

/**
 * A case as the worker hands it over: its body already encoded, in a buffer moved (not
 * copied) to the timing thread, where copying a batch with megabyte bodies would stall it;
 * and the uid its answer must echo, read off the body here.
 */
export interface PreparedCase {
  what: string;
  body: Uint8Array;
  uid: unknown;
}

function uidOf(body: string): unknown {
  try {
    return (JSON.parse(body) as { request?: { uid?: unknown } } | null)?.request?.uid;
  } catch {
    return undefined;
  }
}

/** The nice value the generating thread asks for: the lowest priority there is. */
export const GENERATOR_NICE = 19;

/**
 * Lowers this thread's priority to GENERATOR_NICE, so that on a machine the fuzzer shares
 * with the server (two cores in CI) the generator yields the cores to the server and the
 * timing thread, rather than make answers queue behind case generation: it is the load
 * generator, not the system under test, and only needs to keep ahead. Linux's setpriority
 * applies to one thread when given its id (/proc/thread-self names it). Returns whether it
 * took; elsewhere the generator runs at normal priority and the summary says so.
 */
function lowerOwnPriority(): boolean {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(threadId)) return false;
    setPriority(threadId, GENERATOR_NICE);
    return true;
  } catch {
    return false;
  }
}

/** The worker's first message: whether its priority was lowered. Every later one is a batch. */
export interface GeneratorStarted {
  lowPriority: boolean;
}

export interface CaseStreamOptions {
  count: number;
  seed: number;
}

const BATCH = 500;
/** Most mutations stay moderate so that 100,000 reviews take minutes, not hours. */
const MODERATE: HostileSizes = { depth: 1_000, stringLength: 100_000, listLength: 2_000 };
/** One review in a hundred goes to the extremes (still under the 7 MiB body limit). */
const EXTREME: HostileSizes = { depth: 1_000, stringLength: 3_000_000, listLength: 100_000 };
/** Nesting spliced in as text, beyond what a JavaScript value can hold without overflowing. */
const DEEPEST = 1_000_000;

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

/** A quarter of the budget (at most) on the systematic pass, the rest random. */
export function* caseStream({ count, seed }: CaseStreamOptions): Generator<Case> {
  let n = 0;
  for (const c of wrongTypes()) {
    if (n++ >= count / 4) break;
    yield c;
  }
  yield* randomCases(seed);
}

// As a worker: answer each `{ want: n }` with the next n cases.
if (parentPort) {
  const port = parentPort;
  port.postMessage({ lowPriority: lowerOwnPriority() } satisfies GeneratorStarted);
  const cases = caseStream(workerData as CaseStreamOptions);
  port.on('message', ({ want }: { want: number }) => {
    const batch: PreparedCase[] = [];
    const encoder = new TextEncoder();
    for (let i = 0; i < want; i++) {
      const next = cases.next();
      if (next.done) break;
      // TextEncoder gives each body an ArrayBuffer of its own, safe to transfer.
      batch.push({ what: next.value.what, body: encoder.encode(next.value.body), uid: uidOf(next.value.body) });
    }
    port.postMessage(
      batch,
      batch.map((c) => c.body.buffer as ArrayBuffer),
    );
  });
}

// The thread that answers reviews comes first. Node runs helper threads beside it: V8's
// background thread (concurrent marking and sweeping, the optimizing compiler), libuv's pool
// and Node's task scheduler. With one CPU of quota (the Deployment's limits.cpu) they share a
// core with the main thread, and the scheduler splits it evenly: answers wait while the
// helper marks. A higher nice value lets the main thread take the core when it is ready;
// the helpers run whenever it waits for input. Measured: docs/server.md, Hostile input.
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The nice value `nicguard serve` gives its helper threads unless told otherwise (0-19). */
export const DEFAULT_HELPER_NICE = 10;

export type HelperPriority =
  /** `threads`: the helper threads now at `nice` or lower priority. */
  | { threads: number; nice: number }
  /** Nothing done, and why (not Linux, /proc missing, asked for 0). */
  | { skipped: string };

/**
 * Gives every thread of this process but the main one at least `nice`. Linux's setpriority
 * acts on one thread when given its id; threads started later inherit their creator's value,
 * so those the main thread starts (libuv's pool, when first used) stay at its priority.
 * A thread already lower is left alone (raising it back would need CAP_SYS_NICE).
 */
export function lowerHelperThreads(
  nice: number,
  taskDir = '/proc/self/task',
  mainThreadId = process.pid,
): HelperPriority {
  if (nice <= 0) return { skipped: 'helper thread nice 0: left at the priority of the main thread' };
  if (process.platform !== 'linux') return { skipped: `per-thread priority is Linux-only (${process.platform})` };
  let threads: string[];
  try {
    threads = readdirSync(taskDir);
  } catch (err) {
    return { skipped: `cannot list threads in ${taskDir}: ${(err as Error).message}` };
  }
  let atNice = 0;
  let refused: string | undefined;
  for (const name of threads) {
    const threadId = Number(name);
    if (!Number.isInteger(threadId) || threadId === mainThreadId) continue;
    const outcome = lowerThread(threadId, nice);
    if (outcome === 'lowered') atNice++;
    else if (outcome !== 'gone') refused ??= outcome;
  }
  if (atNice === 0 && refused) return { skipped: `the system refused: ${refused}` };
  return { threads: atNice, nice };
}

/** One thread to at least `nice`: 'lowered', 'gone' (it ended since the listing), or why not. */
function lowerThread(threadId: number, nice: number): 'lowered' | 'gone' | string {
  try {
    if (getPriority(threadId) < nice) setPriority(threadId, nice);
    return 'lowered';
  } catch (err) {
    // Anything but ESRCH is a refusal, e.g. a seccomp profile without setpriority.
    return (err as { info?: { code?: string } }).info?.code === 'ESRCH' ? 'gone' : (err as Error).message;
  }
}

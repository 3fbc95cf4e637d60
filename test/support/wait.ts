// The one poll-until helper of the test suites (unit and end-to-end).
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `probe` until it returns something other than undefined or false, and returns that;
 * after `timeoutMs` fails with `what`, and with `explain()` (a log tail, a state dump) when given.
 * Probes that spawn processes (kubectl) ask for a longer `intervalMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  explain?: () => string,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${explain ? `\n${explain()}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

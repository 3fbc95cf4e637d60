// JSON logs with pino: one line per admission decision; object bodies only at debug level.
// Times are epoch milliseconds (pino's default): an ISO string costs a Date and a format
// per line, on the admission path.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { KubeObject, PatchOperation } from '../engine/types.js';

export type { Logger };

import { isLogLevel, LOG_LEVELS } from './log-levels.js';

export { isLogLevel, LOG_LEVELS };

/** Bytes gathered before stdout is written; a timer writes whatever is pending at least every FLUSH_MS. */
const BATCH_BYTES = 4096;
const FLUSH_MS = 200;

/**
 * A logger writing to stdout, or to `destination` (tests capture lines with it). Stdout is
 * written asynchronously and in batches: a write per decision line was a tenth of the
 * webhook's CPU at full load (one system call per review). Lines wait at most FLUSH_MS;
 * the process flushes what is pending when it exits (run.ts), so only a crash can lose
 * the last fraction of a second of lines.
 */
export function createLogger(level: string = 'info', destination?: DestinationStream): Logger {
  if (!isLogLevel(level)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  const options = { name: 'nicguard', level, timestamp: pino.stdTimeFunctions.epochTime, base: undefined };
  if (destination) return pino(options, destination);
  const stdout = pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES });
  setInterval(() => {
    try {
      stdout.flush();
    } catch {
      // Not open yet, or closed at exit: nothing to write.
    }
  }, FLUSH_MS).unref();
  return pino(options, stdout);
}

export interface DecisionLog {
  uid: string;
  webhook: string;
  kind: string;
  /** `namespace/name`, or just the name for cluster-scoped objects. */
  object: string;
  operation: string;
  /** userInfo.username of the request: whose write was judged (KubeVirt's own accounts included). */
  user: string;
  dryRun: boolean;
  decision: string;
  /** Rule ids of the findings, in order, without repeats. */
  rules: string[];
  ms: number;
}

/** A JSON string literal; the common case (no quote, backslash or control character) without JSON.stringify. */
function jsonString(s: string): string {
  return UNSAFE.test(s) ? JSON.stringify(s) : `"${s}"`;
}
// eslint-disable-next-line no-control-regex
const UNSAFE = /["\\\u0000-\u001f\u2028\u2029]/;

interface PinoInternals {
  stream: DestinationStream;
  /** The logger's bound fields as pino serialized them once, e.g. `,"name":"nicguard"`. */
  chindings: string;
}

function internals(logger: Logger): PinoInternals {
  const l = logger as unknown as Record<symbol, unknown>;
  return {
    stream: l[pino.symbols.streamSym] as DestinationStream,
    chindings: (l[pino.symbols.chindingsSym] as string) ?? '',
  };
}

/**
 * One line per decision, in the shape pino writes (level, time, bindings, the fields, msg)
 * but built as one string straight to the logger's destination: pino's generic path
 * (serializers, a key walk and a JSON.stringify per value) was a sixth of the webhook's
 * CPU per review. The fields are fixed, so the line is a template.
 */
export function logDecision(logger: Logger, entry: DecisionLog): void {
  if (!logger.isLevelEnabled('info')) return;
  const { stream, chindings } = internals(logger);
  let rules = '';
  for (let i = 0; i < entry.rules.length; i++) rules += (i ? ',' : '') + jsonString(entry.rules[i]);
  stream.write(
    `{"level":${logger.levels.values.info},"time":${Date.now()}${chindings}` +
      `,"uid":${jsonString(entry.uid)},"webhook":${jsonString(entry.webhook)}` +
      `,"kind":${jsonString(entry.kind)},"object":${jsonString(entry.object)}` +
      `,"operation":${jsonString(entry.operation)}` +
      `,"user":${jsonString(entry.user)}` +
      `,"dryRun":${entry.dryRun},"decision":${jsonString(entry.decision)},"rules":[${rules}]` +
      `,"ms":${entry.ms},"msg":"admission decision"}\n`,
  );
}

/** At debug level only: the objects behind a decision, for reproducing it. */
export function logBodies(
  logger: Logger,
  uid: string,
  bodies: { object?: KubeObject; oldObject?: KubeObject; patch?: PatchOperation[] },
): void {
  if (logger.isLevelEnabled('debug')) logger.debug({ uid, ...bodies }, 'admission bodies');
}

// JSON logs with pino: one line per admission decision; object bodies only at debug level.
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import type { KubeObject, PatchOperation } from '../engine/types.js';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function isLogLevel(level: string): level is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(level);
}

/**
 * A logger writing to stdout, or to `destination` (tests capture lines with it). Stdout is
 * written asynchronously: a synchronous write per decision costs the admission path a
 * system call each time, and pino flushes what is pending when the process exits.
 */
export function createLogger(level: string = 'info', destination?: DestinationStream): Logger {
  if (!isLogLevel(level)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  const options = { name: 'nicguard', level, timestamp: pino.stdTimeFunctions.isoTime, base: undefined };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}

export interface DecisionLog {
  uid: string;
  webhook: string;
  kind: string;
  /** `namespace/name`, or just the name for cluster-scoped objects. */
  object: string;
  operation: string;
  dryRun: boolean;
  decision: string;
  /** Rule ids of the findings, in order, without repeats. */
  rules: string[];
  ms: number;
}

export function logDecision(logger: Logger, entry: DecisionLog): void {
  logger.info(entry, 'admission decision');
}

/** At debug level only: the objects behind a decision, for reproducing it. */
export function logBodies(logger: Logger, uid: string, bodies: { object?: KubeObject; oldObject?: KubeObject; patch?: PatchOperation[] }): void {
  if (logger.isLevelEnabled('debug')) logger.debug({ uid, ...bodies }, 'admission bodies');
}

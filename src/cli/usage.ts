// Usage errors of the offline commands: one or two lines and a pointer to --help, exit 2
// (1 is reserved for "something was denied"), never the whole help text.
import type { Command } from 'commander';
import { EXIT_BAD_INPUT } from './config-option.js';

function helpPointer(command: string): string {
  return `(run 'nicguard ${command} --help' for usage)`;
}

/** Commander's own errors (unknown option, bad choice, missing argument) end with the pointer, not the full help. */
export function conciseUsageErrors(command: Command): void {
  command.showHelpAfterError(helpPointer(command.name()));
}

/** Reports a usage error found by the command itself. A message of one line gets the --help pointer. */
export function usageError(command: string, message: string): void {
  process.stderr.write(`nicguard ${command}: ${message}\n${message.includes('\n') ? '' : `${helpPointer(command)}\n`}`);
  process.exitCode = EXIT_BAD_INPUT;
}

// PLACEHOLDER: the `nicguard serve` command is to be written.
import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program.command('serve').description('(not yet implemented)');
}

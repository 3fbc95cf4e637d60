// PLACEHOLDER: the `nicguard explain` command is to be written.
import type { Command } from 'commander';

export function registerExplain(program: Command): void {
  program.command('explain').description('(not yet implemented)');
}

// PLACEHOLDER: the `nicguard validate` command is to be written.
import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program.command('validate').description('(not yet implemented)');
}

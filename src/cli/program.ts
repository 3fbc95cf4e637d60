// The nicguard program, shared by both entry points: `nicguard` (main.ts) and the kubectl
// plugin `kubectl-nicguard` (kubectl-nicguard.ts), which differ only in the name shown in
// usage and help. Each subcommand lives in its own module.
import { Command } from 'commander';
import { registerValidate } from './validate.js';
import { registerExplain } from './explain.js';
import { registerServe } from './serve.js';
import { registerCerts } from './certs.js';
import { VERSION } from './version.js';

export function buildProgram(name: string): Command {
  const program = new Command(name)
    .description('Admission webhook and CI validator that makes KubeVirt network interface hotplug safe')
    .version(VERSION)
    .showHelpAfterError()
    // Usage errors exit 2, as bad input does; 1 is reserved for "something was denied".
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        process.exit(0);
      process.exit(2);
    });
  registerValidate(program);
  registerExplain(program);
  registerServe(program);
  registerCerts(program);
  return program;
}

/** Parses process.argv and runs the chosen command under the given program name. */
export async function runCli(name: string): Promise<void> {
  await buildProgram(name).parseAsync(process.argv);
}

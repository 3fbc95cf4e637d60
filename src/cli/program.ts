// The nicguard program, shared by both entry points: `nicguard` (main.ts) and the kubectl
// plugin `kubectl-nicguard` (kubectl-nicguard.ts), which differ only in the name shown in
// usage and help. Each subcommand lives in its own module.
//
// Exit codes: 0 nothing denied, 1 something denied, 2 bad input or usage, 3 nicguard failed.
// A bug must never look like a denial (1) or like the user's mistake (2), and never print a
// stack trace at someone who did nothing wrong: one line, the stack only with --debug.
//
// Each subcommand's module is imported only when it may run: `nicguard validate` loads neither
// the Kubernetes client (audit, explain --cluster) nor the certificate code (certs), which
// would be most of its start-up time.
import { Command } from 'commander';
import { VERSION } from './version.js';
import { useCrdSchemas } from '../engine/crd-schemas.js';
import { readCrdSchema } from '../io/crd-schemas.js';

export const EXIT_INTERNAL_ERROR = 3;

type Register = (program: Command) => void;

const COMMANDS: Record<string, () => Promise<Register>> = {
  validate: async () => (await import('./validate.js')).registerValidate,
  explain: async () => (await import('./explain.js')).registerExplain,
  serve: async () => (await import('./serve.js')).registerServe,
  certs: async () => (await import('./certs.js')).registerCerts,
  audit: async () => (await import('./audit.js')).registerAudit,
};

/**
 * The program with the subcommand named in `args` (arguments after the program name), or with
 * every subcommand when none is named (help, a typo to suggest a command for).
 */
export async function buildProgram(name: string, args: readonly string[] = []): Promise<Command> {
  // Manifests are checked against the CRD schemas nicguard ships (rule schema).
  useCrdSchemas(readCrdSchema);
  const program = new Command(name)
    .description('Admission webhook and CI validator that makes KubeVirt network interface hotplug safe')
    .version(VERSION)
    .option('--debug', 'print the stack trace of an internal error (exit code 3)')
    .showHelpAfterError(`(run '${name} --help' for usage)`)
    // Usage errors exit 2, as bad input does; 1 is reserved for "something was denied".
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        process.exit(0);
      process.exit(2);
    });
  // The first argument that is no option names the subcommand (the only global option, --debug, takes no value).
  const named = args.find((a) => !a.startsWith('-'));
  const chosen = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  for (const register of await Promise.all(chosen.map((c) => COMMANDS[c]()))) register(program);
  return program;
}

/** Parses process.argv and runs the chosen command under the given program name; a bug exits 3. */
export async function runCli(name: string): Promise<void> {
  // Read before parsing, so that a failure while parsing is reported the same way.
  const debug = process.argv.slice(2).includes('--debug');
  const internalError = (err: unknown): never => {
    // A reader that went away (`nicguard validate ... | head`) is not a failure of ours.
    if ((err as NodeJS.ErrnoException)?.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    const message = err instanceof Error ? err.message : String(err);
    if (debug) {
      process.stderr.write(`${name}: internal error: ${err instanceof Error && err.stack ? err.stack : message}\n`);
    } else {
      const line = message.split('\n')[0].slice(0, 500);
      process.stderr.write(`${name}: internal error: ${line}; rerun with --debug for the stack\n`);
    }
    process.exit(EXIT_INTERNAL_ERROR);
  };
  process.on('uncaughtException', internalError);
  process.on('unhandledRejection', internalError);
  try {
    await (await buildProgram(name, process.argv.slice(2))).parseAsync(process.argv);
  } catch (err) {
    internalError(err);
  }
}

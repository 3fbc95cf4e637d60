#!/usr/bin/env node
// nicguard's command line: each subcommand lives in its own module.
import { Command } from 'commander';
import { registerValidate } from './validate.js';
import { registerExplain } from './explain.js';
import { registerServe } from './serve.js';
import { registerCerts } from './certs.js';
import { registerAudit } from './audit.js';
import { VERSION } from './version.js';

const program = new Command('nicguard')
  .description('Admission webhook and CI validator that makes KubeVirt network interface hotplug safe')
  .version(VERSION)
  .showHelpAfterError()
  // Usage errors exit 2, as bad input does; 1 is reserved for "something was denied".
  .exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  });

registerValidate(program);
registerExplain(program);
registerServe(program);
registerCerts(program);
registerAudit(program);

await program.parseAsync(process.argv);

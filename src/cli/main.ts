#!/usr/bin/env node
// nicguard's command line; the program itself is built in program.ts, shared with the
// kubectl plugin entry (kubectl-nicguard.ts).
import { runCli } from './program.js';

await runCli('nicguard');

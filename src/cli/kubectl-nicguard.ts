#!/usr/bin/env node
// The kubectl plugin entry: kubectl runs any `kubectl-<name>` executable on PATH for
// `kubectl <name> ...` (https://kubernetes.io/docs/tasks/extend-kubectl/kubectl-plugins/),
// so installing nicguard gives `kubectl nicguard validate ...`. Same program, shown under
// the name users typed.
import { runCli } from './program.js';

await runCli('kubectl nicguard');

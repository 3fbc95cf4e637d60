// Schema rule benchmark: what checking manifests against their CRD schemas adds to the
// engine on the CLI path. The same requests are evaluated as the webhook sees them (the
// rule checks nothing) and as `nicguard validate` builds them (fromManifest), in the same
// run, alternating rounds. The webhook pays nothing for the rule; the CLI pays the
// difference, compared with the engine alone and with the YAML parse + engine it pays anyway.
//
//   npm run build && node dist/bench/schema.js [--copies N] [--rounds N]
import { performance } from 'node:perf_hooks';
import { parseAllDocuments, stringify } from 'yaml';
import { defaultConfig } from '../src/engine/config.js';
import { evaluate } from '../src/engine/evaluate.js';
import { schemaValidator } from '../src/engine/rules/schema.js';
import type { PolicyRequest } from '../src/engine/types.js';
import { asVmi, fedora, fedoraWithBridge } from '../test/hotplug-fixtures.js';
import { create, seedCluster, update } from '../test/support.js';
import { median } from './stats.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const COPIES = option('copies', 500);
const ROUNDS = option('rounds', 7);

const base: PolicyRequest[] = [
  create(fedora()),
  update(fedora(), fedoraWithBridge()),
  create(asVmi(fedoraWithBridge())),
];
const webhook = Array.from({ length: COPIES }, () => base).flat();
const manifests = webhook.map((r) => ({ ...r, fromManifest: true }));
const cluster = seedCluster();
const config = defaultConfig();

for (const kind of ['VirtualMachine', 'VirtualMachineInstance'] as const) {
  const [t, cpu] = [performance.now(), process.cpuUsage()];
  schemaValidator(kind);
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  console.log(
    `compile ${kind}: ${(performance.now() - t).toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU (once, on first use)`,
  );
}

let sink = 0;
// What the CLI pays per object besides the engine: reading it from YAML.
const texts = webhook.map((r) => stringify(r.object));
function parseRound(): number {
  const t = performance.now();
  for (const text of texts) sink += parseAllDocuments(text).length;
  return performance.now() - t;
}

function round(requests: PolicyRequest[]): number {
  const t = performance.now();
  for (const r of requests) sink += evaluate(r, cluster, config, 'both').findings.length;
  return performance.now() - t;
}

round(webhook);
round(manifests);
parseRound();
const times = { webhook: [] as number[], manifests: [] as number[], parse: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  times.webhook.push(round(webhook));
  times.manifests.push(round(manifests));
  times.parse.push(parseRound());
}
const w = (median(times.webhook) * 1000) / webhook.length;
const m = (median(times.manifests) * 1000) / manifests.length;
console.log(`${webhook.length} requests (VM create, VM hotplug update, VMI create), median of ${ROUNDS} rounds`);
console.log(`engine as the webhook sees them:   ${w.toFixed(1)} µs/request`);
console.log(`engine with the schema rule (CLI): ${m.toFixed(1)} µs/request`);
const p = (median(times.parse) * 1000) / texts.length;
console.log(`reading the object from YAML (CLI):  ${p.toFixed(1)} µs/object`);
console.log(`schema rule per object: ${(m - w).toFixed(1)} µs, ${((m - w) / w).toFixed(2)} of the engine's own cost,`);
console.log(`  ${((m - w) / (p + w)).toFixed(2)} of what the CLI pays per object without it (YAML parse + engine)`);
console.log(`(checksum ${sink % 1000})`);

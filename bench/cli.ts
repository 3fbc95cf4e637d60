// CLI benchmark: `nicguard validate` end to end, as CI runs it, over a generated corpus of
// 1,000 VM updates and 1,000 NetworkAttachmentDefinitions, against baselines measured in the
// same run: Node's own startup (`node -e 0`), a script that only reads and YAML-parses the
// same files (the least any YAML-reading CLI must do), and optionally Gatekeeper's
// `gator test` with an equivalent ConstraintTemplate (Rego) and Constraints.
//
// The corpus is a GitOps change as CI sees it: the new VMs as plain YAML (one per file, as
// in git, no status), their running versions as `kubectl get vm -o json` writes them (--old,
// with status: so the hotplug rules apply), and the NADs as multi-document YAML files of 10.
// Denied by design: a masquerade NIC hotplugged onto a secondary network (a quarter of the
// VMs) and a Kube-OVN NAD whose provider is not <name>.<namespace>.ovn (about 30 % of the
// NADs); the benchmark checks that nicguard (and gator) deny exactly those.
//
// The same change is also checked as CI may hold it: as one List file of everything and one of
// the running VMs (`kubectl get -o yaml` writes Lists), and with --base, each VM's previous
// version committed in a git repository; each against the plain run in the same rounds.
//
// Every command runs as a child process; wall time by the clock, peak RSS by /usr/bin/time.
// Commands take turns within each round, so load from other processes falls on all alike;
// the figures are the median of --runs rounds.
//
//   npm run build && node dist/bench/cli.js [--runs N] [--vms N] [--nads N] [--seed N] [--gator PATH] [--keep DIR]
//     [--other-cli PATH]   also time another build's dist/src/cli/main.js (e.g. before a change) in the same rounds
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import type { Manifest as KubeObject } from '../test/support.js';
import { bootVolumes, runningVmStatus } from './corpus.js';
import { median, prng } from './stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

function stringOption(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const RUNS = option('runs', 5);
const VMS = option('vms', 1000);
const NADS = option('nads', 1000);
const SEED = option('seed', 20261206);
const GATOR = stringOption('gator');
const KEEP = stringOption('keep');
const OTHER_CLI = stringOption('other-cli');

const random = prng(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const chance = (p: number) => random() < p;

const NAMESPACES = ['team-a', 'team-b', 'team-c', 'team-d', 'team-e'];
const SERVER_SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';

interface Corpus {
  dir: string;
  /** The new VMs and the NADs (the input, -f). */
  input: string;
  /** The running VMs (--old). */
  old: string;
  files: string[];
  deniedVms: number;
  deniedNads: number;
  /** The same change as two List files: everything new, and the running VMs. */
  listInput: string;
  listOld: string;
  /** A git repository whose HEAD holds the running VMs at the new VMs' paths (NADs are new files). */
  repo: string;
}

function nad(i: number): { object: KubeObject; bridge: boolean; denied: boolean } {
  const name = `net-${i.toString().padStart(4, '0')}`;
  const namespace = NAMESPACES[i % NAMESPACES.length];
  const bridge = i % 2 === 0;
  const denied = !bridge && chance(0.6);
  const config = bridge
    ? { cniVersion: '0.3.1', name, type: 'bridge', bridge: `br-${i % 7}`, vlan: 100 + (i % 50), ipam: {} }
    : {
        cniVersion: '0.3.1',
        type: 'kube-ovn',
        server_socket: SERVER_SOCKET,
        // The common mistake: the provider of an IPAM-only NAD on a NAD that is the interface itself.
        provider: denied ? `${name}.${namespace}` : `${name}.${namespace}.ovn`,
      };
  return {
    object: {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'tenant-networks', team: namespace } },
      spec: { config: JSON.stringify(config, null, 2) },
    },
    bridge,
    denied,
  };
}

/** A VM as it is kept in git: no status, no server-set metadata. */
function virtualMachine(id: number, namespace: string, networks: string[]): KubeObject {
  const name = `vm-${id.toString().padStart(4, '0')}`;
  const memory = ['1Gi', '2Gi', '4Gi', '8Gi'][id % 4];
  const secondary = networks.map((networkName, n) => ({ name: `net${n + 1}`, networkName }));
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: {
      name,
      namespace,
      labels: { app: `app-${id % 17}`, 'kubevirt.io/os': 'fedora', tier: ['web', 'db', 'batch'][id % 3] },
      annotations: { 'argocd.argoproj.io/sync-wave': '2' },
    },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/domain': name, 'kubevirt.io/size': 'small' } },
        spec: {
          domain: {
            cpu: { cores: 1 + (id % 8), sockets: 1, threads: 1 },
            memory: { guest: memory },
            machine: { type: 'q35' },
            features: { acpi: {}, smm: { enabled: true } },
            firmware: { bootloader: { efi: { secureBoot: false } } },
            devices: {
              disks: [
                { name: 'rootdisk', disk: { bus: 'virtio' }, bootOrder: 1 },
                { name: 'cloudinitdisk', disk: { bus: 'virtio' } },
              ],
              interfaces: [
                { name: 'default', masquerade: {} },
                ...secondary.map((s) => ({ name: s.name, bridge: {}, model: 'virtio' })),
              ],
              rng: {},
            },
            resources: { requests: { memory } },
          },
          networks: [
            { name: 'default', pod: {} },
            ...secondary.map((s) => ({ name: s.name, multus: { networkName: s.networkName } })),
          ],
          terminationGracePeriodSeconds: 180,
          evictionStrategy: 'LiveMigrate',
          volumes: bootVolumes(name),
        },
      },
      dataVolumeTemplates: [
        {
          metadata: { name: `${name}-root` },
          spec: {
            sourceRef: { kind: 'DataSource', name: 'fedora', namespace: 'openshift-virtualization-os-images' },
            storage: { resources: { requests: { storage: '30Gi' } } },
          },
        },
      ],
    },
  };
}

/** The running version, as `kubectl get vm -o json` shows it: server-set metadata and status. */
function running(vm: KubeObject, id: number): KubeObject {
  const copy = structuredClone(vm);
  Object.assign(copy.metadata!, {
    uid: `4f3c${id.toString(16).padStart(8, '0')}-1b2c-4d5e-8f90-a1b2c3d4e5f6`,
    resourceVersion: String(100000 + id * 7),
    generation: 3,
    creationTimestamp: '2026-01-14T09:21:07Z',
    finalizers: ['kubevirt.io/virtualMachineControllerFinalize'],
  });
  copy.status = runningVmStatus();

  return copy;
}

function generateCorpus(dir: string): Corpus {
  const input = join(dir, 'change');
  const old = join(dir, 'running');
  for (const d of [join(input, 'vms'), join(input, 'nads'), old]) mkdirSync(d, { recursive: true });
  const files: string[] = [];
  const write = (file: string, text: string) => {
    writeFileSync(file, text);
    files.push(file);
  };

  let deniedNads = 0;
  const bridgeNads = new Map<string, string[]>(NAMESPACES.map((ns) => [ns, []]));
  const nads = Array.from({ length: NADS }, (_, i) => nad(i));
  for (const n of nads) {
    if (n.denied) deniedNads++;
    if (n.bridge) bridgeNads.get(n.object.metadata!.namespace!)!.push(n.object.metadata!.name!);
  }
  for (let i = 0; i < nads.length; i += 10) {
    const docs = nads.slice(i, i + 10).map((n) => stringify(n.object));
    write(join(input, 'nads', `nads-${(i / 10).toString().padStart(3, '0')}.yaml`), docs.join('---\n'));
  }

  const repo = join(dir, 'repo');
  for (const d of [join(repo, 'vms'), join(repo, 'nads')]) mkdirSync(d, { recursive: true });
  const newItems: KubeObject[] = nads.map((n) => n.object);
  const runningItems: KubeObject[] = [];
  const changedVms: [string, string][] = [];
  let deniedVms = 0;
  for (let id = 0; id < VMS; id++) {
    const namespace = NAMESPACES[id % NAMESPACES.length];
    const choices = bridgeNads.get(namespace)!;
    const pickNad = () => choices[int(0, choices.length - 1)];
    const before = virtualMachine(id, namespace, Array.from({ length: int(0, 3) }, pickNad));
    // The change: one NIC hotplugged; a masquerade one on a secondary network is the mistake.
    const after = structuredClone(before);
    const spec = after.spec.template.spec;
    const masquerade = chance(0.25);
    if (masquerade) deniedVms++;
    spec.domain.devices.interfaces.push({ name: 'hot1', ...(masquerade ? { masquerade: {} } : { bridge: {} }) });
    spec.networks.push({ name: 'hot1', multus: { networkName: pickNad() } });
    const name = before.metadata!.name!;
    write(join(input, 'vms', `${name}.yaml`), stringify(after));
    // The running VM as `kubectl get vm -o json` writes it: for --old, the List and the git base alike.
    const was = running(before, id);
    const wasText = JSON.stringify(was, null, 4) + '\n';
    write(join(old, `${name}.json`), wasText);
    newItems.push(after);
    runningItems.push(was);
    writeFileSync(join(repo, 'vms', `${name}.yaml`), wasText);
    changedVms.push([`${name}.yaml`, stringify(after)]);
  }
  const listInput = join(dir, 'list-change.yaml');
  const listOld = join(dir, 'list-running.json');
  writeFileSync(listInput, stringify({ apiVersion: 'v1', kind: 'List', items: newItems }, { indentSeq: false }));
  writeFileSync(listOld, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: runningItems }, null, 4));
  const git = (...args: string[]) => {
    const run = spawnSync('git', ['-c', 'user.email=bench@example.com', '-c', 'user.name=bench', ...args], {
      cwd: repo,
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
  };
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'running');
  for (const [file, text] of changedVms) writeFileSync(join(repo, 'vms', file), text);
  for (const file of readdirSync(join(input, 'nads')))
    writeFileSync(join(repo, 'nads', file), readFileSync(join(input, 'nads', file)));
  return { dir, input, old, files, deniedVms, deniedNads, listInput, listOld, repo };
}

// ---- gator: an equivalent ConstraintTemplate and Constraints, generated here ----

const GATOR_TEMPLATE = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: nicguardbench
spec:
  crd:
    spec:
      names:
        kind: NicguardBench
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package nicguardbench

      # A masquerade interface on a secondary (multus) network.
      violation[{"msg": msg}] {
        input.review.object.kind == "VirtualMachine"
        spec := input.review.object.spec.template.spec
        iface := spec.domain.devices.interfaces[_]
        iface.masquerade
        net := spec.networks[_]
        net.name == iface.name
        net.multus
        msg := sprintf("interface %v: masquerade on a secondary network", [iface.name])
      }

      # A Kube-OVN NAD whose provider is not <name>.<namespace>.ovn.
      violation[{"msg": msg}] {
        input.review.object.kind == "NetworkAttachmentDefinition"
        meta := input.review.object.metadata
        config := json.unmarshal(input.review.object.spec.config)
        config.type == "kube-ovn"
        expected := sprintf("%v.%v.ovn", [meta.name, meta.namespace])
        config.provider != expected
        msg := sprintf("provider %v is not %v", [config.provider, expected])
      }
`;

const GATOR_CONSTRAINT = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: NicguardBench
metadata:
  name: nicguard-bench
spec:
  match:
    kinds:
    - apiGroups: ["kubevirt.io"]
      kinds: ["VirtualMachine"]
    - apiGroups: ["k8s.cni.cncf.io"]
      kinds: ["NetworkAttachmentDefinition"]
`;

// ---- running and measuring ----

interface Sample {
  wallMs: number;
  /** User + system CPU time of the child, which waiting for a core on a busy machine does not inflate. */
  cpuMs: number;
  rssMb: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command under /usr/bin/time for its peak RSS; wall time by our own clock. */
function measure(argv: string[]): Sample {
  const timeFile = join(tmpdir(), `nicguard-bench-cli-time-${process.pid}`);
  const started = performance.now();
  const child = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, ...argv], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  const wallMs = performance.now() - started;
  if (child.error) throw child.error;
  const [rssKb, user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  rmSync(timeFile, { force: true });
  return {
    wallMs,
    cpuMs: (user + system) * 1000,
    rssMb: rssKb / 1024,
    status: child.status,
    stdout: child.stdout,
    stderr: child.stderr,
  };
}

interface Command {
  label: string;
  argv: string[];
  /** Exit statuses that mean the command did its work. */
  ok: number[];
}

function main(): void {
  const started = performance.now();
  const dir = KEEP ?? mkdtempSync(join(tmpdir(), 'nicguard-bench-cli-'));
  try {
    const corpus = generateCorpus(dir);
    const bytes = corpus.files.reduce((n, f) => n + readFileSync(f).length, 0);
    const parseOnly = join(dir, 'parse-only.mjs');
    // The least a YAML-reading CLI does: read every file and parse every document with the same library.
    writeFileSync(
      parseOnly,
      `import { readFileSync } from 'node:fs';\n` +
        `import { parseAllDocuments } from ${JSON.stringify(import.meta.resolve('yaml'))};\n` +
        `let n = 0;\n` +
        `for (const file of JSON.parse(readFileSync(process.argv[2], 'utf8')))\n` +
        `  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) if (doc.toJS()) n++;\n` +
        `console.log(n);\n`,
    );
    const fileList = join(dir, 'files.json');
    writeFileSync(fileList, JSON.stringify(corpus.files));
    const validate = ['validate', '-f', corpus.input, '--old', corpus.old];
    const inRepo = ['-f', join(corpus.repo, 'vms'), '-f', join(corpus.repo, 'nads')];
    const commands: Command[] = [
      { label: 'node -e 0 (Node startup)', argv: [process.execPath, '-e', '0'], ok: [0] },
      { label: 'nicguard validate --help (startup)', argv: [process.execPath, CLI, 'validate', '--help'], ok: [0] },
      { label: 'read + YAML-parse only (yaml)', argv: [process.execPath, parseOnly, fileList], ok: [0] },
      { label: 'nicguard validate', argv: [process.execPath, CLI, ...validate, '-o', 'json'], ok: [1] },
      {
        label: 'nicguard validate, as two Lists',
        argv: [process.execPath, CLI, 'validate', '-f', corpus.listInput, '--old', corpus.listOld, '-o', 'json'],
        ok: [1],
      },
      {
        label: 'nicguard validate --base HEAD',
        argv: [process.execPath, CLI, 'validate', ...inRepo, '--base', 'HEAD', '-o', 'json'],
        ok: [1],
      },
    ];
    if (OTHER_CLI) {
      commands.push({
        label: 'nicguard validate (--other-cli)',
        argv: [process.execPath, OTHER_CLI, ...validate, '-o', 'json'],
        ok: [1],
      });
    }
    if (GATOR) {
      const policy = join(dir, 'gator-policy');
      mkdirSync(policy);
      writeFileSync(join(policy, 'template.yaml'), GATOR_TEMPLATE);
      writeFileSync(join(policy, 'constraint.yaml'), GATOR_CONSTRAINT);
      commands.push({
        label: 'gator test',
        argv: [GATOR, 'test', '-f', corpus.input, '-f', policy, '-o', 'json'],
        ok: [0, 1],
      });
    }

    const samples = commands.map(() => [] as Sample[]);
    // One unmeasured round: the page cache and the compile cache warm for everyone alike.
    for (const c of commands) measure(c.argv);
    for (let round = 0; round < RUNS; round++) {
      const order = commands.map((_, i) => i);
      if (round % 2) order.reverse();
      for (const i of order) {
        const s = measure(commands[i].argv);
        if (!commands[i].ok.includes(s.status ?? -1))
          throw new Error(`${commands[i].label} exited ${s.status}: ${s.stderr.slice(0, 2000)}`);
        samples[i].push(s);
      }
    }

    // What the tools decided, from the last run of each.
    const report = JSON.parse(samples[3].at(-1)!.stdout) as {
      summary: { objects: number; denied: number; errors: number };
      results: { kind: string; allowed: boolean; name: string; findings: { rule: string; action: string }[] }[];
    };
    const expected = corpus.deniedVms + corpus.deniedNads;
    const deniedBy = (kind: string) => report.results.filter((r) => r.kind === kind && !r.allowed).length;
    let gatorDenied: number | undefined;
    if (GATOR) {
      const results = JSON.parse(samples[commands.length - 1].at(-1)!.stdout || '[]') as {
        violatingObject?: { kind?: string; metadata?: { name?: string; namespace?: string } };
      }[];
      const objects = new Set(
        results.map((r) => {
          const o = r.violatingObject ?? {};
          return `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`;
        }),
      );
      gatorDenied = objects.size;
    }

    const rows = commands.map((c, i) => ({
      label: c.label,
      wall: median(samples[i].map((s) => s.wallMs)),
      cpu: median(samples[i].map((s) => s.cpuMs)),
      rss: median(samples[i].map((s) => s.rssMb)),
    }));
    const [node, help, parse, nicguard, lists, base] = rows;
    const gator = GATOR ? rows.at(-1) : undefined;
    const other = OTHER_CLI ? rows[6] : undefined;
    const deniedIn = (i: number) => (JSON.parse(samples[i].at(-1)!.stdout) as typeof report).summary.denied;

    console.log(
      `nicguard CLI benchmark: ${VMS} VM updates (new YAML + running JSON) and ${NADS} NADs (YAML, 10 per file), ` +
        `seed ${SEED}; ${corpus.files.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB; median of ${RUNS} ` +
        `rounds`,
    );
    console.log(
      `denied: nicguard ${report.summary.denied} of ${report.summary.objects} objects ` +
        `(VMs ${deniedBy('VirtualMachine')}, ` +
        `NADs ${deniedBy('NetworkAttachmentDefinition')}; errors ${report.summary.errors}); by design ${expected} ` +
        `(VMs ${corpus.deniedVms}, NADs ${corpus.deniedNads})` +
        (gatorDenied !== undefined ? `; gator ${gatorDenied}` : ''),
    );
    console.log('');
    console.log('command                                  wall ms    CPU ms   peak RSS MB');
    for (const r of rows)
      console.log(
        `${r.label.padEnd(38)} ${r.wall.toFixed(0).padStart(9)} ${r.cpu.toFixed(0).padStart(9)} ` +
          `${r.rss.toFixed(0).padStart(13)}`,
      );
    console.log('');
    const ratios = (a: (typeof rows)[number], b: (typeof rows)[number]) =>
      `${(a.wall / b.wall).toFixed(2)} wall, ${(a.cpu / b.cpu).toFixed(2)} CPU`;
    console.log(`validate / read+YAML-parse only: ${ratios(nicguard, parse)}`);
    console.log(
      `validate startup over Node's: ${(help.wall - node.wall).toFixed(0)} ms ` +
        `(validate --help / node -e 0: ${(help.wall / node.wall).toFixed(2)})`,
    );
    console.log(
      `validate as two Lists / as files: ${ratios(lists, nicguard)}, ` +
        `peak RSS ${(lists.rss / nicguard.rss).toFixed(2)}; validate --base HEAD / --old: ${ratios(base, nicguard)} ` +
        `(denied ${deniedIn(4)} and ${deniedIn(5)})`,
    );
    if (other) console.log(`validate / --other-cli validate: ${ratios(nicguard, other)}`);
    if (gator) {
      const ratio = nicguard.wall / gator.wall;
      console.log(
        `nicguard / gator wall time: ${ratio.toFixed(2)} (aim: below 1.00) ${ratio < 1 ? 'met' : 'NOT met'}; ` +
          `CPU time ${(nicguard.cpu / gator.cpu).toFixed(2)}; peak RSS ${(nicguard.rss / gator.rss).toFixed(2)}`,
      );
    }
    const sameDenials = deniedIn(4) === expected && deniedIn(5) === expected;
    if (report.summary.denied !== expected || !sameDenials || (gatorDenied !== undefined && gatorDenied !== expected)) {
      console.log('DENIAL COUNTS DIFFER from the design: the comparison is not like for like');
      process.exitCode = 1;
    }
    console.log(`(finished in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } finally {
    if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

main();

// Engine benchmark: evaluate() over a generated corpus of VM UPDATE AdmissionReviews,
// against JSON.parse of the same review strings in the same run. The ratio engine/parse
// is the number to watch: the webhook must parse every review anyway, so an engine at or
// below parse cost adds at most as much again.
//
// Last, the same reviews one at a time with cold data caches (8 MiB of other memory walked
// before each): the worst case of a server, where TLS, HTTP and the kernel run between two
// reviews and push out some of what a loop keeps cached.
//
//   npm run build && node dist/bench/engine.js [--reviews N] [--rounds N] [--seed N] [--kubevirt-version v1.8.4]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseAllDocuments } from 'yaml';
import { ObjectIndex } from '../src/cluster/object-index.js';
import { defaultConfig } from '../src/engine/config.js';
import { evaluate } from '../src/engine/evaluate.js';
import type { Operation, PolicyRequest } from '../src/engine/types.js';
import type { Manifest as KubeObject } from '../test/support.js';
import { bootVolumes, runningVmStatus } from './corpus.js';
import { median, prng } from './stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const REVIEWS = option('reviews', 2000);
const ROUNDS = option('rounds', 7);
const SEED = option('seed', 20240611);

const random = prng(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const chance = (p: number) => random() < p;

/** The cluster the seed documents describe, read as the file view would read it. */
function seedCluster(): ObjectIndex {
  const index = new ObjectIndex();
  const dir = join(ROOT, 'examples', 'cluster');
  for (const file of readdirSync(dir)) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as KubeObject;
      if (obj && typeof obj === 'object') index.upsert(obj);
    }
  }
  return index;
}

const SECONDARY_NETWORKS = ['attachnet', 'new-fancy-net', 'shared-networks/storage-net'];

type Nic = { iface: Record<string, unknown>; network: Record<string, unknown> };

function secondaryNic(name: string): Nic {
  const kind = random();
  // Mostly bridge, some SR-IOV, a few mistakes (masquerade on a secondary network).
  const binding = kind < 0.72 ? { bridge: {} } : kind < 0.94 ? { sriov: {} } : { masquerade: {} };
  const iface: Record<string, unknown> = { name, ...binding };
  if ('bridge' in binding && chance(0.3)) iface.model = chance(0.9) ? 'virtio' : 'e1000e';
  if (chance(0.4))
    iface.macAddress = `02:${[0, 0, 0, 0, 0].map(() => int(0, 255).toString(16).padStart(2, '0')).join(':')}`;
  const networkName = 'sriov' in binding ? 'sriov-net' : pick(SECONDARY_NETWORKS);
  return { iface, network: { name, multus: { networkName } } };
}

/** A VM as `kubectl get vm -o json` shows it on a real cluster: managed fields, status, volumes. */
function virtualMachine(id: number, nicCount: number, running: boolean): KubeObject {
  const name = `vm-${id.toString(36)}`;
  const nics: Nic[] = [{ iface: { name: 'default', masquerade: {} }, network: { name: 'default', pod: {} } }];
  for (let i = 1; i < nicCount; i++) nics.push(secondaryNic(`net${i}`));
  const memory = pick(['1Gi', '2Gi', '4Gi', '8Gi']);
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: {
      name,
      namespace: 'default',
      uid: `4f3c${id.toString(16).padStart(8, '0')}-1b2c-4d5e-8f90-a1b2c3d4e5f6`,
      resourceVersion: String(100000 + id * 7),
      generation: int(1, 40),
      creationTimestamp: '2025-01-14T09:21:07Z',
      labels: { app: `app-${id % 17}`, 'kubevirt.io/os': 'fedora', tier: pick(['web', 'db', 'batch']) },
      annotations: {
        'kubevirt.io/latest-observed-api-version': 'v1',
        'kubevirt.io/storage-observed-api-version': 'v1',
      },
      finalizers: ['kubevirt.io/virtualMachineControllerFinalize'],
      managedFields: [
        {
          apiVersion: 'kubevirt.io/v1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:labels': { '.': {}, 'f:app': {}, 'f:tier': {} } },
            'f:spec': {
              '.': {},
              'f:runStrategy': {},
              'f:template': { '.': {}, 'f:spec': { '.': {}, 'f:domain': {}, 'f:networks': {}, 'f:volumes': {} } },
            },
          },
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          time: '2025-01-14T09:21:07Z',
        },
        {
          apiVersion: 'kubevirt.io/v1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:status': {
              '.': {},
              'f:conditions': {},
              'f:created': {},
              'f:printableStatus': {},
              'f:ready': {},
              'f:volumeSnapshotStatuses': {},
            },
          },
          manager: 'virt-controller',
          operation: 'Update',
          subresource: 'status',
          time: '2025-01-14T09:22:41Z',
        },
      ],
    },
    spec: {
      runStrategy: running ? 'Always' : 'Halted',
      template: {
        metadata: { labels: { 'kubevirt.io/domain': name, 'kubevirt.io/size': 'small' }, creationTimestamp: null },
        spec: {
          domain: {
            cpu: { cores: int(1, 8), sockets: 1, threads: 1 },
            memory: { guest: memory },
            machine: { type: 'q35' },
            features: { acpi: {}, smm: { enabled: true } },
            firmware: {
              bootloader: { efi: { secureBoot: false } },
              uuid: `b1e2${id.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
            },
            devices: {
              disks: [
                { name: 'rootdisk', disk: { bus: 'virtio' }, bootOrder: 1 },
                { name: 'cloudinitdisk', disk: { bus: 'virtio' } },
                ...(chance(0.5) ? [{ name: 'datadisk', disk: { bus: 'virtio' } }] : []),
              ],
              interfaces: nics.map((n) => n.iface),
              rng: {},
            },
            resources: { requests: { memory } },
          },
          networks: nics.map((n) => n.network),
          terminationGracePeriodSeconds: 180,
          evictionStrategy: 'LiveMigrate',
          volumes: [...bootVolumes(name), { name: 'datadisk', persistentVolumeClaim: { claimName: `${name}-data` } }],
        },
      },
      dataVolumeTemplates: [
        {
          metadata: { name: `${name}-root`, creationTimestamp: null },
          spec: {
            sourceRef: { kind: 'DataSource', name: 'fedora', namespace: 'openshift-virtualization-os-images' },
            storage: { resources: { requests: { storage: '30Gi' } } },
          },
        },
      ],
    },
    status: running
      ? runningVmStatus()
      : { printableStatus: 'Stopped', ready: false, created: false, runStrategy: 'Halted' },
  };
}

type Change = 'hotplug' | 'unplug' | 'removal' | 'label';

/** Applies one user edit to a copy of the VM; returns the new object. */
function edit(old: KubeObject, change: Change, nextNic: () => string): KubeObject {
  // The API server sends the stored status with the new object too, so the clone keeps it.
  const now = structuredClone(old);
  const spec = now.spec.template.spec;
  const ifaces: any[] = spec.domain.devices.interfaces;
  const secondary = ifaces.filter((i) => i.name !== 'default' && i.state !== 'absent');
  switch (change) {
    case 'hotplug':
      for (let n = int(1, 2); n > 0; n--) {
        const nic = secondaryNic(nextNic());
        ifaces.push(nic.iface);
        spec.networks.push(nic.network);
      }
      break;
    case 'unplug':
      if (secondary.length) pick(secondary).state = 'absent';
      break;
    case 'removal':
      if (secondary.length) {
        const gone = pick(secondary).name;
        spec.domain.devices.interfaces = ifaces.filter((i) => i.name !== gone);
        if (chance(0.8)) spec.networks = spec.networks.filter((n: any) => n.name !== gone);
      }
      break;
    case 'label':
      now.metadata!.labels = { ...now.metadata!.labels, revision: String(int(1, 99)) };
      break;
  }
  return now;
}

function review(id: number): { json: string; nics: number } {
  const nics = int(1, 16);
  const old = virtualMachine(id, nics, chance(0.85));
  let counter = nics;
  const change = pick<Change>(['hotplug', 'hotplug', 'unplug', 'removal', 'label']);
  const object = edit(old, change, () => `hot${counter++}`);
  const body = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `a0b1c2d3-${id.toString(16).padStart(4, '0')}-4e5f-8a9b-0c1d2e3f4a5b`,
      kind: { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachine' },
      resource: { group: 'kubevirt.io', version: 'v1', resource: 'virtualmachines' },
      requestKind: { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachine' },
      requestResource: { group: 'kubevirt.io', version: 'v1', resource: 'virtualmachines' },
      name: old.metadata!.name,
      namespace: 'default',
      operation: 'UPDATE',
      userInfo: {
        username: chance(0.1) ? 'system:serviceaccount:kubevirt:kubevirt-controller' : 'alice@example.com',
        groups: ['system:authenticated'],
      },
      object,
      oldObject: old,
      dryRun: false,
      options: { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-edit' },
    },
  };
  return { json: JSON.stringify(body), nics };
}

/** What the webhook does between parsing and evaluating: pick the request's fields. */
function policyRequest(parsed: any): PolicyRequest {
  const r = parsed.request;
  return {
    uid: r.uid,
    operation: r.operation as Operation,
    kind: r.kind?.kind,
    group: r.kind?.group,
    namespace: r.namespace,
    name: r.name,
    object: r.object,
    oldObject: r.oldObject,
    userInfo: r.userInfo,
    dryRun: r.dryRun,
  };
}

const BUCKETS = [
  { label: '1-4 NICs', lo: 1, hi: 4 },
  { label: '5-8 NICs', lo: 5, hi: 8 },
  { label: '9-12 NICs', lo: 9, hi: 12 },
  { label: '13-16 NICs', lo: 13, hi: 16 },
];

function main(): void {
  const started = performance.now();
  const cluster = seedCluster();
  // With --kubevirt-version the engine judges as that release, as in a cluster whose
  // KubeVirt CR reports its version; without, under every supported release.
  const at = process.argv.indexOf('--kubevirt-version');
  const config = { ...defaultConfig(), ...(at >= 0 ? { kubevirtVersion: process.argv[at + 1] } : {}) };
  const corpus = Array.from({ length: REVIEWS }, (_, i) => review(i));
  const groups = BUCKETS.map((b) => {
    const items = corpus.filter((c) => c.nics >= b.lo && c.nics <= b.hi);
    return { ...b, strings: items.map((c) => c.json), requests: items.map((c) => policyRequest(JSON.parse(c.json))) };
  });
  const totalBytes = corpus.reduce((n, c) => n + c.json.length, 0);

  // Keeps results alive so neither loop can be optimised away.
  let sink = 0;
  const parseRound = (strings: string[]) => {
    const t = performance.now();
    for (const s of strings) sink += JSON.parse(s).request.uid.length;
    return performance.now() - t;
  };
  const engineRound = (requests: PolicyRequest[]) => {
    const t = performance.now();
    for (const r of requests) {
      const result = evaluate(r, cluster, config, 'both');
      sink += result.findings.length + result.patch.length;
    }
    return performance.now() - t;
  };

  // Parse and engine take turns in chunks of CHUNK reviews, so that load from other
  // processes on the machine falls on both sides alike and the ratio stays meaningful.
  const CHUNK = 50;
  const measureRound = (g: (typeof groups)[number], engineFirst: boolean) => {
    let parse = 0;
    let engine = 0;
    for (let i = 0; i < g.strings.length; i += CHUNK) {
      const strings = g.strings.slice(i, i + CHUNK);
      const requests = g.requests.slice(i, i + CHUNK);
      if (engineFirst) {
        engine += engineRound(requests);
        parse += parseRound(strings);
      } else {
        parse += parseRound(strings);
        engine += engineRound(requests);
      }
    }
    return { parse, engine };
  };

  // Warm-up: let the JIT settle on both paths before anything is counted.
  for (let w = 0; w < 2; w++) for (const g of groups) measureRound(g, w % 2 === 1);

  const parseTimes = groups.map(() => [] as number[]);
  const engineTimes = groups.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    groups.forEach((g, i) => {
      const t = measureRound(g, round % 2 === 1);
      parseTimes[i].push(t.parse);
      engineTimes[i].push(t.engine);
    });
  }

  const fmt = (n: number, width: number, digits = 0) => n.toFixed(digits).padStart(width);
  const rows = groups.map((g, i) => ({
    label: g.label,
    count: g.strings.length,
    parse: median(parseTimes[i]),
    engine: median(engineTimes[i]),
  }));
  const total = {
    label: 'all',
    count: REVIEWS,
    parse: median(parseTimes[0].map((_, r) => parseTimes.reduce((s, t) => s + t[r], 0))),
    engine: median(engineTimes[0].map((_, r) => engineTimes.reduce((s, t) => s + t[r], 0))),
  };

  const outcomes = groups.flatMap((g) => g.requests).map((r) => evaluate(r, cluster, config, 'both'));
  const denied = outcomes.filter((o) => !o.allowed).length;
  const patched = outcomes.filter((o) => o.patch.length > 0).length;
  const warned = outcomes.filter((o) => o.allowed && o.findings.length > 0).length;

  console.log(
    `nicguard engine benchmark: ${REVIEWS} VM UPDATE reviews (seed ${SEED}), ` +
      `${ROUNDS} rounds after warm-up, median per round`,
  );
  console.log(
    `corpus: ${(totalBytes / REVIEWS / 1024).toFixed(1)} KiB per review on average; ` +
      `outcomes: ${denied} denied, ${warned} allowed with warnings, ${patched} patched`,
  );
  console.log('');
  console.log('reviews      count   JSON.parse rev/s   engine rev/s   parse µs/rev   engine µs/rev   engine/parse');
  for (const row of [...rows, total]) {
    console.log(
      `${row.label.padEnd(11)} ${fmt(row.count, 6)} ` +
        `${fmt((row.count / row.parse) * 1000, 18)} ${fmt((row.count / row.engine) * 1000, 14)} ` +
        `${fmt((row.parse / row.count) * 1000, 14, 1)} ${fmt((row.engine / row.count) * 1000, 15, 1)} ` +
        `${fmt(row.engine / row.parse, 14, 2)}`,
    );
  }
  console.log('');
  const ratio = total.engine / total.parse;
  console.log(
    `engine time / parse time: ${ratio.toFixed(2)} (aim: at or below 1.00) ${ratio <= 1 ? 'met' : 'NOT met'}`,
  );
  const cold = coldCaches(groups[0].strings.slice(0, COLD_REVIEWS), groups[0].requests.slice(0, COLD_REVIEWS), {
    parse: (s) => (sink += JSON.parse(s).request.uid.length),
    engine: (r) => (sink += evaluate(r, cluster, config, 'both').findings.length),
  });
  const warm = (rows[0].engine / rows[0].count) * 1000;
  console.log(
    `cold caches (${cold.count} reviews of 1-4 NICs, ${EVICT_BYTES / 1024 / 1024} MiB walked before each: colder ` +
      `than a server leaves them): JSON.parse ${cold.parse.toFixed(1)} µs/rev, engine ` +
      `${cold.engine.toFixed(1)} µs/rev, ${(cold.engine / warm).toFixed(1)}x its warm ${warm.toFixed(1)}`,
  );
  console.log(`(finished in ${((performance.now() - started) / 1000).toFixed(1)} s; checksum ${sink % 1000})`);
}

/** Reviews timed one by one, each after the data caches were filled with something else. */
const COLD_REVIEWS = 200;
const EVICT_BYTES = 8 * 1024 * 1024;

function coldCaches(
  strings: string[],
  requests: PolicyRequest[],
  run: { parse: (s: string) => void; engine: (r: PolicyRequest) => void },
): { count: number; parse: number; engine: number } {
  const other = new Uint8Array(EVICT_BYTES);
  const evict = () => {
    for (let i = 0; i < other.length; i += 64) other[i]++;
  };
  const parse: number[] = [];
  const engine: number[] = [];
  for (let round = 0; round < 3; round++) {
    let p = 0;
    let e = 0;
    for (let i = 0; i < strings.length; i++) {
      evict();
      let t = performance.now();
      run.parse(strings[i]);
      p += performance.now() - t;
      evict();
      t = performance.now();
      run.engine(requests[i]);
      e += performance.now() - t;
    }
    parse.push((p * 1000) / strings.length);
    engine.push((e * 1000) / strings.length);
  }
  return { count: strings.length, parse: median(parse), engine: median(engine) };
}

main();

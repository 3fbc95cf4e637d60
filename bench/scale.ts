// Scale benchmark: `nicguard serve --kubeconfig` against a loopback fake Kubernetes API
// (test/support/fake-api.ts, paginated lists and watches) that serves N realistic VMIs
// (~6 KB of JSON each, managedFields and status included), 2,000 NADs and 500 Subnets.
// For each N it reports the time from start to ready (/readyz 200), resident memory after
// the sync, and the p99 latency of admission reviews and of /healthz, sent over HTTPS at a
// steady pace, during the initial list and during a relist (the fake API compacts its
// history and drops every watch, so each informer gets 410 Gone and lists again).
//
//   npm run bench:scale                        (N = 1,000, 10,000 and 100,000)
//   node dist/bench/scale.js --vmis 1000,10000 (choose N)
//   node dist/bench/scale.js --heap            (retained heap per VMI for candidate projections)
//   node dist/bench/scale.js --audit --vmis 1000,5000   (nicguard audit --apply over the fleet, as the CronJob
//                                  runs it: exit, time, peak RSS; --with-vms: a VM for each VMI; --json: -o json)
//   node dist/bench/scale.js --node-flags=--single-threaded-gc   (more Node flags for serve)
//   node dist/bench/scale.js --serve-flags=--helper-thread-nice=0   (more flags for serve)
//
// nicguard serve runs with the Deployment's NODE_OPTIONS (manifests/base/deployment.yaml), then --node-flags.
//
// Aims at 100,000 VMIs: ready within 30 s, under 400 MB RSS, admission and /healthz p99
// under 50 ms during the initial list and during a relist.
import { admissionReview } from '../test/server-support.js';
import {
  auditCronJobNodeFlags,
  cpuSeconds,
  deployedNodeFlags,
  nodeFlagsOption,
  peakRssMb,
  serveFlagsOption,
  rssMb,
  stopChild,
  LOOPBACK_ANY_PORTS,
  scrapeMetrics,
} from './process.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { generateCertificates } from '../src/certs/generate.js';
import { splitListBody } from '../src/cluster/list-body.js';
import { projectObject, Interner } from '../src/cluster/projection.js';
import { update, type Manifest as KubeObject } from '../test/support.js';
import { FakeApiServer } from '../test/support/fake-api.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const SELF = fileURLToPath(import.meta.url);

/** Node flags for nicguard serve: the Deployment's NODE_OPTIONS, then any --node-flags. */
const NODE_FLAGS = [...deployedNodeFlags(ROOT), ...nodeFlagsOption()];
/** --serve-log=DIR: nicguard serve's stdout (logs, and --trace-gc lines) goes to DIR/serve-N.log too. */
const SERVE_LOG = process.argv.find((a) => a.startsWith('--serve-log='))?.slice('--serve-log='.length);
const NADS = 2000;
const SUBNETS = 500;
const NAMESPACES = 500;

export function readExample(rel: string): KubeObject {
  return parseAllDocuments(readFileSync(join(ROOT, 'examples', rel), 'utf8'))[0].toJS() as KubeObject;
}

const nsOf = (i: number) => `tenant-${i % NAMESPACES}`;
const nadName = (i: number) => `net-${i}`;

// ---- the fleet ----

/** The i-th VMI as a cluster returns it: ~6 KB with managed fields, status and guest info. */
export function makeVmi(template: KubeObject, i: number): KubeObject {
  const name = `vm-${i}`;
  const ns = nsOf(i);
  const spec = structuredClone(template.spec.template.spec);
  const nics = 1 + (i % 3);
  for (let n = 1; n < nics; n++) {
    spec.domain.devices.interfaces.push({
      name: `net${n}`,
      bridge: {},
      macAddress: `02:00:${(i >> 8) & 255}:${i & 255}:00:0${n}`,
    });
    spec.networks.push({ name: `net${n}`, multus: { networkName: `${nsOf(i)}/${nadName((i + n) % NADS)}` } });
  }
  spec.domain.firmware = { uuid: `5d307ca9-b3ef-428c-8861-${String(i).padStart(12, '0')}` };
  spec.domain.machine = { type: 'q35' };
  spec.domain.cpu = { cores: 2, sockets: 1, threads: 1, model: 'host-model' };
  spec.domain.features = { acpi: { enabled: true } };
  // Most fleets boot with cloud-init user data: a kilobyte or so per VMI.
  spec.volumes.push({
    name: 'cloudinitdisk',
    cloudInitNoCloud: {
      userData:
        `#cloud-config\nhostname: ${name}\nuser: fedora\npassword: changeme\nchpasswd: { expire: False }\n` +
        'ssh_authorized_keys:\n' +
        `  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(i).padStart(40, '0')} ops@example.com\n` +
        `runcmd:\n  - [systemctl, enable, --now, qemu-guest-agent]\n  - [sh, -c, "echo ${name} > /etc/motd"]\n` +
        `write_files:\n  - path: /etc/sysctl.d/90-net.conf\n    content: |\n` +
        `      net.ipv4.ip_forward = 1\n      net.core.somaxconn = 4096\n`,
    },
  });
  spec.domain.devices.disks.push({ name: 'cloudinitdisk', disk: { bus: 'virtio' } });
  return {
    metadata: {
      name,
      namespace: ns,
      uid: `0c6a2b4e-${String(i).padStart(8, '0')}-4d5e-8f90-a1b2c3d4e5f6`,
      resourceVersion: String(1000 + i),
      generation: 4,
      creationTimestamp: '2026-10-01T08:00:00Z',
      labels: {
        'kubevirt.io/domain': name,
        'kubevirt.io/nodeName': `worker-${i % 40}`,
        'kubevirt.io/size': 'small',
        app: `app-${i % 17}`,
      },
      annotations: {
        'kubevirt.io/latest-observed-api-version': 'v1',
        'kubevirt.io/storage-observed-api-version': 'v1',
        'kubevirt.io/vm-generation': '4',
        ...(i % 10 === 0 ? { 'kubevirt.io/pci-interface-slot-count': '8' } : {}),
      },
      finalizers: ['kubevirt.io/virtualMachineControllerFinalize', 'foregroundDeleteVirtualMachine'],
      ownerReferences: [
        {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachine',
          name,
          uid: `9a8b7c6d-${String(i).padStart(8, '0')}-4000-8000-000000000000`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'virt-controller',
          operation: 'Update',
          apiVersion: 'kubevirt.io/v1',
          time: '2026-10-01T08:00:01Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': {
                '.': {},
                'f:kubevirt.io/latest-observed-api-version': {},
                'f:kubevirt.io/storage-observed-api-version': {},
                'f:kubevirt.io/vm-generation': {},
              },
              'f:finalizers': { '.': {}, 'v:"kubevirt.io/virtualMachineControllerFinalize"': {} },
              'f:labels': { '.': {}, 'f:kubevirt.io/domain': {}, 'f:kubevirt.io/size': {} },
              'f:ownerReferences': { '.': {}, [`k:{"uid":"${i}"}`]: {} },
            },
            'f:spec': {
              '.': {},
              'f:domain': {
                '.': {},
                'f:cpu': { '.': {}, 'f:cores': {}, 'f:model': {}, 'f:sockets': {}, 'f:threads': {} },
                'f:devices': { '.': {}, 'f:disks': {}, 'f:interfaces': {}, 'f:rng': {} },
                'f:features': { '.': {}, 'f:acpi': { '.': {}, 'f:enabled': {} } },
                'f:firmware': { '.': {}, 'f:uuid': {} },
                'f:machine': { '.': {}, 'f:type': {} },
                'f:resources': { '.': {}, 'f:requests': { '.': {}, 'f:memory': {} } },
              },
              'f:networks': {},
              'f:terminationGracePeriodSeconds': {},
              'f:volumes': {},
            },
            'f:status': {
              '.': {},
              'f:activePods': { '.': {}, [`f:${i}`]: {} },
              'f:conditions': {},
              'f:guestOSInfo': {},
              'f:phase': {},
              'f:phaseTransitionTimestamps': {},
              'f:qosClass': {},
            },
          },
        },
        {
          manager: 'virt-handler',
          operation: 'Update',
          apiVersion: 'kubevirt.io/v1',
          time: '2026-10-01T08:00:20Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:labels': { 'f:kubevirt.io/nodeName': {} } },
            'f:status': {
              'f:interfaces': {},
              'f:launcherContainerImageVersion': {},
              'f:machine': { '.': {}, 'f:type': {} },
              'f:migrationMethod': {},
              'f:migrationTransport': {},
              'f:nodeName': {},
              'f:volumeStatus': {},
            },
          },
        },
      ],
    },
    spec,
    status: {
      phase: 'Running',
      nodeName: `worker-${i % 40}`,
      qosClass: 'Burstable',
      activePods: { [`d1e2f3a4-${String(i).padStart(8, '0')}-4000-8000-000000000000`]: `worker-${i % 40}` },
      conditions: [
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-10-01T08:00:20Z' },
        { type: 'LiveMigratable', status: 'True', lastProbeTime: null, lastTransitionTime: null },
        { type: 'AgentConnected', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-10-01T08:00:40Z' },
      ],
      guestOSInfo: {
        id: 'fedora',
        name: 'Fedora Linux',
        version: '40',
        versionId: '40',
        kernelRelease: '6.8.5-301.fc40.x86_64',
        prettyName: 'Fedora Linux 40 (Cloud Edition)',
      },
      interfaces: spec.domain.devices.interfaces.map((iface: { name: string }, n: number) => ({
        name: iface.name,
        infoSource: 'domain, guest-agent',
        interfaceName: `eth${n}`,
        ipAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        ipAddresses: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `fd10:244::${(i & 65535).toString(16)}`],
        mac: `02:00:${(i >> 8) & 255}:${i & 255}:00:0${n}`,
        queueCount: 1,
        linkState: 'up',
      })),
      launcherContainerImageVersion: 'quay.io/kubevirt/virt-launcher:v1.6.0',
      machine: { type: 'pc-q35-rhel9.4.0' },
      migrationMethod: 'BlockMigration',
      migrationTransport: 'Unix',
      phaseTransitionTimestamps: ['Pending', 'Scheduling', 'Scheduled', 'Running'].map((phase, n) => ({
        phase,
        phaseTransitionTimestamp: `2026-10-01T08:00:0${n}Z`,
      })),
      currentCPUTopology: { cores: 2, sockets: 1, threads: 1 },
      memory: { guestAtBoot: '1Gi', guestCurrent: '1Gi', guestRequested: '1Gi' },
      selinuxContext: 'system_u:object_r:container_file_t:s0:c123,c456',
      volumeStatus: [{ name: 'containerdisk', target: 'vda', containerDiskVolume: { checksum: 1234567890 } }],
    },
  };
}

/** The VM owning the i-th VMI, as a cluster returns it: the VMI's spec as its template, managed fields, a status. */
export function makeVm(template: KubeObject, i: number): KubeObject {
  const vmi = makeVmi(template, i);
  const { ownerReferences: _owners, finalizers: _finalizers, ...metadata } = vmi.metadata!;
  return {
    metadata: { ...metadata, uid: `9a8b7c6d-${String(i).padStart(8, '0')}-4000-8000-000000000000` },
    spec: {
      runStrategy: 'Always',
      template: { metadata: { labels: { 'kubevirt.io/domain': metadata.name } }, spec: vmi.spec },
    },
    status: {
      created: true,
      ready: true,
      printableStatus: 'Running',
      desiredGeneration: 4,
      observedGeneration: 4,
      runStrategy: 'Always',
      conditions: [
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-10-01T08:00:30Z' },
        { type: 'LiveMigratable', status: 'True', lastProbeTime: null, lastTransitionTime: null },
      ],
      volumeSnapshotStatuses: [
        { name: 'containerdisk', enabled: false, reason: 'Snapshot is not supported for this volumeSource type' },
        { name: 'cloudinitdisk', enabled: false, reason: 'Snapshot is not supported for this volumeSource type' },
      ],
    },
  };
}

function makeNad(i: number): KubeObject {
  const name = nadName(i);
  const ns = nsOf(i);
  const provider = `${name}.${ns}.ovn`;
  return {
    metadata: {
      name,
      namespace: ns,
      uid: `nad-${i}`,
      resourceVersion: String(500 + i),
      managedFields: [
        { manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:config': {} } } },
      ],
    },
    spec: {
      config: JSON.stringify({
        cniVersion: '0.3.1',
        type: 'kube-ovn',
        server_socket: '/run/openvswitch/kube-ovn-daemon.sock',
        provider,
      }),
    },
  };
}

function makeSubnet(i: number): KubeObject {
  const name = nadName(i);
  return {
    metadata: { name, uid: `subnet-${i}`, resourceVersion: String(300 + i) },
    spec: {
      provider: `${name}.${nsOf(i)}.ovn`,
      cidrBlock: `10.${100 + (i >> 8)}.${i & 255}.0/24`,
      gateway: `10.${100 + (i >> 8)}.${i & 255}.1`,
      excludeIps: [`10.${100 + (i >> 8)}.${i & 255}.1`],
      protocol: 'IPv4',
      vpc: 'ovn-cluster',
    },
    status: { v4availableIPs: 253, v4usingIPs: 0, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

// ---- the fake API child: `node dist/bench/scale.js --fake-api N` ----

async function runFakeApi(vmis: number, withVms: boolean): Promise<void> {
  const template = readExample('old/vm-fedora.yaml');
  const api = new FakeApiServer();
  api.generate('vmi', { count: vmis, make: (i) => makeVmi(template, i) });
  if (withVms) api.generate('vm', { count: vmis, make: (i) => makeVm(template, i) });
  // `nicguard audit --apply` writes its PolicyReports here, as the CronJob does to the cluster.
  api.storeWrites = true;
  api.generate('nad', { count: NADS, make: makeNad });
  api.generate('subnet', { count: SUBNETS, make: makeSubnet });
  api.put('kubevirt', {
    apiVersion: 'kubevirt.io/v1',
    kind: 'KubeVirt',
    metadata: { name: 'kubevirt', namespace: 'kubevirt' },
    spec: {
      configuration: { vmRolloutStrategy: 'LiveUpdate' },
      workloadUpdateStrategy: { workloadUpdateMethods: ['LiveMigrate'] },
    },
    status: { observedKubeVirtVersion: 'v1.6.0' },
  });
  const pages = Math.ceil(vmis / 500);
  let served = 0;
  let cpuAtStart = process.cpuUsage();
  api.beforePage = (res, page) => {
    if (res === 'vmi' && page === 2) cpuAtStart = process.cpuUsage();
    if (res === 'vmi' && page === pages) {
      const used = process.cpuUsage(cpuAtStart);
      process.stdout.write(`vmi list complete ${++served} cpuMs ${Math.round((used.user + used.system) / 1000)}\n`);
    }
  };
  await api.start();
  process.stdout.write(`listening ${api.port} vmi-bytes ${JSON.stringify(makeVmi(template, 1)).length}\n`);
  // SIGUSR2: forget history and cut every watch, so every informer relists.
  process.on('SIGUSR2', () => {
    // One change first, so the informers' resourceVersion is older than the compaction.
    api.rv++;
    api.compact();
    api.dropConnections();
  });
  process.on('SIGTERM', () => process.exit(0));
}

// ---- the measuring side ----

function startChild(
  args: string[],
  cwd: string,
  ready: RegExp,
  stream: 'stdout' | 'stderr',
  onLine?: (line: string) => void,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let text = '';
    let found = false;
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${text}`)), 60_000);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child[stream === 'stdout' ? 'stderr' : 'stdout']!.resume();
    child[stream]!.on('data', (c: string) => {
      if (found) {
        for (const line of c.split('\n')) if (line) onLine?.(line);
        return;
      }
      text += c;
      const m = ready.exec(text);
      if (m) {
        found = true;
        clearTimeout(timer);
        for (const line of text.split('\n')) if (line) onLine?.(line);
        resolve({ child, match: m });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!found) reject(new Error(`${args.join(' ')} exited with ${code}:\n${text.slice(-2000)}`));
    });
  });
}

function p99(samples: number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
}

/** A hotplug of a bridge NIC onto VMI i's VM: the rules look up its VMI, NADs and Subnets. */
function reviewFor(template: KubeObject, i: number): string {
  const old = structuredClone(template);
  old.metadata = { name: `vm-${i}`, namespace: nsOf(i) };
  const now = structuredClone(old);
  now.spec.template.spec.domain.devices.interfaces.push({ name: 'hot1', bridge: {} });
  now.spec.template.spec.networks.push({ name: 'hot1', multus: { networkName: nadName(i % NADS) } });
  return JSON.stringify(admissionReview(update(old, now, { uid: `scale-${i}`, namespace: nsOf(i) })));
}

interface Probe {
  /** Latencies by phase label, ms, from when each request was due. */
  samples: Map<string, number[]>;
  phase: string;
  statuses: Map<number, number>;
  stop(): void;
}

/** Sends `path` at `rate` per second, steadily, from when each request is due. */
function pace(port: number, ca: string, rate: number, make: (n: number) => { path: string; body?: string }): Probe {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const probe: Probe = { samples: new Map(), phase: 'start', statuses: new Map(), stop: () => undefined };
  const interval = 1000 / rate;
  const start = performance.now();
  let sent = 0;
  let stopped = false;
  const send = (due: number, n: number) => {
    const r = make(n);
    const phase = probe.phase;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: r.path,
        method: r.body ? 'POST' : 'GET',
        ca,
        servername: 'localhost',
        agent,
        headers: r.body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          probe.statuses.set(res.statusCode ?? 0, (probe.statuses.get(res.statusCode ?? 0) ?? 0) + 1);
          let list = probe.samples.get(phase);
          if (!list) probe.samples.set(phase, (list = []));
          list.push(performance.now() - due);
        });
      },
    );
    req.on('error', () => probe.statuses.set(-1, (probe.statuses.get(-1) ?? 0) + 1));
    req.end(r.body);
  };
  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    while (start + sent * interval <= now) send(start + sent * interval, sent++);
    setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
  };
  tick();
  probe.stop = () => {
    stopped = true;
    agent.destroy();
  };
  return probe;
}

async function get(port: number, ca: string, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The fields of the informer's log line at the end of a list. */
interface ListLog {
  listMs: number;
  fetchMs: number;
  parseCpuMs: number;
  ingestCpuMs: number;
}

interface Row {
  vmis: number;
  readyS: number;
  rssMb: number;
  heapMb: number;
  peakRssMb: number;
  relistS: number;
  admission: Record<string, number>;
  healthz: Record<string, number>;
  admissionSent: number;
  /** The longest step of the VMI list in CPU ms, by phase. */
  pageCpu: Record<string, number>;
}

async function measure(vmis: number, dir: string, certFile: string, keyFile: string, ca: string): Promise<Row> {
  const children: ChildProcess[] = [];
  try {
    let vmiListsDone = 0;
    /** The fake API's CPU time for each VMI list (pages 2 to the last), s. */
    const fakeCpuS: number[] = [];
    const fake = await startChild(
      [SELF, '--fake-api', String(vmis)],
      dir,
      /listening (\d+) vmi-bytes (\d+)/,
      'stdout',
      (line) => {
        const done = /^vmi list complete \d+ cpuMs (\d+)/.exec(line);
        if (!done) return;
        vmiListsDone++;
        fakeCpuS.push(Number(done[1]) / 1000);
      },
    );
    children.push(fake.child);
    const apiPort = Number(fake.match[1]);
    if (vmis === 1000) console.log(`one VMI is ${fake.match[2]} bytes of JSON`);
    const kubeconfig = join(dir, `kubeconfig-${vmis}`);
    const api = new FakeApiServer();
    api.port = apiPort;
    writeFileSync(kubeconfig, api.kubeconfig());

    const started = performance.now();
    const serve = await startChild(
      [
        ...NODE_FLAGS,
        CLI,
        'serve',
        '--cert',
        certFile,
        '--key',
        keyFile,
        '--kubeconfig',
        kubeconfig,
        ...LOOPBACK_ANY_PORTS,
        '--log-level',
        'info',
        ...serveFlagsOption(),
      ],
      dir,
      /listening on https:\/\/127\.0\.0\.1:(\d+).*metrics on http:\/\/127\.0\.0\.1:(\d+)/,
      'stderr',
    );
    children.push(serve.child);
    const listeningS = (performance.now() - started) / 1000;
    const metricsPort = Number(serve.match[2]);
    // The informer's own account of each VMI list, from its log lines: its longest step
    // (CPU ms), and where its time went (waiting for pages, splitting them, their items).
    const pageCpu: Record<string, number> = {};
    const lists: Record<string, ListLog> = {};
    let pending = '';
    const logFile = SERVE_LOG ? join(SERVE_LOG, `serve-${vmis}.log`) : undefined;
    serve.child.stdout!.on('data', (c: string) => {
      if (logFile) appendFileSync(logFile, c);
      pending += c;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('virtualmachineinstances') || !line.includes('maxPageCpuMs')) continue;
        const entry = JSON.parse(line) as ListLog & { msg: string; maxPageCpuMs: number };
        const phase = entry.msg.includes('relisted') ? 'relist' : 'initial list';
        pageCpu[phase] = entry.maxPageCpuMs;
        lists[phase] = entry;
      }
    });
    const port = Number(serve.match[1]);
    const pid = serve.child.pid!;
    const loadAtStart = loadavg()[0];
    const template = readExample('old/vm-fedora.yaml');
    const reviews = Array.from({ length: 64 }, (_, k) => reviewFor(template, (k * 7919) % vmis));
    const admission = pace(port, ca, 100, (n) => ({ path: '/validate', body: reviews[n % reviews.length] }));
    const healthz = pace(port, ca, 20, () => ({ path: '/healthz' }));
    const setPhase = (p: string) => (admission.phase = healthz.phase = p);
    setPhase('initial list');

    let peak = 0;
    const rssTimer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 200);
    // nicguard's own longest event-loop stall per phase (prom-client's lag maximum, reset at
    // each scrape): a long stall is the server blocked (a step, a GC pause); a p99 far above
    // it is time spent waiting for a core, or in this process.
    const stallMs: Record<string, number> = {};
    const stallTimer = setInterval(() => {
      const phase = admission.phase;
      void scrapeMetrics(metricsPort).then(
        (text) => {
          const lag = Number(/^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text)?.[1]) * 1000;
          if (Number.isFinite(lag)) stallMs[phase] = Math.max(stallMs[phase] ?? 0, lag);
        },
        () => undefined,
      );
    }, 1000);
    let readyS = NaN;
    const deadline = performance.now() + 180_000;
    while (performance.now() < deadline) {
      if ((await get(port, ca, '/readyz')).status === 200) {
        readyS = (performance.now() - started) / 1000;
        break;
      }
      await sleep(100);
    }
    if (!Number.isFinite(readyS)) throw new Error(`not ready after 180 s with ${vmis} VMIs`);
    const cpuAtReady = cpuSeconds(pid);
    setPhase('steady');
    await sleep(3000);
    const rssAfterSync = rssMb(pid);
    const metrics = await scrapeMetrics(metricsPort);
    const heapMb = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1]) / 1024 / 1024;
    const cachedVmis = Number(
      /^nicguard_cluster_cache_objects\{resource="virtualmachineinstances\.kubevirt\.io"\} (\S+)/m.exec(metrics)?.[1],
    );
    if (cachedVmis !== vmis) throw new Error(`the cache holds ${cachedVmis} VMIs, expected ${vmis}`);

    setPhase('relist');
    const relistStarted = performance.now();
    const cpuBeforeRelist = cpuSeconds(pid);
    const before = vmiListsDone;
    fake.child.kill('SIGUSR2');
    while (vmiListsDone === before && performance.now() - relistStarted < 180_000) await sleep(50);
    // The last page is served; give the informer the time to ingest it.
    await sleep(1000);
    const relistS = (performance.now() - relistStarted) / 1000;
    const cpuRelist = cpuSeconds(pid) - cpuBeforeRelist;
    setPhase('after');
    admission.stop();
    healthz.stop();
    clearInterval(rssTimer);
    clearInterval(stallTimer);
    await sleep(200);
    const byPhase = (p: Probe) =>
      Object.fromEntries(['initial list', 'steady', 'relist'].map((phase) => [phase, p99(p.samples.get(phase) ?? [])]));
    const answered = [...admission.statuses.entries()].map(([code, n]) => `${code}: ${n}`).join(', ');
    console.log(`  N=${vmis}: admission answers by status ${answered}`);
    console.log(
      `  N=${vmis}: listening after ${fmt(listeningS)} s; load average ${fmt(loadAtStart)} at the start, ` +
        `${fmt(loadavg()[0])} at the end`,
    );
    const account = (phase: string, cpu: number, fake: number | undefined) => {
      const l = lists[phase];
      if (!l) return;
      console.log(
        `  N=${vmis} ${phase}: ${fmt(l.listMs / 1000)} s, ` +
          `of which fetching and splitting pages ${fmt(l.fetchMs / 1000)} s ` +
          `(the fake API: ${fmt(fake ?? NaN)} s CPU); nicguard CPU: splitting pages ${fmt(l.parseCpuMs / 1000)} s, ` +
          `items ${fmt(l.ingestCpuMs / 1000)} s, in all ${fmt(cpu)} s (with the requests it answered)`,
      );
    };
    console.log(
      `  N=${vmis}: nicguard's longest event-loop stall: initial list ${fmt(stallMs['initial list'] ?? NaN)} ms, ` +
        `steady ${fmt(stallMs.steady ?? NaN)} ms, relist ${fmt(stallMs.relist ?? NaN)} ms`,
    );
    account('initial list', cpuAtReady, fakeCpuS[0]);
    account('relist', cpuRelist, fakeCpuS[1]);
    return {
      vmis,
      readyS,
      rssMb: rssAfterSync,
      heapMb,
      peakRssMb: peak,
      relistS,
      admission: byPhase(admission),
      healthz: byPhase(healthz),
      admissionSent: [...admission.statuses.values()].reduce((a, b) => a + b, 0),
      pageCpu,
    };
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
  }
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const at = process.argv.indexOf('--vmis');
  const sizes = (at >= 0 ? process.argv[at + 1] : '1000,10000,100000').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error('--vmis takes a comma-separated list of positive integers');
  if (process.argv.includes('--audit')) return mainAudit(sizes);
  const dir = mkdtempSync(join(tmpdir(), 'nicguard-scale-'));
  try {
    const bundle = generateCertificates({ commonName: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, bundle.cert);
    writeFileSync(keyFile, bundle.key, { mode: 0o600 });
    console.log(`fleet: N VMIs, ${NADS} NADs, ${SUBNETS} Subnets, 1 KubeVirt; lists in pages of 500`);
    console.log(
      'load: 100 admission reviews/s and 20 /healthz/s over HTTPS keep-alive, latency from when each was due\n',
    );
    const rows: Row[] = [];
    for (const n of sizes) rows.push(await measure(n, dir, certFile, keyFile, bundle.caCert));
    console.log('');
    console.log(
      '   VMIs  ready s  RSS MB  heap MB  peak MB  relist s' +
        ' | admission p99 ms: initial  steady  relist' +
        ' | /healthz p99 ms: initial  steady  relist' +
        ' | page CPU ms: initial relist',
    );
    for (const r of rows) {
      console.log(
        `${String(r.vmis).padStart(7)}${fmt(r.readyS).padStart(9)}${fmt(r.rssMb, 0).padStart(8)}` +
          `${fmt(r.heapMb, 0).padStart(9)}${fmt(r.peakRssMb, 0).padStart(9)}${fmt(r.relistS).padStart(10)} |` +
          `${fmt(r.admission['initial list']).padStart(26)}${fmt(r.admission.steady).padStart(8)}` +
          `${fmt(r.admission.relist).padStart(8)} |` +
          `${fmt(r.healthz['initial list']).padStart(25)}${fmt(r.healthz.steady).padStart(8)}` +
          `${fmt(r.healthz.relist).padStart(8)} |` +
          `${fmt(r.pageCpu['initial list'] ?? NaN).padStart(21)}${fmt(r.pageCpu.relist ?? NaN).padStart(7)}`,
      );
    }
    console.log(
      '\naims at 100,000 VMIs: ready <= 30 s, RSS < 400 MB, p99 < 50 ms during the initial list and a relist',
    );
    console.log('(admission reviews answered 503 while the view has not synced count in the initial-list column)');
    console.log(
      'steady is the baseline measured in the same run: on a shared machine every p99 includes waiting for a core.',
    );
    console.log(
      'page CPU ms: the longest step of a VMI list (splitting a page, or parsing, projecting and indexing items',
    );
    console.log(
      'for up to 4 ms) in process CPU time (GC threads included), which grows little when other processes compete for',
    );
    console.log('the cores: about the latency a list adds on an idle core.');
    const [l1, l5] = (await import('node:os')).loadavg();
    console.log(
      `machine: ${(await import('node:os')).cpus().length} cores, load average ${fmt(l1)} (1 min) ${fmt(l5)} (5 min)`,
    );
    const serveFlags = serveFlagsOption().join(' ') || 'none';
    console.log(`nicguard serve's Node flags: ${NODE_FLAGS.join(' ')}; more serve flags: ${serveFlags}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- --audit: `nicguard audit` over the same fleet, as the audit CronJob runs it ----

/** Node flags of the audit CronJob (its heap cap), then any --node-flags. */
const AUDIT_NODE_FLAGS = [...auditCronJobNodeFlags(ROOT), ...nodeFlagsOption()];
/**
 * As the CronJob runs it (manifests/overlays/audit/cronjob.yaml, without its --config file): findings written as
 * PolicyReports to the fake API and as text to stdout. --json prints the JSON report instead and writes nothing.
 */
const AUDIT_ARGS = process.argv.includes('--json')
  ? ['-o', 'json', '--fail-exit-code', '0']
  : ['--apply', '--fail-exit-code', '0'];

interface AuditRow {
  vmis: number;
  seconds: number;
  peakRssMb: number;
  /** The exit code, or the signal that ended it. */
  exit: string;
  /** PolicyReports written (--apply). */
  reports: number;
  /** The last line of stderr when it failed (a heap out of memory, say). */
  failure?: string;
}

async function measureAudit(vmis: number, dir: string, withVms: boolean): Promise<AuditRow> {
  const fake = await startChild(
    [SELF, '--fake-api', String(vmis), ...(withVms ? ['vms'] : [])],
    dir,
    /listening (\d+) vmi-bytes (\d+)/,
    'stdout',
  );
  try {
    const api = new FakeApiServer();
    api.port = Number(fake.match[1]);
    const kubeconfig = join(dir, `kubeconfig-audit-${vmis}`);
    writeFileSync(kubeconfig, api.kubeconfig());
    const started = performance.now();
    const audit = spawn(
      process.execPath,
      [...AUDIT_NODE_FLAGS, CLI, 'audit', '--kubeconfig', kubeconfig, ...AUDIT_ARGS],
      {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    audit.stderr!.setEncoding('utf8');
    audit.stderr!.on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, peakRssMb(audit.pid!) || 0)), 50);
    const [code, signal] = (await once(audit, 'exit')) as [number | null, string | null];
    clearInterval(timer);
    const exit = code === null ? String(signal) : String(code);
    const lines = stderr.split('\n').filter((l) => l.trim());
    const failure = code === 0 ? undefined : (lines.find((l) => /heap out of memory/i.test(l)) ?? lines.at(-1));
    const reports = Number(/wrote (\d+) reports?/.exec(stderr)?.[1] ?? 0);
    return { vmis, seconds: (performance.now() - started) / 1000, peakRssMb: peak, exit, reports, failure };
  } finally {
    await stopChild(fake.child);
  }
}

async function mainAudit(sizes: number[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nicguard-audit-scale-'));
  const withVms = process.argv.includes('--with-vms');
  try {
    const fleet = withVms ? 'N running VMs (a VM and its VMI each)' : 'N VMIs (no VMs)';
    console.log(`fleet: ${fleet}, ${NADS} NADs, ${SUBNETS} Subnets; lists in pages of 500`);
    console.log(
      `nicguard audit ${AUDIT_ARGS.join(' ')} with the CronJob's Node flags: ${AUDIT_NODE_FLAGS.join(' ')}\n`,
    );
    console.log(`${withVms ? '      N' : '   VMIs'}  exit  seconds  peak RSS MB  reports`);
    for (const n of sizes) {
      const r = await measureAudit(n, dir, withVms);
      console.log(
        `${String(r.vmis).padStart(7)}${r.exit.padStart(6)}${fmt(r.seconds, 1).padStart(9)}` +
          `${fmt(r.peakRssMb, 0).padStart(13)}${String(r.reports).padStart(9)}` +
          `${r.failure ? `  ${r.failure.slice(0, 100)}` : ''}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- --heap: retained heap per VMI for candidate projections (run with --expose-gc) ----

/** Only what the rules read today: the slot annotations, interface names and states, status interface names. */
function narrowest(obj: KubeObject, strings: Interner): KubeObject {
  const annotations = obj.metadata?.annotations ?? {};
  const slotCount = annotations['kubevirt.io/pci-interface-slot-count'];
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      name: obj.metadata?.name,
      namespace: strings.intern(obj.metadata?.namespace),
      ...(slotCount ? { annotations: { 'kubevirt.io/pci-interface-slot-count': slotCount } } : {}),
    },
    spec: {
      domain: {
        devices: {
          interfaces: obj.spec.domain.devices.interfaces.map((i: { name: string }) => ({
            name: strings.intern(i.name),
          })),
        },
      },
    },
    status: { interfaces: obj.status.interfaces.map((i: { name: string }) => ({ name: strings.intern(i.name) })) },
  };
}

function heapPerObject(make: (i: number) => KubeObject, count: number): number {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept: KubeObject[] = [];
  for (let i = 0; i < count; i++) kept.push(make(i));
  gc();
  const after = process.memoryUsage().heapUsed;
  if (kept.length !== count) throw new Error('unreachable');
  return (after - before) / count;
}

function runHeap(): void {
  if (!(globalThis as { gc?: unknown }).gc) {
    const child = spawn(process.execPath, ['--expose-gc', SELF, '--heap'], { stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 1));
    return;
  }
  const template = readExample('old/vm-fedora.yaml');
  const count = 20_000;
  // Each candidate starts from parsed JSON, as objects arrive from the API server.
  const parsed = (i: number) => JSON.parse(JSON.stringify(makeVmi(template, i))) as KubeObject;
  const strings = new Interner();
  const candidates: [string, (i: number) => KubeObject][] = [
    ['whole object', parsed],
    [
      'without managedFields',
      (i) => {
        const o = parsed(i);
        delete o.metadata!.managedFields;
        return o;
      },
    ],
    ['projection (projection.ts)', (i) => projectObject('VirtualMachineInstance', parsed(i), strings)],
    ['narrowest (only what the rules read today)', (i) => narrowest(parsed(i), strings)],
  ];
  console.log(
    `retained heap per VMI, ${count} VMIs of ${JSON.stringify(makeVmi(template, 1)).length} bytes of JSON each:`,
  );
  for (const [name, make] of candidates)
    console.log(`  ${name.padEnd(44)}${fmt(heapPerObject(make, count), 0).padStart(7)} bytes`);

  // The synchronous steps of a list, in CPU time of this thread alone (median of 40 pages):
  // what each one adds to the latency of a request that arrives meanwhile on an idle core.
  const page =
    '{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"1","continue":"x"},"items":[' +
    `${Array.from({ length: 500 }, (_, i) => JSON.stringify(makeVmi(template, i))).join(',')}]}`;
  const parseMs: number[] = [];
  const sliceMs: number[] = [];
  const splitMs: number[] = [];
  const splitSliceMs: number[] = [];
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (let run = 0; run < 40; run++) {
    // As before: JSON.parse of the whole page, then projecting a slice of 100.
    let t = cpuMs();
    const items = (JSON.parse(page) as { items: KubeObject[] }).items;
    parseMs.push(cpuMs() - t);
    t = cpuMs();
    for (const item of items.slice(0, 100)) projectObject('VirtualMachineInstance', item, strings);
    sliceMs.push(cpuMs() - t);
    // As the informer does now (list-body.ts): split the page, then parse and project a slice of 100.
    t = cpuMs();
    const body = splitListBody(page);
    splitMs.push(cpuMs() - t);
    t = cpuMs();
    for (const item of body.items(0, 100)) projectObject('VirtualMachineInstance', item as KubeObject, strings);
    splitSliceMs.push(cpuMs() - t);
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  console.log(
    `\nsynchronous steps of a list (median of 40, CPU ms), a page of 500 VMIs (${fmt(page.length / 1e6)} MB):` +
      `\n  parsed whole: parse the page ${fmt(med(parseMs))}, project a slice of 100 ${fmt(med(sliceMs))}` +
      `\n  split (list-body.ts): split the page ${fmt(med(splitMs))}, parse and project a slice of 100 ` +
      fmt(med(splitSliceMs)),
  );
}

if (process.env.SCALE_NO_MAIN) {
  // imported
} else if (process.argv[2] === '--fake-api') {
  void runFakeApi(Number(process.argv[3]), process.argv[4] === 'vms');
} else if (process.argv[2] === '--heap') {
  runHeap();
} else {
  main().catch((err: Error) => {
    console.error(`bench/scale: ${err.message}`);
    process.exit(1);
  });
}

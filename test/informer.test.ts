// The informer-backed cluster view against a fake Kubernetes API: a local http server that
// answers list requests and streams watch events as newline-delimited JSON, the way the
// real API server does, with switches to drop connections, go down, forget old history
// (410 Gone), refuse access (403) and lack a CRD (404).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig, startInformerClusterView, type InformerClusterView } from '../src/cluster/informer.js';
import type { Manifest as KubeObject } from './support.js';

const PATHS = {
  nad: '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions',
  subnet: '/apis/kubeovn.io/v1/subnets',
  vmi: '/apis/kubevirt.io/v1/virtualmachineinstances',
  kubevirt: '/apis/kubevirt.io/v1/kubevirts',
} as const;
type Res = keyof typeof PATHS;

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

class FakeApiServer {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watchers = new Map<Res, Set<ServerResponse>>();
  private readonly store = new Map<Res, Map<string, KubeObject>>();
  private readonly events = new Map<Res, StoredEvent[]>();
  /** Events at or below this resourceVersion are forgotten: older watches get 410. */
  private compactedRv = 0;
  rv = 100;
  down = false;
  readonly missing = new Set<Res>();
  readonly forbidden = new Set<Res>();
  readonly lists: Record<Res, number> = { nad: 0, subnet: 0, vmi: 0, kubevirt: 0 };
  readonly watches: Record<Res, number> = { nad: 0, subnet: 0, vmi: 0, kubevirt: 0 };
  readonly notFound: Record<Res, number> = { nad: 0, subnet: 0, vmi: 0, kubevirt: 0 };
  authorization: string | undefined;
  port = 0;

  constructor() {
    for (const r of Object.keys(PATHS) as Res[]) {
      this.store.set(r, new Map());
      this.events.set(r, []);
      this.watchers.set(r, new Set());
    }
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Cuts every open connection, as a restarting API server or a broken network does. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    for (const w of this.watchers.values()) w.clear();
  }

  openWatches(res: Res): number {
    return this.watchers.get(res)!.size;
  }

  /** Forgets history up to now, as etcd compaction does. */
  compact(): void {
    this.compactedRv = this.rv;
    for (const e of this.events.values()) e.length = 0;
  }

  put(res: Res, obj: KubeObject): void {
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata!.name}`;
    const type = this.store.get(res)!.has(key) ? 'MODIFIED' : 'ADDED';
    this.record(res, type, key, obj);
  }

  delete(res: Res, namespace: string | undefined, name: string): void {
    const key = `${namespace ?? ''}/${name}`;
    const obj = this.store.get(res)!.get(key);
    assert.ok(obj, `fake API: nothing to delete at ${res} ${key}`);
    this.record(res, 'DELETED', key, obj);
  }

  private record(res: Res, type: StoredEvent['type'], key: string, obj: KubeObject): void {
    this.rv++;
    const object = structuredClone(obj);
    object.metadata = { ...object.metadata, resourceVersion: String(this.rv) };
    if (type === 'DELETED') this.store.get(res)!.delete(key);
    else this.store.get(res)!.set(key, object);
    const event = { rv: this.rv, type, object };
    this.events.get(res)!.push(event);
    for (const w of this.watchers.get(res)!) w.write(`${JSON.stringify({ type, object })}\n`);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Failure', code, reason, message }));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.down) {
      req.socket.destroy();
      return;
    }
    this.authorization = req.headers.authorization;
    const url = new URL(req.url!, 'http://x');
    const which = (Object.keys(PATHS) as Res[]).find((r) => PATHS[r] === url.pathname);
    if (!which) return this.status(res, 404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
    if (this.missing.has(which)) {
      this.notFound[which]++;
      return this.status(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    if (this.forbidden.has(which)) {
      return this.status(res, 403, 'Forbidden', `${which} is forbidden: User "system:serviceaccount:nicguard-system:nicguard" cannot list resource`);
    }
    if (url.searchParams.get('watch') === 'true') return this.watch(which, Number(url.searchParams.get('resourceVersion') || 0), res);
    this.lists[which]++;
    // Like many real list responses, the items carry neither kind nor apiVersion.
    const items = [...this.store.get(which)!.values()].map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: String(this.rv) }, items }));
  }

  private watch(which: Res, since: number, res: ServerResponse): void {
    this.watches[which]++;
    if (since < this.compactedRv) {
      return this.status(res, 410, 'Expired', `too old resource version: ${since} (${this.compactedRv})`);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    for (const e of this.events.get(which)!) {
      if (e.rv > since) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    const set = this.watchers.get(which)!;
    set.add(res);
    res.on('close', () => set.delete(res));
  }
}

function nad(namespace: string, name: string, provider = `${name}.${namespace}.ovn`): KubeObject {
  const config = JSON.stringify({ cniVersion: '0.3.1', type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider });
  return { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { namespace, name }, spec: { config } };
}

function subnet(name: string, provider: string): KubeObject {
  return { apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name }, spec: { provider, cidrBlock: '10.66.0.0/24', protocol: 'IPv4' } };
}

function vmi(namespace: string, name: string, phase: string): KubeObject {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { namespace, name }, spec: {}, status: { phase } };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Harness {
  api: FakeApiServer;
  view: InformerClusterView;
  warnings: string[];
  errors: string[];
  done(): Promise<void>;
}

async function harness(prepare: (api: FakeApiServer) => void = () => {}, waitSync = true): Promise<Harness> {
  const api = new FakeApiServer();
  prepare(api);
  await api.start();
  const dir = mkdtempSync(join(tmpdir(), 'nicguard-informer-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: { server: "http://127.0.0.1:${api.port}", insecure-skip-tls-verify: true }
users:
- name: webhook
  user: { token: sekret }
contexts:
- name: fake
  context: { cluster: fake, user: webhook }
current-context: fake
`,
  );
  const warnings: string[] = [];
  const errors: string[] = [];
  const logger = {
    info: () => {},
    debug: () => {},
    warn: (o: unknown, msg: unknown) => void warnings.push(`${JSON.stringify(o)} ${String(msg)}`),
    error: (o: unknown, msg: unknown) => void errors.push(`${JSON.stringify(o)} ${String(msg)}`),
  };
  const view = await startInformerClusterView({ kubeconfig, logger, retryDelayMs: 20, maxRetryDelayMs: 100, missingCrdRetryMs: 100 });
  if (waitSync) await view.waitForSync(5000);
  return {
    api,
    view,
    warnings,
    errors,
    async done() {
      await view.stop();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('the first list fills the view, adds kind/apiVersion, and marks every resource synced', async () => {
  const h = await harness((api) => {
    api.put('nad', nad('default', 'attachnet'));
    api.put('nad', nad('team-b', 'attachnet'));
    api.put('subnet', subnet('attachnet', 'attachnet.default.ovn'));
    api.put('vmi', vmi('default', 'vm-fedora', 'Running'));
    api.put('kubevirt', { apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', metadata: { namespace: 'kubevirt', name: 'kubevirt' }, spec: { workloadUpdateStrategy: { workloadUpdateMethods: ['LiveMigrate'] } } });
  });
  try {
    const { view, api } = h;
    assert.equal(view.isSynced(), true);
    assert.deepEqual(view.syncState(), {
      'network-attachment-definitions.k8s.cni.cncf.io': true,
      'subnets.kubeovn.io': true,
      'virtualmachineinstances.kubevirt.io': true,
      'kubevirts.kubevirt.io': true,
    });
    const attach = view.getNetworkAttachmentDefinition('default', 'attachnet');
    assert.equal(attach?.kind, 'NetworkAttachmentDefinition');
    assert.equal(attach?.apiVersion, 'k8s.cni.cncf.io/v1');
    assert.equal(view.findNetworkAttachmentDefinitionsByName('attachnet').length, 2);
    assert.deepEqual(view.findSubnetsByProvider('attachnet.default.ovn').map((s) => s.metadata?.name), ['attachnet']);
    assert.equal(view.getVirtualMachineInstance('default', 'vm-fedora')?.kind, 'VirtualMachineInstance');
    assert.equal(view.getKubeVirt()?.metadata?.name, 'kubevirt');
    assert.equal(view.getNetworkAttachmentDefinition('default', 'nope'), undefined);
    assert.equal(api.authorization, 'Bearer sekret', 'credentials from the kubeconfig are used');
    assert.deepEqual(api.lists, { nad: 1, subnet: 1, vmi: 1, kubevirt: 1 });
    await waitFor('a watch on each resource', () => (Object.keys(PATHS) as Res[]).every((r) => api.openWatches(r) === 1));
  } finally {
    await h.done();
  }
});

test('watch events add, modify and delete objects without listing again', async () => {
  const h = await harness((api) => api.put('nad', nad('default', 'attachnet')));
  try {
    const { view, api } = h;
    await waitFor('watch open', () => api.openWatches('nad') === 1 && api.openWatches('vmi') === 1);
    api.put('nad', nad('default', 'fresh'));
    await waitFor('ADDED nad seen', () => view.getNetworkAttachmentDefinition('default', 'fresh') !== undefined);
    assert.equal(view.getNetworkAttachmentDefinition('default', 'fresh')?.kind, 'NetworkAttachmentDefinition');

    api.put('nad', nad('default', 'attachnet', 'changed.default.ovn'));
    await waitFor('MODIFIED nad seen', () => (String((view.getNetworkAttachmentDefinition('default', 'attachnet')?.spec as { config?: string } | undefined)?.config ?? '')).includes('changed.default.ovn'));

    api.put('vmi', vmi('ns1', 'vm1', 'Scheduling'));
    api.put('vmi', vmi('ns1', 'vm1', 'Running'));
    await waitFor('VMI phase Running', () => (view.getVirtualMachineInstance('ns1', 'vm1')?.status as { phase?: string } | undefined)?.phase === 'Running');

    api.delete('nad', 'default', 'fresh');
    await waitFor('DELETED nad gone', () => view.getNetworkAttachmentDefinition('default', 'fresh') === undefined);
    assert.ok(view.getNetworkAttachmentDefinition('default', 'attachnet'));
    assert.equal(api.lists.nad, 1, 'events alone keep the view current');
  } finally {
    await h.done();
  }
});

test('a missing CRD (404) counts as synced and empty, and is picked up once installed', async () => {
  const h = await harness((api) => {
    api.missing.add('subnet');
    api.put('nad', nad('default', 'attachnet'));
  });
  try {
    const { view, api } = h;
    assert.equal(view.isSynced(), true, 'a cluster without Kube-OVN still gets a ready webhook');
    assert.deepEqual(view.resourceStatus()['subnets.kubeovn.io'], { synced: true, crdMissing: true, lastError: 'HTTP 404: the server could not find the requested resource' });
    assert.deepEqual(view.findSubnetsByProvider('attachnet.default.ovn'), []);
    assert.ok(h.warnings.some((w) => w.includes('subnets.kubeovn.io') && w.includes('CRD not installed')), h.warnings.join('\n'));
    const warningsBefore = h.warnings.length;

    await waitFor('the list retried while the CRD is missing', () => api.notFound.subnet >= 3);
    assert.equal(h.warnings.length, warningsBefore, 'retries while still missing stay quiet');
    api.missing.delete('subnet');
    api.put('subnet', subnet('attachnet', 'attachnet.default.ovn'));
    await waitFor('subnet listed after the CRD appears', () => view.findSubnetsByProvider('attachnet.default.ovn').length === 1);
    assert.equal(view.resourceStatus()['subnets.kubeovn.io'].crdMissing, false);
    assert.equal(h.warnings.filter((w) => w.includes('CRD not installed')).length, 1, 'the 404 is reported once, not at every retry');

    await waitFor('subnet watch open', () => api.openWatches('subnet') === 1);
    api.put('subnet', subnet('second', 'second.default.ovn'));
    await waitFor('subnet event after install', () => view.findSubnetsByProvider('second.default.ovn').length === 1);
  } finally {
    await h.done();
  }
});

test('a dropped watch is resumed from its resourceVersion and sees later events', async () => {
  const h = await harness((api) => api.put('nad', nad('default', 'attachnet')));
  try {
    const { view, api } = h;
    await waitFor('watch open', () => api.openWatches('nad') === 1);
    const watchesBefore = api.watches.nad;
    api.dropConnections();
    await waitFor('watch reopened', () => api.watches.nad > watchesBefore && api.openWatches('nad') === 1);
    api.put('nad', nad('default', 'after-drop'));
    await waitFor('event after the drop', () => view.getNetworkAttachmentDefinition('default', 'after-drop') !== undefined);
    assert.equal(api.lists.nad, 1, 'resumed by watching from the last resourceVersion, not by listing again');
  } finally {
    await h.done();
  }
});

test('while the API server is down decisions use the cache; afterwards the changes made meanwhile arrive', async () => {
  const h = await harness((api) => {
    api.put('nad', nad('default', 'attachnet'));
    api.put('nad', nad('default', 'doomed'));
  });
  try {
    const { view, api } = h;
    await waitFor('watch open', () => api.openWatches('nad') === 1);
    api.down = true;
    api.dropConnections();
    await waitFor('a failed reconnect is reported', () => h.warnings.some((w) => w.includes('network-attachment-definitions') && w.includes('watch failed')));
    assert.ok(view.getNetworkAttachmentDefinition('default', 'attachnet'), 'cached objects stay while the API is unreachable');
    assert.equal(view.isSynced(), true, 'a watch outage after the first sync does not make the webhook unready');
    assert.match(view.resourceStatus()['network-attachment-definitions.k8s.cni.cncf.io'].lastError ?? '', /premature close|ECONNRESET|socket hang up|ECONNREFUSED/i);

    // Changes made while nicguard could not watch (the server keeps their history).
    api.put('nad', nad('default', 'made-during-outage'));
    api.delete('nad', 'default', 'doomed');
    api.down = false;
    await waitFor('outage changes seen', () =>
      view.getNetworkAttachmentDefinition('default', 'made-during-outage') !== undefined && view.getNetworkAttachmentDefinition('default', 'doomed') === undefined,
    );
    assert.equal(view.resourceStatus()['network-attachment-definitions.k8s.cni.cncf.io'].lastError, undefined);
  } finally {
    await h.done();
  }
});

test('when the history is gone (410), the view lists again and drops objects deleted meanwhile', async () => {
  const h = await harness((api) => {
    api.put('nad', nad('default', 'keep'));
    api.put('nad', nad('default', 'doomed'));
  });
  try {
    const { view, api } = h;
    await waitFor('watch open', () => api.openWatches('nad') === 1);
    api.down = true;
    api.dropConnections();
    api.delete('nad', 'default', 'doomed');
    api.put('nad', nad('default', 'newer'));
    api.compact();
    api.down = false;
    await waitFor('relisted state', () =>
      view.getNetworkAttachmentDefinition('default', 'doomed') === undefined && view.getNetworkAttachmentDefinition('default', 'newer') !== undefined,
    );
    assert.ok(view.getNetworkAttachmentDefinition('default', 'keep'));
    assert.equal(api.lists.nad, 2, 'a second list after 410 Gone');
    await waitFor('watch open again', () => api.openWatches('nad') === 1);
    api.put('nad', nad('default', 'after-relist'));
    await waitFor('event after relist', () => view.getNetworkAttachmentDefinition('default', 'after-relist') !== undefined);
  } finally {
    await h.done();
  }
});

test('forbidden (403) keeps the view unsynced with an error naming RBAC, until access is granted', async () => {
  const h = await harness((api) => api.forbidden.add('vmi'), false);
  try {
    const { view, api } = h;
    await assert.rejects(view.waitForSync(300), /not synced after 300 ms; waiting for virtualmachineinstances\.kubevirt\.io \(HTTP 403: virtualmachineinstances is forbidden|vmi is forbidden/);
    assert.equal(view.isSynced(), false);
    assert.equal(view.syncState()['virtualmachineinstances.kubevirt.io'], false);
    assert.equal(view.syncState()['network-attachment-definitions.k8s.cni.cncf.io'], true);
    assert.ok(h.errors.some((e) => e.includes('ClusterRole')), h.errors.join('\n'));
    api.forbidden.delete('vmi');
    api.put('vmi', vmi('ns1', 'vm1', 'Running'));
    await view.waitForSync(3000);
    assert.ok(view.getVirtualMachineInstance('ns1', 'vm1'));
  } finally {
    await h.done();
  }
});

test('stop() closes every watch and no request follows', async () => {
  const h = await harness();
  const { view, api } = h;
  try {
    await waitFor('watches open', () => (Object.keys(PATHS) as Res[]).every((r) => api.openWatches(r) === 1));
    await view.stop();
    await waitFor('watches closed', () => (Object.keys(PATHS) as Res[]).every((r) => api.openWatches(r) === 0));
    const before = JSON.stringify([api.lists, api.watches]);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(JSON.stringify([api.lists, api.watches]), before);
  } finally {
    await h.done();
  }
});

test('a kubeconfig without a current cluster gives a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nicguard-kc-'));
  try {
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    assert.throws(() => loadKubeConfig(file), /kubeconfig .*kubeconfig has no current cluster/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

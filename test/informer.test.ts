// The informer-backed cluster view against a fake Kubernetes API (test/support/fake-api.ts):
// paginated lists, watch streams, dropped connections, outages, expired history (410),
// refused access (403) and missing CRDs (404).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadKubeConfig,
  startInformerClusterView,
  type InformerClusterView,
  type InformerClusterViewOptions,
} from '../src/cluster/informer.js';
import { INDEXED_KINDS } from '../src/engine/kinds.js';
import { dig } from '../src/engine/values.js';
import type { Manifest as KubeObject } from './support.js';
import { FakeApiServer, RESOURCES, type Res } from './support/fake-api.js';
import { waitFor } from './support/wait.js';

const ALL_RES = Object.keys(RESOURCES) as Res[];

function nad(namespace: string, name: string, provider = `${name}.${namespace}.ovn`): KubeObject {
  const config = JSON.stringify({
    cniVersion: '0.3.1',
    type: 'kube-ovn',
    server_socket: '/run/openvswitch/kube-ovn-daemon.sock',
    provider,
  });
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { namespace, name },
    spec: { config },
  };
}

function subnet(name: string, provider: string): KubeObject {
  return {
    apiVersion: 'kubeovn.io/v1',
    kind: 'Subnet',
    metadata: { name },
    spec: { provider, cidrBlock: '10.66.0.0/24', protocol: 'IPv4' },
  };
}

function vmi(namespace: string, name: string, phase: string): KubeObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { namespace, name },
    spec: {},
    status: { phase },
  };
}

interface Harness {
  api: FakeApiServer;
  view: InformerClusterView;
  warnings: string[];
  errors: string[];
  done(): Promise<void>;
}

/** A view of `api` with a kubeconfig in a temporary folder. */
async function connect(api: FakeApiServer, options: Partial<InformerClusterViewOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nicguard-informer-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfig());
  const warnings: string[] = [];
  const errors: string[] = [];
  const logger = {
    info: () => {},
    debug: () => {},
    warn: (o: unknown, msg: unknown) => void warnings.push(`${JSON.stringify(o)} ${String(msg)}`),
    error: (o: unknown, msg: unknown) => void errors.push(`${JSON.stringify(o)} ${String(msg)}`),
  };
  const view = await startInformerClusterView({
    kubeconfig,
    logger,
    retryDelayMs: 20,
    maxRetryDelayMs: 100,
    missingCrdRetryMs: 100,
    ...options,
  });
  const close = async () => {
    await view.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { view, warnings, errors, close };
}

async function harness(
  prepare: (api: FakeApiServer) => void = () => {},
  waitSync = true,
  options: Partial<InformerClusterViewOptions> = {},
): Promise<Harness> {
  const api = new FakeApiServer();
  prepare(api);
  await api.start();
  const { view, warnings, errors, close } = await connect(api, options);
  if (waitSync) {
    await view.waitForSync(5000).catch(async (err) => {
      await close();
      await api.close();
      throw err;
    });
  }
  return {
    api,
    view,
    warnings,
    errors,
    async done() {
      await close();
      await api.close();
    },
  };
}

test('the first list fills the view, adds kind/apiVersion, and marks every resource synced', async () => {
  const h = await harness((api) => {
    api.put('nad', nad('default', 'attachnet'));
    api.put('nad', nad('team-b', 'attachnet'));
    api.put('subnet', subnet('attachnet', 'attachnet.default.ovn'));
    api.put('vmi', vmi('default', 'vm-fedora', 'Running'));
    api.put('kubevirt', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'KubeVirt',
      metadata: { namespace: 'kubevirt', name: 'kubevirt' },
      spec: { workloadUpdateStrategy: { workloadUpdateMethods: ['LiveMigrate'] } },
    });
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
    assert.deepEqual(
      view.findSubnetsByProvider('attachnet.default.ovn').map((s) => s.metadata?.name),
      ['attachnet'],
    );
    assert.equal(view.getVirtualMachineInstance('default', 'vm-fedora')?.kind, 'VirtualMachineInstance');
    assert.equal(view.getKubeVirt()?.metadata?.name, 'kubevirt');
    assert.equal(view.getNetworkAttachmentDefinition('default', 'nope'), undefined);
    assert.equal(api.authorization, 'Bearer sekret', 'credentials from the kubeconfig are used');
    assert.deepEqual(api.lists, { nad: 1, subnet: 1, vmi: 1, kubevirt: 1, vm: 0 }, 'each indexed kind once; VMs never');
    await waitFor('a watch on each resource', () => ALL_RES.every((r) => api.openWatches(r) === 1));
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
    await waitFor('MODIFIED nad seen', () =>
      String(
        (view.getNetworkAttachmentDefinition('default', 'attachnet')?.spec as { config?: string } | undefined)
          ?.config ?? '',
      ).includes('changed.default.ovn'),
    );

    api.put('vmi', vmi('ns1', 'vm1', 'Scheduling'));
    api.put('vmi', vmi('ns1', 'vm1', 'Running'));
    await waitFor(
      'VMI phase Running',
      () =>
        (view.getVirtualMachineInstance('ns1', 'vm1')?.status as { phase?: string } | undefined)?.phase === 'Running',
    );

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
    assert.deepEqual(view.resourceStatus()['subnets.kubeovn.io'], {
      synced: true,
      crdMissing: true,
      lastError: 'HTTP 404: the server could not find the requested resource',
    });
    assert.deepEqual(view.findSubnetsByProvider('attachnet.default.ovn'), []);
    assert.ok(
      h.warnings.some((w) => w.includes('subnets.kubeovn.io') && w.includes('CRD not installed')),
      h.warnings.join('\n'),
    );
    const warningsBefore = h.warnings.length;

    await waitFor('the list retried while the CRD is missing', () => api.notFound.subnet >= 3);
    assert.equal(h.warnings.length, warningsBefore, 'retries while still missing stay quiet');
    api.missing.delete('subnet');
    api.put('subnet', subnet('attachnet', 'attachnet.default.ovn'));
    await waitFor(
      'subnet listed after the CRD appears',
      () => view.findSubnetsByProvider('attachnet.default.ovn').length === 1,
    );
    assert.equal(view.resourceStatus()['subnets.kubeovn.io'].crdMissing, false);
    assert.equal(
      h.warnings.filter((w) => w.includes('CRD not installed')).length,
      1,
      'the 404 is reported once, not at every retry',
    );

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
    await waitFor(
      'event after the drop',
      () => view.getNetworkAttachmentDefinition('default', 'after-drop') !== undefined,
    );
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
    await waitFor('a failed reconnect is reported', () =>
      h.warnings.some((w) => w.includes('network-attachment-definitions') && w.includes('watch failed')),
    );
    assert.ok(
      view.getNetworkAttachmentDefinition('default', 'attachnet'),
      'cached objects stay while the API is unreachable',
    );
    assert.equal(view.isSynced(), true, 'a watch outage after the first sync does not make the webhook unready');
    assert.match(
      view.resourceStatus()['network-attachment-definitions.k8s.cni.cncf.io'].lastError ?? '',
      /premature close|ECONNRESET|socket hang up|ECONNREFUSED/i,
    );

    // Changes made while nicguard could not watch (the server keeps their history).
    api.put('nad', nad('default', 'made-during-outage'));
    api.delete('nad', 'default', 'doomed');
    api.down = false;
    await waitFor(
      'outage changes seen',
      () =>
        view.getNetworkAttachmentDefinition('default', 'made-during-outage') !== undefined &&
        view.getNetworkAttachmentDefinition('default', 'doomed') === undefined,
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
    await waitFor(
      'relisted state',
      () =>
        view.getNetworkAttachmentDefinition('default', 'doomed') === undefined &&
        view.getNetworkAttachmentDefinition('default', 'newer') !== undefined,
    );
    assert.ok(view.getNetworkAttachmentDefinition('default', 'keep'));
    assert.equal(api.lists.nad, 2, 'a second list after 410 Gone');
    await waitFor('watch open again', () => api.openWatches('nad') === 1);
    api.put('nad', nad('default', 'after-relist'));
    await waitFor(
      'event after relist',
      () => view.getNetworkAttachmentDefinition('default', 'after-relist') !== undefined,
    );
  } finally {
    await h.done();
  }
});

test('forbidden (403) keeps the view unsynced with an error naming RBAC, until access is granted', async () => {
  const h = await harness((api) => api.forbidden.add('vmi'), false);
  try {
    const { view, api } = h;
    await assert.rejects(
      view.waitForSync(300),
      new RegExp(
        /not synced after 300 ms; waiting for virtualmachineinstances\.kubevirt\.io /.source +
          /\(HTTP 403: virtualmachineinstances is forbidden|vmi is forbidden/.source,
      ),
    );
    assert.equal(view.isSynced(), false);
    assert.equal(view.syncState()['virtualmachineinstances.kubevirt.io'], false);
    assert.equal(view.syncState()['network-attachment-definitions.k8s.cni.cncf.io'], true);
    assert.ok(
      h.errors.some((e) => e.includes('ClusterRole')),
      h.errors.join('\n'),
    );
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
    await waitFor('watches open', () => ALL_RES.every((r) => api.openWatches(r) === 1));
    await view.stop();
    await waitFor('watches closed', () => ALL_RES.every((r) => api.openWatches(r) === 0));
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

/** Every cached object of every kind, in key order: what a view's index holds. */
function dump(view: InformerClusterView): string {
  const key = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
  return JSON.stringify(INDEXED_KINDS.map((kind) => view.list(kind).sort((a, b) => key(a).localeCompare(key(b)))));
}

function fleet(api: FakeApiServer, vmis: number, nads: number): void {
  for (let i = 0; i < nads; i++) api.put('nad', nad(`ns-${i % 7}`, `net-${i}`));
  for (let i = 0; i < vmis; i++) api.put('vmi', vmi(`ns-${i % 7}`, `vm-${i}`, i % 3 ? 'Running' : 'Scheduling'));
  api.put('subnet', subnet('attachnet', 'attachnet.default.ovn'));
}

test('a paginated list, and one restarted by a mid-list 410, give the index one big list gives', async () => {
  let expired = 0;
  const h = await harness(
    (api) => {
      fleet(api, 123, 40);
      api.beforePage = (res, page) => {
        if (res !== 'vmi' || page !== 4 || expired++ > 0) return;
        // Between pages: a VMI already listed (page 1 in key order) goes, another comes, and
        // compaction expires the continue token, so the list starts over.
        api.delete('vmi', 'ns-0', 'vm-0');
        api.put('vmi', vmi('ns-9', 'vm-late', 'Running'));
        api.compact();
      };
    },
    true,
    { pageSize: 7 },
  );
  try {
    const { api, view } = h;
    assert.equal(expired, 2, 'the hook ran on both attempts');
    assert.equal(api.fullLists.vmi, 2, 'the list started over once');
    assert.ok(api.lists.vmi > 20, `paged: ${api.lists.vmi} requests`);
    assert.equal(view.getVirtualMachineInstance('ns-0', 'vm-0'), undefined, 'the object deleted mid-list is gone');
    assert.ok(view.getVirtualMachineInstance('ns-9', 'vm-late'));
    assert.equal(view.objectCounts()['virtualmachineinstances.kubevirt.io'], 123);

    api.beforePage = undefined;
    const whole = await connect(api, { pageSize: 100_000 });
    const paged = await connect(api, { pageSize: 7 });
    try {
      await whole.view.waitForSync(5000);
      await paged.view.waitForSync(5000);
      assert.ok(dump(whole.view).includes('vm-122'));
      assert.equal(dump(h.view), dump(whole.view));
      assert.equal(dump(paged.view), dump(whole.view));
    } finally {
      await whole.close();
      await paged.close();
    }
  } finally {
    await h.done();
  }
});

test('a page that fails is retried alone, without listing from the start', async () => {
  let dropped = 0;
  const h = await harness(
    (api) => {
      fleet(api, 60, 0);
      api.beforePage = (res, page) => (res === 'vmi' && page === 3 && dropped++ < 2 ? 'drop' : undefined);
    },
    true,
    { pageSize: 10 },
  );
  try {
    assert.equal(dropped, 3);
    assert.equal(h.api.fullLists.vmi, 1);
    assert.equal(h.view.objectCounts()['virtualmachineinstances.kubevirt.io'], 60);
    assert.ok(
      h.warnings.some((w) => w.includes('list page failed; retrying it')),
      h.warnings.join('\n'),
    );
  } finally {
    await h.done();
  }
});

test('the cache keeps only what the rules read, from lists and from watch events', async () => {
  const full = (name: string): KubeObject => ({
    ...vmi('default', name, 'Running'),
    metadata: {
      namespace: 'default',
      name,
      uid: 'u-1',
      labels: { app: 'x' },
      annotations: {
        'kubevirt.io/pci-interface-slot-count': '6',
        'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}',
      },
      managedFields: [{ manager: 'virt-controller', operation: 'Update', fieldsV1: { 'f:status': {} } }],
    },
    spec: {
      domain: {
        devices: { interfaces: [{ name: 'default', masquerade: {}, macAddress: '02:00:00:00:00:01' }] },
        memory: { guest: '2Gi' },
      },
      networks: [{ name: 'default', pod: {} }],
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      interfaces: [
        { name: 'default', infoSource: 'domain, guest-agent', interfaceName: 'eth0', ipAddress: '10.0.0.1' },
      ],
    },
  });
  const h = await harness((api) => api.put('vmi', full('listed')));
  try {
    await waitFor('watch open', () => h.api.openWatches('vmi') === 1);
    h.api.put('vmi', full('watched'));
    await waitFor('watched VMI', () => h.view.getVirtualMachineInstance('default', 'watched') !== undefined);
    for (const name of ['listed', 'watched']) {
      const cached = h.view.getVirtualMachineInstance('default', name);
      const resourceVersion = cached?.metadata?.resourceVersion;
      assert.match(
        String(resourceVersion),
        /^\d+$/,
        'the resourceVersion is kept, to tell unchanged objects on a relist',
      );
      assert.deepEqual(cached, {
        metadata: {
          name,
          namespace: 'default',
          resourceVersion,
          annotations: { 'kubevirt.io/pci-interface-slot-count': '6' },
        },
        spec: { domain: { devices: { interfaces: [{ name: 'default' }] } }, networks: [{ name: 'default', pod: {} }] },
        status: {
          phase: 'Running',
          interfaces: [{ name: 'default', infoSource: 'domain, guest-agent', interfaceName: 'eth0' }],
        },
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
      });
    }
  } finally {
    await h.done();
  }
});

test('a relist keeps the cached object of each item it lists unchanged, and takes the changed ones', async () => {
  const h = await harness((api) => {
    api.put('vmi', vmi('default', 'same', 'Running'));
    api.put('vmi', vmi('default', 'changed', 'Running'));
  });
  try {
    const { api, view } = h;
    await waitFor('watch open', () => api.openWatches('vmi') === 1);
    const same = view.getVirtualMachineInstance('default', 'same');
    const before = view.getVirtualMachineInstance('default', 'changed');
    // The API server goes away, the VMI changes, history is compacted: the resumed watch
    // gets 410 and the informer lists again, so only the relist can bring the change.
    api.down = true;
    api.dropConnections();
    api.put('vmi', vmi('default', 'changed', 'Succeeded'));
    api.compact();
    api.down = false;
    await waitFor('relisted', () => api.fullLists.vmi === 2 && api.openWatches('vmi') === 1);
    await waitFor(
      'the change',
      () => dig(view.getVirtualMachineInstance('default', 'changed'), 'status', 'phase') === 'Succeeded',
    );
    assert.equal(view.getVirtualMachineInstance('default', 'same'), same, 'the very object cached before');
    assert.notEqual(view.getVirtualMachineInstance('default', 'changed'), before);
  } finally {
    await h.done();
  }
});

test('a BOOKMARK moves the resume point, so a watch resumed after compaction needs no relist', async () => {
  const h = await harness((api) => api.put('vmi', vmi('default', 'vm1', 'Running')));
  try {
    const { api, view } = h;
    await waitFor('watches open', () => api.openWatches('vmi') === 1 && api.openWatches('nad') === 1);
    // Other resources move the resourceVersion on; the VMI watch learns of it only by bookmark.
    api.put('nad', nad('default', 'a'));
    api.put('nad', nad('default', 'b'));
    await waitFor('nad events', () => view.getNetworkAttachmentDefinition('default', 'b') !== undefined);
    api.bookmark('vmi');
    await new Promise((r) => setTimeout(r, 100));
    api.compact();
    const watchesBefore = api.watches.vmi;
    api.dropConnections();
    await waitFor('VMI watch reopened', () => api.watches.vmi > watchesBefore && api.openWatches('vmi') === 1);
    assert.equal(api.fullLists.vmi, 1, 'resumed from the bookmark, not relisted');
    assert.equal(api.fullLists.nad, 1);
    api.put('vmi', vmi('default', 'vm2', 'Running'));
    await waitFor('event after resume', () => view.getVirtualMachineInstance('default', 'vm2') !== undefined);
  } finally {
    await h.done();
  }
});

test('relists that follow each other are spaced by a growing delay', async () => {
  const h = await harness((api) => api.goneWatches.add('vmi'), true, { retryDelayMs: 20, maxRelistDelayMs: 400 });
  try {
    await new Promise((r) => setTimeout(r, 1200));
    // Unspaced, a watch that always answers 410 would relist every few milliseconds.
    const relists = h.api.fullLists.vmi;
    assert.ok(relists >= 3 && relists <= 9, `${relists} lists in 1.2 s`);
    assert.equal(h.view.isSynced(), true);
  } finally {
    await h.done();
  }
});

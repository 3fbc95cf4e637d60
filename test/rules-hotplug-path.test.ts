import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../src/engine/evaluate.js';
import type { Manifest as KubeObject } from './support.js';
import { clone, config, create, example, findingsOf, seedCluster, update } from './support.js';
import {
  KUBEVIRT_CONTROLLER,
  addMultusNic,
  asVmi,
  fedora,
  fedoraWithBridge,
  ifaceNamed,
  stopped,
  withRules,
} from './hotplug-fixtures.js';

const IFACES = 'spec.template.spec.domain.devices.interfaces';

function withSriov(vm: KubeObject): KubeObject {
  return addMultusNic(vm, 'sriov1', { sriov: {} }, 'sriov-net');
}

/** The seed KubeVirt CR (LiveMigrate, no rollout strategy) with its update settings replaced. */
function kubevirtWith(methods: string[], rolloutStrategy?: string): KubeObject {
  const kv = example('cluster/kubevirt.yaml');
  kv.spec.workloadUpdateStrategy.workloadUpdateMethods = methods;
  if (rolloutStrategy) kv.spec.configuration.vmRolloutStrategy = rolloutStrategy;
  return kv;
}

function clusterWithoutKubeVirt() {
  const cluster = seedCluster();
  cluster.replaceAll('KubeVirt', []);
  return cluster;
}

/** The running VMI of vm-fedora as KubeVirt reports it mid-unplug of dyniface1 (or after it). */
function vmiUnplugging(done: boolean): KubeObject {
  const vmi = asVmi(fedoraWithBridge());
  ifaceNamed(vmi, 'dyniface1').state = 'absent';
  vmi.status = {
    interfaces: [
      { name: 'defaultnetwork', infoSource: 'domain, guest-agent', interfaceName: 'eth0' },
      ...(done ? [] : [{ name: 'dyniface1', infoSource: 'multus-status' }]),
    ],
  };
  return vmi;
}

/** vm-fedora with dyniface1 set absent (old) and the user putting it back (new). */
function readdRequest() {
  const old = fedoraWithBridge();
  ifaceNamed(old, 'dyniface1').state = 'absent';
  return update(old, fedoraWithBridge());
}

describe('hotplug-path: SR-IOV hotplug', () => {
  it('warns that the NIC attaches after a migration KubeVirt starts itself (LiveUpdate and LiveMigrate)', () => {
    const cluster = seedCluster(kubevirtWith(['LiveMigrate', 'Evict'], 'LiveUpdate'));
    const findings = findingsOf('hotplug-path', update(fedora(), withSriov(fedora())), cluster);
    assert.equal(findings.length, 1);
    const [f] = findings;
    assert.equal(f.action, 'warn');
    assert.equal(f.object, 'VirtualMachine default/vm-fedora');
    assert.equal(f.field, `${IFACES}[1]`);
    assert.match(f.message, /SR-IOV interface "sriov1" attaches only after a live migration/);
    assert.match(
      f.message,
      new RegExp(
        /KubeVirt live-migrates the VM by itself, as its rollout strategy is LiveUpdate /.source +
          /and the KubeVirt CR's workloadUpdateMethods include LiveMigrate/.source,
      ),
    );
  });

  it(
    'an unset rollout strategy is LiveUpdate from KubeVirt v1.6.0 and Stage before ' +
      '(pkg/virt-config/virt-config.go)',
    () => {
      const request = update(fedora(), withSriov(fedora()));
      const [v18] = findingsOf('hotplug-path', request, seedCluster(), config({ kubevirtVersion: 'v1.8.4' }));
      assert.match(v18.message, /KubeVirt live-migrates the VM by itself/);
      const [v15] = findingsOf('hotplug-path', request, seedCluster(), config({ kubevirtVersion: 'v1.5.3' }));
      assert.match(v15.message, /vmRolloutStrategy is unset \(Stage before v1\.6\.0\), so run `virtctl migrate/);
    },
  );

  it('tells the user to run virtctl migrate when KubeVirt will not migrate by itself, and why', () => {
    // The seed CR has LiveMigrate and leaves the rollout strategy unset, whose default changed in v1.6.0.
    const [seed] = findingsOf('hotplug-path', update(fedora(), withSriov(fedora())));
    assert.match(
      seed.message,
      new RegExp(
        /KubeVirt will not start it, as the KubeVirt CR's spec\.configuration\.vmRolloutStrategy is unset /.source +
          /\(LiveUpdate from KubeVirt v1\.6\.0, Stage before\), so run `virtctl migrate vm-fedora -n default`/.source,
      ),
    );
    const [stage] = findingsOf(
      'hotplug-path',
      update(fedora(), withSriov(fedora())),
      seedCluster(kubevirtWith(['LiveMigrate'], 'Stage')),
    );
    assert.match(stage.message, /vmRolloutStrategy is not LiveUpdate, so run/);
    assert.doesNotMatch(seed.message, /workloadUpdateMethods does not include/);

    const [evictOnly] = findingsOf(
      'hotplug-path',
      update(fedora(), withSriov(fedora())),
      seedCluster(kubevirtWith(['Evict'], 'LiveUpdate')),
    );
    assert.match(
      evictOnly.message,
      /workloadUpdateMethods does not include LiveMigrate, so run `virtctl migrate vm-fedora -n default`/,
    );
    assert.doesNotMatch(evictOnly.message, /vmRolloutStrategy is not/);
  });

  it('says both where no KubeVirt CR is known (CI without the cluster objects)', () => {
    const [f] = findingsOf('hotplug-path', update(fedora(), withSriov(fedora())), clusterWithoutKubeVirt());
    assert.match(
      f.message,
      new RegExp(
        /unless the KubeVirt CR sets vmRolloutStrategy: LiveUpdate and workloadUpdateMethods include LiveMigrate /
          .source + /.*run `virtctl migrate vm-fedora -n default`/.source,
      ),
    );
  });

  it('does not stop the request, and can be made to', () => {
    const request = update(fedora(), withSriov(fedora()));
    assert.equal(
      evaluate(request, seedCluster(), config()).findings.some((f) => f.rule === 'hotplug-path' && f.action === 'deny'),
      false,
    );
    assert.deepEqual(
      findingsOf('hotplug-path', request, seedCluster(), withRules({ 'hotplug-path': 'deny' })).map((f) => f.action),
      ['deny'],
    );
    assert.deepEqual(findingsOf('hotplug-path', request, seedCluster(), withRules({ 'hotplug-path': 'off' })), []);
  });
});

describe('hotplug-path: bridge hotplug', () => {
  it('says nothing where the dynamic networks controller attaches it (the default)', () => {
    assert.deepEqual(findingsOf('hotplug-path', update(fedora(), fedoraWithBridge())), []);
  });

  it('warns that a migration is needed where the cluster has no dynamic networks controller', () => {
    const cfg = config({ dynamicNetworksController: false });
    const [f, ...rest] = findingsOf(
      'hotplug-path',
      update(fedora(), fedoraWithBridge()),
      seedCluster(kubevirtWith([])),
      cfg,
    );
    assert.equal(rest.length, 0);
    assert.equal(f.field, `${IFACES}[1]`);
    assert.match(
      f.message,
      /"dyniface1" attaches only after a live migration, as this cluster runs no Multus dynamic networks controller/,
    );
    assert.match(f.message, /run `virtctl migrate vm-fedora -n default`/);
  });

  it('warns about every hotplugged NIC of one change', () => {
    const now = withSriov(fedoraWithBridge());
    addMultusNic(now, 'sriov2', { sriov: {} }, 'sriov-net');
    const findings = findingsOf(
      'hotplug-path',
      update(fedora(), now),
      seedCluster(),
      config({ dynamicNetworksController: false }),
    );
    assert.deepEqual(
      findings.map((f) => f.message.match(/"(\w+)"/)![1]),
      ['dyniface1', 'sriov1', 'sriov2'],
    );
  });
});

describe('hotplug-path: re-adding an interface whose unplug is pending', () => {
  it('warns when the old spec had it absent and no VMI is known to say otherwise', () => {
    const [f, ...rest] = findingsOf('hotplug-path', readdRequest());
    assert.equal(rest.length, 0);
    assert.equal(f.field, `${IFACES}[1]`);
    assert.match(
      f.message,
      /"dyniface1" is being re-added while its unplug is still pending \(it was state: absent before this change/,
    );
    assert.match(f.message, /kubectl get vmi vm-fedora -n default/);
  });

  it('warns when the running VMI still lists it, naming that evidence', () => {
    const [f] = findingsOf('hotplug-path', readdRequest(), seedCluster(vmiUnplugging(false)));
    assert.match(f.message, /the VMI still lists it in status\.interfaces while its spec has it absent/);
  });

  it('says nothing once the VMI status shows the unplug done', () => {
    assert.deepEqual(findingsOf('hotplug-path', readdRequest(), seedCluster(vmiUnplugging(true))), []);
  });

  it('catches a re-add after the VM entry was cleared but the VMI still unplugs it', () => {
    // The user removed the entry (unplug-by-removal is off) and adds it again at once.
    const [f] = findingsOf('hotplug-path', update(fedora(), fedoraWithBridge()), seedCluster(vmiUnplugging(false)));
    assert.match(f.message, /"dyniface1" is being re-added/);
  });

  it('reads the pending unplug from the old object on a VMI update', () => {
    const old = vmiUnplugging(false);
    const now = clone(old);
    delete ifaceNamed(now, 'dyniface1').state;
    const [f] = findingsOf('hotplug-path', update(old, now));
    assert.equal(f.object, 'VirtualMachineInstance default/vm-fedora');
    assert.equal(f.field, 'spec.domain.devices.interfaces[1]');
  });

  it('says nothing for an unplug that keeps going', () => {
    const old = fedoraWithBridge();
    ifaceNamed(old, 'dyniface1').state = 'absent';
    assert.deepEqual(findingsOf('hotplug-path', update(old, clone(old)), seedCluster(vmiUnplugging(false))), []);
  });
});

describe('hotplug-path: scope', () => {
  it("stays quiet on CREATE, on stopped VMs and for KubeVirt's controllers", () => {
    const cfg = config({ dynamicNetworksController: false });
    assert.deepEqual(findingsOf('hotplug-path', create(withSriov(fedora())), seedCluster(), cfg), []);
    assert.deepEqual(
      findingsOf('hotplug-path', update(stopped(fedora()), stopped(withSriov(fedora()))), seedCluster(), cfg),
      [],
    );
    const byController = update(fedora(), withSriov(fedora()), { userInfo: { username: KUBEVIRT_CONTROLLER } });
    assert.deepEqual(findingsOf('hotplug-path', byController, seedCluster(), cfg), []);
  });
});

// hotplug-slots and pci-bus follow the KubeVirt release: the version from the
// configuration or the KubeVirt CR picks the reservation rule, and an unknown version is
// judged under every supported release, refusing only what none of them fits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../src/engine/evaluate.js';
import { reservationRuleFor } from '../src/engine/pci-topology.js';
import { parseKubeVirtVersion, type KubeVirtVersion } from '../src/engine/kubevirt-version.js';
import { addNic, clone, config, example, findingsOf, seedCluster, update, vmSpec, type Manifest } from './support.js';

/** vm-fedora (1024M) running with `count` interfaces. */
function runningWith(count: number): Manifest {
  const vm = example('old/vm-fedora.yaml');
  for (let i = 1; i < count; i++)
    addNic(vm, { name: `boot${i}`, bridge: {} }, { name: `boot${i}`, multus: { networkName: 'new-fancy-net' } });
  return vm;
}

function plusHotplugs(vm: Manifest, count: number): Manifest {
  const next = clone(vm);
  for (let i = 1; i <= count; i++)
    addNic(next, { name: `dyn${i}`, bridge: {} }, { name: `dyn${i}`, multus: { networkName: 'attachnet' } });
  return next;
}

function kubevirtAt(version: string): Manifest {
  const cr = clone(seedCluster().list('KubeVirt')[0]) as Manifest;
  cr.status = { phase: 'Deployed', observedKubeVirtVersion: version };
  return cr;
}

const auto = config();
const v = (text: string) => parseKubeVirtVersion(text) as KubeVirtVersion;

describe('the reservation rule of each release (docs/compatibility.md)', () => {
  it('maps releases to v1, v2 and v3 with their PCIe guards', () => {
    const cases: [string, string, string][] = [
      ['v1.4.0', 'v1', 'none'],
      ['v1.5.3', 'v1', 'none'],
      ['v1.6.0', 'v2', 'none'],
      ['v1.6.3', 'v2', 'none'],
      ['v1.6.4', 'v3', 'none'],
      ['v1.6.5', 'v3', 'arch'],
      ['v1.6.6', 'v3', 'arch-and-machine'],
      ['v1.7.1', 'v2', 'none'],
      ['v1.7.2', 'v3', 'none'],
      ['v1.7.3', 'v3', 'arch'],
      ['v1.7.4', 'v3', 'arch-and-machine'],
      ['v1.8.0', 'v3', 'none'],
      ['v1.8.1', 'v3', 'none'],
      ['v1.8.2', 'v3', 'arch'],
      ['v1.8.4', 'v3', 'arch-and-machine'],
      ['v1.9.0', 'v3', 'arch-and-machine'],
    ];
    for (const [version, model, guard] of cases)
      assert.deepEqual(reservationRuleFor(v(version)), { model, pcieGuard: guard }, version);
  });
});

describe('hotplug-slots with slotModel auto (the default)', () => {
  it('version unknown: four NICs at boot and one hotplug fits v1.6+, not v1.4-v1.5, so it warns and allows', () => {
    const vm = runningWith(4);
    const request = update(vm, plusHotplugs(vm, 1));
    const [w, ...rest] = findingsOf('hotplug-slots', request, seedCluster(), auto);
    assert.equal(rest.length, 0);
    assert.equal(w.action, 'warn');
    assert.match(w.message, /under KubeVirt v1\.4\.1 to before v1\.6\.0/);
    assert.match(w.message, /3 ports would be free and it fits/);
    assert.match(w.message, /kubevirtVersion/);
    assert.equal(evaluate(request, seedCluster(), auto).allowed, true);
  });

  it('version unknown: a hotplug no release fits is refused, saying so', () => {
    const vm = runningWith(4);
    const [f] = findingsOf('hotplug-slots', update(vm, plusHotplugs(vm, 4)), seedCluster(), auto);
    assert.equal(f.action, 'deny');
    assert.match(f.message, /under every supported KubeVirt release/);
    assert.match(f.message, /only 3 hotplug ports are free/);
  });

  it('a release nicguard has not read (v1.10.0, v1.9.1, v1.3.1): judged under every followed one, never denied', () => {
    const vm = runningWith(4);
    const none = update(vm, plusHotplugs(vm, 4));
    const some = update(vm, plusHotplugs(vm, 1));
    for (const version of ['v1.10.0', 'v1.9.1', 'v1.3.1']) {
      for (const [cluster, cfg, source] of [
        [seedCluster(kubevirtAt(version)), auto, 'KubeVirt CR status\\.observedKubeVirtVersion'],
        [seedCluster(), config({ kubevirtVersion: version }), 'configuration'],
      ] as const) {
        const [f] = findingsOf('hotplug-slots', none, cluster, cfg);
        assert.equal(f.action, 'warn', version);
        assert.match(f.message, /under every supported KubeVirt release/);
        const unread = `runs KubeVirt ${version.replace(/\./g, '\\.')} \\(from the ${source}\\), a release nicguard`;
        assert.match(f.message, new RegExp(`${unread} has not read .*so it warns instead of refusing`));
        assert.equal(evaluate(none, cluster, cfg).allowed, true, version);
        const [w] = findingsOf('hotplug-slots', some, cluster, cfg);
        assert.equal(w.action, 'warn', version);
        assert.match(w.message, /under KubeVirt v1\.4\.1 to before v1\.6\.0/);
        assert.match(w.message, new RegExp(unread));
      }
    }
    // The same four hotplugs under a followed release are refused, as that release refuses them.
    const [deny] = findingsOf('hotplug-slots', none, seedCluster(kubevirtAt('v1.9.0')), auto);
    assert.equal(deny.action, 'deny');
  });

  it('the KubeVirt CR status decides: v1.8.4 fits, v1.5.3 refuses', () => {
    const vm = runningWith(4);
    const request = update(vm, plusHotplugs(vm, 1));
    assert.deepEqual(findingsOf('hotplug-slots', request, seedCluster(kubevirtAt('v1.8.4')), auto), []);
    const [f] = findingsOf('hotplug-slots', request, seedCluster(kubevirtAt('v1.5.3')), auto);
    assert.equal(f.action, 'deny');
    assert.match(f.message, /under KubeVirt v1\.5\.3 \(from the KubeVirt CR status\.observedKubeVirtVersion\)/);
  });

  it('kubevirtVersion in the configuration wins over the CR', () => {
    const vm = runningWith(4);
    const request = update(vm, plusHotplugs(vm, 1));
    const [f] = findingsOf(
      'hotplug-slots',
      request,
      seedCluster(kubevirtAt('v1.8.4')),
      config({ kubevirtVersion: 'v1.4.1' }),
    );
    assert.equal(f.action, 'deny');
    assert.match(f.message, /KubeVirt v1\.4\.1 \(from the configuration\)/);
  });

  it('v3 reserves nothing for a machine type that is not PCIe, from v1.6.6 / v1.7.4 / v1.8.3 on', () => {
    const vm = runningWith(2);
    vmSpec(vm).domain.machine = { type: 'pc-i440fx-rhel7.6.0' };
    const request = update(vm, plusHotplugs(vm, 1));
    const [f] = findingsOf('hotplug-slots', request, seedCluster(), config({ kubevirtVersion: 'v1.9.0' }));
    assert.match(f.message, /not PCIe/);
    assert.deepEqual(findingsOf('hotplug-slots', request, seedCluster(), config({ kubevirtVersion: 'v1.8.0' })), []);
  });

  it('an unparsable version in the configuration is refused by the schema', async () => {
    const { resolveConfig, ConfigError } = await import('../src/engine/config.js');
    assert.throws(() => resolveConfig({ kubevirtVersion: 'latest' }), ConfigError);
    assert.equal(resolveConfig({ kubevirtVersion: 'v1.8.4' }).kubevirtVersion, 'v1.8.4');
  });
});

describe('--kubevirt-version on the command line', () => {
  it('judges as that release, over the configuration, and refuses a version that is none', async () => {
    const { nicguard, tempDir, writeTree } = await import('./cli-run.js');
    const vm = runningWith(4);
    const dir = writeTree(tempDir(), {
      'old.json': JSON.stringify(vm),
      'new.json': JSON.stringify(plusHotplugs(vm, 1)),
    });
    const args = ['validate', '-f', `${dir}/new.json`, '--old', `${dir}/old.json`, '--objects', 'examples/cluster'];
    const [unknown, v15, v18, bad] = await Promise.all([
      nicguard(args),
      nicguard([...args, '--kubevirt-version', 'v1.5.3']),
      nicguard([...args, '--kubevirt-version', 'v1.8.4']),
      nicguard([...args, '--kubevirt-version', 'latest']),
    ]);
    assert.equal(unknown.status, 0, unknown.stdout);
    assert.match(unknown.stdout, /WARN {2}hotplug-slots/);
    assert.equal(v15.status, 1, v15.stdout);
    assert.match(v15.stdout, /KubeVirt v1\.5\.3 \(from the configuration\)/);
    assert.equal(v18.status, 0, v18.stdout);
    assert.doesNotMatch(v18.stdout, /hotplug-slots/);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /expected a KubeVirt release such as v1\.8\.4/);
  });
});

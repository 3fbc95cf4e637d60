// The webhook's log line about the releases it judges under (src/server/release-notice.ts):
// informational for followed or unknown releases, a warning for one nicguard has not read,
// written once and again only when it changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/server/logger.js';
import { releaseLine, ReleaseNotice } from '../src/server/release-notice.js';
import { clone, config, seedCluster, type Manifest } from './support.js';

function kubevirtAt(version: string): Manifest {
  const cr = clone(seedCluster().list('KubeVirt')[0]) as Manifest;
  cr.status = { phase: 'Deployed', observedKubeVirtVersion: version };
  return cr;
}

test('followed and unknown releases are an information line; one nicguard has not read is a warning', () => {
  const unknown = releaseLine(config(), seedCluster());
  assert.equal(unknown.level, 'info');
  assert.deepEqual(unknown.fields, {
    kubevirt: 'unknown: every release nicguard follows',
    kubeovn: 'unknown: every release nicguard follows',
  });
  const followed = releaseLine(config({ kubeovnVersion: 'v1.15.24' }), seedCluster(kubevirtAt('v1.8.4')));
  assert.equal(followed.level, 'info');
  assert.deepEqual(followed.fields, {
    kubevirt: 'v1.8.4 (from the KubeVirt CR status.observedKubeVirtVersion)',
    kubeovn: 'v1.15.24 (from the configuration)',
  });

  const newer = releaseLine(config(), seedCluster(kubevirtAt('v1.10.0')));
  assert.equal(newer.level, 'warn');
  assert.match(newer.message, /^KubeVirt v1\.10\.0: not a release nicguard has read .* only warn$/);
  const both = releaseLine(config({ kubevirtVersion: 'v1.9.0-rc.1', kubeovnVersion: 'v1.16.9' }), seedCluster());
  assert.equal(both.level, 'warn');
  assert.match(both.message, /^KubeVirt v1\.9\.0-rc\.1 and Kube-OVN v1\.16\.9: not a release nicguard has read/);
  assert.equal(both.fields.kubevirt, 'v1.9.0-rc.1 (from the configuration)');
});

test('the notice logs once, again when the releases change, and nothing before the view is there', async () => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const notice = new ReleaseNotice(createLogger('info', stream));
  notice.note(config(), undefined);
  notice.note(config(), seedCluster(kubevirtAt('v1.8.4')));
  notice.note(config(), seedCluster(kubevirtAt('v1.8.4')));
  notice.note(config(), seedCluster(kubevirtAt('v1.10.0')));
  notice.note(config(), seedCluster(kubevirtAt('v1.10.0')));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    lines.map((l) => [l.level, l.kubevirt]),
    [
      [30, 'v1.8.4 (from the KubeVirt CR status.observedKubeVirtVersion)'],
      [40, 'v1.10.0 (from the KubeVirt CR status.observedKubeVirtVersion)'],
    ],
  );
});

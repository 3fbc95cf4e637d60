// The Helm chart installed with the real helm into a real kube-apiserver: the API server
// accepts every object, and in selfSigned mode `helm upgrade` keeps the chart-made CA
// (the chart looks the Secret up) instead of making a new one on every upgrade.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiServer, ROOT, kubectl, requireBinaries } from './harness.js';

const HELM = join(ROOT, 'test', 'tools', 'helm', '.bin', 'helm');
const CHART = join(ROOT, 'charts', 'nicguard');
const NS = 'nicguard-system';

requireBinaries();
const work = mkdtempSync(join(tmpdir(), 'nicguard-e2e-helm-'));
const api = new ApiServer(work);

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  assert.ok(existsSync(HELM), `${HELM} is missing: run \`bash test/tools/helm/build.sh\` (npm test does it first)`);
  const env = {
    ...process.env,
    KUBECONFIG: api.kubeconfig,
    HELM_CACHE_HOME: join(work, 'helm-cache'),
    HELM_CONFIG_HOME: join(work, 'helm-config'),
    HELM_DATA_HOME: join(work, 'helm-data'),
  };
  const r = spawnSync(HELM, args, { encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonpath(args: string[], path: string): string {
  const r = kubectl(api.kubeconfig, [...args, '-o', `jsonpath=${path}`]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

before(() => api.start());
after(async () => {
  await api.stop();
  rmSync(work, { recursive: true, force: true });
});

test('selfSigned: upgrade keeps the CA in the Secret and both caBundles; uninstall removes the webhooks', () => {
  const install = helm([
    'install',
    'nicguard',
    CHART,
    '-n',
    NS,
    '--create-namespace',
    '--set',
    'certificates.mode=selfSigned',
  ]);
  assert.equal(install.status, 0, install.stderr);
  const ca = jsonpath(['-n', NS, 'get', 'secret', 'nicguard-tls'], '{.data.ca\\.crt}');
  assert.ok(ca.length > 100);
  const bundles = () => [
    jsonpath(['get', 'validatingwebhookconfiguration', 'nicguard'], '{.webhooks[0].clientConfig.caBundle}'),
    jsonpath(['get', 'mutatingwebhookconfiguration', 'nicguard'], '{.webhooks[0].clientConfig.caBundle}'),
  ];
  assert.deepEqual(bundles(), [ca, ca]);

  const upgrade = helm([
    'upgrade',
    'nicguard',
    CHART,
    '-n',
    NS,
    '--set',
    'certificates.mode=selfSigned',
    '--set',
    'config.rules.hotplug-model=warn',
  ]);
  assert.equal(upgrade.status, 0, upgrade.stderr);
  assert.equal(
    jsonpath(['-n', NS, 'get', 'secret', 'nicguard-tls'], '{.data.ca\\.crt}'),
    ca,
    'the CA survives the upgrade',
  );
  assert.deepEqual(bundles(), [ca, ca]);
  assert.match(
    jsonpath(['-n', NS, 'get', 'configmap', 'nicguard-config'], '{.data.config\\.yaml}'),
    /hotplug-model: warn/,
  );

  const uninstall = helm(['uninstall', 'nicguard', '-n', NS]);
  assert.equal(uninstall.status, 0, uninstall.stderr);
  const left = kubectl(api.kubeconfig, [
    'get',
    'validatingwebhookconfiguration,mutatingwebhookconfiguration',
    '-l',
    'app.kubernetes.io/part-of=nicguard',
    '-o',
    'name',
  ]);
  assert.equal(left.stdout.trim(), '');
});

test('the API server accepts the optional objects (secret mode, NetworkPolicy, audit CronJob)', () => {
  const install = helm([
    'install',
    'guard',
    CHART,
    '-n',
    'guard',
    '--create-namespace',
    '--set',
    'certificates.mode=secret',
    '--set',
    'certificates.secret.name=guard-tls',
    '--set',
    'certificates.secret.caBundle=Q0E=',
    '--set',
    'audit.enabled=true',
    '--set',
    'webhook.namespaceLabelOptOut=true',
  ]);
  assert.equal(install.status, 0, install.stderr);
  assert.equal(jsonpath(['-n', 'guard', 'get', 'cronjob', 'guard-nicguard-audit'], '{.spec.schedule}'), '17 * * * *');
  assert.equal(
    jsonpath(['-n', 'guard', 'get', 'networkpolicy', 'guard-nicguard'], '{.spec.ingress[0].ports[*].port}'),
    '8443 9090',
  );
  assert.equal(
    jsonpath(['get', 'validatingwebhookconfiguration', 'guard-nicguard'], '{.webhooks[0].clientConfig.caBundle}'),
    'Q0E=',
  );
  assert.equal(helm(['uninstall', 'guard', '-n', 'guard']).status, 0);
});

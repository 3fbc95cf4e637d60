// The Helm chart, rendered by the real helm binary (built from the Go module proxy by
// test/tools/helm/build.sh), against the kustomize base it must equal: the webhook
// configurations, RBAC, the Deployment's pod, Service, PDB and policy, in every
// certificate mode; plus the chart's own extras (ServiceMonitor, alerts, NetworkPolicy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { serviceDnsNames } from '../src/certs/generate.js';
import { resolveConfig } from '../src/engine/config.js';
import { WebhookMetrics } from '../src/server/metrics.js';
import { ROOT } from './support.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const HELM = join(ROOT, 'test', 'tools', 'helm', '.bin', 'helm');
const CHART = join(ROOT, 'charts', 'nicguard');
const BASE = join(ROOT, 'manifests', 'base');
const NAMESPACE = 'nicguard-system';

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  assert.ok(
    existsSync(HELM),
    `${HELM} is missing: run \`bash test/tools/helm/build.sh\` (npm run test:chart does it first)`,
  );
  const r = spawnSync(HELM, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HELM_CACHE_HOME: '/tmp/nicguard-helm-cache' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` with --set pairs; every object rendered. */
function render(sets: Record<string, string> = {}, namespace = NAMESPACE, release = 'nicguard'): Obj[] {
  const args = [
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
  ];
  const r = helm(args);
  assert.equal(r.status, 0, `helm ${args.join(' ')}: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj)
    .filter((o) => o !== null && typeof o === 'object');
}

function baseDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(BASE, file), 'utf8')).map((d) => d.toJS() as Obj);
}

function one(objects: Obj[], kind: string, name?: string): Obj {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? `/${name}` : ''}, found ${found.length}`);
  return found[0];
}

/** A webhook configuration without what the install method adds: labels, annotations, caBundle. */
function webhookShape(config: Obj): Obj {
  return {
    kind: config.kind,
    name: config.metadata.name,
    webhooks: (config.webhooks as Obj[]).map((w) => {
      const { caBundle: _ca, ...clientConfig } = w.clientConfig;
      return { ...w, clientConfig };
    }),
  };
}

const WEBHOOK_KINDS = ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'];
const CERT_MODES: Record<string, Record<string, string>> = {
  certManager: {},
  selfSigned: { 'certificates.mode': 'selfSigned' },
  secret: {
    'certificates.mode': 'secret',
    'certificates.secret.name': 'my-tls',
    'certificates.secret.caBundle': 'Q0EgYnVuZGxl',
  },
};

test('helm lint passes with the default values and in each certificate mode', () => {
  for (const [mode, sets] of Object.entries(CERT_MODES)) {
    const r = helm(['lint', '--strict', CHART, ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])]);
    assert.equal(r.status, 0, `${mode}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('the chart and its image follow the package version', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(chart.version, version);
  assert.equal(chart.appVersion, version);
  const deploy = one(render(), 'Deployment', 'nicguard');
  assert.equal(
    deploy.spec.template.spec.containers[0].image,
    one(baseDocs('deployment.yaml'), 'Deployment').spec.template.spec.containers[0].image,
  );
  assert.equal(
    one(render({ 'image.tag': '9.9.9' }), 'Deployment').spec.template.spec.containers[0].image,
    'ghcr.io/nicguard/nicguard:9.9.9',
  );
});

test('in every certificate mode the webhook configurations equal the kustomize base', () => {
  const base = baseDocs('webhooks.yaml');
  for (const [mode, sets] of Object.entries(CERT_MODES)) {
    const rendered = render(sets);
    for (const kind of WEBHOOK_KINDS) {
      // Deep equality covers rules, failurePolicy, sideEffects, timeoutSeconds, matchConditions,
      // namespaceSelector, admissionReviewVersions, matchPolicy, reinvocationPolicy and clientConfig.service.
      assert.deepEqual(webhookShape(one(rendered, kind)), webhookShape(one(base, kind)), `${mode}: ${kind}`);
    }
  }
});

test('RBAC grants are identical to the base', () => {
  const rendered = render();
  const base = baseDocs('rbac.yaml');
  assert.deepEqual(one(rendered, 'ClusterRole', 'nicguard').rules, one(base, 'ClusterRole').rules);
  const binding = one(rendered, 'ClusterRoleBinding', 'nicguard');
  assert.deepEqual(binding.roleRef, one(base, 'ClusterRoleBinding').roleRef);
  assert.deepEqual(binding.subjects, one(base, 'ClusterRoleBinding').subjects);
  assert.equal(one(rendered, 'ServiceAccount', 'nicguard').metadata.namespace, NAMESPACE);
  assert.equal(rendered.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding').length, 0);
});

test('Deployment, Service, PDB and the policy ConfigMap equal the base', () => {
  const rendered = render();
  const deploy = one(rendered, 'Deployment', 'nicguard');
  const baseDeploy = one(baseDocs('deployment.yaml'), 'Deployment');
  const podLabels = deploy.spec.template.metadata.labels;
  // The chart adds app.kubernetes.io/instance to the selectors; everything else is the same.
  const { labels: _l, ...basePodMeta } = baseDeploy.spec.template.metadata;
  const { labels: _r, ...podMeta } = deploy.spec.template.metadata;
  assert.deepEqual(podMeta, basePodMeta);
  const withoutSelectors = (pod: Obj): Obj =>
    JSON.parse(JSON.stringify(pod), (key, value) => (key === 'labelSelector' ? undefined : value)) as Obj;
  assert.deepEqual(withoutSelectors(deploy.spec.template.spec), withoutSelectors(baseDeploy.spec.template.spec));
  for (const s of deploy.spec.template.spec.topologySpreadConstraints as Obj[])
    assert.deepEqual(s.labelSelector.matchLabels, deploy.spec.selector.matchLabels);
  const { selector: _s, template: _t, ...spec } = deploy.spec;
  const { selector: _bs, template: _bt, ...baseSpec } = baseDeploy.spec;
  assert.deepEqual(spec, baseSpec);

  const svc = one(rendered, 'Service', 'nicguard');
  assert.deepEqual(svc.spec.ports, one(baseDocs('service.yaml'), 'Service').spec.ports);
  const pdb = one(rendered, 'PodDisruptionBudget', 'nicguard');
  assert.equal(pdb.spec.minAvailable, one(baseDocs('pdb.yaml'), 'PodDisruptionBudget').spec.minAvailable);
  for (const selector of [svc.spec.selector, pdb.spec.selector.matchLabels, deploy.spec.selector.matchLabels]) {
    for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v, `selector ${k}`);
  }

  const cm = one(rendered, 'ConfigMap', 'nicguard-config');
  assert.equal(
    deploy.spec.template.spec.volumes.find((v: Obj) => v.name === 'config').configMap.name,
    cm.metadata.name,
  );
  const baseConfig = parse(readFileSync(join(BASE, 'config.yaml'), 'utf8')) as Obj;
  assert.deepEqual(parse(cm.data['config.yaml']), baseConfig);
});

test('the policy comes from values, and exemptServiceAccounts also drives matchConditions', () => {
  const rendered = render({
    'config.rules.hotplug-model': 'warn',
    'config.exemptServiceAccounts': '{system:serviceaccount:openshift-cnv:kubevirt-controller}',
  });
  const config = resolveConfig(parse(one(rendered, 'ConfigMap').data['config.yaml']), 'rendered config.yaml');
  assert.equal(config.rules['hotplug-model'], 'warn');
  assert.equal(config.rules['sriov-unplug'], 'deny', 'other rules keep their defaults');
  assert.deepEqual(config.exemptServiceAccounts, ['system:serviceaccount:openshift-cnv:kubevirt-controller']);
  for (const kind of WEBHOOK_KINDS) {
    assert.deepEqual(one(rendered, kind).webhooks[0].matchConditions, [
      {
        name: 'not-kubevirt-controllers',
        expression: "!(request.userInfo.username in ['system:serviceaccount:openshift-cnv:kubevirt-controller'])",
      },
    ]);
  }
});

test("certManager mode: the overlay's CA chain and serving certificate, and CA injection on both webhooks", () => {
  const rendered = render();
  const overlay = parseAllDocuments(
    readFileSync(join(ROOT, 'manifests', 'overlays', 'cert-manager', 'certificates.yaml'), 'utf8'),
  ).map((d) => d.toJS() as Obj);
  const certManagerKinds = rendered.filter((o) => o.apiVersion === 'cert-manager.io/v1');
  assert.deepEqual(
    certManagerKinds.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    overlay.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
  );
  for (const o of overlay)
    assert.deepEqual(one(certManagerKinds, o.kind, o.metadata.name).spec, o.spec, `${o.kind}/${o.metadata.name}`);
  for (const kind of WEBHOOK_KINDS) {
    const config = one(rendered, kind);
    assert.equal(config.metadata.annotations['cert-manager.io/inject-ca-from'], `${NAMESPACE}/nicguard-serving`);
    assert.equal(config.webhooks[0].clientConfig.caBundle, undefined);
  }
  assert.equal(rendered.filter((o) => o.kind === 'Secret').length, 0, 'cert-manager writes the Secret');

  const own = render({
    'certificates.certManager.issuerRef.name': 'corp-ca',
    'certificates.certManager.issuerRef.kind': 'ClusterIssuer',
  });
  assert.deepEqual(
    own.filter((o) => o.apiVersion === 'cert-manager.io/v1').map((o) => `${o.kind}/${o.metadata.name}`),
    ['Certificate/nicguard-serving'],
  );
  assert.deepEqual(one(own, 'Certificate').spec.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer' });
});

test('selfSigned mode: a TLS Secret for the Service names, its CA in both caBundles', () => {
  const rendered = render(CERT_MODES.selfSigned);
  const secret = one(rendered, 'Secret', 'nicguard-tls');
  assert.equal(secret.type, 'kubernetes.io/tls');
  const pem = (k: string) => Buffer.from(secret.data[k], 'base64').toString('utf8');
  const ca = new X509Certificate(pem('ca.crt'));
  const leaf = new X509Certificate(pem('tls.crt'));
  assert.equal(ca.ca, true);
  assert.ok(leaf.verify(ca.publicKey), 'tls.crt is signed by ca.crt');
  for (const name of serviceDnsNames('nicguard', NAMESPACE))
    assert.ok(leaf.subjectAltName?.includes(`DNS:${name}`), `${name} in ${leaf.subjectAltName}`);
  for (const kind of WEBHOOK_KINDS) {
    const config = one(rendered, kind);
    assert.equal(config.metadata.annotations, undefined, 'no cert-manager injection');
    assert.equal(config.webhooks[0].clientConfig.caBundle, secret.data['ca.crt']);
  }
  assert.equal(rendered.filter((o) => o.apiVersion === 'cert-manager.io/v1').length, 0);
  const deploy = one(rendered, 'Deployment');
  assert.equal(deploy.spec.template.spec.volumes.find((v: Obj) => v.name === 'tls').secret.secretName, 'nicguard-tls');
  // The caveat docs/deploy.md states: with no cluster to look the Secret up in (helm
  // template, Argo CD), every render makes a new CA. test/e2e/helm.test.ts shows upgrade keeps it.
  assert.notEqual(one(render(CERT_MODES.selfSigned), 'Secret').data['ca.crt'], secret.data['ca.crt']);
});

test('secret mode: mounts the given Secret, puts the given caBundle in, and refuses to render without them', () => {
  const rendered = render(CERT_MODES.secret);
  assert.equal(rendered.filter((o) => o.kind === 'Secret' || o.apiVersion === 'cert-manager.io/v1').length, 0);
  assert.equal(
    one(rendered, 'Deployment').spec.template.spec.volumes.find((v: Obj) => v.name === 'tls').secret.secretName,
    'my-tls',
  );
  for (const kind of WEBHOOK_KINDS) assert.equal(one(rendered, kind).webhooks[0].clientConfig.caBundle, 'Q0EgYnVuZGxl');

  const noBundle = helm([
    'template',
    'nicguard',
    CHART,
    '--set',
    'certificates.mode=secret',
    '--set',
    'certificates.secret.name=my-tls',
  ]);
  assert.notEqual(noBundle.status, 0);
  assert.match(noBundle.stderr, /certificates\.secret\.caBundle .* is required with certificates\.mode=secret/);
  const noName = helm([
    'template',
    'nicguard',
    CHART,
    '--set',
    'certificates.mode=secret',
    '--set',
    'certificates.secret.caBundle=eA==',
  ]);
  assert.match(noName.stderr, /certificates\.secret\.name is required/);
});

test('values.schema.json refuses an unknown mode and misspelt or mistyped values', () => {
  const cases: [string, RegExp][] = [
    [
      'certificates.mode=vault',
      /at '\/certificates\/mode': value must be one of 'certManager', 'selfSigned', 'secret'/,
    ],
    ['replicas=3', /additional properties 'replicas' not allowed/],
    ['webhook.timeoutSeconds=60', /at '\/webhook\/timeoutSeconds'/],
  ];
  for (const [set, message] of cases) {
    const r = helm(['template', 'nicguard', CHART, '--set', set]);
    assert.notEqual(r.status, 0, set);
    assert.match(r.stderr, message, set);
  }
});

test('namespaces are exempt by name; the release namespace always; the ignore label only when opted in', () => {
  const elsewhere = render({ 'webhook.excludedNamespaces': '{kube-system,lab}' }, 'guard', 'guard');
  for (const kind of WEBHOOK_KINDS) {
    const w = one(elsewhere, kind, 'guard-nicguard').webhooks[0];
    assert.deepEqual(w.namespaceSelector, {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'lab', 'guard'] },
      ],
    });
    assert.equal(w.clientConfig.service.namespace, 'guard');
    assert.equal(w.clientConfig.service.name, 'guard-nicguard');
  }
  const optedIn = render({ 'webhook.namespaceLabelOptOut': 'true' });
  for (const kind of WEBHOOK_KINDS) {
    assert.deepEqual(one(optedIn, kind).webhooks[0].namespaceSelector.matchExpressions[1], {
      key: 'nicguard.io/ignore',
      operator: 'NotIn',
      values: ['true'],
    });
  }
});

test('the NetworkPolicy admits the webhook and metrics ports of the webhook pods only', () => {
  const rendered = render();
  const policy = one(rendered, 'NetworkPolicy', 'nicguard');
  const deploy = one(rendered, 'Deployment');
  assert.deepEqual(policy.spec.podSelector.matchLabels, deploy.spec.selector.matchLabels);
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  const containerPorts = (deploy.spec.template.spec.containers[0].ports as Obj[]).map((p) => p.containerPort).sort();
  assert.deepEqual(
    (policy.spec.ingress as Obj[]).flatMap((i) => i.ports.map((p: Obj) => p.port)).sort(),
    containerPorts,
  );
  assert.deepEqual(containerPorts, [8443, 9090]);
  if (existsSync(join(BASE, 'networkpolicy.yaml'))) {
    const base = baseDocs('networkpolicy.yaml').find((o) => o.kind === 'NetworkPolicy')!;
    const ports = (p: Obj) => (p.spec.ingress as Obj[]).flatMap((i) => i.ports.map((x: Obj) => x.port)).sort();
    assert.deepEqual(
      ports(policy),
      ports(base)
        .map((p: string | number) => (p === 'https' ? 8443 : p === 'metrics' ? 9090 : p))
        .sort(),
    );
  }
  assert.equal(render({ 'networkPolicy.enabled': 'false' }).filter((o) => o.kind === 'NetworkPolicy').length, 0);
});

test('ServiceMonitor and PrometheusRule are off by default; the alerts use metrics the server exports', async () => {
  assert.equal(render().filter((o) => o.apiVersion === 'monitoring.coreos.com/v1').length, 0);
  const rendered = render({ 'metrics.serviceMonitor.enabled': 'true', 'metrics.prometheusRule.enabled': 'true' });
  const monitor = one(rendered, 'ServiceMonitor');
  const svc = one(rendered, 'Service');
  assert.ok((svc.spec.ports as Obj[]).some((p) => p.name === monitor.spec.endpoints[0].port));
  for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v);

  const exported = new Set(
    (await new WebhookMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name),
  );
  const rules = one(rendered, 'PrometheusRule').spec.groups[0].rules as Obj[];
  assert.deepEqual(
    rules.map((r) => r.alert),
    ['NicguardCacheNotSynced', 'NicguardBadRequests', 'NicguardSlowAdmission'],
  );
  for (const r of rules) {
    const used = [...(r.expr as string).matchAll(/\bnicguard_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, ''));
    assert.ok(used.length > 0, r.alert);
    for (const name of used) assert.ok(exported.has(name), `${r.alert} uses ${name}, which the server does not export`);
  }
});

test('the audit CronJob is off by default and runs `nicguard audit --apply` when enabled', () => {
  assert.equal(render().filter((o) => o.kind === 'CronJob').length, 0);
  const job = one(render({ 'audit.enabled': 'true' }), 'CronJob');
  const pod = job.spec.jobTemplate.spec.template.spec;
  assert.deepEqual(pod.containers[0].args.slice(0, 2), ['audit', '--apply']);
  // Its own account and role, as manifests/overlays/audit: the webhook's role stays read-only.
  assert.equal(pod.serviceAccountName, 'nicguard-audit');
  const docs = render({ 'audit.enabled': 'true' });
  const rules = (name: string) => one(docs, 'ClusterRole', name).rules;
  const overlay = parseAllDocuments(readFileSync(join(ROOT, 'manifests/overlays/audit/rbac.yaml'), 'utf8'))
    .map((d) => d.toJS())
    .find((o) => o?.kind === 'ClusterRole');
  assert.deepEqual(rules('nicguard-audit'), overlay.rules);
  assert.deepEqual(rules('nicguard'), one(render(), 'ClusterRole', 'nicguard').rules);
  // Memory as the overlay sizes it: the audit keeps whole objects, so it has its own heap cap and limit.
  const overlayJob = parseAllDocuments(readFileSync(join(ROOT, 'manifests/overlays/audit/cronjob.yaml'), 'utf8'))
    .map((d) => d.toJS())
    .find((o) => o?.kind === 'CronJob');
  const container = (j: any) => j.spec.jobTemplate.spec.template.spec.containers[0];
  assert.deepEqual(container(job).env, container(overlayJob).env);
  assert.deepEqual(container(job).resources, container(overlayJob).resources);
});

test('namespace.create adds the restricted Namespace of the base', () => {
  assert.equal(
    render().filter((o) => o.kind === 'Namespace').length,
    0,
    'helm install --create-namespace makes it by default',
  );
  const ns = one(render({ 'namespace.create': 'true' }), 'Namespace', NAMESPACE);
  assert.equal(
    ns.metadata.labels['pod-security.kubernetes.io/enforce'],
    one(baseDocs('namespace.yaml'), 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce'],
  );
});

// The deployment manifests, read as YAML: the properties the install relies on, so an
// edit that weakens them (a wider ClusterRole, a webhook that fails open, a pod that
// runs as root) fails here rather than in a cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { serviceDnsNames } from '../src/certs/generate.js';
import { defaultConfig, resolveConfig } from '../src/engine/config.js';
import { parseQuantity } from '../src/engine/quantity.js';
import { ROOT } from './support.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const MANIFESTS = join(ROOT, 'manifests');

function docs(rel: string): Obj[] {
  const path = join(MANIFESTS, rel);
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d, i) => {
    assert.equal(d.errors.length, 0, `${rel} document ${i + 1}: ${d.errors[0]?.message}`);
    return d.toJS() as Obj;
  });
}

function kustomization(dir: string): Obj {
  return parse(readFileSync(join(MANIFESTS, dir, 'kustomization.yaml'), 'utf8')) as Obj;
}

/** Every object the base's kustomization lists, as kustomize would read them. */
function baseObjects(): Obj[] {
  return (kustomization('base').resources as string[]).flatMap((r) => docs(join('base', r)));
}

function one(objects: Obj[], kind: string, name?: string): Obj {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? `/${name}` : ''}`);
  return found[0];
}

const WEBHOOK_RESOURCES = [
  'kubevirt.io/v1/virtualmachines',
  'kubevirt.io/v1/virtualmachineinstances',
  'k8s.cni.cncf.io/v1/network-attachment-definitions',
  'kubeovn.io/v1/subnets',
].sort();

function ruleTargets(webhook: Obj): string[] {
  return (webhook.rules as Obj[])
    .flatMap((r) =>
      (r.apiGroups as string[]).flatMap((g) =>
        (r.apiVersions as string[]).flatMap((v) => (r.resources as string[]).map((res) => `${g}/${v}/${res}`)),
      ),
    )
    .sort();
}

test('the base labels every object part-of=nicguard (the uninstall in docs/deploy.md selects by it)', () => {
  const labels = kustomization('base').labels as Obj[];
  assert.ok(labels.some((l) => l.pairs?.['app.kubernetes.io/part-of'] === 'nicguard' && l.includeSelectors === false));
});

test('every file the kustomizations name exists', () => {
  for (const dir of ['base', 'overlays/cert-manager', 'overlays/plain']) {
    const k = kustomization(dir);
    for (const r of (k.resources ?? []) as string[])
      assert.ok(existsSync(join(MANIFESTS, dir, r)), `${dir}: resource ${r}`);
    for (const g of (k.configMapGenerator ?? []) as Obj[]) {
      for (const f of g.files as string[])
        assert.ok(existsSync(join(MANIFESTS, dir, f.split('=').pop()!)), `${dir}: configMapGenerator file ${f}`);
    }
  }
});

test('both webhooks cover VMs, VMIs, NADs and Subnets on CREATE and UPDATE, at the right paths', () => {
  const objects = baseObjects();
  const expected = { ValidatingWebhookConfiguration: '/validate', MutatingWebhookConfiguration: '/mutate' } as const;
  for (const [kind, path] of Object.entries(expected)) {
    const config = one(objects, kind, 'nicguard');
    assert.ok(config.webhooks.length >= 1, kind);
    for (const w of config.webhooks as Obj[]) {
      assert.deepEqual(ruleTargets(w), WEBHOOK_RESOURCES, `${kind} ${w.name} resources`);
      for (const r of w.rules as Obj[])
        assert.deepEqual([...r.operations].sort(), ['CREATE', 'UPDATE'], `${kind} ${w.name} operations`);
      const subnets = (w.rules as Obj[]).find((r) => r.resources.includes('subnets'));
      assert.equal(subnets?.scope, 'Cluster', 'Subnets are cluster-scoped');
      assert.deepEqual(w.clientConfig.service, { name: 'nicguard', namespace: 'nicguard-system', path, port: 443 });
      assert.equal(w.clientConfig.caBundle, undefined, 'the base carries no CA; overlays supply it');
      assert.equal(w.sideEffects, 'None', 'so that --dry-run=server requests are judged too');
      assert.deepEqual(w.admissionReviewVersions, ['v1']);
      assert.ok(
        Number.isInteger(w.timeoutSeconds) && w.timeoutSeconds >= 1 && w.timeoutSeconds <= 10,
        `${kind} timeoutSeconds ${w.timeoutSeconds}`,
      );
      assert.equal(w.matchPolicy, 'Equivalent');
    }
  }
});

test('validation fails closed; mutation fails open and is not reinvoked', () => {
  const objects = baseObjects();
  for (const w of one(objects, 'ValidatingWebhookConfiguration').webhooks as Obj[])
    assert.equal(w.failurePolicy, 'Fail', w.name);
  for (const w of one(objects, 'MutatingWebhookConfiguration').webhooks as Obj[]) {
    assert.equal(w.failurePolicy, 'Ignore', w.name);
    assert.equal(w.reinvocationPolicy, 'Never', w.name);
  }
});

/** Whether a namespace with these labels is sent to the webhook (matchExpressions only, as used). */
function namespaceSelected(selector: Obj, labels: Record<string, string>): boolean {
  assert.equal(selector.matchLabels, undefined, 'the test evaluates matchExpressions only');
  return (selector.matchExpressions as Obj[]).every((e) => {
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && e.values.includes(value);
      case 'NotIn':
        return value === undefined || !e.values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`unknown operator ${e.operator}`);
    }
  });
}

test(
  'namespaceSelector leaves out kube-system and nicguard-system by name only; ' + 'a label cannot opt a namespace out',
  () => {
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      for (const w of one(baseObjects(), kind).webhooks as Obj[]) {
        const ns = (name: string, extra: Record<string, string> = {}) =>
          namespaceSelected(w.namespaceSelector, { 'kubernetes.io/metadata.name': name, ...extra });
        assert.equal(ns('kube-system'), false, `${kind}: kube-system`);
        assert.equal(ns('nicguard-system'), false, `${kind}: nicguard-system`);
        assert.equal(ns('default'), true, `${kind}: default`);
        assert.equal(ns('vms', { team: 'a' }), true, `${kind}: ordinary namespace`);
        // Whoever may label a namespace must not be able to exempt it (docs/deploy.md).
        assert.equal(ns('vms', { 'nicguard.io/ignore': 'true' }), true, `${kind}: ignore label has no effect`);
        assert.deepEqual(
          (w.namespaceSelector.matchExpressions as Obj[]).map((e) => e.key),
          ['kubernetes.io/metadata.name'],
          `${kind}: only the name label, which only the API server sets`,
        );
      }
    }
  },
);

test('matchConditions skip exactly the service accounts the policy exempts', () => {
  const exempt = [...defaultConfig().exemptServiceAccounts].sort();
  const shipped = resolveConfig(
    parse(readFileSync(join(MANIFESTS, 'base', 'config.yaml'), 'utf8')),
    'config.yaml',
  ).exemptServiceAccounts;
  assert.deepEqual([...shipped].sort(), exempt);
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
    for (const w of one(baseObjects(), kind).webhooks as Obj[]) {
      assert.equal(w.matchConditions.length, 1);
      const expr = w.matchConditions[0].expression as string;
      const listed = [...expr.matchAll(/'([^']+)'/g)].map((m) => m[1]).sort();
      assert.deepEqual(listed, exempt, `${kind} ${w.name}`);
      assert.match(expr, /^!\(request\.userInfo\.username in \[/, 'a negated membership test: everyone else is sent');
    }
  }
});

test('RBAC is read-only: get/list/watch on exactly the four resources the view watches', () => {
  const objects = baseObjects();
  const role = one(objects, 'ClusterRole', 'nicguard');
  const granted = (role.rules as Obj[]).flatMap((r) => {
    assert.deepEqual([...r.verbs].sort(), ['get', 'list', 'watch'], `verbs on ${r.resources}`);
    assert.equal(r.resourceNames, undefined);
    assert.equal(r.nonResourceURLs, undefined);
    return (r.apiGroups as string[]).flatMap((g) => (r.resources as string[]).map((res) => `${g}/${res}`));
  });
  assert.deepEqual(granted.sort(), [
    'k8s.cni.cncf.io/network-attachment-definitions',
    'kubeovn.io/subnets',
    'kubevirt.io/kubevirts',
    'kubevirt.io/virtualmachineinstances',
  ]);
  assert.ok(!granted.some((g) => g.includes('*')));
  const binding = one(objects, 'ClusterRoleBinding', 'nicguard');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'nicguard' });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'nicguard', namespace: 'nicguard-system' }]);
  assert.equal(one(objects, 'ServiceAccount', 'nicguard').metadata.namespace, 'nicguard-system');
  assert.equal(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding').length, 0);
});

test('the Deployment runs locked down, probed, spread, with the serve arguments and mounts', () => {
  const objects = baseObjects();
  const deploy = one(objects, 'Deployment', 'nicguard');
  assert.equal(deploy.metadata.namespace, 'nicguard-system');
  assert.equal(deploy.spec.replicas, 2);
  const pod = deploy.spec.template.spec;
  assert.equal(pod.serviceAccountName, 'nicguard');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  assert.match(c.image, /^ghcr\.io\/nicguard\/nicguard:\d+\.\d+\.\d+$/);
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(c.image.split(':')[1], version, 'image tag follows package.json');
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.privileged, undefined);
  for (const kind of ['requests', 'limits'])
    for (const r of ['cpu', 'memory']) assert.ok(c.resources[kind]?.[r], `resources.${kind}.${r}`);

  const args = (c.args as string[]).join(' ');
  assert.match(args, /^serve /);
  assert.match(args, /--cert \/certs\/tls\.crt/);
  assert.match(args, /--key \/certs\/tls\.key/);
  assert.match(args, /--config \/config\/config\.yaml/);
  const ports = Object.fromEntries((c.ports as Obj[]).map((p) => [p.name, p.containerPort]));
  assert.deepEqual(ports, { https: 8443, metrics: 9090 });
  assert.deepEqual(
    [c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.scheme, c.livenessProbe.httpGet.port],
    ['/healthz', 'HTTPS', 'https'],
  );
  assert.deepEqual(
    [c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.scheme, c.readinessProbe.httpGet.port],
    ['/readyz', 'HTTPS', 'https'],
  );

  const mounts = Object.fromEntries((c.volumeMounts as Obj[]).map((m) => [m.name, m.mountPath]));
  const volumes = Object.fromEntries((pod.volumes as Obj[]).map((v) => [v.name, v]));
  assert.equal(mounts.tls, '/certs');
  assert.equal(volumes.tls.secret.secretName, 'nicguard-tls');
  assert.equal(volumes.tls.secret.defaultMode, 0o440);
  assert.equal(mounts.config, '/config');
  assert.equal(volumes.config.configMap.name, 'nicguard-config');
  assert.ok(
    (c.volumeMounts as Obj[]).every((m) => m.subPath === undefined),
    'no subPath: updates must reach the files',
  );

  const spread = pod.topologySpreadConstraints as Obj[];
  assert.ok(spread.some((s) => s.topologyKey === 'kubernetes.io/hostname' && s.maxSkew === 1));
  const podLabels = deploy.spec.template.metadata.labels;
  for (const s of spread)
    for (const [k, v] of Object.entries(s.labelSelector.matchLabels)) assert.equal(podLabels[k], v);
  const flag = (name: string) => Number((c.args as string[])[(c.args as string[]).indexOf(name) + 1]);
  const grace = flag('--grace-period');
  const delay = flag('--shutdown-delay');
  assert.ok(delay >= 3, 'long enough for the endpoint removal to reach kube-proxy and the API servers');
  assert.ok(grace >= delay + 10, 'the drain after the delay has time for requests in flight');
  assert.ok(pod.terminationGracePeriodSeconds >= grace + 5, 'the kubelet waits for the whole drain before SIGKILL');
  assert.equal(c.lifecycle?.preStop, undefined, "the delay is the server's own, so it also fails /readyz");
});

test('NODE_OPTIONS of the Deployment and the audit CronJob: Node starts with them; heap cap under the limit', () => {
  const containers = [
    one(baseObjects(), 'Deployment', 'nicguard').spec.template.spec.containers[0],
    one(docs('overlays/audit/cronjob.yaml'), 'CronJob').spec.jobTemplate.spec.template.spec.containers[0],
  ];
  for (const c of containers) {
    const value = (c.env as Obj[]).find((e) => e.name === 'NODE_OPTIONS')?.value as string;
    // Node refuses some flags in NODE_OPTIONS (--single-threaded-gc among them) and exits 9: a crash-looping pod.
    const run = spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_OPTIONS: value } });
    assert.equal(run.status, 0, `${c.name}: node refused NODE_OPTIONS="${value}": ${String(run.stderr)}`);
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(value)?.[1]);
    const limitMi = (parseQuantity(c.resources.limits.memory) ?? NaN) / 2 ** 20;
    // Room beside the old generation for the young one, code and buffers, or the OOM killer acts before V8's GC.
    assert.ok(heapMb > 0 && heapMb + 64 <= limitMi, `${c.name}: heap cap ${heapMb} MB under the ${limitMi}Mi limit`);
    // One V8 background thread under a 1-CPU limit (docs/server.md, Hostile input).
    assert.match(value, /(^| )--v8-pool-size=1( |$)/);
    assert.equal(c.resources.limits.cpu, '1');
  }
});

test('the NetworkPolicy admits only the webhook and metrics ports to the nicguard pods', () => {
  const objects = baseObjects();
  const policy = one(objects, 'NetworkPolicy', 'nicguard');
  assert.equal(policy.metadata.namespace, 'nicguard-system');
  const deploy = one(objects, 'Deployment', 'nicguard');
  const podLabels = deploy.spec.template.metadata.labels;
  const selector = policy.spec.podSelector.matchLabels as Record<string, string>;
  assert.ok(Object.keys(selector).length > 0, 'selects pods, not the whole namespace');
  assert.ok(
    Object.entries(selector).every(([k, v]) => podLabels[k] === v),
    'selects the webhook pods',
  );
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  const ports = (policy.spec.ingress as Obj[]).flatMap((rule) => {
    assert.ok(rule.ports?.length, 'every rule names its ports: none opens everything');
    return (rule.ports as Obj[]).map((p) => `${p.protocol}/${p.port}`);
  });
  const container = deploy.spec.template.spec.containers[0];
  const served = (container.ports as Obj[]).map((p) => `${p.protocol}/${p.containerPort}`);
  assert.deepEqual(ports.sort(), served.sort());
  assert.deepEqual(ports.sort(), ['TCP/8443', 'TCP/9090']);
  const svc = one(objects, 'Service', 'nicguard');
  const named = Object.fromEntries((container.ports as Obj[]).map((p) => [p.name, p.containerPort]));
  for (const p of svc.spec.ports as Obj[])
    assert.ok(ports.includes(`TCP/${named[p.targetPort]}`), `Service port ${p.name} is admitted`);
});

test('Service, PodDisruptionBudget and Deployment select the same pods; Service maps 443 to 8443', () => {
  const objects = baseObjects();
  const deploy = one(objects, 'Deployment', 'nicguard');
  const podLabels = deploy.spec.template.metadata.labels;
  const selects = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
  const svc = one(objects, 'Service', 'nicguard');
  assert.ok(selects(svc.spec.selector), 'Service selector');
  assert.ok(selects(deploy.spec.selector.matchLabels), 'Deployment selector');
  const pdb = one(objects, 'PodDisruptionBudget', 'nicguard');
  assert.ok(selects(pdb.spec.selector.matchLabels), 'PDB selector');
  assert.equal(pdb.spec.minAvailable, 1);
  const https = (svc.spec.ports as Obj[]).find((p) => p.port === 443);
  assert.equal(https?.targetPort, 'https');
  assert.ok((svc.spec.ports as Obj[]).some((p) => p.name === 'metrics' && p.targetPort === 'metrics'));
  const ns = one(objects, 'Namespace', 'nicguard-system');
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
});

test('the shipped config.yaml validates and spells out every default', () => {
  const text = readFileSync(join(MANIFESTS, 'base', 'config.yaml'), 'utf8');
  const doc = parse(text) as Obj;
  const resolved = resolveConfig(doc, 'manifests/base/config.yaml');
  assert.deepEqual(resolved, defaultConfig(), 'the written values are the defaults');
  const { apiVersion, kind, ...settings } = doc;
  assert.deepEqual([apiVersion, kind], ['nicguard.io/v1alpha1', 'PolicyConfig']);
  assert.deepEqual(Object.keys(settings).sort(), Object.keys(defaultConfig()).sort(), 'every setting written out');
  assert.deepEqual(Object.keys(doc.rules).sort(), Object.keys(defaultConfig().rules).sort(), 'every rule written out');
  const g = kustomization('base').configMapGenerator as Obj[];
  assert.deepEqual(
    g.map((x) => [x.name, x.namespace, x.files]),
    [['nicguard-config', 'nicguard-system', ['config.yaml']]],
  );
  assert.equal(
    g[0].options.disableNameSuffixHash,
    true,
    'a stable name, so edits reach the running pods and are hot-reloaded',
  );
});

test('cert-manager overlay: CA chain, serving certificate for the Service names, CA injection on both webhooks', () => {
  const k = kustomization('overlays/cert-manager');
  assert.ok((k.resources as string[]).includes('../../base'));
  const certs = docs('overlays/cert-manager/certificates.yaml');
  const serving = one(certs, 'Certificate', 'nicguard-serving');
  assert.equal(serving.spec.secretName, 'nicguard-tls', 'the Secret the Deployment mounts');
  assert.deepEqual(serving.spec.dnsNames, serviceDnsNames('nicguard', 'nicguard-system'));
  assert.ok(serving.spec.usages.includes('server auth'));
  const caIssuer = one(certs, 'Issuer', serving.spec.issuerRef.name);
  const caCert = one(certs, 'Certificate', 'nicguard-ca');
  assert.equal(caCert.spec.isCA, true);
  assert.equal(caIssuer.spec.ca.secretName, caCert.spec.secretName);
  assert.ok(one(certs, 'Issuer', caCert.spec.issuerRef.name).spec.selfSigned);
  const patched = (k.patches as Obj[]).map((p) => parse(p.patch) as Obj);
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
    const p = one(patched, kind, 'nicguard');
    assert.equal(
      p.metadata.annotations['cert-manager.io/inject-ca-from'],
      `${serving.metadata.namespace}/${serving.metadata.name}`,
    );
  }
});

test('plain overlay: TLS Secret from the nicguard certs files, CA copied into every webhook', () => {
  const k = kustomization('overlays/plain');
  assert.ok((k.resources as string[]).includes('../../base'));
  const [secret] = k.secretGenerator as Obj[];
  assert.equal(secret.name, 'nicguard-tls');
  assert.equal(secret.namespace, 'nicguard-system');
  assert.equal(secret.type, 'kubernetes.io/tls');
  assert.deepEqual([...secret.files].sort(), ['ca.crt=certs/ca.crt', 'tls.crt=certs/tls.crt', 'tls.key=certs/tls.key']);
  const targets = (k.replacements as Obj[]).flatMap((r) => {
    assert.deepEqual([r.source.kind, r.source.name, r.source.fieldPath], ['Secret', 'nicguard-tls', 'data.[ca.crt]']);
    return (r.targets as Obj[]).map((t) => `${t.select.kind}:${t.fieldPaths.join(',')}`);
  });
  assert.deepEqual(targets.sort(), [
    'MutatingWebhookConfiguration:webhooks.*.clientConfig.caBundle',
    'ValidatingWebhookConfiguration:webhooks.*.clientConfig.caBundle',
  ]);
});

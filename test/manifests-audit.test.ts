// manifests/overlays/audit: the hourly `nicguard audit --apply` CronJob. Its RBAC is exactly
// what the audit reads and writes, derived from the kind table, and the webhook's own
// role gains nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { KIND_FACTS } from '../src/engine/kinds.js';
import { CLUSTER_POLICY_REPORTS, POLICY_REPORTS } from '../src/cli/format/policyreport.js';
import { ROOT } from './support.js';

type Obj = Record<string, any>;

const OVERLAY = join(ROOT, 'manifests', 'overlays', 'audit');

function docs(path: string): Obj[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${path}: ${d.errors[0]?.message}`);
    return d.toJS() as Obj;
  });
}

function overlayObjects(): Obj[] {
  const k = parse(readFileSync(join(OVERLAY, 'kustomization.yaml'), 'utf8')) as Obj;
  for (const r of k.resources as string[]) assert.ok(existsSync(join(OVERLAY, r)), `resource ${r}`);
  assert.ok(
    (k.labels as Obj[]).some((l) => l.pairs?.['app.kubernetes.io/part-of'] === 'nicguard'),
    'part-of label, as the uninstall selects by it',
  );
  return (k.resources as string[]).flatMap((r) => docs(join(OVERLAY, r)));
}

function one(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0];
}

/** `group/resource` -> sorted verbs. */
function grants(role: Obj): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of role.rules as Obj[]) {
    assert.equal(r.resourceNames, undefined);
    assert.equal(r.nonResourceURLs, undefined);
    for (const g of r.apiGroups as string[])
      for (const res of r.resources as string[]) out[`${g}/${res}`] = [...r.verbs].sort();
  }
  return out;
}

test('audit RBAC: get/list on the kinds it reads, and writes to its reports only', () => {
  const objects = overlayObjects();
  const read = ['get', 'list'];
  const expected: Record<string, string[]> = {};
  for (const facts of Object.values(KIND_FACTS)) expected[`${facts.group}/${facts.plural}`] = read;
  expected[`${POLICY_REPORTS.group}/${POLICY_REPORTS.plural}`] = ['create', 'delete', 'get', 'list', 'update'];
  expected[`${CLUSTER_POLICY_REPORTS.group}/${CLUSTER_POLICY_REPORTS.plural}`] = [
    'create',
    'delete',
    'get',
    'list',
    'update',
  ];
  const role = one(objects, 'ClusterRole');
  assert.equal(role.metadata.name, 'nicguard-audit');
  assert.deepEqual(grants(role), expected);
  assert.deepEqual(Object.keys(expected).sort(), [
    'k8s.cni.cncf.io/network-attachment-definitions',
    'kubeovn.io/subnets',
    'kubevirt.io/kubevirts',
    'kubevirt.io/virtualmachineinstances',
    'kubevirt.io/virtualmachines',
    'wgpolicyk8s.io/clusterpolicyreports',
    'wgpolicyk8s.io/policyreports',
  ]);
  const binding = one(objects, 'ClusterRoleBinding');
  assert.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'ClusterRole',
    name: 'nicguard-audit',
  });
  assert.deepEqual(binding.subjects, [
    { kind: 'ServiceAccount', name: 'nicguard-audit', namespace: 'nicguard-system' },
  ]);
  assert.equal(one(objects, 'ServiceAccount').metadata.name, 'nicguard-audit');
  assert.equal(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding').length, 0);
});

test("the webhook's role gains nothing: no report writes, no VMs", () => {
  const base = docs(join(ROOT, 'manifests', 'base', 'rbac.yaml'));
  const role = base.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'nicguard') as Obj;
  const granted = Object.keys(grants(role));
  assert.ok(
    !granted.some((g) => g.startsWith('wgpolicyk8s.io/') || g === 'kubevirt.io/virtualmachines'),
    granted.join(', '),
  );
});

test('the CronJob runs `audit --apply` hourly, never overlapping, as its own locked-down ServiceAccount', () => {
  const cron = one(overlayObjects(), 'CronJob');
  assert.equal(cron.metadata.namespace, 'nicguard-system');
  const [minute, ...rest] = String(cron.spec.schedule).split(' ');
  assert.ok(Number(minute) >= 0 && Number(minute) < 60, 'a fixed minute');
  assert.deepEqual(rest, ['*', '*', '*', '*'], 'every hour');
  assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
  const pod = cron.spec.jobTemplate.spec.template.spec;
  assert.equal(pod.serviceAccountName, 'nicguard-audit');
  assert.equal(pod.restartPolicy, 'Never');
  const [container] = pod.containers;
  assert.deepEqual(container.args.slice(0, 2), ['audit', '--apply']);
  // Findings are reported in the PolicyReports; the Job fails only when the audit cannot run.
  assert.equal(container.args[container.args.indexOf('--fail-exit-code') + 1], '0');
  assert.equal(container.args[container.args.indexOf('--config') + 1], '/config/config.yaml');
  assert.equal(pod.volumes.find((v: Obj) => v.name === 'config').configMap.name, 'nicguard-config');
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const image = one(docs(join(ROOT, 'manifests', 'base', 'deployment.yaml')), 'Deployment').spec.template.spec
    .containers[0].image;
  assert.equal(container.image, image, 'the same image as the webhook');
});

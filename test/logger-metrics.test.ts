// The decision log line (built as a template, not through pino's generic path) and the
// metrics the scale work added: the dry_run label and the cached objects per resource.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, logDecision, type DecisionLog } from '../src/server/logger.js';
import { WebhookMetrics } from '../src/server/metrics.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

const entry: DecisionLog = {
  uid: 'u-1',
  webhook: 'validate',
  kind: 'VirtualMachine',
  object: 'team "a"/vm\\1\n',
  operation: 'UPDATE',
  user: 'system:serviceaccount:kubevirt:kubevirt-controller',
  dryRun: true,
  decision: 'denied',
  rules: ['hotplug-binding', 'nad-exists'],
  ms: 0.153,
};

test('the decision line is the line pino writes for the same fields, with an epoch time', async () => {
  const { lines, stream } = capture();
  const logger = createLogger('info', stream);
  logDecision(logger, entry);
  logger.info({ ...entry }, 'admission decision');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2);
  const [fast, generic] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(typeof fast.time, 'number');
  assert.ok(Math.abs((fast.time as number) - Date.now()) < 60_000);
  assert.deepEqual({ ...fast, time: 0 }, { ...generic, time: 0 });
  assert.deepEqual(Object.keys(fast), Object.keys(generic), 'same field order');
  assert.equal(fast.object, entry.object, 'quotes, backslashes and newlines survive');
});

test('no decision line below info level', async () => {
  const { lines, stream } = capture();
  logDecision(createLogger('warn', stream), entry);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines, []);
});

test('requests are counted by dry_run, and cached objects per resource are a gauge', async () => {
  const metrics = new WebhookMetrics({ defaultMetrics: false });
  const sample = {
    webhook: 'validate',
    kind: 'VirtualMachine',
    operation: 'UPDATE',
    decision: 'allowed' as const,
    seconds: 0.001,
    findings: [],
  };
  metrics.recordDecision({ ...sample, dryRun: true });
  metrics.recordDecision({ ...sample, dryRun: false });
  metrics.recordDecision({ ...sample, dryRun: false });
  let vmis = 1500;
  metrics.setObjectCountSource(() => ({ 'virtualmachineinstances.kubevirt.io': vmis, 'subnets.kubeovn.io': 0 }));
  let text = (await metrics.render()).body;
  assert.match(
    text,
    new RegExp(
      /nicguard_admission_requests_total\{webhook="validate",kind="VirtualMachine",operation="UPDATE",/.source +
        /decision="allowed",dry_run="true"\} 1\n/.source,
    ),
  );
  assert.match(
    text,
    new RegExp(
      /nicguard_admission_requests_total\{webhook="validate",kind="VirtualMachine",operation="UPDATE",/.source +
        /decision="allowed",dry_run="false"\} 2\n/.source,
    ),
  );
  assert.match(text, /nicguard_cluster_cache_objects\{resource="virtualmachineinstances\.kubevirt\.io"\} 1500\n/);
  assert.match(text, /nicguard_cluster_cache_objects\{resource="subnets\.kubeovn\.io"\} 0\n/);
  vmis = 2000;
  text = (await metrics.render()).body;
  assert.match(
    text,
    /nicguard_cluster_cache_objects\{resource="virtualmachineinstances\.kubevirt\.io"\} 2000\n/,
    'read at each scrape',
  );
});

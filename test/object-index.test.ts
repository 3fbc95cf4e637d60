import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectIndex } from '../src/cluster/object-index.js';
import type { Manifest as KubeObject } from './support.js';

function nad(namespace: string, name: string): KubeObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { namespace, name },
    spec: { config: '{}' },
  };
}

function subnet(name: string, provider?: string): KubeObject {
  return {
    apiVersion: 'kubeovn.io/v1',
    kind: 'Subnet',
    metadata: { name },
    spec: provider ? { provider, cidrBlock: '10.1.0.0/16' } : {},
  };
}

const names = (objs: KubeObject[]) => objs.map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`).sort();

test('NADs are found by namespace/name and by name across namespaces', () => {
  const index = new ObjectIndex();
  index.upsert(nad('default', 'attachnet'));
  index.upsert(nad('other', 'attachnet'));
  index.upsert(nad('default', 'new-fancy-net'));
  assert.equal(index.getNetworkAttachmentDefinition('other', 'attachnet')?.metadata?.namespace, 'other');
  assert.equal(index.getNetworkAttachmentDefinition('nowhere', 'attachnet'), undefined);
  assert.deepEqual(names(index.findNetworkAttachmentDefinitionsByName('attachnet')), [
    'default/attachnet',
    'other/attachnet',
  ]);
  index.remove(nad('other', 'attachnet'));
  assert.deepEqual(names(index.findNetworkAttachmentDefinitionsByName('attachnet')), ['default/attachnet']);
});

test('a Subnet whose provider changes moves to its new provider, and a deleted one is gone', () => {
  const index = new ObjectIndex();
  index.upsert(subnet('attachnet', 'attachnet.default.ovn'));
  index.upsert(subnet('second', 'attachnet.default.ovn'));
  assert.equal(index.findSubnetsByProvider('attachnet.default.ovn').length, 2);
  index.upsert(subnet('second', 'other.default.ovn'));
  assert.deepEqual(names(index.findSubnetsByProvider('attachnet.default.ovn')), ['/attachnet']);
  assert.deepEqual(names(index.findSubnetsByProvider('other.default.ovn')), ['/second']);
  index.upsert(subnet('second'));
  assert.deepEqual(index.findSubnetsByProvider('other.default.ovn'), []);
  index.remove(subnet('attachnet'));
  assert.deepEqual(index.findSubnetsByProvider('attachnet.default.ovn'), []);
});

test('replaceAll drops what the new list does not hold, in every lookup', () => {
  const index = new ObjectIndex();
  index.upsert(subnet('old', 'old.default.ovn'));
  index.upsert(nad('default', 'gone'));
  index.replaceAll('Subnet', [subnet('fresh', 'fresh.default.ovn')]);
  index.replaceAll('NetworkAttachmentDefinition', []);
  assert.deepEqual(index.findSubnetsByProvider('old.default.ovn'), []);
  assert.deepEqual(names(index.findSubnetsByProvider('fresh.default.ovn')), ['/fresh']);
  assert.deepEqual(index.findNetworkAttachmentDefinitionsByName('gone'), []);
  assert.equal(index.size, 1);
});

test('objects of other kinds or groups are not kept', () => {
  const index = new ObjectIndex();
  assert.equal(
    index.upsert({ apiVersion: 'example.com/v1', kind: 'Subnet', metadata: { name: 'x' }, spec: { provider: 'p' } }),
    false,
  );
  assert.equal(index.upsert({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }), false);
  assert.deepEqual(index.findSubnetsByProvider('p'), []);
});

// Fixtures for the VM hotplug rule tests, built on the seed scenarios in examples/.
import type { PolicyConfig, RuleId, RuleSetting } from '../src/engine/types.js';
import type { Manifest as KubeObject } from './support.js';
import { addNic, clone, config, example, vmSpec } from './support.js';

/** A config with some rules set (support's config() wants every rule when `rules` is given). */
export function withRules(
  rules: Partial<Record<RuleId, RuleSetting>>,
  other: Partial<PolicyConfig> = {},
): PolicyConfig {
  return config({ ...other, rules: rules as Record<RuleId, RuleSetting> });
}

/** vm-fedora as it runs before any hotplug: one masquerade NIC on the pod network. */
export function fedora(): KubeObject {
  return example('old/vm-fedora.yaml');
}

/** vm-fedora after the seeds' hotplug: plus dyniface1, bridge on the Kube-OVN network attachnet. */
export function fedoraWithBridge(): KubeObject {
  return example('new/vm-fedora.yaml');
}

/** The VMI KubeVirt would start from a VM (same name, namespace and spec). */
export function asVmi(vm: KubeObject): KubeObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: vm.metadata!.name, namespace: vm.metadata!.namespace },
    spec: clone(vm.spec.template.spec),
  };
}

/** The same VM, stopped: it boots with whatever spec it has, so it may be edited freely. */
export function stopped(vm: KubeObject): KubeObject {
  const copy = clone(vm);
  copy.spec.runStrategy = 'Halted';
  copy.status = { printableStatus: 'Stopped', ready: false };
  return copy;
}

export function interfacesOf(vm: KubeObject): any[] {
  return vmSpec(vm).domain.devices.interfaces;
}

export function networksOf(vm: KubeObject): any[] {
  return vmSpec(vm).networks;
}

export function ifaceNamed(vm: KubeObject, name: string): any {
  return interfacesOf(vm).find((i) => i.name === name);
}

/** Adds a secondary NIC on a multus network (mutates and returns the VM). */
export function addMultusNic(
  vm: KubeObject,
  name: string,
  binding: Record<string, unknown>,
  networkName: string,
): KubeObject {
  return addNic(vm, { name, ...binding }, { name, multus: { networkName } });
}

/** Removes an interface and, unless told otherwise, its network (mutates and returns the VM). */
export function removeNic(vm: KubeObject, name: string, { keepNetwork = false } = {}): KubeObject {
  const spec = vmSpec(vm);
  spec.domain.devices.interfaces = spec.domain.devices.interfaces.filter((i: any) => i.name !== name);
  if (!keepNetwork) spec.networks = spec.networks.filter((n: any) => n.name !== name);
  return vm;
}

export const KUBEVIRT_CONTROLLER = 'system:serviceaccount:kubevirt:kubevirt-controller';

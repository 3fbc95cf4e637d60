// The CRD schemas nicguard ships in schemas/ (KubeVirt v1.8.4, Multus v4.3.0, Kube-OVN
// v1.15.24; each folder's README says how they are regenerated), read for the schema rule.
import { readFileSync } from 'node:fs';
import type { JudgedKind } from '../engine/kinds.js';

const FILES: Record<JudgedKind, string> = {
  VirtualMachine: 'kubevirt/virtualmachine.v1.schema.json',
  VirtualMachineInstance: 'kubevirt/virtualmachineinstance.v1.schema.json',
  NetworkAttachmentDefinition: 'multus/networkattachmentdefinition.v1.schema.json',
  Subnet: 'kube-ovn/subnet.v1.schema.json',
};

const SCHEMAS_DIR = new URL('../../../schemas/', import.meta.url);

export function readCrdSchema(kind: JudgedKind): unknown {
  return JSON.parse(readFileSync(new URL(FILES[kind], SCHEMAS_DIR), 'utf8'));
}

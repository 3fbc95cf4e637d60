// An in-memory ClusterView. Both real views feed one of these: the file view once from a
// folder, the informer view from list/watch events. Lookups are map reads.
import type { ClusterView, KubeObject, KubeOvnSubnet, NetworkAttachmentDefinition } from '../engine/types.js';

export type IndexedKind = 'NetworkAttachmentDefinition' | 'Subnet' | 'VirtualMachineInstance' | 'KubeVirt';

const INDEXED: Record<string, { kind: IndexedKind; group: string }> = {
  NetworkAttachmentDefinition: { kind: 'NetworkAttachmentDefinition', group: 'k8s.cni.cncf.io' },
  Subnet: { kind: 'Subnet', group: 'kubeovn.io' },
  VirtualMachineInstance: { kind: 'VirtualMachineInstance', group: 'kubevirt.io' },
  KubeVirt: { kind: 'KubeVirt', group: 'kubevirt.io' },
};

/** The indexed kind of an object, judged by kind and API group; undefined for others. */
export function indexedKindOf(obj: KubeObject): IndexedKind | undefined {
  const entry = obj.kind ? INDEXED[obj.kind] : undefined;
  if (!entry) return undefined;
  const group = (obj.apiVersion ?? '').split('/').slice(0, -1).join('/');
  return group === entry.group ? entry.kind : undefined;
}

function key(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export class ObjectIndex implements ClusterView {
  private readonly byKind = new Map<IndexedKind, Map<string, KubeObject>>();

  private bucket(kind: IndexedKind): Map<string, KubeObject> {
    let b = this.byKind.get(kind);
    if (!b) this.byKind.set(kind, (b = new Map()));
    return b;
  }

  /** Adds or replaces an object; returns false for kinds the view does not keep. */
  upsert(obj: KubeObject, kind: IndexedKind | undefined = indexedKindOf(obj)): boolean {
    if (!kind || !obj.metadata?.name) return false;
    this.bucket(kind).set(key(obj), obj);
    return true;
  }

  remove(obj: KubeObject, kind: IndexedKind | undefined = indexedKindOf(obj)): void {
    if (kind) this.bucket(kind).delete(key(obj));
  }

  /** Replaces every object of a kind, as after a fresh list. */
  replaceAll(kind: IndexedKind, objects: KubeObject[]): void {
    const b = new Map<string, KubeObject>();
    for (const o of objects) if (o.metadata?.name) b.set(key(o), o);
    this.byKind.set(kind, b);
  }

  list(kind: IndexedKind): KubeObject[] {
    return [...this.bucket(kind).values()];
  }

  get size(): number {
    let n = 0;
    for (const b of this.byKind.values()) n += b.size;
    return n;
  }

  getNetworkAttachmentDefinition(namespace: string, name: string): NetworkAttachmentDefinition | undefined {
    return this.bucket('NetworkAttachmentDefinition').get(`${namespace}/${name}`);
  }

  findNetworkAttachmentDefinitionsByName(name: string): NetworkAttachmentDefinition[] {
    return this.list('NetworkAttachmentDefinition').filter((n) => n.metadata?.name === name);
  }

  findSubnetsByProvider(provider: string): KubeOvnSubnet[] {
    return this.list('Subnet').filter((s) => s.spec?.provider === provider);
  }

  getVirtualMachineInstance(namespace: string, name: string): KubeObject | undefined {
    return this.bucket('VirtualMachineInstance').get(`${namespace}/${name}`);
  }

  getKubeVirt(): KubeObject | undefined {
    return this.list('KubeVirt')[0];
  }
}

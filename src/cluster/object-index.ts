// An in-memory ClusterView. Both real views feed one of these: the file view once from a
// folder, the informer view from list/watch events. Lookups are map reads.
import { INDEXED_KINDS, isIndexedKind, kindOfObject, resourceName, type IndexedKind } from '../engine/kinds.js';
import type { ClusterView, KubeObject, KubeOvnSubnet, NetworkAttachmentDefinition } from '../engine/types.js';
import { dig, stringOf } from '../engine/values.js';

export type { IndexedKind };

/** The indexed kind of an object, judged by kind and API group (src/engine/kinds.ts); undefined for others. */
export function indexedKindOf(obj: KubeObject): IndexedKind | undefined {
  const kind = kindOfObject(obj);
  return isIndexedKind(kind) ? kind : undefined;
}

/** Lookups the engine makes on every request besides namespace/name; kept in step with the objects. */
const SECONDARY_KEYS: Partial<Record<IndexedKind, (obj: KubeObject) => string | undefined>> = {
  NetworkAttachmentDefinition: (obj) => obj.metadata?.name,
  Subnet: (obj) => stringOf(dig(obj, 'spec', 'provider')),
};

/** The primary key of an object in its kind's bucket. */
export function objectKey(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export class ObjectIndex implements ClusterView {
  private readonly byKind = new Map<IndexedKind, Map<string, KubeObject>>();
  /** kind -> secondary key -> namespace/name -> object, so lookups do not scan the cluster. */
  private readonly secondary = new Map<IndexedKind, Map<string, Map<string, KubeObject>>>();

  private bucket(kind: IndexedKind): Map<string, KubeObject> {
    let b = this.byKind.get(kind);
    if (!b) this.byKind.set(kind, (b = new Map()));
    return b;
  }

  private link(kind: IndexedKind, k: string, obj: KubeObject | undefined, add: boolean): void {
    const secondaryKey = obj && SECONDARY_KEYS[kind]?.(obj);
    if (secondaryKey === undefined) return;
    let byValue = this.secondary.get(kind);
    if (!byValue) this.secondary.set(kind, (byValue = new Map()));
    let objects = byValue.get(secondaryKey);
    if (add) {
      if (!objects) byValue.set(secondaryKey, (objects = new Map()));
      objects.set(k, obj!);
    } else if (objects) {
      objects.delete(k);
      if (objects.size === 0) byValue.delete(secondaryKey);
    }
  }

  private bySecondary(kind: IndexedKind, secondaryKey: string): KubeObject[] {
    const objects = this.secondary.get(kind)?.get(secondaryKey);
    return objects ? [...objects.values()] : [];
  }

  /** Adds or replaces an object; returns false for kinds the view does not keep. */
  upsert(obj: KubeObject, kind: IndexedKind | undefined = indexedKindOf(obj)): boolean {
    if (!kind || !obj.metadata?.name) return false;
    const k = objectKey(obj);
    const bucket = this.bucket(kind);
    this.link(kind, k, bucket.get(k), false);
    bucket.set(k, obj);
    this.link(kind, k, obj, true);
    return true;
  }

  remove(obj: KubeObject, kind: IndexedKind | undefined = indexedKindOf(obj)): void {
    if (!kind) return;
    const k = objectKey(obj);
    const bucket = this.bucket(kind);
    this.link(kind, k, bucket.get(k), false);
    bucket.delete(k);
  }

  /**
   * Drops the objects of a kind whose key is not in `keep`: the end of a relist that
   * upserted page by page, so lookups never see a half-empty kind meanwhile. Every key in
   * `keep` must be the key of an object in the index (one the list upserted or kept).
   */
  retainOnly(kind: IndexedKind, keep: ReadonlySet<string>): number {
    let dropped = 0;
    const bucket = this.bucket(kind);
    // The usual case, and a walk of 100,000 entries in one block (~80 ms) spared: every key
    // kept is in the bucket (see above), so equal sizes mean there is nothing to drop.
    if (bucket.size === keep.size) return 0;
    for (const [k, obj] of bucket) {
      if (keep.has(k)) continue;
      this.link(kind, k, obj, false);
      bucket.delete(k);
      dropped++;
    }
    return dropped;
  }

  /** The cached object of a kind with this namespace/name key, if any. */
  cached(kind: IndexedKind, key: string): KubeObject | undefined {
    return this.byKind.get(kind)?.get(key);
  }

  /** Objects of one kind. */
  count(kind: IndexedKind): number {
    return this.bucket(kind).size;
  }

  /** Objects per resource (`plural.group`), as the metrics name them. */
  objectCounts(): Record<string, number> {
    return Object.fromEntries(INDEXED_KINDS.map((kind) => [resourceName(kind), this.count(kind)]));
  }

  /** Replaces every object of a kind, as after a fresh list. */
  replaceAll(kind: IndexedKind, objects: KubeObject[]): void {
    this.byKind.set(kind, new Map());
    this.secondary.delete(kind);
    for (const o of objects) this.upsert(o, kind);
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
    return this.bySecondary('NetworkAttachmentDefinition', name);
  }

  findSubnetsByProvider(provider: string): KubeOvnSubnet[] {
    return this.bySecondary('Subnet', provider);
  }

  getVirtualMachineInstance(namespace: string, name: string): KubeObject | undefined {
    return this.bucket('VirtualMachineInstance').get(`${namespace}/${name}`);
  }

  getKubeVirt(): KubeObject | undefined {
    return this.list('KubeVirt')[0];
  }
}

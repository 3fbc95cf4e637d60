// Requests built from manifests instead of the API server: what `nicguard validate` and
// `nicguard explain` judge. One builder, so both give an object the same namespace, the
// same identity and the same operation.
import { groupOfApiVersion, KIND_FACTS, knownKindOf } from '../engine/kinds.js';
import type { KubeObject, PolicyRequest } from '../engine/types.js';
import { stringOf } from '../engine/values.js';

/** Whether the API server would give this object a namespace; kinds nicguard does not know are left alone. */
function isNamespaced(obj: KubeObject): boolean {
  const kind = knownKindOf(obj.kind, groupOfApiVersion(obj.apiVersion));
  return kind ? KIND_FACTS[kind].namespaced : false;
}

/** The object with the namespace `kubectl apply -n` would give it, where it names none. */
export function withDefaultNamespace(obj: KubeObject, namespace: string): KubeObject {
  if (!isNamespaced(obj) || obj.metadata?.namespace) return obj;
  return { ...obj, metadata: { ...(obj.metadata ?? {}), namespace } };
}

/** Same group, kind, namespace and name: the previous version of an object. generateName objects have none. */
export function objectIdentity(obj: KubeObject, namespace: string): string | undefined {
  const name = stringOf(obj.metadata?.name);
  if (!name) return undefined;
  const ns = stringOf(obj.metadata?.namespace) ?? (isNamespaced(obj) ? namespace : '');
  return `${groupOfApiVersion(obj.apiVersion)}/${String(obj.kind)}/${ns}/${name}`;
}

export interface OfflineChange {
  object: KubeObject;
  /** The previous version: makes the request an UPDATE. */
  oldObject?: KubeObject;
  /** Namespace of namespaced objects that name none, as `kubectl apply` assumes. */
  namespace: string;
  /** userInfo.username of the simulated request. */
  user?: string;
}

/** The request the API server would send for this change, marked dry-run. */
export function offlineRequest(change: OfflineChange): PolicyRequest {
  const object = withDefaultNamespace(change.object, change.namespace);
  const old = change.oldObject && withDefaultNamespace(change.oldObject, change.namespace);
  const namespace = stringOf(object.metadata?.namespace);
  const name = stringOf(object.metadata?.name);
  return {
    operation: old ? 'UPDATE' : 'CREATE',
    kind: stringOf(object.kind) ?? '',
    group: groupOfApiVersion(object.apiVersion),
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
    object,
    ...(old ? { oldObject: old } : {}),
    ...(change.user ? { userInfo: { username: change.user } } : {}),
    dryRun: true,
    fromManifest: true,
  };
}

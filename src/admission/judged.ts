// Whether nicguard judges a request at all: the one predicate the webhook, the CLI and
// the engine share. Everything else (other kinds, DELETE and CONNECT, subresources such as
// `status`, where the spec does not change) is allowed untouched.
import { groupOfApiVersion, isJudgedKind, knownKindOf, type JudgedKind } from '../engine/kinds.js';
import type { PolicyRequest } from '../engine/types.js';

/** The judged kind of a request by its kind and group (or, offline, its object's apiVersion). */
export function judgedKindOf(
  request: Pick<PolicyRequest, 'kind' | 'group' | 'object' | 'oldObject'>,
): JudgedKind | undefined {
  const group = request.group || groupOfApiVersion(request.object?.apiVersion ?? request.oldObject?.apiVersion);
  const kind = knownKindOf(request.kind, group);
  return isJudgedKind(kind) ? kind : undefined;
}

/** True when the rules judge this request; `subResource` as the AdmissionRequest gives it. */
export function isJudged(request: PolicyRequest, subResource?: string): boolean {
  return (
    !subResource &&
    (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
    judgedKindOf(request) !== undefined
  );
}

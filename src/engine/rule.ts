// The contract between the evaluator and the rule families in ./rules/.
import type { Action, ClusterView, KubeObject, PolicyConfig, PolicyRequest, RuleId, SupportedKind } from './types.js';
import type { VmView } from './vm.js';

export interface RuleContext {
  request: PolicyRequest;
  kind: SupportedKind;
  /** `Kind namespace/name` for messages. */
  ref: string;
  config: PolicyConfig;
  cluster: ClusterView;
  /** The object being admitted (after mutation, in the validating phase). */
  object?: KubeObject;
  oldObject?: KubeObject;
  /** Parsed VM/VMI network views; set only for those kinds. */
  vm?: VmView;
  oldVm?: VmView;
  /** UPDATE of a running VM or VMI: the hotplug rules apply. */
  hotplug: boolean;
  /** The request comes from a KubeVirt controller or an exempt namespace: hotplug rules stay quiet. */
  exempt: boolean;
}

/**
 * Report a problem. `action` is the rule's natural action for this case (e.g. nad-exists
 * denies on hotplug, warns on create); configuration may lower it to warn or turn it off.
 */
export type Report = (rule: RuleId, message: string, field?: string, action?: Action) => void;

export interface ValidationRule {
  ids: readonly RuleId[];
  kinds: readonly SupportedKind[];
  validate(ctx: RuleContext, report: Report): void;
}

/** Edits `draft` (a copy of the request object) in place; returns the warnings that explain each edit. */
export interface MutationRule {
  id: RuleId;
  kinds: readonly SupportedKind[];
  /** Cheap test whether `mutate` would change anything; without it, the object is always cloned and diffed. */
  applies?(ctx: RuleContext): boolean;
  mutate(ctx: RuleContext, draft: KubeObject, report: Report): void;
}

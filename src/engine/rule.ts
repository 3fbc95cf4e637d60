// The contract between the evaluator and the rules in ./rules/. A rule is one file that
// exports one descriptor; a check is a pure function of a typed context that returns the
// causes it finds, as KubeVirt's admitters return StatusCauses (pkg/network/admitter).
import type { FieldPath } from './field-path.js';
import type { VmKind } from './kinds.js';
import type {
  KubeObject,
  ClusterView,
  PolicyConfig,
  PolicyRequest,
  Action,
  RuleSetting,
  NetworkAttachmentDefinition,
  KubeOvnSubnet,
} from './types.js';
import type { HotplugChange, VmFacts } from './analysis.js';
import type { EditedPaths } from './draft.js';
import type { VmView } from './vm.js';

/** What every context holds. */
export interface BaseContext {
  request: PolicyRequest;
  config: PolicyConfig;
  cluster: ClusterView;
  /** `Kind namespace/name` for messages. */
  ref: string;
  /** The request comes from an exempt service account or namespace: rules about changes stay quiet. */
  exempt: boolean;
}

export interface VmContext extends BaseContext {
  kind: VmKind;
  /** The object being admitted (after mutation, in the validating phase). */
  object: KubeObject;
  vm: VmView;
  /** The previous version, on UPDATE. */
  old?: { object: KubeObject; vm: VmView };
  /** Facts several rules read, computed once per request. */
  facts: VmFacts;
}

export interface NadContext extends BaseContext {
  kind: 'NetworkAttachmentDefinition';
  nad: NetworkAttachmentDefinition;
  oldNad?: NetworkAttachmentDefinition;
  /** The NAD's namespace, or the request's where the object names none. */
  namespace: string;
}

export interface SubnetContext extends BaseContext {
  kind: 'Subnet';
  subnet: KubeOvnSubnet;
  oldSubnet?: KubeOvnSubnet;
  /** spec as an object (empty when missing or malformed). */
  spec: Record<string, unknown>;
}

/** A VM context for an update of a running VM or VMI by a user (not an exempt account): a hotplug. */
export interface HotplugContext extends VmContext {
  change: HotplugChange;
}

export type RuleContext = VmContext | NadContext | SubnetContext;

/** One problem a check found. */
export interface Cause {
  message: string;
  field?: FieldPath;
  /**
   * The rule's natural action for this case (e.g. nad-exists denies on hotplug, warns on
   * create); the configured setting may lower it to warn or turn it off. Default: deny.
   */
  action?: Action;
  /**
   * Another rule that reports the same root cause with a better message: while that rule
   * is not off, this cause is dropped, so one mistake is reported once.
   */
  reportedBy?: string;
  /**
   * As many more causes like this one (same action) that the check counted but did not build:
   * a list of 50,000 bad entries costs a message per listed entry, not one per entry.
   */
  more?: number;
}

/** Findings one rule lists in one request; past this they are counted, not listed. */
export const FINDINGS_PER_RULE = 20;

/**
 * Collects a cause per bad entry of a list, building at most FINDINGS_PER_RULE of each action
 * (a deny is never hidden behind warnings) and counting the rest on the last one built.
 */
export class ListCauses {
  readonly causes: Cause[] = [];
  private readonly last = new Map<Action, Cause>();
  private readonly built = new Map<Action, number>();

  /** Adds the cause `make` builds, or counts it when enough of its action are built. */
  add(action: Action, make: () => Cause): void {
    const built = this.built.get(action) ?? 0;
    const last = this.last.get(action);
    if (built >= FINDINGS_PER_RULE && last) {
      last.more = (last.more ?? 0) + 1;
      return;
    }
    const cause = make();
    this.causes.push(cause);
    this.last.set(action, cause);
    this.built.set(action, built + 1);
  }
}

/** Edits `draft` (a copy of the request object) in place; returns the causes that explain each edit. */
export type Mutation = (ctx: HotplugContext, draft: KubeObject) => Cause[];

export interface RuleChecks {
  /** VirtualMachine and VirtualMachineInstance, any create or update. */
  vm?: (ctx: VmContext) => Cause[];
  /**
   * Only an update of a running VM or VMI by a user: what the update plugs and unplugs.
   * A stopped VM boots with its new spec, and KubeVirt's controllers carry out specs that
   * were judged when a user wrote them, so neither reaches these checks.
   */
  hotplug?: (ctx: HotplugContext) => Cause[];
  nad?: (ctx: NadContext) => Cause[];
  subnet?: (ctx: SubnetContext) => Cause[];
}

export interface RuleDescriptor<Id extends string = string> {
  id: Id;
  /** A short title, for SARIF and docs headings' companions. */
  title: string;
  /** One line: what the rule guards against (the README's rule table). */
  summary: string;
  /** A few sentences: what the rule demands and why (SARIF's fullDescription). */
  description: string;
  /** The setting when configuration names none. */
  defaultSetting: RuleSetting;
  /** Where the default is softened by the case, e.g. ` on hotplug, warn on create` (the README's table). */
  defaultNote?: string;
  /** Settings configuration may choose; `mutate` only for rules with a mutation. */
  settings: readonly RuleSetting[];
  /** The checks, by the kind of object they judge. */
  check: RuleChecks;
  /**
   * For a rule that has `vm` checks as well as `hotplug` ones: what its hotplug part is,
   * for the CLI's note that a stopped VM's change was not held to it.
   */
  hotplugPart?: string;
  /**
   * For a rule whose setting is `mutate`: the cheap test whether it would change anything
   * (so the evaluator skips cloning and diffing otherwise), the paths of the containers the
   * edit may change (the draft is copied and diffed along those only: src/engine/draft.ts;
   * an edit anywhere else would be lost from the patch), and the edit itself; all run only
   * on a hotplug, as the `hotplug` checks do.
   */
  mutation?: { applies(ctx: HotplugContext): boolean; edits(ctx: HotplugContext): EditedPaths; mutate: Mutation };
}

export const VALIDATION_SETTINGS = ['deny', 'warn', 'off'] as const satisfies readonly RuleSetting[];
export const MUTATION_SETTINGS = ['mutate', 'deny', 'warn', 'off'] as const satisfies readonly RuleSetting[];

/** Declares a rule; the literal id is kept, so the registry can derive the RuleId type. */
export function defineRule<const Id extends string>(rule: RuleDescriptor<Id>): RuleDescriptor<Id> {
  return rule;
}

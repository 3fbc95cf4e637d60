// The engine's single entry point: (request, cluster view, config) -> findings and patch.
// It builds the typed context for the request's kind, runs each registered rule's check
// for that kind, and turns causes into findings under the configured settings.
import { judgedKindOf } from '../admission/judged.js';
import { vmFacts, type HotplugChange } from './analysis.js';
import { draftAlong, patchAlong } from './draft.js';
import { isVmKind, type JudgedKind } from './kinds.js';
import {
  FINDINGS_PER_RULE,
  type Cause,
  type HotplugContext,
  type RuleChecks,
  type RuleContext,
  type VmContext,
} from './rule.js';
import { RULES, type Rule } from './rules/index.js';
import type {
  ClusterView,
  EvaluationResult,
  Finding,
  KubeObject,
  PatchOperation,
  PolicyConfig,
  PolicyRequest,
} from './types.js';
import { stringOf } from './values.js';
import { networkPairing } from './rules/network-pairing.js';
import { KUBEVIRT_LIST_LIMIT, objectRef, overlongLists, viewVm } from './vm.js';

export type Phase = 'mutate' | 'validate' | 'both';

/** A finding's message never grows past this, whatever it quotes. */
const MESSAGE_LIMIT = 2048;
/** Findings one rule reports at one field, and in one request; past these they are counted, not listed. */
const FINDINGS_PER_FIELD = 3;
export { FINDINGS_PER_RULE };

function isExempt(request: PolicyRequest, config: PolicyConfig, namespace: string | undefined): boolean {
  const user = request.userInfo?.username;
  if (user && config.exemptServiceAccounts.includes(user)) return true;
  return namespace !== undefined && config.exemptNamespaces.includes(namespace);
}

/** The context a request's rules see, or undefined for a request no rule judges. */
export function buildContext(
  request: PolicyRequest,
  object: KubeObject,
  cluster: ClusterView,
  config: PolicyConfig,
): RuleContext | undefined {
  const kind = judgedKindOf(request);
  if (!kind || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return undefined;
  const old = request.operation === 'UPDATE' ? request.oldObject : undefined;
  const namespace = request.namespace || stringOf(object.metadata?.namespace) || stringOf(old?.metadata?.namespace);
  const ref = objectRef(kind, object, namespace, request.name);
  const exempt = isExempt(request, config, namespace);
  // Object literals of one shape each, not spreads: a context is built for every request.
  if (isVmKind(kind)) {
    const vm = viewVm(object, kind, namespace);
    const previous = old ? { object: old, vm: viewVm(old, kind, namespace) } : undefined;
    const facts = vmFacts(kind, vm, previous, cluster, config);
    return previous
      ? { request, config, cluster, ref, exempt, kind, object, vm, old: previous, facts }
      : { request, config, cluster, ref, exempt, kind, object, vm, facts };
  }
  if (kind === 'NetworkAttachmentDefinition') {
    const ns = namespace ?? 'default';
    return old
      ? { request, config, cluster, ref, exempt, kind, nad: object, oldNad: old, namespace: ns }
      : { request, config, cluster, ref, exempt, kind, nad: object, namespace: ns };
  }
  const raw = object.spec;
  const spec = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  return old
    ? { request, config, cluster, ref, exempt, kind, subnet: object, oldSubnet: old, spec }
    : { request, config, cluster, ref, exempt, kind, subnet: object, spec };
}

// One hotplug context per VM context, made when a rule first asks (five rules ask per request)
// and kept on the request's facts, so the engine holds no state between requests.
/** A VM context and its change, as one literal (a spread of the context made a far larger object). */
function withChange(ctx: VmContext, change: HotplugChange): HotplugContext {
  const { request, config, cluster, ref, exempt, kind, object, vm, old, facts } = ctx;
  return old
    ? { request, config, cluster, ref, exempt, kind, object, vm, old, facts, change }
    : { request, config, cluster, ref, exempt, kind, object, vm, facts, change };
}

/** The hotplug context of a VM request: an update of a running VM or VMI by a user; else undefined. */
function hotplugContext(ctx: VmContext): HotplugContext | undefined {
  const facts = ctx.facts;
  if (facts.hotplugContext === undefined) {
    const change = facts.hotplug;
    facts.hotplugContext = change && !ctx.exempt ? withChange(ctx, change) : null;
  }
  return facts.hotplugContext ?? undefined;
}

/** Whether a rule has checks for objects of this kind (hotplug checks count for VMs and VMIs). */
export function judgesKind(rule: Rule, kind: JudgedKind): boolean {
  const check: RuleChecks = rule.check;
  if (isVmKind(kind)) return check.vm !== undefined || check.hotplug !== undefined;
  return kind === 'NetworkAttachmentDefinition' ? check.nad !== undefined : check.subnet !== undefined;
}

/** The causes one rule finds in a context (no settings applied): what rule tests call. */
export function checkRule(rule: Rule, ctx: RuleContext): readonly Cause[] {
  const check: RuleChecks = rule.check;
  switch (ctx.kind) {
    case 'VirtualMachine':
    case 'VirtualMachineInstance': {
      const causes = check.vm?.(ctx) ?? NO_CAUSES;
      const hotplug = check.hotplug && hotplugContext(ctx);
      if (!hotplug || !check.hotplug) return causes;
      const more = check.hotplug(hotplug);
      return causes.length === 0 ? more : [...causes, ...more];
    }
    case 'NetworkAttachmentDefinition':
      return check.nad?.(ctx) ?? NO_CAUSES;
    case 'Subnet':
      return check.subnet?.(ctx) ?? NO_CAUSES;
  }
}

/** A rule without a check for the kind finds nothing; one frozen list stands for that. */
const NO_CAUSES: readonly Cause[] = Object.freeze([]);

function cut(message: string): string {
  return message.length > MESSAGE_LIMIT ? `${message.slice(0, MESSAGE_LIMIT - 3)}...` : message;
}

/**
 * Causes to findings under the configured settings: `off` drops, `warn` lowers, and a cause
 * another enabled rule reports better is dropped. Output stays bounded whatever the input:
 * a rule lists at most FINDINGS_PER_FIELD findings at one field and FINDINGS_PER_RULE in
 * all, and counts the rest on the last one it lists; past the limit a cause is only counted.
 * A denial among the unlisted is listed too, as one more: the warnings before it never hide it.
 */
function toFindings(
  rule: Rule,
  causes: readonly Cause[],
  ctx: Pick<RuleContext, 'config' | 'ref'>,
  findings: Finding[],
): void {
  const setting = ctx.config.rules[rule.id];
  if (setting === 'off' || causes.length === 0) return;
  const actionOf = (cause: Cause) => (setting === 'warn' ? 'warn' : (cause.action ?? 'deny'));
  const perField = new Map<string, number>();
  let listed: Finding | undefined;
  let listedDeny = false;
  let unlistedDeny: Cause | undefined;
  let count = 0;
  let unlisted = 0;
  const list = (cause: Cause, field: string | undefined): Finding => {
    const action = actionOf(cause);
    listedDeny ||= action === 'deny';
    const finding: Finding = {
      rule: rule.id,
      action,
      object: ctx.ref,
      ...(field && cause.field ? { field, fieldPath: cause.field } : {}),
      message: cut(cause.message),
    };
    findings.push(finding);
    return finding;
  };
  for (const cause of causes) {
    if (cause.reportedBy && ctx.config.rules[cause.reportedBy as Rule['id']] !== 'off') continue;
    const field = count < FINDINGS_PER_RULE ? cause.field?.toString() : undefined;
    const atField = count < FINDINGS_PER_RULE ? (perField.get(field ?? '') ?? 0) : 0;
    if (count >= FINDINGS_PER_RULE || atField >= FINDINGS_PER_FIELD) {
      unlisted += 1 + (cause.more ?? 0);
      if (!unlistedDeny && actionOf(cause) === 'deny') unlistedDeny = cause;
      continue;
    }
    perField.set(field ?? '', atField + 1);
    count++;
    unlisted += cause.more ?? 0;
    listed = list(cause, field);
  }
  if (unlistedDeny && !listedDeny) {
    unlisted--;
    listed = list(unlistedDeny, unlistedDeny.field?.toString());
  }
  if (listed && unlisted > 0) {
    listed.message =
      `${listed.message} (and ${unlisted} more ${rule.id} ${unlisted === 1 ? 'finding' : 'findings'} ` + `not listed)`;
  }
}

/**
 * A VM or VMI whose interface or network list is longer than KubeVirt's CRDs allow is one the
 * API server refuses (vm.ts, KUBEVIRT_LIST_LIMIT): it gets network-pairing's one finding and no
 * rule reads it (70,000 interfaces took the rules 60-140 ms, with every other review waiting).
 * A denial only where the API server denies: not where the previous version was as long
 * already, which since Kubernetes 1.30 it lets stand unchanged (CRD validation ratcheting).
 */
function overlongListCauses(request: PolicyRequest, kind: JudgedKind, object: KubeObject): Cause[] | undefined {
  if (!isVmKind(kind) || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return undefined;
  const overlong = overlongLists(object, kind);
  const old = request.operation === 'UPDATE' && request.oldObject ? overlongLists(request.oldObject, kind) : [];
  if (overlong.length === 0 && old.length === 0) return undefined;
  const causes: Cause[] = overlong.map(({ path, length }) => {
    const stood = old.some((o) => o.path === path);
    return {
      field: path,
      action: stood ? 'warn' : 'deny',
      message:
        `${path.toString()} lists ${length} entries; KubeVirt's CRD allows at most ${KUBEVIRT_LIST_LIMIT} ` +
        (stood
          ? `(the previous version had as many, which the API server lets stand unchanged); nicguard did not check ` +
            `this object's networks`
          : `(maxItems since v1.3.0), so the API server refuses the object: remove entries`),
    };
  });
  if (overlong.length === 0) {
    causes.push({
      action: 'warn',
      message:
        `the previous version lists ${old[0].length} entries at ${old[0].path.toString()}, more than the ` +
        `${KUBEVIRT_LIST_LIMIT} KubeVirt's CRD allows; nicguard did not check this update's networks`,
    });
  }
  return causes;
}

/** network-pairing's finding for a VM or VMI with over-long lists, judged by no other rule; else undefined. */
function overlongListsResult(
  request: PolicyRequest,
  object: KubeObject,
  config: PolicyConfig,
): EvaluationResult | undefined {
  const kind = judgedKindOf(request);
  const causes = kind && overlongListCauses(request, kind, object);
  if (!kind || !causes) return undefined;
  const findings: Finding[] = [];
  const ref = objectRef(kind, object, request.namespace, request.name);
  toFindings(networkPairing, causes, { config, ref }, findings);
  return { allowed: !findings.some((f) => f.action === 'deny'), findings, patch: [] };
}

/** The rules that have a mutation, in registry order. */
const MUTATING_RULES: readonly Rule[] = RULES.filter((rule) => rule.mutation !== undefined);

function runMutations(vmCtx: VmContext, findings: Finding[]): { mutated?: KubeObject; patch: PatchOperation[] } {
  const ctx = hotplugContext(vmCtx);
  if (!ctx) return { patch: [] };
  // Cloning and diffing the object costs more than all rules together: only when a rule will edit.
  const active = MUTATING_RULES.filter((rule) => ctx.config.rules[rule.id] === 'mutate' && rule.mutation?.applies(ctx));
  if (active.length === 0) return { patch: [] };
  const edited = active.flatMap((rule) => rule.mutation?.edits(ctx) ?? []);
  const draft = draftAlong(ctx.object, edited);
  for (const rule of active) toFindings(rule, rule.mutation?.mutate(ctx, draft) ?? [], ctx, findings);
  // As controller-runtime's PatchResponseFromRaw: the patch is the difference, never hand-built.
  const patch = patchAlong(ctx.object, draft, edited);
  return patch.length ? { mutated: draft, patch } : { patch: [] };
}

/**
 * Evaluates one request. With phase `both` (the CLI), validation sees the mutated object,
 * as the API server's validating webhooks see what the mutating ones produced. The caller
 * has decoded the request (src/admission): a judged request carries its object.
 */
export function evaluate(
  request: PolicyRequest,
  cluster: ClusterView,
  config: PolicyConfig,
  phase: Phase = 'both',
): EvaluationResult {
  const object = request.object;
  const refused = object && overlongListsResult(request, object, config);
  // The mutate phase validates nothing: the validating webhook (and the API server) refuse it.
  if (refused) return phase === 'mutate' ? { allowed: true, findings: [], patch: [] } : refused;
  let ctx = object ? buildContext(request, object, cluster, config) : undefined;
  if (!ctx) return { allowed: true, findings: [], patch: [] };
  const findings: Finding[] = [];
  let mutation: { mutated?: KubeObject; patch: PatchOperation[] } = { patch: [] };
  if (phase !== 'validate' && (ctx.kind === 'VirtualMachine' || ctx.kind === 'VirtualMachineInstance')) {
    mutation = runMutations(ctx, findings);
    // Validation of a mutated object needs a fresh context; an unchanged one is reused, and
    // the mutate phase validates nothing.
    if (mutation.mutated && phase === 'both') ctx = buildContext(request, mutation.mutated, cluster, config);
  }
  if (phase !== 'mutate' && ctx) {
    for (const rule of RULES) {
      if (config.rules[rule.id] !== 'off') toFindings(rule, checkRule(rule, ctx), ctx, findings);
    }
  }
  const allowed = !findings.some((f) => f.action === 'deny');
  return mutation.mutated
    ? { allowed, findings, mutated: mutation.mutated, patch: mutation.patch }
    : { allowed, findings, patch: mutation.patch };
}

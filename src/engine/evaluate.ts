// The engine's single entry point: (request, cluster view, config) -> findings and patch.
import fastJsonPatch from 'fast-json-patch';
import type {
  Action,
  ClusterView,
  EvaluationResult,
  Finding,
  KubeObject,
  PatchOperation,
  PolicyConfig,
  PolicyRequest,
  RuleId,
  SupportedKind,
} from './types.js';
import type { MutationRule, Report, RuleContext, ValidationRule } from './rule.js';
import { isRunning, objectRef, viewVm } from './vm.js';
import { MUTATION_RULES, VALIDATION_RULES } from './rules/index.js';

export type Phase = 'mutate' | 'validate' | 'both';

/** Which of our kinds a request is about, or undefined for anything else (allowed untouched). */
export function supportedKind(kind: string | undefined, group?: string, apiVersion?: string): SupportedKind | undefined {
  const g = group ?? apiVersion?.split('/').slice(0, -1).join('/');
  switch (kind) {
    case 'VirtualMachine':
    case 'VirtualMachineInstance':
      return g === undefined || g === '' || g === 'kubevirt.io' ? kind : undefined;
    case 'NetworkAttachmentDefinition':
      return g === undefined || g === '' || g === 'k8s.cni.cncf.io' ? kind : undefined;
    case 'Subnet':
      return g === 'kubeovn.io' ? kind : undefined;
    default:
      return undefined;
  }
}

function isExempt(request: PolicyRequest, config: PolicyConfig): boolean {
  const user = request.userInfo?.username;
  if (user && config.exemptServiceAccounts.includes(user)) return true;
  const ns = request.namespace ?? request.object?.metadata?.namespace;
  return ns !== undefined && config.exemptNamespaces.includes(ns);
}

function buildContext(request: PolicyRequest, kind: SupportedKind, object: KubeObject | undefined, cluster: ClusterView, config: PolicyConfig): RuleContext {
  const namespace = request.namespace ?? object?.metadata?.namespace ?? request.oldObject?.metadata?.namespace;
  const isVm = kind === 'VirtualMachine' || kind === 'VirtualMachineInstance';
  const vm = isVm ? viewVm(object, kind, namespace) : undefined;
  const oldVm = isVm && request.operation === 'UPDATE' ? viewVm(request.oldObject, kind, namespace) : undefined;
  return {
    request,
    kind,
    ref: objectRef(kind, object ?? request.oldObject, namespace, request.name),
    config,
    cluster,
    object,
    oldObject: request.oldObject,
    vm,
    oldVm,
    hotplug: !!(vm && oldVm && isRunning(kind, request.oldObject, cluster)),
    exempt: isExempt(request, config),
  };
}

function reporterFor(ctx: RuleContext, findings: Finding[]): Report {
  return (rule: RuleId, message: string, field?: string, action: Action = 'deny') => {
    const setting = ctx.config.rules[rule];
    if (setting === 'off') return;
    const effective: Action = setting === 'warn' ? 'warn' : action;
    findings.push({ rule, action: effective, object: ctx.ref, ...(field ? { field } : {}), message });
  };
}

function runMutations(ctx: RuleContext, rules: readonly MutationRule[], findings: Finding[]): { mutated?: KubeObject; patch: PatchOperation[] } {
  if (!ctx.object) return { patch: [] };
  // Cloning and diffing the object costs more than all rules together: only when a rule will edit.
  const active = rules.filter(
    (rule) => rule.kinds.includes(ctx.kind) && ctx.config.rules[rule.id] === 'mutate' && (rule.applies?.(ctx) ?? true),
  );
  if (active.length === 0) return { patch: [] };
  const draft = structuredClone(ctx.object);
  const report = reporterFor(ctx, findings);
  for (const rule of active) rule.mutate(ctx, draft, report);
  // As controller-runtime's PatchResponseFromRaw: the patch is the difference, never hand-built.
  const patch = fastJsonPatch.compare(ctx.object, draft) as PatchOperation[];
  return patch.length ? { mutated: draft, patch } : { patch: [] };
}

function runValidations(ctx: RuleContext, rules: readonly ValidationRule[], findings: Finding[]): void {
  const report = reporterFor(ctx, findings);
  for (const rule of rules) {
    if (rule.kinds.includes(ctx.kind) && rule.ids.some((id) => ctx.config.rules[id] !== 'off')) rule.validate(ctx, report);
  }
}

/**
 * Evaluates one request. With phase `both` (the CLI), validation sees the mutated object,
 * as the API server's validating webhooks see what the mutating ones produced.
 */
export function evaluate(request: PolicyRequest, cluster: ClusterView, config: PolicyConfig, phase: Phase = 'both'): EvaluationResult {
  const kind = supportedKind(request.kind, request.group, request.object?.apiVersion ?? request.oldObject?.apiVersion);
  if (!kind || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return { allowed: true, findings: [], patch: [] };
  }
  const findings: Finding[] = [];
  let object = request.object;
  let mutation: { mutated?: KubeObject; patch: PatchOperation[] } = { patch: [] };
  let ctx: RuleContext | undefined;
  if (phase !== 'validate') {
    ctx = buildContext(request, kind, object, cluster, config);
    mutation = runMutations(ctx, MUTATION_RULES, findings);
    // A mutated object needs fresh views; an unchanged one can reuse them.
    if (mutation.mutated) {
      object = mutation.mutated;
      ctx = undefined;
    }
  }
  if (phase !== 'mutate') {
    runValidations(ctx ?? buildContext(request, kind, object, cluster, config), VALIDATION_RULES, findings);
  }
  return {
    allowed: !findings.some((f) => f.action === 'deny'),
    findings,
    ...(mutation.mutated ? { mutated: mutation.mutated } : {}),
    patch: mutation.patch,
  };
}

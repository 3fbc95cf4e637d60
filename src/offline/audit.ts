// The model behind `nicguard audit`: what is already wrong among the objects a cluster
// holds, whether or not nicguard admitted them. Every VM, VMI, NAD and Subnet is judged as
// a CREATE by the validation rules (the same evaluate the webhook runs), and the checks
// below look at what only existing objects have: a running VMI's interface status, time,
// and who refers to whom. Rendering is the CLI's (src/cli/audit.ts, format/policyreport.ts).
import { offlineRequest } from '../admission/offline.js';
import { indexManifests } from '../cluster/files.js';
import type { LiveCluster } from '../cluster/live.js';
import { Interner } from '../cluster/projection.js';
import { knownKubeVirtVersion } from '../engine/kubevirt-version.js';
import type { ObjectIndex } from '../cluster/object-index.js';
import { evaluate } from '../engine/evaluate.js';
import { KIND_FACTS, isJudgedKind, isVmKind, kindOfObject, type JudgedKind, type VmKind } from '../engine/kinds.js';
import { boundProvider } from '../engine/nad.js';
import { reservationRulesToJudge, slotBudget } from '../engine/pci-topology.js';
import { RULES, type RuleId } from '../engine/rules/index.js';
import type { Action, KubeObject, PolicyConfig } from '../engine/types.js';
import { asArray, dig, isObject, plural, quote, stringOf } from '../engine/values.js';
import { isAbsent, objectRef, viewVm, vmiAnnotationsOf, type InterfaceView, type VmView } from '../engine/vm.js';
import { loadManifests, type ManifestError } from '../io/manifests.js';
import { keptForAudit } from './audit-trim.js';

export const AUDIT_API_VERSION = 'nicguard.io/v1alpha1';

/** fail and warn as the validation rules' deny and warn; info for facts worth knowing. */
export type AuditLevel = 'fail' | 'warn' | 'info';

export interface AuditCheck {
  id: string;
  title: string;
  description: string;
}

/** The checks that only make sense for objects that exist; ids never collide with the rules'. */
export const AUDIT_CHECKS = [
  {
    id: 'hotplug-pending',
    title: 'A hotplugged interface reached the guest',
    description:
      "An interface of the VM spec that is still not in the running VMI's domain past the pending threshold: " +
      'not applied to the VMI, no pod interface yet, or a pod interface the domain never got.',
  },
  {
    id: 'unplug-pending',
    title: 'An unplugged interface left the guest',
    description:
      'An interface set to absent (or removed) that the running VMI still reports in status.interfaces past the ' +
      'pending threshold.',
  },
  {
    id: 'hotplug-ports',
    title: 'A running VM has a hotplug port left',
    description:
      'Spare PCIe root ports of the running domain: fail when pending hotplugs outnumber them (they cannot attach ' +
      'before a restart), info when none is left for a further NIC.',
  },
  {
    id: 'subnet-unbound',
    title: 'A Kube-OVN Subnet is bound to a NetworkAttachmentDefinition',
    description:
      'A Subnet whose IPAM-only provider (<nad>.<namespace>) no NetworkAttachmentDefinition derives: nothing can ' +
      'attach ' +
      'to it (subnet-shape judges .ovn providers).',
  },
  {
    id: 'nad-unused',
    title: 'A NetworkAttachmentDefinition is used by a VM',
    description: 'A NetworkAttachmentDefinition no VM or VMI network refers to.',
  },
] as const satisfies readonly AuditCheck[];

export type AuditCheckId = (typeof AUDIT_CHECKS)[number]['id'];
export type AuditRuleId = RuleId | AuditCheckId;

/** Rules and audit checks, in report order: what SARIF's rule catalogue lists. */
export const AUDIT_CATALOGUE: readonly AuditCheck[] = [
  ...RULES.map((r) => ({ id: r.id, title: r.title, description: r.description })),
  ...AUDIT_CHECKS,
];

export interface AuditSubject {
  apiVersion: string;
  kind: JudgedKind;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface AuditFinding {
  rule: AuditRuleId;
  level: AuditLevel;
  subject: AuditSubject;
  /** `Kind namespace/name`. */
  ref: string;
  field?: string;
  message: string;
  /** Where the object was read from, for --objects folders. */
  source?: { file: string; line: number };
}

export interface AuditSummary {
  /** Objects audited, by kind. */
  objects: Record<JudgedKind, number>;
  fail: number;
  warn: number;
  info: number;
}

export interface AuditReport {
  apiVersion: string;
  kind: 'AuditReport';
  /** When the objects were judged (ISO 8601). */
  time: string;
  /** The namespace audited; undefined for the whole cluster. */
  namespace?: string;
  /** Namespaces that hold an audited object: each gets a (possibly empty) PolicyReport. */
  namespaces: string[];
  /** Subnets were audited: the ClusterPolicyReport is written too. */
  clusterScoped: boolean;
  findings: AuditFinding[];
  summary: AuditSummary;
}

/** One object of the snapshot, with the file position it came from (files only). */
export interface SnapshotObject {
  object: KubeObject;
  source?: { file: string; line: number };
}

/** A folder of dumped objects as the audit reads it: the cluster view the rules look up, and the objects to judge. */
export interface ClusterSnapshot {
  view: ObjectIndex;
  /** Every VM, VMI, NAD and Subnet of the folder. */
  objects: SnapshotObject[];
  errors: ManifestError[];
}

export interface AuditOptions {
  /** Only objects of this namespace (and no Subnets); the whole cluster stays the view. */
  namespace?: string;
  /** Hotplugs and unplugs pending for less than this are in progress, not stuck. */
  pendingThresholdMs: number;
  now: Date;
}

const LEVEL_OF_ACTION: Record<Action, AuditLevel> = { deny: 'fail', warn: 'warn' };

/** The snapshot of a folder of dumped objects (`kubectl get vm,vmi,net-attach-def,subnet,kubevirt -A -o yaml`). */
export function snapshotFromFiles(paths: readonly string[]): ClusterSnapshot {
  const loaded = loadManifests(paths);
  const { view, errors } = indexManifests(loaded);
  const objects = loaded.objects
    .filter((o) => !o.review && isJudgedKind(kindOfObject(o.object)))
    .map((o) => ({ object: o.object, source: { file: o.source.file, line: o.source.line } }));
  return { view, objects, errors };
}

/** What an audit of a live cluster read and found. */
export interface ClusterAudit {
  report: AuditReport;
  /** The cluster view it judged with (VMIs, NADs, Subnets, the KubeVirt CR), trimmed. */
  view: ObjectIndex;
  /** Resources whose CRD the cluster lacks (read as empty). */
  missing: string[];
}

/**
 * Audits a live cluster. The view (VMIs, NADs, Subnets, the KubeVirt CR) is read first, then
 * the VMs page by page, each page judged as it arrives and let go: only the VMIs are held,
 * and every object is trimmed to what the checks read as its page arrives.
 */
export async function auditCluster(live: LiveCluster, config: PolicyConfig, opts: AuditOptions): Promise<ClusterAudit> {
  const strings = new Interner();
  const { view, missing } = await live.readView((kind, obj) => keptForAudit(kind, obj, strings));
  const run = new AuditRun(view, config, opts);
  const listed = await live.eachPage('VirtualMachine', (vms) => run.addVms(vms.map((object) => ({ object }))), {
    keep: keptForAudit,
  });
  if (!listed) missing.push(`${KIND_FACTS.VirtualMachine.plural}.${KIND_FACTS.VirtualMachine.group}`);
  const rest = [
    ...view.list('VirtualMachineInstance'),
    ...view.list('NetworkAttachmentDefinition'),
    ...view.list('Subnet'),
  ].map((object) => ({ object }));
  return { report: run.finish(rest), view, missing };
}

function subjectOf(object: KubeObject, kind: JudgedKind): AuditSubject {
  const namespace = KIND_FACTS[kind].namespaced ? (stringOf(object.metadata?.namespace) ?? 'default') : undefined;
  const uid = stringOf(object.metadata?.uid);
  return {
    apiVersion: stringOf(object.apiVersion) ?? `${KIND_FACTS[kind].group}/${KIND_FACTS[kind].version}`,
    kind,
    ...(namespace ? { namespace } : {}),
    name: stringOf(object.metadata?.name) ?? '',
    ...(uid ? { uid } : {}),
  };
}

/** Interface name -> infoSource list, from a VMI's status.interfaces (KubeVirt pkg/network/vmispec/infosource.go). */
function interfaceStatuses(vmi: KubeObject): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const entry of asArray(dig(vmi, 'status', 'interfaces'))) {
    const name = stringOf(dig(entry, 'name'));
    if (!name) continue;
    out.set(
      name,
      (stringOf(dig(entry, 'infoSource')) ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  return out;
}

const IN_DOMAIN = 'domain';
const IN_POD = 'multus-status';
/** Bindings KubeVirt's VM controller copies into a running VMI (kubevirt/kubevirt v1.9.0 controllers/vm.go). */
const HOTPLUG_BINDINGS = new Set(['bridge', 'sriov']);

function parseTime(value: unknown): number | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The latest spec write recorded in managedFields (kubectl apply, patch, edit), status writes left out. */
function lastSpecWrite(obj: KubeObject | undefined): number | undefined {
  let latest: number | undefined;
  for (const entry of asArray(obj?.metadata?.managedFields)) {
    if (!isObject(entry) || entry.subresource === 'status') continue;
    const t = parseTime(entry.time);
    if (t !== undefined && (latest === undefined || t > latest)) latest = t;
  }
  return latest;
}

/**
 * Since when a network change of a VM is pending: the VMI's MigrationRequired condition,
 * which KubeVirt sets when a hotplug or unplug waits (kubevirt/kubevirt v1.9.0
 * pkg/network/migration/evaluator.go), else the last spec write of the VM (or VMI).
 */
function pendingSince(vm: KubeObject | undefined, vmi: KubeObject): number | undefined {
  const condition = asArray(dig(vmi, 'status', 'conditions')).find((c) => dig(c, 'type') === 'MigrationRequired');
  return parseTime(dig(condition, 'lastTransitionTime')) ?? lastSpecWrite(vm) ?? lastSpecWrite(vmi);
}

function duration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(0, Math.floor(ms / 1000))}s`;
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
}

/** Whether a pending change is stuck, and how its age reads in a message. */
function stuck(since: number | undefined, opts: AuditOptions): { stuck: boolean; age: string } {
  if (since === undefined)
    return { stuck: true, age: 'for an unknown time (no MigrationRequired condition or managedFields to date it)' };
  const age = opts.now.getTime() - since;
  return { stuck: age >= opts.pendingThresholdMs, age: `for ${duration(age)}` };
}

function hotplugProblem(
  iface: InterfaceView,
  vmiIface: InterfaceView | undefined,
  sources: string[] | undefined,
): string | undefined {
  if (!vmiIface) {
    return HOTPLUG_BINDINGS.has(iface.binding)
      ? "it is in the VM spec but not yet in the running VMI's spec (virt-controller has not applied it)"
      : `its binding (${iface.binding}) is never hotplugged: KubeVirt applies it at the next restart only`;
  }
  if (isAbsent(vmiIface)) return 'the VM wants it, but the VMI still has it absent';
  if (!sources)
    return (
      'the virt-launcher pod has no interface for it yet (it needs the dynamic networks controller or a live ' +
      'migration)'
    );
  if (!sources.includes(IN_DOMAIN)) {
    return sources.includes(IN_POD)
      ? 'the pod interface exists (multus-status) but the guest domain never got it'
      : 'it is not in the guest domain';
  }
  return undefined;
}

/** Where an interface of a running VM stands, as the VMI's spec and status.interfaces tell it. */
export type LiveState = 'plugged' | 'hotplug-pending' | 'unplug-pending' | 'unplugged';

export interface LiveInterface {
  name: string;
  state: LiveState;
  /** status.interfaces[].infoSource as KubeVirt wrote it (`domain, guest-agent, multus-status`). */
  infoSource?: string;
  /** Why it is pending. */
  detail?: string;
}

/**
 * The interfaces of a VM (or of the VMI alone) against its running VMI, by KubeVirt's own
 * tests (kubevirt/kubevirt v1.9.0 pkg/network/setup/filters.go, controllers/vm.go): a
 * hotplug is done when the VMI's status lists the interface with the `domain` source; an
 * unplug when the VMI's status no longer lists it.
 */
export function liveInterfaces(vm: VmView | undefined, vmi: KubeObject): LiveInterface[] {
  const vmiView = viewVm(vmi, 'VirtualMachineInstance');
  const statuses = interfaceStatuses(vmi);
  const vmiByName = new Map(vmiView.interfaces.map((i) => [i.name, i]));
  const desired = vm ?? vmiView;
  const out: LiveInterface[] = [];
  const withSource = (name: string) => (statuses.has(name) ? { infoSource: statuses.get(name)!.join(', ') } : {});
  for (const iface of desired.interfaces) {
    const sources = statuses.get(iface.name);
    const vmiIface = vmiByName.get(iface.name);
    if (isAbsent(iface)) {
      out.push(
        sources
          ? { name: iface.name, state: 'unplug-pending', ...withSource(iface.name), detail: unplugDetail(sources) }
          : { name: iface.name, state: 'unplugged' },
      );
      continue;
    }
    const problem = hotplugProblem(iface, vmiIface, sources);
    out.push({
      name: iface.name,
      state: problem ? 'hotplug-pending' : 'plugged',
      ...withSource(iface.name),
      ...(problem ? { detail: problem } : {}),
    });
  }
  // Dropped from the VM spec without state: absent, but still in the VMI.
  const desiredNames = new Set(desired.interfaces.map((i) => i.name));
  for (const [name, sources] of statuses) {
    if (desiredNames.has(name) || !vmiByName.has(name)) continue;
    out.push({
      name,
      state: 'unplug-pending',
      ...withSource(name),
      detail:
        `${unplugDetail(sources)}; it was removed from the VM spec without state: absent, which KubeVirt never ` +
        `unplugs`,
    });
  }
  return out;
}

function unplugDetail(sources: string[]): string {
  return sources.includes(IN_DOMAIN) ? 'still in the guest domain' : 'out of the domain, but its pod interface remains';
}

/** Pending hotplugs and unplugs of a running VM (or a VMI alone) older than the threshold. */
function pendingChanges(
  vm: VmView | undefined,
  vmObject: KubeObject | undefined,
  vmi: KubeObject,
  opts: AuditOptions,
): { hotplug: string[]; unplug: string[] } {
  const result = { hotplug: [] as string[], unplug: [] as string[] };
  // Only a running domain has interfaces to compare with; a starting VMI has no status yet.
  if (dig(vmi, 'status', 'phase') !== 'Running') return result;
  const pending = liveInterfaces(vm, vmi).filter((i) => i.state === 'hotplug-pending' || i.state === 'unplug-pending');
  if (pending.length === 0) return result;
  const { stuck: isStuck, age } = stuck(pendingSince(vmObject, vmi), opts);
  if (!isStuck) return result;
  for (const i of pending) {
    if (i.state === 'hotplug-pending')
      result.hotplug.push(`interface ${quote(i.name)} has been pending ${age}: ${i.detail}.`);
    else result.unplug.push(`interface ${quote(i.name)} has waited ${age} to be unplugged: it is ${i.detail}.`);
  }
  return result;
}

function portsFinding(
  vm: VmView,
  vmObject: KubeObject,
  vmi: KubeObject,
  config: PolicyConfig,
  view: ObjectIndex,
): { level: AuditLevel; message: string } | undefined {
  // As `nicguard explain` measures a running VM: against its VMI, with the VMI's annotations,
  // under each reservation rule the KubeVirt version leaves possible; the most generous one
  // speaks, so an unknown version never makes a failure out of a guess.
  const vmiView = viewVm(vmi, 'VirtualMachineInstance', vm.namespace);
  const budget = reservationRulesToJudge(config, knownKubeVirtVersion(config, view))
    .map((choice) =>
      slotBudget(vm, vmObject === vmi ? undefined : vmiView, choice.rule, config, {
        annotations: vmiAnnotationsOf(vmi, 'VirtualMachineInstance'),
        vmi,
      }),
    )
    .reduce((a, b) => (b.free - b.asked > a.free - a.asked ? b : a));
  const explain =
    `(slot model ${budget.model}: ${budget.reserved} reserved, ${budget.inUse} in use; see nicguard ` + `explain)`;
  if (budget.asked > budget.free) {
    const names = budget.askedInterfaces.map((i) => quote(i.name)).join(', ');
    return {
      level: 'fail',
      message:
        `${plural(budget.asked, 'interface')} (${names}) ${budget.asked === 1 ? 'waits' : 'wait'} for a hotplug ` +
        `port, but only ${budget.free} ` +
        `${budget.free === 1 ? 'is' : 'are'} free ${explain}: ${budget.asked - budget.free} cannot attach before a ` +
        `restart.`,
    };
  }
  if (budget.free - budget.asked === 0) {
    return {
      level: 'info',
      message: budget.rootComplex
        ? 'no hotplug port: kubevirt.io/placePCIDevicesOnRootComplex is "true"; a further NIC needs a restart.'
        : `no hotplug port left ${explain}: a further NIC needs a restart.`,
    };
  }
  return undefined;
}

/** Namespaced objects first, by namespace, kind and name; then cluster-scoped ones; rules in catalogue order. */
function compare(a: AuditFinding, b: AuditFinding, order: Map<string, number>): number {
  const keys = (f: AuditFinding) => [
    f.subject.namespace === undefined ? 1 : 0,
    f.subject.namespace ?? '',
    f.subject.kind,
    f.subject.name,
  ];
  const [ka, kb] = [keys(a), keys(b)];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return (order.get(a.rule) ?? 0) - (order.get(b.rule) ?? 0);
}

/** What the per-object checks share: the cluster, and facts gathered over the objects judged before. */
interface AuditContext {
  view: ObjectIndex;
  config: PolicyConfig;
  opts: AuditOptions;
  /** `namespace/name` of every VM: their VMIs are judged through them. Complete before any VMI is judged. */
  vmNames: Set<string>;
  /** `namespace/name` of every NAD a VM or VMI network refers to. Complete before any NAD is judged. */
  usedNads: Set<string>;
  boundProviders: Set<string | undefined>;
}

type AddFinding = (rule: AuditRuleId, level: AuditLevel, message: string, field?: string) => void;

/** Pending changes and hotplug ports of a running VM, or of a VMI without a VM. */
function runningChecks(
  ctx: AuditContext,
  object: KubeObject,
  kind: VmKind,
  subject: AuditSubject,
  add: AddFinding,
): void {
  const namespace = subject.namespace ?? 'default';
  const running =
    kind === 'VirtualMachineInstance' ? object : ctx.view.getVirtualMachineInstance(namespace, subject.name);
  if (!running) return;
  const vm = viewVm(object, kind, namespace);
  const isVm = kind === 'VirtualMachine';
  const pending = pendingChanges(isVm ? vm : undefined, isVm ? object : undefined, running, ctx.opts);
  for (const message of pending.hotplug) add('hotplug-pending', 'warn', message);
  for (const message of pending.unplug) add('unplug-pending', 'warn', message);
  const ports = portsFinding(vm, object, running, ctx.config, ctx.view);
  if (ports) add('hotplug-ports', ports.level, ports.message);
}

/** subnet-unbound: subnet-shape judges `.ovn` providers against their NAD; an IPAM-only one needs all NADs. */
function subnetBinding(ctx: AuditContext, object: KubeObject, add: AddFinding): void {
  const provider = stringOf(dig(object, 'spec', 'provider'));
  if (!provider || provider === 'ovn' || provider.endsWith('.ovn') || ctx.boundProviders.has(provider)) return;
  add(
    'subnet-unbound',
    'warn',
    `no NetworkAttachmentDefinition using Kube-OVN for IPAM derives spec.provider ${quote(provider)} (Kube-OVN ` +
      'derives <nad>.<namespace> for those): nothing attaches to this Subnet. Create the NAD, or fix the provider.',
    'spec.provider',
  );
}

function judgeObject(
  ctx: AuditContext,
  object: KubeObject,
  kind: JudgedKind,
  subject: AuditSubject,
  add: AddFinding,
): void {
  const key = `${subject.namespace}/${subject.name}`;
  // A VM's own VMI repeats the VM's spec: judging both would report each problem twice.
  if (kind === 'VirtualMachineInstance' && ctx.vmNames.has(key)) return;
  const request = offlineRequest({ object, namespace: subject.namespace ?? 'default' });
  for (const f of evaluate(request, ctx.view, ctx.config, 'validate').findings) {
    add(f.rule, LEVEL_OF_ACTION[f.action], f.message, f.field);
  }
  if (isVmKind(kind)) runningChecks(ctx, object, kind, subject, add);
  else if (kind === 'Subnet') subnetBinding(ctx, object, add);
  else if (!ctx.usedNads.has(key)) {
    add(
      'nad-unused',
      'info',
      'no VM or VMI network refers to this NetworkAttachmentDefinition (pods may; nicguard does not read them).',
    );
  }
}

/**
 * One audit, fed as objects arrive: every VM first (in as many calls as there are pages), then
 * the VMIs, NADs and Subnets at once. A VMI is judged through its VM and a NAD by whether any
 * VM or VMI refers to it, so both wait for all VMs. Never throws for odd objects; it throws for
 * calls out of that order, which are a bug of the caller.
 */
export class AuditRun {
  private readonly ctx: AuditContext;
  private readonly findings: AuditFinding[] = [];
  private readonly counts: Record<JudgedKind, number> = {
    VirtualMachine: 0,
    VirtualMachineInstance: 0,
    NetworkAttachmentDefinition: 0,
    Subnet: 0,
  };
  private readonly namespaces = new Set<string>();
  private finished = false;

  constructor(view: ObjectIndex, config: PolicyConfig, opts: AuditOptions) {
    this.ctx = {
      view,
      config,
      opts,
      vmNames: new Set(),
      usedNads: new Set(),
      boundProviders: new Set(view.list('NetworkAttachmentDefinition').map((n) => boundProvider(n))),
    };
  }

  /** Judges VMs; every VM comes before finish(). */
  addVms(objects: readonly SnapshotObject[]): void {
    if (this.finished) throw new Error('audit: VMs after the audit finished');
    for (const item of objects) {
      const { object } = item;
      if (kindOfObject(object) !== 'VirtualMachine') throw new Error('audit: addVms takes VirtualMachines only');
      const namespace = stringOf(object.metadata?.namespace) ?? 'default';
      this.ctx.vmNames.add(`${namespace}/${stringOf(object.metadata?.name)}`);
      this.noteNadsOf(object, 'VirtualMachine');
      this.judge(item);
    }
  }

  /** Judges the VMIs, NADs and Subnets (and any VM not yet added), and gives the report. */
  finish(objects: readonly SnapshotObject[]): AuditReport {
    if (this.finished) throw new Error('audit: finished twice');
    const isVm = ({ object }: SnapshotObject) => kindOfObject(object) === 'VirtualMachine';
    this.addVms(objects.filter(isVm));
    this.finished = true;
    for (const { object } of objects) {
      if (kindOfObject(object) === 'VirtualMachineInstance') this.noteNadsOf(object, 'VirtualMachineInstance');
    }
    for (const item of objects) if (!isVm(item)) this.judge(item);
    return this.report();
  }

  private noteNadsOf(object: KubeObject, kind: VmKind): void {
    for (const net of viewVm(object, kind).networks) {
      if (net.nad) this.ctx.usedNads.add(`${net.nad.namespace}/${net.nad.name}`);
    }
  }

  private judge({ object, source }: SnapshotObject): void {
    const kind = kindOfObject(object) as JudgedKind;
    const subject = subjectOf(object, kind);
    const { opts } = this.ctx;
    if (opts.namespace !== undefined && subject.namespace !== opts.namespace) return;
    this.counts[kind]++;
    if (subject.namespace) this.namespaces.add(subject.namespace);
    const ref = objectRef(kind, object, subject.namespace);
    judgeObject(this.ctx, object, kind, subject, (rule, level, message, field) =>
      this.findings.push({
        rule,
        level,
        subject,
        ref,
        ...(field ? { field } : {}),
        message,
        ...(source ? { source } : {}),
      }),
    );
  }

  private report(): AuditReport {
    const { opts } = this.ctx;
    const findings = this.findings;
    const order = new Map<string, number>(AUDIT_CATALOGUE.map((c, i) => [c.id, i]));
    findings.sort((a, b) => compare(a, b, order));
    const count = (level: AuditLevel) => findings.filter((f) => f.level === level).length;
    return {
      apiVersion: AUDIT_API_VERSION,
      kind: 'AuditReport',
      time: opts.now.toISOString(),
      ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
      namespaces: [...this.namespaces].sort(),
      clusterScoped: opts.namespace === undefined,
      findings,
      summary: { objects: this.counts, fail: count('fail'), warn: count('warn'), info: count('info') },
    };
  }
}

/** Judges every object of a snapshot (files, or a test's objects): its VMs first, then the rest. */
export function runAudit(snapshot: ClusterSnapshot, config: PolicyConfig, opts: AuditOptions): AuditReport {
  return new AuditRun(snapshot.view, config, opts).finish(snapshot.objects);
}

/** `3 VMs, 1 VMI, 4 NADs, 1 Subnet`: the objects line of summaries. */
export function describeObjects(objects: AuditSummary['objects']): string {
  return [
    plural(objects.VirtualMachine, 'VM'),
    plural(objects.VirtualMachineInstance, 'VMI'),
    plural(objects.NetworkAttachmentDefinition, 'NAD'),
    plural(objects.Subnet, 'Subnet'),
  ].join(', ');
}

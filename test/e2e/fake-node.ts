// A node without kubelet, Multus or virt-handler: just enough of their API writes for
// KubeVirt's real virt-controller to take a VM from its launcher pod to a Running VMI and
// to carry out NIC hotplug and unplug. What each stand-in writes, and whose identity it
// uses, follows the component it replaces:
//   scheduler   POST pods/binding                       (admin)
//   kubelet     pod status Running, compute container   (admin); finishes pod deletions
//   virt-handler VMI status.phase Running, status.interfaces (kubevirt-handler's token)
// virt-handler writes VMI status with an ordinary UPDATE/PATCH of the VMI (the VMI CRD has
// no status subresource: kubevirt v1.8.4 pkg/virt-operator/resource/generate/components/
// crds.go), and virt-api's VMI mutator undoes status changes from anyone but KubeVirt's
// service accounts, so those writes must carry the handler's identity.
import type { KubeApi } from './kube-api.js';
import { sleep } from './harness.js';

type Obj = Record<string, any>;

export const FAKE_NODE = 'fake-node';
const LAUNCHER_SELECTOR = 'kubevirt.io%3Dvirt-launcher';
// Multus' request annotation on the launcher pod: the secondary networks it attaches.
const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

interface NetworkSelection {
  name: string;
  namespace?: string;
}

function podNetworks(pod: Obj): NetworkSelection[] {
  const raw = pod.metadata?.annotations?.[NETWORKS_ANNOTATION];
  if (!raw) return [];
  try {
    return JSON.parse(raw) as NetworkSelection[];
  } catch {
    return [];
  }
}

/** Whether the pod requests the NAD "name" or "namespace/name" (Multus' two spellings). */
function podHasNetwork(pod: Obj, networkName: string): boolean {
  const [ns, name] = networkName.includes('/') ? networkName.split('/') : [pod.metadata.namespace, networkName];
  return podNetworks(pod).some((n) => n.name === name && (n.namespace ?? pod.metadata.namespace) === ns);
}

/**
 * The interfaces virt-handler would report for this VMI: the pod network at once; a Multus
 * interface once the launcher pod requests its network (the dynamic networks controller
 * then attaches it and virt-handler plugs it into the domain); none in state: absent
 * (virt-handler unplugs those). Known entries keep what KubeVirt filled in.
 */
function reportedInterfaces(vmi: Obj, pod: Obj): Obj[] {
  const known = new Map<string, Obj>((vmi.status?.interfaces ?? []).map((i: Obj) => [i.name, i]));
  const networks = new Map<string, Obj>((vmi.spec?.networks ?? []).map((n: Obj) => [n.name, n]));
  const out: Obj[] = [];
  for (const [index, iface] of (vmi.spec?.domain?.devices?.interfaces ?? []).entries() as Iterable<[number, Obj]>) {
    if (iface.state === 'absent') continue;
    const net = networks.get(iface.name);
    const attached = net?.pod !== undefined || (net?.multus && podHasNetwork(pod, net.multus.networkName));
    if (!attached) continue;
    const mac = `02:00:00:00:00:${index.toString(16).padStart(2, '0')}`;
    out.push({
      ...known.get(iface.name),
      name: iface.name,
      mac,
      interfaceName: `eth${index}`,
      infoSource: 'domain, guest-agent',
    });
  }
  return out;
}

function sameNames(a: Obj[], b: Obj[]): boolean {
  return a.map((i) => i.name).join(',') === b.map((i) => i.name).join(',');
}

export class FakeNode {
  private running = false;
  private loop?: Promise<void>;
  /** Errors of the last round, for a test that times out waiting on this node. */
  lastErrors: string[] = [];

  constructor(
    private readonly admin: KubeApi,
    private readonly handler: KubeApi,
    readonly name = FAKE_NODE,
  ) {}

  async start(): Promise<void> {
    // No kubevirt.io/heartbeat annotation: virt-controller's node controller then never
    // calls the node unresponsive (pkg/virt-controller/watch/node/node.go, isNodeUnresponsive).
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.name, labels: { 'kubernetes.io/hostname': this.name } },
    };
    const r = await this.admin.request('POST', '/api/v1/nodes', node);
    if (r.status !== 201 && r.status !== 409)
      throw new Error(`creating node ${this.name}: ${r.status} ${r.body.message}`);
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const errors: string[] = [];
      try {
        await this.round(errors);
      } catch (err) {
        // The API server may be restarting; the next round tries again.
        errors.push((err as Error).message);
      }
      this.lastErrors = errors;
      await sleep(200);
    }
  }

  private async round(errors: string[]): Promise<void> {
    const pods = await this.admin.get(`/api/v1/pods?labelSelector=${LAUNCHER_SELECTOR}`);
    if (pods.status !== 200) throw new Error(`listing launcher pods: ${pods.status}`);
    const podsByVmi = new Map<string, Obj>();
    for (const pod of pods.body.items as Obj[]) {
      const err = await this.kubelet(pod);
      if (err) errors.push(err);
      // virt-controller labels each launcher pod with its VMI's uid (services/template.go).
      const vmiUid = pod.metadata.labels?.['kubevirt.io/created-by'];
      if (vmiUid && !pod.metadata.deletionTimestamp) podsByVmi.set(vmiUid, pod);
    }
    const vmis = await this.handler.get('/apis/kubevirt.io/v1/virtualmachineinstances');
    if (vmis.status !== 200) throw new Error(`listing VMIs as kubevirt-handler: ${vmis.status}`);
    for (const vmi of vmis.body.items as Obj[]) {
      const pod = podsByVmi.get(vmi.metadata.uid);
      if (!pod || vmi.status?.nodeName !== this.name || vmi.metadata.deletionTimestamp) continue;
      const err = await this.virtHandler(vmi, pod);
      if (err) errors.push(err);
    }
  }

  /** Scheduler and kubelet for one launcher pod; returns an error message, if any. */
  private async kubelet(pod: Obj): Promise<string | undefined> {
    const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
    if (pod.metadata.deletionTimestamp) {
      // The kubelet's last step of a graceful deletion: remove the object for good.
      const r = await this.admin.request('DELETE', path, {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        gracePeriodSeconds: 0,
      });
      return r.status < 300 || r.status === 404 ? undefined : `deleting ${path}: ${r.status} ${r.body.message}`;
    }
    if (!pod.spec.nodeName) {
      const binding = {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.metadata.name },
        target: { apiVersion: 'v1', kind: 'Node', name: this.name },
      };
      const r = await this.admin.request('POST', `${path}/binding`, binding);
      return r.status === 201 ? undefined : `binding ${path}: ${r.status} ${r.body.message}`;
    }
    if (pod.status?.phase === 'Running') return undefined;
    const now = new Date().toISOString();
    const running = (c: Obj) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    });
    const status = {
      phase: 'Running',
      podIP: '10.244.0.10',
      hostIP: '127.0.0.1',
      startTime: now,
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: 'True', lastTransitionTime: now },
      ],
      containerStatuses: (pod.spec.containers as Obj[]).map(running),
    };
    const r = await this.admin.mergePatch(`${path}/status`, { status });
    return r.status === 200 ? undefined : `pod status ${path}: ${r.status} ${r.body.message}`;
  }

  /** virt-handler for one VMI this node runs: phase Running and the attached interfaces. */
  private async virtHandler(vmi: Obj, pod: Obj): Promise<string | undefined> {
    const phase = vmi.status?.phase;
    if (phase !== 'Scheduled' && phase !== 'Running') return undefined;
    const interfaces = reportedInterfaces(vmi, pod);
    if (phase === 'Running' && sameNames(interfaces, vmi.status?.interfaces ?? [])) return undefined;
    const { namespace, name } = vmi.metadata;
    const path = `/apis/kubevirt.io/v1/namespaces/${namespace}/virtualmachineinstances/${name}`;
    // resourceVersion makes this a compare-and-swap, as virt-handler's own updates are.
    const r = await this.handler.mergePatch(path, {
      metadata: { resourceVersion: vmi.metadata.resourceVersion },
      status: { phase: 'Running', interfaces },
    });
    if (r.status === 409) return undefined; // changed meanwhile: the next round sees the new one
    return r.status === 200 ? undefined : `VMI status ${path}: ${r.status} ${r.body.message}`;
  }
}

// KubeVirt's real control plane for the e2e suite: the CRDs, RBAC and virt-api webhook
// configurations virt-operator would install (printed by test/e2e/.bin/kubevirt-manifests
// from KubeVirt's own generators), virt-api and virt-controller built from
// kubevirt.io/kubevirt (version in test/e2e/kubevirt/go.mod), each running under the
// service account virt-operator gives it. There is no virt-operator and no virt-handler;
// the fake node (fake-node.ts) stands in for the latter.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { BIN, NICGUARD, freePort, freePorts, kubectl, startLogged, stopChild, waitFor } from './harness.js';
import { KubeApi } from './kube-api.js';

type Obj = Record<string, any>;

export const KUBEVIRT_NAMESPACE = 'kubevirt';
/** The accounts virt-api treats as KubeVirt's own (pkg/virt-api/webhooks: KubeVirtServiceAccounts). */
export const KUBEVIRT_SERVICE_ACCOUNTS = ['kubevirt-apiserver', 'kubevirt-controller', 'kubevirt-handler'].map(
  (name) => `system:serviceaccount:${KUBEVIRT_NAMESPACE}:${name}`,
);

/**
 * Webhook configurations with each `service:` client config turned into a loopback `url:`
 * (nothing routes Service IPs here). `edit` may change each configuration first.
 */
export function webhooksWithUrl(yamlText: string, port: number, caBundle: string, edit?: (cfg: Obj) => void): string {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as Obj)
    .filter((cfg) => cfg && Array.isArray(cfg.webhooks))
    .map((cfg) => {
      edit?.(cfg);
      for (const hook of cfg.webhooks as Obj[]) {
        const path = hook.clientConfig.service.path ?? '/';
        hook.clientConfig = { url: `https://127.0.0.1:${port}${path}`, caBundle };
      }
      return stringify(cfg);
    })
    .join('---\n');
}

/** A GET over TLS trusting `ca`; resolves with the status code (0: no answer). */
function httpsStatus(port: number, path: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export class KubeVirtControlPlane {
  private virtApi?: ChildProcess;
  private controller?: ChildProcess;
  readonly manifests: string;
  private readonly certDir: string;
  caBundle = '';
  virtApiPort = 0;
  controllerPort = 0;
  readonly admin: KubeApi;

  constructor(
    private readonly workDir: string,
    private readonly kubeconfig: string,
  ) {
    this.manifests = join(workDir, 'kubevirt-manifests');
    this.certDir = join(workDir, 'kubevirt-certs');
    this.admin = KubeApi.fromKubeconfig(kubeconfig);
  }

  get virtApiLog(): string {
    return join(this.workDir, 'virt-api.log');
  }

  get controllerLog(): string {
    return join(this.workDir, 'virt-controller.log');
  }

  private k(args: string[], input?: string): string {
    const r = kubectl(this.kubeconfig, args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  }

  /** CRDs, namespace and RBAC, as virt-operator installs them. */
  install(): void {
    execFileSync(join(BIN, 'kubevirt-manifests'), ['--out', this.manifests], { stdio: 'inherit' });
    // The VM CRD alone is ~350 KB: too big for the last-applied annotation of client-side apply.
    this.k(['apply', '--server-side', '-f', join(this.manifests, 'crds.yaml')]);
    this.k(['wait', '--for', 'condition=established', 'crd', '-l', 'kubevirt.io', '--timeout=60s']);
    if (kubectl(this.kubeconfig, ['get', 'namespace', KUBEVIRT_NAMESPACE]).status !== 0)
      this.k(['create', 'namespace', KUBEVIRT_NAMESPACE]);
    this.k(['apply', '--server-side', '-f', join(this.manifests, 'rbac.yaml')]);
  }

  /** A bound token of a KubeVirt service account, as the pod would mount it. */
  token(serviceAccount: string): string {
    return this.k(['create', 'token', serviceAccount, '-n', KUBEVIRT_NAMESPACE, '--duration=24h']).trim();
  }

  private serviceAccountKubeconfig(serviceAccount: string): string {
    const path = join(this.workDir, `${serviceAccount}.kubeconfig`);
    this.admin.as(this.token(serviceAccount)).writeKubeconfig(path, serviceAccount);
    return path;
  }

  /** virt-api on loopback, then its webhook configurations (failurePolicy Fail) pointed at it. */
  async startVirtApi(): Promise<void> {
    mkdirSync(this.certDir, { recursive: true });
    this.caBundle = execFileSync(
      process.execPath,
      [
        NICGUARD,
        'certs',
        '--service',
        'virt-api',
        '--namespace',
        KUBEVIRT_NAMESPACE,
        '--ip',
        '127.0.0.1',
        '--out',
        this.certDir,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    const cert = join(this.certDir, 'tls.crt');
    const key = join(this.certDir, 'tls.key');
    const [virtApiPort, consoleServerPort] = await freePorts(2);
    this.virtApiPort = virtApiPort;
    this.virtApi = startLogged(
      join(BIN, 'virt-api'),
      [
        '--kubeconfig',
        this.serviceAccountKubeconfig('kubevirt-apiserver'),
        '--listen',
        '127.0.0.1',
        '--port',
        String(this.virtApiPort),
        // virt-api dials virt-handler's console server on this port; nothing listens.
        '--console-server-port',
        String(consoleServerPort),
        '--tls-cert-file',
        cert,
        '--tls-key-file',
        key,
        '--handler-cert-file',
        cert,
        '--handler-key-file',
        key,
      ],
      this.virtApiLog,
    );
    const child = this.virtApi;
    const ca = Buffer.from(this.caBundle, 'base64').toString('utf8');
    await waitFor(
      'virt-api serving',
      async () => {
        if (child.exitCode !== null)
          throw new Error(
            `virt-api exited with ${child.exitCode}:\n${readFileSync(this.virtApiLog, 'utf8').slice(-3000)}`,
          );
        return (await httpsStatus(this.virtApiPort, '/apis/subresources.kubevirt.io/v1/healthz', ca)) > 0
          ? true
          : undefined;
      },
      120_000,
      this.virtApiLog,
    );
    this.k(
      ['apply', '-f', '-'],
      webhooksWithUrl(readFileSync(join(this.manifests, 'webhooks.yaml'), 'utf8'), this.virtApiPort, this.caBundle),
    );
  }

  /** virt-controller on loopback; ready once it holds the leader lease. */
  async startVirtController(): Promise<void> {
    this.controllerPort = await freePort();
    const cert = join(this.certDir, 'tls.crt');
    const key = join(this.certDir, 'tls.key');
    this.controller = startLogged(
      join(BIN, 'virt-controller'),
      [
        '--kubeconfig',
        this.serviceAccountKubeconfig('kubevirt-controller'),
        '--listen',
        '127.0.0.1',
        '--port',
        String(this.controllerPort),
        '--prom-cert-file',
        cert,
        '--prom-key-file',
        key,
      ],
      this.controllerLog,
    );
    const child = this.controller;
    const ca = Buffer.from(this.caBundle, 'base64').toString('utf8');
    await waitFor(
      'virt-controller leader',
      async () => {
        if (child.exitCode !== null)
          throw new Error(
            `virt-controller exited with ${child.exitCode}:\n${readFileSync(this.controllerLog, 'utf8').slice(-3000)}`,
          );
        return (await httpsStatus(this.controllerPort, '/leader', ca)) === 200 ? true : undefined;
      },
      120_000,
      this.controllerLog,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([stopChild(this.controller, 15_000), stopChild(this.virtApi, 15_000)]);
  }
}

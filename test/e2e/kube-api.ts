// A small asynchronous REST client for the e2e API server. kubectl (spawnSync) blocks the
// event loop; the fake node runs beside the tests and must not, and kubevirt-handler's role
// has no "get", so its status writes cannot go through kubectl (which reads first).
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { parse, stringify } from 'yaml';

type Obj = Record<string, any>;

export interface ApiResponse {
  status: number;
  body: Obj;
}

interface KubeconfigFile {
  clusters: { cluster: { server: string; 'certificate-authority-data'?: string } }[];
  users: { user: { token?: string } }[];
}

export class KubeApi {
  constructor(
    readonly server: string,
    readonly ca: string,
    readonly token: string,
  ) {}

  static fromKubeconfig(path: string): KubeApi {
    const kc = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
    const cluster = kc.clusters[0].cluster;
    const ca = Buffer.from(cluster['certificate-authority-data'] ?? '', 'base64').toString('utf8');
    return new KubeApi(cluster.server, ca, kc.users[0].user.token ?? '');
  }

  /** The same server and CA, another identity (e.g. a service account token). */
  as(token: string): KubeApi {
    return new KubeApi(this.server, this.ca, token);
  }

  /** A kubeconfig file for this identity, for KubeVirt's binaries and kubectl. */
  writeKubeconfig(path: string, user: string): void {
    const kc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'e2e',
          cluster: { server: this.server, 'certificate-authority-data': Buffer.from(this.ca).toString('base64') },
        },
      ],
      users: [{ name: user, user: { token: this.token } }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user } }],
      'current-context': 'e2e',
    };
    writeFileSync(path, stringify(kc), { mode: 0o600 });
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          ca: this.ca,
          timeout: 15_000,
          headers: {
            Authorization: `Bearer ${this.token}`,
            Accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Obj;
            try {
              parsed = text ? (JSON.parse(text) as Obj) : {};
            } catch {
              parsed = { message: text };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get(path: string): Promise<ApiResponse> {
    return this.request('GET', path);
  }

  mergePatch(path: string, patch: unknown): Promise<ApiResponse> {
    return this.request('PATCH', path, patch, 'application/merge-patch+json');
  }

  jsonPatch(path: string, ops: unknown[]): Promise<ApiResponse> {
    return this.request('PATCH', path, ops, 'application/json-patch+json');
  }
}

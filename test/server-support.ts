// Fixtures for the webhook server tests: AdmissionReviews as the API server sends them,
// built from the engine's PolicyRequest shape (test/support.ts builds those from examples/).
import { waitFor as waitForShared } from './support/wait.js';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { PolicyRequest } from '../src/engine/types.js';

const RESOURCES: Record<string, string> = {
  VirtualMachine: 'virtualmachines',
  VirtualMachineInstance: 'virtualmachineinstances',
  NetworkAttachmentDefinition: 'network-attachment-definitions',
  Subnet: 'subnets',
  Pod: 'pods',
};

/** The AdmissionReview v1 the API server would send for this request (null objects included). */
export function admissionReview(req: PolicyRequest, extra: Record<string, unknown> = {}): any {
  const apiVersion = req.object?.apiVersion ?? req.oldObject?.apiVersion ?? 'v1';
  const version = apiVersion.split('/').pop() ?? 'v1';
  const group = req.group ?? apiVersion.split('/').slice(0, -1).join('/');
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: req.uid ?? randomUUID(),
      kind: { group, version, kind: req.kind },
      resource: { group, version, resource: RESOURCES[req.kind] ?? `${req.kind.toLowerCase()}s` },
      requestKind: { group, version, kind: req.kind },
      operation: req.operation,
      ...(req.namespace ? { namespace: req.namespace } : {}),
      ...(req.name ? { name: req.name } : {}),
      userInfo: req.userInfo ?? { username: 'alice' },
      object: req.object ?? null,
      oldObject: req.oldObject ?? null,
      dryRun: req.dryRun ?? false,
      options: null,
      ...extra,
    },
  };
}

/** Decodes the base64 JSON patch of a response, or undefined when there is none. */
export function patchOf(response: { patch?: string }): any[] | undefined {
  return response.patch === undefined ? undefined : JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
}

/** A pino destination that keeps each JSON line, for asserting on logs. */
export class LogCapture extends Writable {
  readonly lines: any[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
    done();
  }
  messages(msg: string): any[] {
    return this.lines.filter((l) => l.msg === msg);
  }
}

/** The shared poll helper (test/support/wait.ts) in the argument order the server tests use. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  await waitForShared(what, check, ms);
}

// Processes for the end-to-end suite: a real kube-apiserver (with embedded etcd), real
// kubectl, and nicguard started from the built package. Children log to files, so a
// full pipe can never stall them while a test waits on kubectl.
import { waitFor as waitForShared } from '../support/wait.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'test', 'e2e', '.bin');
export const NICGUARD = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** Everything test/e2e/build.sh makes; the suite needs all of it (no KubeVirt-less mode). */
const E2E_BINARIES = ['e2e-apiserver', 'kubectl', 'virt-api', 'virt-controller', 'kubevirt-manifests'];

export function requireBinaries(names: string[] = E2E_BINARIES): void {
  for (const b of names) {
    if (!existsSync(join(BIN, b)))
      throw new Error(`${join(BIN, b)} is missing: run "bash test/e2e/build.sh" (npm run test:e2e does)`);
  }
}

/**
 * n distinct free loopback ports. All n stay bound until every one is known: a port closed and asked for again can
 * come back at once, and two services on one port fail to start (seen in CI).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map((srv) => new Promise((resolve) => (srv.listening ? srv.close(resolve) : resolve(0)))),
    );
  }
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** The shared poll helper, failing with the tail of the child's log when one is named. */
async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  logFile?: string,
): Promise<T> {
  const tail = () =>
    logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
  return waitForShared(what, probe, timeoutMs, tail, 100);
}

export function startLogged(cmd: string, args: string[], logFile: string, cwd = ROOT): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

export async function stopChild(child: ChildProcess | undefined, timeoutMs = 25_000): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** kube-apiserver + etcd; restartable with the same work dir (objects and ports survive). */
export class ApiServer {
  private child?: ChildProcess;
  kubeconfig = '';
  /** extraArgs go to kube-apiserver itself (after "--"). */
  constructor(
    private readonly workDir: string,
    private readonly extraArgs: string[] = [],
  ) {}

  get log(): string {
    return join(this.workDir, 'apiserver.log');
  }

  async start(): Promise<void> {
    const before = existsSync(this.log) ? readFileSync(this.log, 'utf8').length : 0;
    this.child = startLogged(
      join(BIN, 'e2e-apiserver'),
      [
        '--work-dir',
        join(this.workDir, 'apiserver'),
        '--port',
        '0',
        '--',
        '--shutdown-watch-termination-grace-period=2s',
        ...this.extraArgs,
      ],
      this.log,
    );
    const child = this.child;
    this.kubeconfig = await waitFor(
      'kube-apiserver READY',
      () => {
        if (child.exitCode !== null)
          throw new Error(
            `e2e-apiserver exited with ${child.exitCode}:\n${readFileSync(this.log, 'utf8').slice(-3000)}`,
          );
        const m = /^READY (.+)$/m.exec(readFileSync(this.log, 'utf8').slice(before));
        return m ? m[1].trim() : undefined;
      },
      120_000,
      this.log,
    );
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
  }
}

export interface KubectlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function kubectl(kubeconfig: string, args: string[], input?: string): KubectlResult {
  const r = spawnSync(join(BIN, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
    // A list or a deletecollection of thousands of objects is megabytes.
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** nicguard serve with the informer view (--kubeconfig), as it runs in a cluster. */
export class Nicguard {
  private child?: ChildProcess;
  port = 0;
  metricsPort = 0;
  /** nodeArgs go to node itself, before the script (e.g. --cpu-prof for a benchmark). */
  constructor(
    private readonly workDir: string,
    readonly ca: string,
    private readonly certDir: string,
    private readonly nodeArgs: string[] = [],
  ) {}

  get log(): string {
    return join(this.workDir, 'nicguard.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(kubeconfig: string): Promise<void> {
    [this.port, this.metricsPort] = await freePorts(2);
    this.child = startLogged(
      process.execPath,
      [
        ...this.nodeArgs,
        NICGUARD,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(this.port),
        '--metrics-port',
        String(this.metricsPort),
        '--cert',
        join(this.certDir, 'tls.crt'),
        '--key',
        join(this.certDir, 'tls.key'),
        '--kubeconfig',
        kubeconfig,
        '--log-level',
        'info',
      ],
      this.log,
    );
    const child = this.child;
    await waitFor(
      'nicguard /readyz',
      async () => {
        if (child.exitCode !== null)
          throw new Error(`nicguard exited with ${child.exitCode}:\n${readFileSync(this.log, 'utf8').slice(-3000)}`);
        return (await this.get('/readyz').catch(() => 0)) === 200 ? true : undefined;
      },
      60_000,
      this.log,
    );
  }

  get(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: this.port, path, ca: this.ca, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  }

  async stop(): Promise<number | null> {
    return stopChild(this.child);
  }
}

export { waitFor, sleep };

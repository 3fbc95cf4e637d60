// Child-process helpers the benchmarks share: resident memory, CPU time and context switches
// from /proc, and a stop that lets nicguard serve drain (SIGTERM) before it gives up (SIGKILL).
import type { ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** `nicguard serve` flags for a benchmark: on loopback, on ports the kernel picks. */
export const LOOPBACK_ANY_PORTS = ['--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'];

/** The NODE_OPTIONS a manifest's containers set, as words; the first found (containers at any depth). */
function nodeOptionsIn(file: string): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const entry = node as { name?: unknown; value?: unknown };
      if (entry.name === 'NODE_OPTIONS' && typeof entry.value === 'string') found.push(entry.value);
      Object.values(node).forEach(walk);
    }
  };
  walk(parse(readFileSync(file, 'utf8')));
  if (found.length === 0) throw new Error(`${file} sets no NODE_OPTIONS`);
  return found[0].split(' ').filter(Boolean);
}

/**
 * The Node flags the Deployment gives nicguard serve (its NODE_OPTIONS in
 * manifests/base/deployment.yaml, which the chart's values repeat and a chart test holds equal):
 * benchmarks that run the server "as deployed" read them here rather than copy them.
 */
export function deployedNodeFlags(root: string): string[] {
  return nodeOptionsIn(join(root, 'manifests', 'base', 'deployment.yaml'));
}

/** The Node flags the audit CronJob gives `nicguard audit` (manifests/overlays/audit/cronjob.yaml). */
export function auditCronJobNodeFlags(root: string): string[] {
  return nodeOptionsIn(join(root, 'manifests', 'overlays', 'audit', 'cronjob.yaml'));
}

/** The space-separated words of `--name=W1 W2 ...` in argv (none if not given). */
function wordsOption(name: string, argv: readonly string[]): string[] {
  const prefix = `${name}=`;
  const value = argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? '';
  return value.split(' ').filter(Boolean);
}

/** `--node-flags=F`: Node flags for the nicguard serve a bench starts, space-separated (none if not given). */
export function nodeFlagsOption(argv: readonly string[] = process.argv): string[] {
  return wordsOption('--node-flags', argv);
}

/** `--serve-flags="F ..."`: more flags for `nicguard serve`, e.g. `--serve-flags=--helper-thread-nice=0`. */
export function serveFlagsOption(argv: readonly string[] = process.argv): string[] {
  return wordsOption('--serve-flags', argv);
}

/** A memory line of /proc/<pid>/status (VmRSS, VmHWM) in MB, or NaN once the process has gone. */
function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resident memory of a process in MB, or NaN once it has gone. */
export function rssMb(pid: number): number {
  return statusMb(pid, 'VmRSS');
}

/** Peak resident memory of a process so far (VmHWM), in MB; NaN once it has gone. */
export function peakRssMb(pid: number): number {
  return statusMb(pid, 'VmHWM');
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after "pid (comm) ".
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** Context switches of a process's main thread so far (/proc/<pid>/status); involuntary ones are preemptions. */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
}

/** CPU time (user + system, all threads) a process has used so far, in seconds, or NaN once it has gone. */
export function cpuSeconds(pid: number): number {
  try {
    return cpuMs(pid) / 1000;
  } catch {
    return NaN;
  }
}

/** SIGTERM (serve drains and exits 0), SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A server's /metrics text on 127.0.0.1, or '' if it does not answer within 10 s (it may be gone). */
export function scrapeMetrics(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

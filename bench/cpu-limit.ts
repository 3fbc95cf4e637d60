// A CPU limit as the kubelet sets one for a container's `resources.limits.cpu`: a cgroup
// whose CFS quota is that many CPUs' worth of every 100 ms period. Past the quota every
// thread of the group waits for the next period (kernel Documentation/scheduler/sched-bwc.rst),
// so a process whose helper threads (V8's GC and compiler) run beside its main thread can
// use up a period's quota early and stall, which pinning the process to one core never shows.
// Needs a writable cgroup cpu controller (root): cgroup v1 `cpu.cfs_quota_us` or v2 `cpu.max`.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PERIOD_US = 100_000;

export interface CpuThrottling {
  periods: number;
  throttledPeriods: number;
  throttledMs: number;
}

export interface CpuLimitGroup {
  /** The argv prefix that runs a command inside the group: `[...prefix, command, ...args]`. */
  prefix: string[];
  throttling(): CpuThrottling;
  remove(): void;
}

/** The cgroup folder to make the group in, and its version; undefined where none is mounted (writes may fail). */
function cpuController(): { root: string; version: 1 | 2 } | undefined {
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) return { root: '/sys/fs/cgroup/cpu', version: 1 };
  const controllers = '/sys/fs/cgroup/cgroup.controllers';
  if (existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu'))
    return { root: '/sys/fs/cgroup', version: 2 };
  return undefined;
}

/** A fresh cgroup limited to `cpus` CPUs; throws, saying why, where one cannot be made. */
export function createCpuLimitGroup(cpus: number): CpuLimitGroup {
  const controller = cpuController();
  if (!controller) throw new Error('--cpu-limit needs a cgroup cpu controller (/sys/fs/cgroup); none found');
  const dir = join(controller.root, `nicguard-bench-${process.pid}`);
  const quota = String(Math.round(cpus * PERIOD_US));
  try {
    mkdirSync(dir);
    if (controller.version === 1) {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), quota);
    } else {
      writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
    }
  } catch (err) {
    throw new Error(`--cpu-limit could not make a cgroup at ${dir} (run as root?): ${(err as Error).message}`, {
      cause: err,
    });
  }
  const procs = join(dir, 'cgroup.procs');
  return {
    // The shell enters the group, then execs the command: the child's pid is the command's own.
    prefix: ['sh', '-c', 'echo $$ > "$0" && exec "$@"', procs],
    throttling() {
      const stat = new Map(
        readFileSync(join(dir, 'cpu.stat'), 'utf8')
          .trim()
          .split('\n')
          .map((line) => line.split(' ') as [string, string]),
      );
      const throttledMs =
        controller.version === 1
          ? Number(stat.get('throttled_time') ?? 0) / 1e6
          : Number(stat.get('throttled_usec') ?? 0) / 1e3;
      return {
        periods: Number(stat.get('nr_periods') ?? 0),
        throttledPeriods: Number(stat.get('nr_throttled') ?? 0),
        throttledMs: Math.round(throttledMs),
      };
    },
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // Still holds a process that has not exited yet, or gone already.
      }
    },
  };
}

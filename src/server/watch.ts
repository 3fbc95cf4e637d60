// Watches files for change: fs.watch on their directories (Kubernetes updates a mounted
// Secret or ConfigMap by swapping a `..data` symlink, which only a directory watch sees),
// plus fs.watchFile polling for filesystems where fs.watch reports nothing. Bursts of
// events (cert then key written) are debounced into one callback.
import { statSync, watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface WatchOptions {
  /** Quiet time after the last event before the callback runs (default 200 ms). */
  debounceMs?: number;
  /** Polling interval of the fallback (default 5000 ms). */
  pollIntervalMs?: number;
  /** Told when the directory watch cannot be used (polling still runs). */
  onWatchError?: (err: Error, dir: string) => void;
}

export interface FileWatch {
  close(): void;
}

export function watchFiles(paths: readonly string[], onChange: () => void, opts: WatchOptions = {}): FileWatch {
  const debounceMs = opts.debounceMs ?? 200;
  const pollIntervalMs = opts.pollIntervalMs ?? 5000;
  const files = [...new Set(paths.map((p) => resolve(p)))];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const trigger = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange();
    }, debounceMs);
    timer.unref();
  };

  const watchers: FSWatcher[] = [];
  // A directory given itself is watched for its entries; a file through its directory.
  const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;
  for (const dir of new Set(files.map((f) => (isDir(f) ? f : dirname(f))))) {
    try {
      const w = watch(dir, { persistent: false }, trigger);
      w.on('error', (err) => {
        opts.onWatchError?.(err, dir);
        w.close();
      });
      watchers.push(w);
    } catch (err) {
      opts.onWatchError?.(err as Error, dir);
    }
  }

  const onStat = (
    curr: { mtimeMs: number; ino: number; size: number },
    prev: { mtimeMs: number; ino: number; size: number },
  ) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.ino !== prev.ino || curr.size !== prev.size) trigger();
  };
  for (const f of files) {
    watchFile(f, { persistent: false, interval: pollIntervalMs }, onStat);
  }

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      for (const f of files) unwatchFile(f, onStat);
    },
  };
}

// `nicguard serve`: the admission webhook over HTTPS, with metrics on a plain-HTTP port.
// Flags only; src/server/run.ts does the work and is loaded when the command runs.
import { KUBEVIRT_VERSION_HELP, kubevirtVersionOption } from './options.js';
import { isLogLevel, LOG_LEVELS } from '../server/log-levels.js';
import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError } from '../engine/config.js';
import type { ServeOptions } from '../server/run.js';
import { DEFAULT_HELPER_NICE } from '../server/helper-threads.js';

const DEV_CERT_DIR = 'certs';

const EXAMPLES = `
Examples:
  # local development: self-signed certificates in ./certs, cluster objects from files
  $ nicguard serve --dev --objects examples/cluster

  # in a cluster: certificates from a mounted Secret, objects from the API server
  $ nicguard serve --cert /tls/tls.crt --key /tls/tls.key --config /etc/nicguard/config.yaml

The certificate pair and the --config file are watched: a new pair or configuration is
taken without a restart; one that does not load is logged and the previous one kept.
On SIGTERM /readyz turns 503 and every answer carries Connection: close; after
--shutdown-delay seconds (time for the endpoint to be withdrawn) the listener closes,
requests in flight are finished, idle connections closed, and the process exits 0 within
--grace-period seconds of the signal. SIGINT (Ctrl-C) skips the delay.`;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port number 0-65535 (0: any free port)');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds > 0');
  return n;
}

function delaySeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds >= 0');
  return n;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

function niceValue(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new InvalidArgumentError('expected a nice value 0-19');
  return n;
}

function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function logLevel(value: string): string {
  if (!isLogLevel(value)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return value;
}

/** A bad --config file, or the system refusing a file or port (EACCES, ENOENT, ...): exit 2. */
function isUserFacing(err: unknown): boolean {
  return (
    err instanceof ConfigError ||
    (err instanceof Error &&
      typeof (err as NodeJS.ErrnoException).code === 'string' &&
      (err as NodeJS.ErrnoException).syscall !== undefined)
  );
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'Run the admission webhook over HTTPS (POST /validate, POST /mutate, GET /healthz, GET /readyz), with ' +
        'Prometheus metrics on a plain-HTTP port',
    )
    .option('--port <port>', 'HTTPS port of the admission endpoints (0: any free port)', port, 8443)
    .option('--host <address>', 'address to listen on (default: all interfaces)')
    .option('--cert <file>', 'serving certificate (PEM); watched and reloaded')
    .option('--key <file>', 'private key of --cert (PEM); watched and reloaded')
    .option('--dev', `make (or reuse) a self-signed CA and a certificate for localhost/127.0.0.1 in ./${DEV_CERT_DIR}`)
    .option(
      '--objects <dir>',
      'cluster objects (NADs, Subnets, VMIs, KubeVirt CR) from a folder of manifests instead of a cluster',
    )
    .option('--kubeconfig <file>', 'kubeconfig for the cluster view (default: in-cluster config)')
    .option('--config <file>', 'policy configuration (YAML or JSON); watched and reloaded')
    .option('--kubevirt-version <version>', KUBEVIRT_VERSION_HELP, kubevirtVersionOption)
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, logLevel, 'info')
    .option('--metrics-port <port>', 'plain-HTTP port for GET /metrics (0: any free port)', port, 9090)
    .option(
      '--grace-period <seconds>',
      'on SIGTERM, time from the signal to the exit, the shutdown delay included',
      seconds,
      20,
    )
    .option(
      '--shutdown-delay <seconds>',
      'on SIGTERM, keep serving (not ready, Connection: close) this long before closing the listener',
      delaySeconds,
      5,
    )
    .option('--max-connections <n>', 'cap on open HTTPS connections; further ones are closed right away', count, 512)
    .option(
      '--helper-thread-nice <n>',
      "nice value (0-19) for Node's helper threads (V8's GC and compiler), so that under a CPU limit the " +
        "thread that answers comes first (Linux; 0 leaves them at the main thread's priority)",
      niceValue,
      DEFAULT_HELPER_NICE,
    )
    .option('--tls-min-version <version>', 'VersionTLS12 or VersionTLS13', 'VersionTLS12')
    .option(
      '--tls-cipher-suites <names>',
      'TLS 1.2 (and 1.3) cipher suites, IANA names, comma separated (default: ECDHE with AES-GCM or ChaCha20-Poly1305)',
      commaList,
    )
    .addHelpText('after', EXAMPLES)
    .action(async (opts: ServeOptions) => {
      const { runServe, UsageError } = await import('../server/run.js');
      try {
        await runServe(opts);
      } catch (err) {
        // Anything else is a bug: main.ts reports it as an internal error (exit 3).
        if (!(err instanceof UsageError) && !isUserFacing(err)) throw err;
        process.stderr.write(`nicguard serve: ${(err as Error).message}\n`);
        process.exit(2);
      }
    });
}

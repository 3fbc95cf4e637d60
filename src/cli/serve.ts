// `nicguard serve`: the admission webhook over HTTPS, with metrics on a plain-HTTP port.
// Flags only; src/server/run.ts does the work and is loaded when the command runs.
import { InvalidArgumentError, type Command } from 'commander';
import type { ServeOptions } from '../server/run.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DEV_CERT_DIR = 'certs';

const EXAMPLES = `
Examples:
  # local development: self-signed certificates in ./certs, cluster objects from files
  $ nicguard serve --dev --objects examples/cluster

  # in a cluster: certificates from a mounted Secret, objects from the API server
  $ nicguard serve --cert /tls/tls.crt --key /tls/tls.key --config /etc/nicguard/config.yaml

The certificate pair and the --config file are watched: a new pair or configuration is
taken without a restart; one that does not load is logged and the previous one kept.
SIGTERM stops accepting connections, finishes requests in flight and exits 0 within
--grace-period seconds.`;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0-65535 (0: any free port)');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds > 0');
  return n;
}

function logLevel(value: string): string {
  if (!LOG_LEVELS.includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return value;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the admission webhook over HTTPS (POST /validate, POST /mutate, GET /healthz, GET /readyz), with Prometheus metrics on a plain-HTTP port')
    .option('--port <port>', 'HTTPS port of the admission endpoints (0: any free port)', port, 8443)
    .option('--host <address>', 'address to listen on (default: all interfaces)')
    .option('--cert <file>', 'serving certificate (PEM); watched and reloaded')
    .option('--key <file>', 'private key of --cert (PEM); watched and reloaded')
    .option('--dev', `make (or reuse) a self-signed CA and a certificate for localhost/127.0.0.1 in ./${DEV_CERT_DIR}`)
    .option('--objects <dir>', 'cluster objects (NADs, Subnets, VMIs, KubeVirt CR) from a folder of manifests instead of a cluster')
    .option('--kubeconfig <file>', 'kubeconfig for the cluster view (default: in-cluster config)')
    .option('--config <file>', 'policy configuration (YAML or JSON); watched and reloaded')
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, logLevel, 'info')
    .option('--metrics-port <port>', 'plain-HTTP port for GET /metrics (0: any free port)', port, 9090)
    .option('--grace-period <seconds>', 'on SIGTERM, time to finish requests in flight before exiting', seconds, 20)
    .addHelpText('after', EXAMPLES)
    .action(async (opts: ServeOptions) => {
      try {
        const { runServe } = await import('../server/run.js');
        await runServe(opts);
      } catch (err) {
        process.stderr.write(`nicguard serve: ${(err as Error).message}\n`);
        process.exit(2);
      }
    });
}

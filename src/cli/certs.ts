// `nicguard certs`: a CA and serving certificate for the webhook Service, for clusters
// without cert-manager. Only the base64 CA bundle goes to stdout, so it can be captured
// with $(...); everything else is a note on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { serviceDnsNames } from '../certs/generate.js';
import { patchWebhookCaBundle } from '../certs/patch-webhooks.js';
import { ensureCertificates } from '../certs/reuse.js';

interface CertsOptions {
  service: string;
  namespace: string;
  out: string;
  ip?: string[];
  dns?: string[];
  days: number;
  force?: boolean;
  patchWebhooks?: string[];
}

const EXAMPLES = `
Examples:
  # for the plain overlay: write the files kustomize reads, then install
  $ nicguard certs --out manifests/overlays/plain/certs
  $ kubectl apply -k manifests/overlays/plain

  # capture the CA bundle in a shell variable
  $ CA_BUNDLE=$(nicguard certs --out ./certs)

  # also serve on a node IP, and set caBundle in rendered webhook configurations
  $ nicguard certs --out ./certs --ip 10.0.0.5 --patch-webhooks webhooks.yaml

Existing files in --out are reused when they still fit (same CA, names and IPs covered,
more than 7 days left), so running the command again does not change the CA bundle.
Use --force to make new ones. Private keys are written with mode 0600.`;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of days >= 1');
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface WebhookFile {
  file: string;
  text: string;
}

/** Reads and checks every file before any certificate is made, so bad input changes nothing. */
function readWebhookFiles(files: string[]): WebhookFile[] {
  return files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (patchWebhookCaBundle(text, 'check', file).patched.length === 0) {
      throw new Error(`${file} holds no ValidatingWebhookConfiguration or MutatingWebhookConfiguration with webhooks`);
    }
    return { file, text };
  });
}

function runCerts(opts: CertsOptions): void {
  const ips = opts.ip ?? [];
  const dnsNames = [...serviceDnsNames(opts.service, opts.namespace), ...(opts.dns ?? [])];
  const commonName = `${opts.service}.${opts.namespace}.svc`;
  const webhookFiles = readWebhookFiles(opts.patchWebhooks ?? []);
  const result = ensureCertificates(opts.out, { commonName, dnsNames, ips, days: opts.days }, { force: opts.force });
  if (result.created) {
    const why = result.replacedBecause ? ` (replaced the old ones: ${result.replacedBecause})` : '';
    process.stderr.write(`wrote ${result.paths.caPath}, ${result.paths.certPath}, ${result.paths.keyPath}, ${result.paths.caKeyPath}${why}\n`);
  } else {
    process.stderr.write(`reused the certificates in ${opts.out} (they still cover ${[...dnsNames, ...ips].join(', ')}; --force makes new ones)\n`);
  }
  const caBundle = Buffer.from(result.bundle.caCert).toString('base64');
  for (const { file, text } of webhookFiles) {
    const patch = patchWebhookCaBundle(text, caBundle, file);
    writeFileSync(file, patch.text);
    process.stderr.write(`set caBundle in ${file}: ${patch.patched.join('; ')}\n`);
  }
  process.stdout.write(`${caBundle}\n`);
}

export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description('Make a CA and a serving certificate for the webhook Service; print the CA bundle (base64)')
    .option('--service <name>', 'name of the webhook Service', 'nicguard')
    .option('--namespace <namespace>', 'namespace of the webhook Service', 'nicguard-system')
    .option('--out <dir>', 'folder for ca.crt, ca.key, tls.crt, tls.key (created if missing)', 'certs')
    .option('--ip <address>', 'an IP address the certificate must also cover (repeatable)', collect)
    .option('--dns <name>', 'an extra DNS name the certificate must cover (repeatable)', collect)
    .option('--days <n>', 'validity in days', positiveInt, 365)
    .option('--force', 'make new certificates even when the files in --out still fit')
    .option('--patch-webhooks <file...>', 'set clientConfig.caBundle of every webhook in these YAML files (edited in place)')
    .addHelpText('after', EXAMPLES)
    .action((opts: CertsOptions) => {
      try {
        runCerts(opts);
      } catch (err) {
        process.stderr.write(`nicguard certs: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

// `nicguard certs`: a CA and serving certificate for the webhook Service, for clusters
// without cert-manager. By default only the base64 CA bundle goes to stdout, so it can be
// captured with $(...); --print-secret prints manifests instead. Notes go to stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { stringify } from 'yaml';
import { generateCertificates, serviceDnsNames, type CertBundle, type CertOptions } from '../certs/generate.js';
import { caBundlePatches, readWebhookFile, setCaBundle, type WebhookFile } from '../certs/patch-webhooks.js';
import { ensureCertificates } from '../certs/reuse.js';
import { collect } from './options.js';

interface CertsOptions {
  service: string;
  namespace: string;
  out?: string;
  ip?: string[];
  dns?: string[];
  days: number;
  force?: boolean;
  rotateCa?: boolean;
  patchWebhooks?: string[];
  printSecret?: boolean;
  secretName: string;
}

const DEFAULT_OUT = 'certs';

const EXAMPLES = `
Examples:
  # for the plain overlay: write the files kustomize reads, then install
  $ nicguard certs --out manifests/overlays/plain/certs
  $ kubectl apply -k manifests/overlays/plain

  # capture the CA bundle in a shell variable
  $ CA_BUNDLE=$(nicguard certs --out ./certs)

  # also serve on a node IP, and set caBundle in rendered webhook configurations
  $ nicguard certs --out ./certs --ip 10.0.0.5 --patch-webhooks webhooks.yaml

  # GitOps: a Secret manifest and the caBundle patches on stdout, no files written;
  # seal or encrypt the Secret before it goes into git
  $ nicguard certs --print-secret > nicguard-tls.yaml

Existing files in --out are reused when they still fit (names and IPs covered, more than
7 days left). A serving certificate that does not fit (another --service, a new --ip) is
re-issued by the CA already there, so the CA bundle does not change. The CA itself is only
replaced with --rotate-ca. Private keys are written with mode 0600.`;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of days >= 1');
  return n;
}

/** Reads and checks every file before any certificate is made, so bad input changes nothing. */
function readWebhookFiles(files: string[]): WebhookFile[] {
  return files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        cause: err,
      });
    }
    const found = readWebhookFile(text, file);
    if (found.webhooks.length === 0) {
      throw new Error(`${file} holds no ValidatingWebhookConfiguration or MutatingWebhookConfiguration with webhooks`);
    }
    return found;
  });
}

/** Files in --out when given (or by default); in memory only for --print-secret without --out. */
function certificates(opts: CertsOptions, certOpts: CertOptions, names: string[]): CertBundle {
  const out = opts.out ?? (opts.printSecret ? undefined : DEFAULT_OUT);
  if (out === undefined) {
    process.stderr.write(
      'made a new CA and serving certificate in memory; no files written (--out keeps them for reuse)\n',
    );
    return generateCertificates(certOpts);
  }
  const result = ensureCertificates(out, certOpts, { force: opts.force, rotateCa: opts.rotateCa });
  const { caPath, certPath, keyPath, caKeyPath } = result.paths;
  if (result.caCreated) {
    process.stderr.write(`wrote a new CA and serving certificate: ${caPath}, ${caKeyPath}, ${certPath}, ${keyPath}\n`);
  } else if (result.created) {
    const why = result.replacedBecause ? ` (${result.replacedBecause})` : '';
    process.stderr.write(
      `wrote a new serving certificate signed by the existing CA ${caPath}: ${certPath}, ${keyPath}${why}\n`,
    );
  } else {
    process.stderr.write(
      `reused the certificates in ${out} (they still cover ${names.join(', ')}; ` +
        '--force makes a new serving certificate)\n',
    );
  }
  return result.bundle;
}

/** A kubernetes.io/tls Secret (with ca.crt, as cert-manager writes it) and the caBundle patches, as YAML. */
function secretManifests(bundle: CertBundle, opts: CertsOptions, caBundle: string): string {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const secret = stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: opts.secretName, namespace: opts.namespace, labels: { 'app.kubernetes.io/name': 'nicguard' } },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(bundle.cert), 'tls.key': b64(bundle.key), 'ca.crt': caBundle },
  });
  return [
    '# The serving certificate and its key: PRIVATE. Seal or encrypt this document (kubeseal, sops)\n' +
      '# before it goes into git; the CA key is not in it.\n' +
      secret,
    '# caBundle for the webhooks (public): strategic-merge patches for kustomize `patches:`.\n' +
      caBundlePatches(caBundle)[0],
    caBundlePatches(caBundle)[1],
  ].join('---\n');
}

function runCerts(opts: CertsOptions): void {
  const ips = opts.ip ?? [];
  const dnsNames = [...serviceDnsNames(opts.service, opts.namespace), ...(opts.dns ?? [])];
  const commonName = `${opts.service}.${opts.namespace}.svc`;
  const webhookFiles = readWebhookFiles(opts.patchWebhooks ?? []);
  const bundle = certificates(opts, { commonName, dnsNames, ips, days: opts.days }, [...dnsNames, ...ips]);
  const caBundle = Buffer.from(bundle.caCert).toString('base64');
  for (const file of webhookFiles) {
    writeFileSync(file.source, setCaBundle(file, caBundle));
    process.stderr.write(`set caBundle in ${file.source}: ${file.webhooks.map((w) => w.label).join('; ')}\n`);
  }
  process.stdout.write(opts.printSecret ? secretManifests(bundle, opts, caBundle) : `${caBundle}\n`);
}

export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description('Make a CA and a serving certificate for the webhook Service; print the CA bundle (base64)')
    .option('--service <name>', 'name of the webhook Service', 'nicguard')
    .option('--namespace <namespace>', 'namespace of the webhook Service', 'nicguard-system')
    .option(
      '--out <dir>',
      `folder for ca.crt, ca.key, tls.crt, tls.key (created if missing; default: ${DEFAULT_OUT}; ` +
        'none with --print-secret)',
    )
    .option('--ip <address>', 'an IP address the certificate must also cover (repeatable)', collect)
    .option('--dns <name>', 'an extra DNS name the certificate must cover (repeatable)', collect)
    .option('--days <n>', 'validity in days', positiveInt, 365)
    .option('--force', 'make a new serving certificate even when the one in --out still fits (the CA is kept)')
    .option('--rotate-ca', 'replace the CA in --out too; every caBundle that trusts the old one must then be updated')
    .option(
      '--patch-webhooks <file...>',
      'set clientConfig.caBundle of every webhook in these YAML files (edited in place)',
    )
    .option(
      '--print-secret',
      'print a kubernetes.io/tls Secret (with ca.crt) and caBundle patches for both webhook configurations',
    )
    .option(
      '--secret-name <name>',
      'name of the Secret --print-secret prints (the Deployment mounts nicguard-tls)',
      'nicguard-tls',
    )
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

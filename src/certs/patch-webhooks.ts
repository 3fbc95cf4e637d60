// The CA bundle in webhook configurations: set it in YAML files (--patch-webhooks), or
// print patches that set it (--print-secret). Files are edited as parsed documents rather
// than text so comments and other documents in the same file survive unchanged.
import { isMap, isSeq, parseAllDocuments, stringify, type Document, type YAMLMap } from 'yaml';

const WEBHOOK_KINDS = new Set(['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);

/** nicguard's two configurations and their webhooks, as in manifests/base/webhooks.yaml (a test keeps them equal). */
export const NICGUARD_WEBHOOK_CONFIGURATIONS = [
  { kind: 'ValidatingWebhookConfiguration', name: 'nicguard', webhooks: ['validate.nicguard.io'] },
  { kind: 'MutatingWebhookConfiguration', name: 'nicguard', webhooks: ['mutate.nicguard.io'] },
] as const;

/** A YAML file read and checked, ready to have its webhooks' caBundle set. */
export interface WebhookFile {
  source: string;
  docs: Document.Parsed[];
  /** The webhook mappings found, each with "Kind/name: webhook-name" for messages. */
  webhooks: { hook: YAMLMap; label: string }[];
}

/** Finds every webhook of every webhook configuration in text; throws, naming source and document, on bad YAML. */
export function readWebhookFile(text: string, source: string): WebhookFile {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new Error(`${source}: empty YAML stream`);
  const webhooks: WebhookFile['webhooks'] = [];
  docs.forEach((doc: Document.Parsed, i) => {
    if (doc.errors.length > 0)
      throw new Error(`${source}: document ${i + 1} is not valid YAML: ${doc.errors[0].message}`);
    const kind = doc.get('kind');
    if (typeof kind !== 'string' || !WEBHOOK_KINDS.has(kind)) return;
    const name = String(doc.getIn(['metadata', 'name']) ?? `<document ${i + 1}>`);
    const list = doc.get('webhooks');
    if (!isSeq(list)) throw new Error(`${source}: ${kind}/${name} has no webhooks list`);
    list.items.forEach((hook, j) => {
      if (!isMap(hook)) throw new Error(`${source}: ${kind}/${name} webhooks[${j}] is not a mapping`);
      const clientConfig = hook.get('clientConfig');
      if (clientConfig !== undefined && !isMap(clientConfig))
        throw new Error(`${source}: ${kind}/${name} webhooks[${j}].clientConfig is not a mapping`);
      webhooks.push({ hook, label: `${kind}/${name}: ${String(hook.get('name') ?? `webhooks[${j}]`)}` });
    });
  });
  return { source, docs, webhooks };
}

/** Sets clientConfig.caBundle on every webhook found by readWebhookFile; returns the new text. */
export function setCaBundle(file: WebhookFile, caBundleBase64: string): string {
  for (const { hook } of file.webhooks) hook.setIn(['clientConfig', 'caBundle'], caBundleBase64);
  return file.docs.map((d) => d.toString({ lineWidth: 0 })).join('');
}

/**
 * Strategic-merge patches setting caBundle on nicguard's webhooks (webhooks merge by name),
 * usable as kustomize `patches:` or with `kubectl patch --type strategic`.
 */
export function caBundlePatches(caBundleBase64: string): string[] {
  return NICGUARD_WEBHOOK_CONFIGURATIONS.map(({ kind, name, webhooks }) =>
    stringify(
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind,
        metadata: { name },
        webhooks: webhooks.map((hook) => ({ name: hook, clientConfig: { caBundle: caBundleBase64 } })),
      },
      { lineWidth: 0 },
    ),
  );
}

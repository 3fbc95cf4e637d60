// Writes a CA bundle into every webhook of the Validating/MutatingWebhookConfigurations in a
// YAML text. Edits the parsed document rather than the text so comments and other
// documents in the same file survive unchanged.
import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';

const WEBHOOK_KINDS = new Set(['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);

export interface PatchResult {
  text: string;
  /** "Kind/name: webhook-name" for each webhook whose caBundle was set. */
  patched: string[];
}

/** Sets clientConfig.caBundle on every webhook; throws (naming source and document) on YAML it cannot read. */
export function patchWebhookCaBundle(text: string, caBundleBase64: string, source: string): PatchResult {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new Error(`${source}: empty YAML stream`);
  const patched: string[] = [];
  docs.forEach((doc: Document.Parsed, i) => {
    if (doc.errors.length > 0) throw new Error(`${source}: document ${i + 1} is not valid YAML: ${doc.errors[0].message}`);
    const kind = doc.get('kind');
    if (typeof kind !== 'string' || !WEBHOOK_KINDS.has(kind)) return;
    const name = String(doc.getIn(['metadata', 'name']) ?? `<document ${i + 1}>`);
    const webhooks = doc.get('webhooks');
    if (!isSeq(webhooks)) throw new Error(`${source}: ${kind}/${name} has no webhooks list`);
    webhooks.items.forEach((hook, j) => {
      if (!isMap(hook)) throw new Error(`${source}: ${kind}/${name} webhooks[${j}] is not a mapping`);
      const clientConfig = hook.get('clientConfig');
      if (clientConfig !== undefined && !isMap(clientConfig)) throw new Error(`${source}: ${kind}/${name} webhooks[${j}].clientConfig is not a mapping`);
      hook.setIn(['clientConfig', 'caBundle'], caBundleBase64);
      patched.push(`${kind}/${name}: ${String(hook.get('name') ?? `webhooks[${j}]`)}`);
    });
  });
  return { text: docs.map((d) => d.toString({ lineWidth: 0 })).join(''), patched };
}

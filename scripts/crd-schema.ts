// Prints the openAPIV3Schema of one CRD version, as JSON, from a YAML stream of manifests
// (stdin): what schemas/*/regenerate.sh store as data for the schema rule.
//   node dist/scripts/crd-schema.js <crd name> <version> < manifests.yaml
// Helm template lines (`{{ ... }}` alone on a line, as Kube-OVN's chart wraps its CRDs in)
// are dropped before parsing; any other templating is an error.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

interface CrdVersion {
  name?: string;
  schema?: { openAPIV3Schema?: unknown };
}

function main(): void {
  const [crdName, version] = process.argv.slice(2);
  if (!crdName || !version) throw new Error('usage: crd-schema <crd name> <version> < manifests.yaml');
  const text = readFileSync(0, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*\{\{.*\}\}\s*$/.test(line))
    .join('\n');
  for (const doc of parseAllDocuments(text)) {
    // Other documents may have errors (Kube-OVN v1.14.41's Vpc CRD repeats a key); only this one matters.
    const crd = doc.toJS({ maxAliasCount: 0 }) as {
      kind?: string;
      metadata?: { name?: string };
      spec?: { versions?: CrdVersion[] };
    } | null;
    if (crd?.kind !== 'CustomResourceDefinition' || crd.metadata?.name !== crdName) continue;
    if (doc.errors.length) throw new Error(`YAML error in ${crdName}: ${doc.errors[0].message}`);
    const schema = crd.spec?.versions?.find((v) => v.name === version)?.schema?.openAPIV3Schema;
    if (!schema) throw new Error(`${crdName} has no version ${version} with an openAPIV3Schema`);
    process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    return;
  }
  throw new Error(`no CustomResourceDefinition ${crdName} in the input`);
}

main();

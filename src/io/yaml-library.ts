// The yaml library, loaded on first use: `nicguard validate` over JSON and plain YAML never
// needs it (./plain-documents.ts reads those), and loading it is ~50 ms of a start.
import { createRequire } from 'node:module';

type YamlLibrary = typeof import('yaml');

let library: YamlLibrary | undefined;

/** The same module instance an `import ... from 'yaml'` gives (the package's CommonJS build). */
export function yamlLibrary(): YamlLibrary {
  library ??= createRequire(import.meta.url)('yaml') as YamlLibrary;
  return library;
}

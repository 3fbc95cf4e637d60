// Where the schema rule gets the CRD schemas: a source the edge registers (src/io/crd-schemas.ts
// reads them from schemas/), so the engine itself reads no file. Without one the rule finds
// nothing: only manifests (the CLI) are checked against schemas, and the CLI registers it.
import type { JudgedKind } from './kinds.js';

/** The CRD document (or its openAPIV3Schema) for a kind. */
export type CrdSchemaSource = (kind: JudgedKind) => unknown;

let source: CrdSchemaSource | undefined;

export function useCrdSchemas(next: CrdSchemaSource): void {
  source = next;
}

export function crdSchemaOf(kind: JudgedKind): unknown {
  return source?.(kind);
}

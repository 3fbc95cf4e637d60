// Field paths of findings, built from typed segments and rendered once:
// `spec.template.spec.networks[1].multus.networkName`, `metadata.annotations["a.b/c"]`.
// The CLI locates a finding in the user's YAML from the segments, so nothing parses a
// rendered path back.

export type PathSegment = { field: string } | { key: string } | { index: number };

export class FieldPath {
  private constructor(readonly segments: readonly PathSegment[]) {}

  static readonly root = new FieldPath([]);

  /** A path of plain field names, e.g. `FieldPath.of('spec', 'template', 'spec')`. */
  static of(...fields: string[]): FieldPath {
    return new FieldPath(fields.map((field) => ({ field })));
  }

  /** A plain field name: rendered after a dot. */
  field(...names: string[]): FieldPath {
    return new FieldPath([...this.segments, ...names.map((field) => ({ field }))]);
  }

  /** A map key that may hold dots or slashes (an annotation): rendered as `["key"]`. */
  key(key: string): FieldPath {
    return new FieldPath([...this.segments, { key }]);
  }

  index(index: number): FieldPath {
    return new FieldPath([...this.segments, { index }]);
  }

  /** The keys to walk in a parsed document: field names and map keys as strings, indexes as numbers. */
  keys(): (string | number)[] {
    return this.segments.map((s) => ('index' in s ? s.index : 'key' in s ? s.key : s.field));
  }

  toString(): string {
    let out = '';
    for (const s of this.segments) {
      if ('index' in s) out += `[${s.index}]`;
      else if ('key' in s) out += `[${JSON.stringify(s.key)}]`;
      else out += out === '' ? s.field : `.${s.field}`;
    }
    return out;
  }
}

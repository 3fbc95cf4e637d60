// Field paths of findings, built from typed segments and rendered once:
// `spec.template.spec.networks[1].multus.networkName`, `metadata.annotations["a.b/c"]`.
// The CLI locates a finding in the user's YAML from the segments, so nothing parses a
// rendered path back. A path is a parent link and one segment: every view of a VM builds
// one per interface and network, so extending a path must cost O(1), not a copy.

export type PathSegment = { field: string } | { key: string } | { index: number };

export class FieldPath {
  private constructor(
    private readonly parent: FieldPath | undefined,
    private readonly segment: PathSegment | undefined,
  ) {}

  static readonly root = new FieldPath(undefined, undefined);

  /** A path of plain field names, e.g. `FieldPath.of('spec', 'template', 'spec')`. */
  static of(...fields: string[]): FieldPath {
    return FieldPath.root.field(...fields);
  }

  /** Plain field names: rendered after a dot. */
  field(...names: string[]): FieldPath {
    return names.reduce<FieldPath>((path, field) => new FieldPath(path, { field }), this);
  }

  /** A map key that may hold dots or slashes (an annotation): rendered as `["key"]`. */
  key(key: string): FieldPath {
    return new FieldPath(this, { key });
  }

  index(index: number): FieldPath {
    return new FieldPath(this, { index });
  }

  /** The segments from the root: collected up the parent links, then put in order. */
  get segments(): PathSegment[] {
    const out: PathSegment[] = [];
    if (!this.segment) return out;
    out.push(this.segment);
    for (let at = this.parent; at?.segment; at = at.parent) out.push(at.segment);
    return out.reverse();
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

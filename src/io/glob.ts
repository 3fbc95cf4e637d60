// Globs for `--exclude`, matched by a small state machine. Node's path.matchesGlob
// exists on Node 20.20 but is experimental there and prints an ExperimentalWarning to stderr
// on first use, which a CI tool must not; test/manifests.test.ts checks that both agree.
//
// Paths use `/`. `*` matches within one path segment, `**` (a whole segment) any number of
// segments, `?` one character other than `/`, `[abc]`, `[a-z]`, `[!a]` one character of a
// set, `{a,b}` either alternative; a backslash escapes the next character.

/** What a glob is made of: one character, `*`, `**` then a slash, `**` at the end, or `{...}` alternatives. */
type Piece =
  | { kind: 'char'; test: (code: number) => boolean }
  | { kind: 'segment' } // `*`: any characters but `/`
  | { kind: 'folders' } // `**/`: zero or more whole folders
  | { kind: 'any' } // `**` at the end: anything
  | { kind: 'either'; alternatives: Piece[][] };

const SLASH = 0x2f;
const notSlash = (c: number) => c !== SLASH;

/** The pieces of a glob. Throws on an unclosed `[` or `{`, or a trailing backslash. */
function parseGlob(glob: string): Piece[] {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`bad glob "${glob}": ${why}`);
  };
  const literal = (c: string): Piece => {
    const code = c.charCodeAt(0);
    return { kind: 'char', test: (x) => x === code };
  };
  const parse = (stopAt: string): Piece[] => {
    const out: Piece[] = [];
    while (i < glob.length) {
      const c = glob[i];
      if (stopAt.includes(c)) return out;
      i++;
      if (c === '\\') {
        if (i >= glob.length) fail('ends with a backslash');
        out.push(literal(glob[i++]));
      } else if (c === '*') {
        if (glob[i] === '*') {
          const atStart = i - 1 === 0 || glob[i - 2] === '/';
          i++;
          const atEnd = i === glob.length || glob[i] === '/' || stopAt.includes(glob[i]);
          if (atStart && atEnd) {
            const folders = glob[i] === '/';
            if (folders) i++;
            out.push(folders ? { kind: 'folders' } : { kind: 'any' });
            continue;
          }
        }
        out.push({ kind: 'segment' });
      } else if (c === '?') {
        out.push({ kind: 'char', test: notSlash });
      } else if (c === '[') {
        const end = glob.indexOf(']', i + 1);
        if (end < 0) fail('unclosed [');
        let set = glob.slice(i, end);
        i = end + 1;
        const negated = set.startsWith('!') || set.startsWith('^');
        if (negated) set = set.slice(1);
        const body = set.replace(/[\\\]^]/g, '\\$&');
        // One character class: a regular expression that cannot backtrack.
        const oneOf = new RegExp(negated ? `^[^${body}/]$` : `^[${body}]$`);
        out.push({ kind: 'char', test: (x) => oneOf.test(String.fromCharCode(x)) });
      } else if (c === '{') {
        const alternatives: Piece[][] = [];
        for (;;) {
          alternatives.push(parse(',}'));
          if (i >= glob.length) fail('unclosed {');
          if (glob[i++] === '}') break;
        }
        out.push({ kind: 'either', alternatives });
      } else {
        out.push(literal(c));
      }
    }
    return out;
  };
  return parse('');
}

/**
 * A glob compiled to a state machine and run on all its states at once (Thompson's
 * construction): time in the path's length times the glob's. A regular expression of the same
 * glob backtracks: `*a*a*a*a*b` took 35 s on one 200-character name.
 */
export class Glob {
  /** Per state: the character test (a step to `next`), or none (a split to `next` and `also`). */
  private readonly tests: (((code: number) => boolean) | undefined)[] = [undefined];
  private readonly next: number[] = [-1];
  private readonly also: number[] = [-1];
  private readonly start: number;

  /** Throws on a bad glob, with the reason. */
  constructor(glob: string) {
    this.start = this.sequence(parseGlob(glob), Glob.MATCH);
  }

  /** The state that accepts. */
  private static readonly MATCH = 0;

  private add(test: ((code: number) => boolean) | undefined, next: number, also = -1): number {
    this.tests.push(test);
    this.next.push(next);
    this.also.push(also);
    return this.tests.length - 1;
  }

  /** The start state of `pieces`, followed by state `then`. */
  private sequence(pieces: Piece[], then: number): number {
    let state = then;
    for (let i = pieces.length - 1; i >= 0; i--) state = this.piece(pieces[i], state);
    return state;
  }

  private piece(piece: Piece, then: number): number {
    switch (piece.kind) {
      case 'char':
        return this.add(piece.test, then);
      case 'segment':
      case 'any': {
        const loop = this.add(undefined, -1, then);
        this.next[loop] = this.add(piece.kind === 'any' ? () => true : notSlash, loop);
        return loop;
      }
      case 'folders': {
        // (one or more non-slash characters, then a slash) any number of times
        const loop = this.add(undefined, -1, then);
        const slash = this.add((c) => c === SLASH, loop);
        const first = this.add(notSlash, -1);
        this.next[first] = this.add(undefined, first, slash);
        this.next[loop] = first;
        return loop;
      }
      case 'either': {
        const starts = piece.alternatives.map((alternative) => this.sequence(alternative, then));
        let state = starts[starts.length - 1];
        for (let i = starts.length - 2; i >= 0; i--) state = this.add(undefined, starts[i], state);
        return state;
      }
    }
  }

  /** Whether the glob matches the whole path. */
  test(path: string): boolean {
    const seen = new Int32Array(this.tests.length).fill(-1);
    let current = this.closure([this.start], seen, 0);
    for (let i = 0; i < path.length && current.length > 0; i++) {
      const code = path.charCodeAt(i);
      const stepped: number[] = [];
      for (const state of current) if (this.tests[state]?.(code)) stepped.push(this.next[state]);
      current = this.closure(stepped, seen, i + 1);
    }
    return current.includes(Glob.MATCH);
  }

  /** The states reachable from `from` without a character: those that test one, and MATCH. */
  private closure(from: number[], seen: Int32Array, step: number): number[] {
    const out: number[] = [];
    const stack = from;
    while (stack.length > 0) {
      const state = stack.pop()!;
      if (state < 0 || seen[state] === step) continue;
      seen[state] = step;
      if (this.tests[state] || state === Glob.MATCH) out.push(state);
      else stack.push(this.also[state], this.next[state]);
    }
    return out;
  }
}

/** A set of globs; `matches` takes a path relative to the folder walked, with `/` separators. */
export class GlobSet {
  private readonly patterns: Glob[];

  constructor(globs: readonly string[]) {
    // A leading `./` names the same paths as without it.
    this.patterns = globs.map((g) => new Glob(g.replace(/^(\.\/)+/, '')));
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  matches(relativePath: string): boolean {
    return this.patterns.some((p) => p.test(relativePath));
  }
}
